import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
const doc = fs.readFileSync(path.join(docs, 'kubernetes.md'), 'utf8');
const shown = [...doc.matchAll(/<!-- file: (\S+) -->\n```\w+\n([\s\S]*?)```\n/g)].map((m) => ({ file: m[1]!, body: m[2]! }));
const files = (dir: string): string[] =>
  fs.readdirSync(path.join(docs, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));

// The CRI integration tests read docs/kubernetes/ verbatim; the page must show the same text.
describe('docs/kubernetes.md', () => {
  it.each(shown.map((s) => [s.file, s.body] as const))('shows %s as it is', (file, body) => {
    expect(body).toBe(fs.readFileSync(path.join(docs, file), 'utf8'));
  });

  it('shows every file of docs/kubernetes/', () => {
    expect(shown.map((s) => s.file).sort()).toEqual(files('kubernetes').sort());
  });

  it('has a RuntimeClass for every handler of the containerd snippets, for both config versions', () => {
    const rc = fs.readFileSync(path.join(docs, 'kubernetes/runtimeclasses.yaml'), 'utf8');
    const classes = [...rc.matchAll(/^handler: (\S+)$/gm)].map((m) => m[1]);
    for (const v of ['1.x', '2.x']) {
      const toml = ['', '-annotations'].map((s) => fs.readFileSync(path.join(docs, `kubernetes/containerd-${v}${s}.toml`), 'utf8')).join('\n');
      const handlers = [...toml.matchAll(/^\[plugins\."[^"]+"\.containerd\.runtimes\.([\w-]+)\]$/gm)].map((m) => m[1]);
      expect(handlers.sort()).toEqual([...classes].sort());
      for (const h of handlers) expect(toml).toContain(`runtimes.${h}.options]\n    ConfigPath = "/etc/tsshim/`);
    }
  });
});
