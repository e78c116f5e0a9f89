// The reporter of the long steps (NLL, classifier): lines with an ETA off a terminal, a bar on one, nothing
// with --progress none; a clock is passed in, so nothing here depends on how fast the machine is.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { formatDuration, multiStepProgress, stepProgress } from '../src/cli/step-progress.js';

function sink(isTTY = false): Writable & { text: () => string; isTTY: boolean } {
  const chunks: string[] = [];
  const w = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  }) as Writable & { text: () => string; isTTY: boolean };
  w.text = () => chunks.join('');
  w.isTTY = isTTY;
  return w;
}

it('formatDuration', () => {
  assert.equal(formatDuration(9.4), '9s');
  assert.equal(formatDuration(75), '1m15s');
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(Infinity), '?');
});

it('lines: one line per interval with the count, the percentage and the ETA; a closing line', () => {
  const out = sink();
  let t = 0;
  const r = stepProgress('test NLL (k = 1000)', { stream: out, intervalMs: 10_000, unit: 'examples', now: () => t });
  for (let done = 500; done <= 10_000; done += 500) {
    t += 4_000; // 4 s per 500 examples: 80 s in all
    r.update(done, 10_000);
  }
  r.finish();
  const lines = out.text().trim().split('\n');
  assert.equal(lines[0], 'vaekit: test NLL (k = 1000): 1500/10000 examples (15%), 12s so far, ETA 1m08s');
  assert.equal(lines.length, 7, lines.join('\n')); // at 12, 24, 36, 48, 60, 72 s, then the closing line
  assert.equal(lines.at(-1), 'vaekit: test NLL (k = 1000): done in 1m20s');
  assert.ok(lines.slice(0, -1).every((l) => / ETA \d/.test(l)));
});

it('lines: a step shorter than the interval says nothing', () => {
  const out = sink();
  let t = 0;
  const r = stepProgress('x', { stream: out, intervalMs: 10_000, now: () => t });
  for (let d = 1; d <= 5; d++) {
    t += 1000;
    r.update(d, 5);
  }
  r.finish();
  assert.equal(out.text(), '');
});

it('none says nothing; auto is lines off a terminal and a bar on one', () => {
  const quiet = sink(true);
  const r = stepProgress('x', { stream: quiet, mode: 'none', intervalMs: 0 });
  r.update(1, 2);
  r.finish();
  assert.equal(quiet.text(), '');

  const file = sink(false);
  let t = 0;
  const l = stepProgress('x', { stream: file, intervalMs: 0, now: () => (t += 1000) });
  l.update(1, 4, 'loss 0.500');
  assert.match(file.text(), /^vaekit: x: 1\/4 \(25%\), \d+s so far, ETA \d+s, loss 0\.500\n$/);

  const tty = sink(true);
  const b = stepProgress('y', { stream: tty, unit: 'steps' });
  b.update(3, 10);
  b.finish();
  assert.match(tty.text(), /vaekit: y \|.*\| 3\/10 steps {2}ETA/);
});

it('multiStepProgress: a reporter per step, each finished', () => {
  const out = sink();
  let t = 0;
  const m = multiStepProgress(
    { nll: { label: 'NLL', unit: 'examples' } },
    { stream: out, intervalMs: 0, now: () => (t += 1000) },
  );
  m.onProgress('nll', 1, 2);
  m.onProgress('other', 1, 3);
  m.finish();
  const text = out.text();
  assert.match(text, /^vaekit: NLL: 1\/2 examples/m);
  assert.match(text, /^vaekit: NLL: done in/m);
  assert.match(text, /^vaekit: other: 1\/3 /m);
  assert.match(text, /^vaekit: other: done in/m);
});
