/**
 * Bytes from the notation the protocol notes use: hex (spaced pairs or runs) and
 * "quoted ASCII", e.g. `0a 02 "c1" 10 d2 09`.
 */
export function wire(notation: string): Uint8Array {
  const out: number[] = [];
  for (const [, quoted, hexPair] of notation.matchAll(/"([^"]*)"|([0-9a-fA-F]{2})|\S+/g)) {
    if (quoted !== undefined) out.push(...Buffer.from(quoted, 'ascii'));
    else if (hexPair !== undefined) out.push(parseInt(hexPair, 16));
    else throw new Error(`bad token in ${notation}`);
  }
  return Uint8Array.from(out);
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
