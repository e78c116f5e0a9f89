// The repository stands on its own: every relative link in its Markdown resolves to a file in the clone (the
// protocol is docs/PROTOCOL.md, not a folder outside it), and the licence package.json names is there.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const markdown = [
  'README.md',
  'bench/README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

it('every relative Markdown link resolves inside the repository', () => {
  const dead: string[] = [];
  for (const file of markdown) {
    const text = readFileSync(path.join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split('#')[0];
      if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // anchors, http(s):, mailto:
      const abs = path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(target));
      if (!abs.startsWith(root + path.sep) || !existsSync(abs)) dead.push(`${file}: ${m[1]}`);
    }
  }
  assert.deepEqual(dead, []);
});

it('the protocol is docs/PROTOCOL.md; nothing points at a copy outside the repository', () => {
  assert.match(readFileSync(path.join(root, 'docs', 'PROTOCOL.md'), 'utf8'), /^# Benchmark protocol/);
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (
        /\.(ts|md|py|c|mjs|js)$/.test(e.name) &&
        /shared\/PROTOCOL\.md/.test(readFileSync(path.join(root, rel), 'utf8'))
      )
        offenders.push(rel);
    }
  };
  ['src', 'bench', 'docs', 'scripts', 'bin'].forEach(walk);
  if (/shared\/PROTOCOL\.md/.test(readFileSync(path.join(root, 'README.md'), 'utf8'))) offenders.push('README.md');
  assert.deepEqual(offenders, []);
});

it('the licence package.json names is in LICENSE', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'MIT');
  const text = readFileSync(path.join(root, 'LICENSE'), 'utf8');
  assert.match(text, /^MIT License\n\nCopyright \(c\) \d{4} the vaekit authors\n/);
  assert.match(text, /THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/);
});
