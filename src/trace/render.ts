import { readFile } from 'node:fs/promises';
import { Code } from '../errors/index.js';

interface Line {
  t: number;
  kind: string;
  ms?: number;
  id?: string;
  [k: string]: unknown;
}

/**
 * A readable timeline of a trace file: each RPC with the runtime invocations, hooks, faults and
 * events that happened while it ran indented beneath it, in start order.
 */
export async function renderTraceFile(path: string, id?: string): Promise<string> {
  const text = await readFile(path, 'utf8');
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      lines.push(JSON.parse(raw) as Line);
    } catch {
      // A line cut by a crash mid-write: the rest of the file still reads.
    }
  }
  return renderTrace(lines, id);
}

export function renderTrace(lines: Line[], id?: string): string {
  const chosen = lines.filter((l) => id === undefined || l.kind === 'start' || l.id === undefined || l.id === id);
  const started = (l: Line) => l.t - (l.ms ?? 0);
  chosen.sort((a, b) => started(a) - started(b));
  const t0 = chosen.length > 0 ? started(chosen[0]!) : 0;
  const rpcs = chosen.filter((l) => l.kind === 'rpc');
  const out: string[] = [];
  for (const l of chosen) {
    const at = `+${(started(l) - t0).toFixed(1)} ms`.padStart(12);
    const inside = l.kind !== 'rpc' && rpcs.some((r) => started(r) <= started(l) && l.t <= r.t);
    out.push(`${at}  ${inside ? '  ' : ''}${describe(l)}`);
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '(no records)\n';
}

function describe(l: Line): string {
  const who = l.id ? ` ${l.id}${l.execId ? `/${String(l.execId)}` : ''}` : '';
  switch (l.kind) {
    case 'start':
      return `shim  pid ${String(l.pid)} namespace ${String(l.namespace)} (${String(l.node)})`;
    case 'rpc': {
      const status = l.code === 0 ? 'OK' : `${Code[l.code as number] ?? l.code}: ${String(l.message ?? '')}`;
      return `rpc   ${String(l.method)}${who} → ${status} (${ms(l)})`;
    }
    case 'runtime': {
      const argv = (l.argv as string[] | undefined) ?? [];
      const exit = l.timedOut ? 'killed at deadline' : l.signal ? `signal ${String(l.signal)}` : `exit ${String(l.exitCode)}`;
      const injected = l.injected ? ' [injected]' : '';
      const tail = l.stderrTail ? ` stderr: ${JSON.stringify(l.stderrTail)}` : '';
      return `exec  ${String(l.command)}${who}: ${argv.join(' ')} → ${exit} (${ms(l)})${injected}${tail}`;
    }
    case 'event':
      return `event ${String(l.topic)}${who}${eventDetail(l.event)}`;
    case 'fault':
      return `fault ${String(l.target)}${who}: ${String(l.detail ?? l.action)}`;
    case 'hook':
      return `hook  ${String(l.hook)}${who} (${ms(l)})${l.error ? ` failed: ${String(l.error)}` : ''}`;
    default:
      return `${l.kind} ${JSON.stringify(l)}`;
  }
}

function eventDetail(e: unknown): string {
  if (!e || typeof e !== 'object') return '';
  const o = e as Record<string, unknown>;
  const parts = [];
  if (o.pid) parts.push(`pid ${String(o.pid)}`);
  if (o.exitStatus !== undefined) parts.push(`status ${String(o.exitStatus)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function ms(l: Line): string {
  return `${(l.ms ?? 0).toFixed(1)} ms`;
}
