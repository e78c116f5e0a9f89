// `vaekit export MODEL --pytorch DIR` and `vaekit import DIR --out MODEL`, run as the real commands: the
// export holds the model's data, PyTorch's encoder (Debian's python3-torch) gives vaekit's posterior means, a
// state dict changed in PyTorch comes back through import with PyTorch's means; bad input is one line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'bin', 'vaekit.js');
const PY = '/usr/bin/python3';
const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-cli-pytorch-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function vaekit(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Why the PyTorch half cannot run here, or undefined when /usr/bin/python3 imports torch. */
function noTorch(): string | undefined {
  if (!existsSync(PY)) return `${PY} not found`;
  const r = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${PY} cannot import torch: ${r.stderr.trim().split('\n').pop()}`;
}

/** The posterior means of latents.csv (the mu columns), row by row. */
function means(file: string, n: number): number[][] {
  const [head, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',').flatMap((c, i) => (c.startsWith('mu') ? [i] : []));
  return rows.slice(0, n).map((r) => cols.map((i) => Number(r.split(',')[i])));
}

const maxDiff = (a: number[][], b: number[][]) =>
  Math.max(...a.flatMap((r, i) => r.map((v, j) => Math.abs(v - b[i][j]))));

// PyTorch: the exported module's μ(x) of the first 16 test examples, then the first encoder weight × 1.1
// (a "PyTorch-trained" state dict, saved over DIR/model.safetensors) and its μ(x).
const DRIVER = `
import json, sys, torch
d = sys.argv[1]
sys.path.insert(0, d)
import model as vk
m = vk.load(d)
data, _ = vk.load_safetensors(d + "/data.safetensors")
x = data["x_test"][:16]
with torch.no_grad():
    before = m.encode(x)[0]
    name = next(k for k in m.state_dict() if k.startswith("encoder.") and k.endswith("weight"))
    m.state_dict()[name].mul_(1.1)
    after = m.encode(x)[0]
vk.save_safetensors(m.state_dict(), d + "/model.safetensors", {"format": "pt"})
json.dump({"n": int(data["x_train"].shape[0]), "before": before.tolist(), "after": after.tolist()}, open(d + "/mu.json", "w"))
`;

describe('vaekit export --pytorch and vaekit import', () => {
  const run = path.join(tmp, 'run');
  const torchDir = path.join(tmp, 'torch');
  const data = ['--dataset', 'mnist', '--limit', '256'];

  it('export writes the module, the state dict, config.json and the data; import reads them back', (t) => {
    const tr = vaekit([
      'train',
      ...data,
      '--hidden',
      '32',
      '--latent',
      '4',
      '--epochs',
      '1',
      '--no-eval',
      '--report-k',
      '0',
      '--progress',
      'none',
      '--out',
      run,
    ]);
    assert.equal(tr.code, 0, tr.stderr);
    const ex = vaekit(['export', path.join(run, 'model'), '--pytorch', torchDir, '--data', ...data, '--json']);
    assert.equal(ex.code, 0, ex.stderr);
    const info = JSON.parse(ex.stdout);
    assert.deepEqual(info.files.sort(), ['config.json', 'data.safetensors', 'model.py', 'model.safetensors']);
    assert.equal(info.train, 256);
    for (const f of info.files) assert.ok(existsSync(path.join(torchDir, f)), f);
    const enc = vaekit(['encode', path.join(run, 'model'), ...data, '--out', path.join(tmp, 'mu-vaekit.csv')]);
    assert.equal(enc.code, 0, enc.stderr);

    const why = noTorch();
    if (why) {
      // the round trip without PyTorch: import of the unchanged export gives the same means
      const im = vaekit(['import', torchDir, '--out', path.join(tmp, 'same')]);
      assert.equal(im.code, 0, im.stderr);
      return t.skip(`the PyTorch half: ${why}`);
    }
    const py = spawnSync(PY, ['-c', DRIVER, torchDir], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(py.status, 0, py.stderr);
    const mu = JSON.parse(readFileSync(path.join(torchDir, 'mu.json'), 'utf8'));
    assert.equal(mu.n, 256, 'data.safetensors holds the --limit training split');
    const ours = means(path.join(tmp, 'mu-vaekit.csv'), 16);
    assert.ok(maxDiff(ours, mu.before) < 1e-4, `PyTorch μ(x) vs vaekit's: ${maxDiff(ours, mu.before)}`);

    const back = path.join(tmp, 'imported');
    const im = vaekit(['import', torchDir, '--out', back, '--json']);
    assert.equal(im.code, 0, im.stderr);
    assert.equal(JSON.parse(im.stdout).kind, 'vae');
    const enc2 = vaekit(['encode', back, ...data, '--out', path.join(tmp, 'mu-imported.csv')]);
    assert.equal(enc2.code, 0, enc2.stderr);
    const theirs = means(path.join(tmp, 'mu-imported.csv'), 16);
    assert.ok(maxDiff(theirs, mu.after) < 1e-4, `imported μ(x) vs PyTorch's: ${maxDiff(theirs, mu.after)}`);
    assert.ok(maxDiff(theirs, ours) > 1e-3, 'the PyTorch change came back');
  });

  it('bad input: an unknown model kind, a missing directory, a missing --pytorch: one line, non-zero exit', () => {
    const flow = path.join(tmp, 'flow');
    mkdirSync(flow);
    writeFileSync(
      path.join(flow, 'config.json'),
      JSON.stringify({ format: 'vaekit-model', version: 2, config: { kind: 'flow' }, data: {} }),
    );
    const cases: [string[], RegExp][] = [
      [['export', flow, '--pytorch', path.join(tmp, 'x1')], /model kind "flow" is not one the PyTorch exporter knows/],
      [['export', path.join(tmp, 'nope'), '--pytorch', path.join(tmp, 'x2')], /nope.*config\.json/],
      [['import', path.join(tmp, 'nope'), '--out', path.join(tmp, 'x3')], /nope.*config\.json/],
      [['import', flow, '--out', path.join(tmp, 'x4')], /model kind "flow" is not one vaekit knows/],
      [['export', path.join(run, 'model')], /required option '--pytorch <dir>' not specified/],
    ];
    for (const [i, [args, re]] of cases.entries()) {
      const r = vaekit(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('(run with --help'));
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.ok(!existsSync(path.join(tmp, `x${i + 1}`)), 'nothing written');
    }
  });
});
