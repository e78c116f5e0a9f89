// The error paths and paper cuts of issue 18, through the real command (node bin/vaekit.js): progress on long
// steps, outputs that cannot be written, flags checked before any data loads, the run folder for a model.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
});
