// The error paths and paper cuts of issue 18, through the real command (node bin/vaekit.js): progress on long
// steps, outputs that cannot be written, flags checked before any data loads, the run folder for a model.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const BIN = path.resolve('bin/vaekit.js');
const HAVE_FMNIST = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const dataset = HAVE_FMNIST ? 'fashion-mnist' : 'mnist';
const small = ['--dataset', dataset, '--limit', '600', '--batch-size', '100', '--hidden', '32', '--latent', '4'];

function vaekit(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000, // a hang (the recursive mkdir on /proc) fails the test instead of stalling it
    env: { ...process.env, FORCE_COLOR: '0', VAEKIT_THREADS: '1', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vaekit: long steps, error paths and paper cuts', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vaekit-cli-safety-'));
  const run = path.join(root, 'run');
  const model = path.join(run, 'model');
  let trainStderr = '';
  before(() => {
    const r = vaekit(['train', ...small, '--epochs', '1', '--out', run, '--report-k', '200', '--progress', 'lines'], {
      VAEKIT_PROGRESS_INTERVAL_MS: '0',
    });
    assert.equal(r.code, 0, r.stderr);
    trainStderr = r.stderr;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("train: the report's NLL shows progress lines with an ETA off a terminal", () => {
    assert.match(trainStderr, /^vaekit: test NLL \(k = 200\): \d+\/\d+ examples \(\d+%\), \d+s so far, ETA \d+s$/m);
    assert.match(trainStderr, /^vaekit: test NLL \(k = 200\): done in \d+s$/m);
  });

  it("eval: the NLL and the classifier's training show progress; --progress none silences them", () => {
    const args = ['eval', model, '--limit', '600', '--k', '200', '--samples', '200', '--classifier-epochs', '1'];
    const cls = ['--classifier-dir', path.join(root, 'classifiers')];
    const r = vaekit([...args, ...cls, '--progress', 'lines', '--json'], { VAEKIT_PROGRESS_INTERVAL_MS: '0' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^vaekit: NLL \(k = 200\): \d+\/\d+ examples \(\d+%\), .*ETA /m);
    // The classifier trains on a backend with convolution gradients (native, cpu); wasm has none, and says so.
    if (!/no convolution gradients/.test(r.stderr))
      assert.match(
        r.stderr,
        /^vaekit: training the evaluation classifier: \d+\/\d+ steps \(\d+%\), .*ETA \d+s, loss \d/m,
      );
    const q = vaekit([...args, ...cls, '--progress', 'none', '--json'], { VAEKIT_PROGRESS_INTERVAL_MS: '0' });
    assert.equal(q.code, 0, q.stderr);
    assert.doesNotMatch(q.stderr, /ETA/);
  });

  it('--version prints the version of package.json', () => {
    const r = vaekit(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('a mistyped data set gets a "did you mean"; bad flags are refused before any data loads, writing nothing', () => {
    const out = path.join(root, 'never');
    const cases: [string[], RegExp][] = [
      [['--dataset', 'mnst'], /unknown dataset 'mnst': did you mean 'mnist'\?/],
      [['--dataset', 'fashion-mnst'], /did you mean 'fashion-mnist'\?/],
      [['--lr-schedule', 'cosin'], /unknown --lr-schedule "cosin": did you mean 'cosine'\?/],
      [['--protocol', 'bin'], /--protocol bin does not apply to the images of/],
      [['--sigma', '-1'], /--sigma must be a positive number or "learned"/],
    ];
    for (const [args, re] of cases) {
      const r = vaekit(['train', '--dataset', dataset, ...args, '--out', out]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /train \/|test, 28×28/, 'refused before the data loaded');
      assert.ok(!existsSync(out));
    }
  });

  it('sample takes the run folder for its model/; a folder without a model gets a hint', () => {
    const png = path.join(root, 'from-run.png');
    const r = vaekit(['sample', run, '--n', '4', '--out', png]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(png));
    mkdirSync(path.join(root, 'empty'));
    const e = vaekit(['sample', path.join(root, 'empty')]);
    assert.equal(e.code, 1);
    assert.match(
      e.stderr,
      /model config not found: no model in .*empty, no config\.json .*a training run keeps its model in RUN\/model/,
    );
  });

  it('outputs vaekit does not write, or cannot write, fail with the path and the cause', () => {
    const jpg = path.join(root, 'x.jpg');
    const r = vaekit(['sample', model, '--n', '4', '--out', jpg]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--out .*x\.jpg: vaekit writes a \.png image grid or a \.csv table here, not \.jpg/);
    assert.ok(!existsSync(jpg));
    const deep = path.join(root, 'nodir', 'sub', 'x.png');
    const m = vaekit(['sample', model, '--n', '4', '--out', deep]);
    assert.equal(m.code, 1);
    assert.equal(
      m.stderr.trim().split('\n').at(-1),
      `vaekit: error: cannot write ${deep}: the folder ${path.join(root, 'nodir')} does not exist`,
    );
    mkdirSync(path.join(root, 'adir.png'));
    const d = vaekit(['reconstruct', model, '--n', '4', '--out', path.join(root, 'adir.png')]);
    assert.match(d.stderr, /cannot write .*adir\.png: it is a directory/);
    for (const [cmd, out] of [
      [['train', ...small, '--epochs', '1'], '/proc/vaekit-run'],
      [['traverse', model], '/proc/vaekit-trav'],
    ] as const) {
      const p = vaekit([...cmd, '--out', out]);
      assert.equal(p.code, 1, p.stderr);
      assert.match(
        p.stderr,
        new RegExp(`cannot create the folder ${out}: /proc does not allow creating folders in it`),
      );
      assert.doesNotMatch(p.stderr, /\.tmp-|ENOENT/);
    }
  });

  it('--resume of a run that is not there leaves nothing behind', () => {
    const missing = path.join(root, 'no-such-run');
    const r = vaekit(['train', ...small, '--resume', '--out', missing]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--resume: no checkpoint in/);
    assert.ok(!existsSync(missing));
  });

  it('the wrong data for a model: a warning for another data set, "examples of 4 values" for another shape', () => {
    const other = dataset === 'mnist' ? 'fashion-mnist' : 'mnist';
    const w = vaekit([
      'reconstruct',
      model,
      '--dataset',
      other,
      '--limit',
      '60',
      '--n',
      '4',
      '--out',
      path.join(root, 'o.png'),
    ]);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, new RegExp(`warning: the model was trained on ${dataset}; this runs it on ${other}`));
    const csv = path.join(root, 'four.csv');
    writeFileSync(csv, 'a,b,c,d\n' + Array.from({ length: 12 }, (_, i) => `${i},1,2,3`).join('\n') + '\n');
    const s = vaekit(['reconstruct', model, '--dataset', `csv:${csv}`, '--out', path.join(root, 'c.csv')]);
    assert.equal(s.code, 1);
    assert.match(
      s.stderr,
      /the model takes examples of 28×28×1 \(784 values\), but data set .* has examples of 4 values/,
    );
  });

  it('a run that diverges before its first checkpoint does not point at one', () => {
    const csv = path.join(root, 'huge.csv');
    writeFileSync(csv, 'a,b,c\n' + Array.from({ length: 64 }, (_, i) => `${i}e30,1e30,-3e30`).join('\n') + '\n');
    const out = path.join(root, 'diverged');
    const r = vaekit([
      'train',
      '--dataset',
      `csv:${csv}`,
      '--protocol',
      'none',
      '--lr',
      '10',
      '--epochs',
      '1',
      '--out',
      out,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /training diverged: .*before its first checkpoint, so there is nothing to resume/);
    assert.doesNotMatch(r.stderr, /is intact/);
    assert.ok(!existsSync(out) || !readdirSync(out).includes('checkpoint'));
  });
});
