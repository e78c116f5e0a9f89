// `vaekit restore`: the real command on the saved MNIST fixtures, its outputs, and its bad input (one line,
// non-zero exit, nothing written).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../src/io/png.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binary = path.join(root, 'test', 'fixtures', 'models-v1', 'vae');
const continuous = path.join(root, 'test', 'fixtures', 'models-v1', 'vae-gauss');
const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-restore-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const run = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin', 'vaekit.js'), 'restore', ...args], { encoding: 'utf8' });

/** The error lines of stderr (a note about the backend in use may come before them). */
const errorLines = (stderr: string) =>
  stderr.split('\n').filter((l) => l.trim() && !/^vaekit: native backend/.test(l)).length;

function png(file: string, w: number, h: number, value: (j: number) => number): string {
  writeFileSync(
    file,
    encodePng(
      Float32Array.from({ length: w * h }, (_, j) => value(j)),
      w,
      h,
      1,
    ),
  );
  return file;
}

describe('vaekit restore', () => {
  it('inpaints a centre block: restored PNGs, a grid of four columns, restore.json with PSNR/SSIM', () => {
    const outDir = path.join(tmp, 'inpaint');
    const r = run(
      binary,
      '--task',
      'inpaint',
      '--mask',
      'center:14',
      '--n',
      '5',
      '--steps',
      '20',
      '--out',
      outDir,
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.n, 5);
    assert.equal(j.method, 'map');
    assert.deepEqual(j.degradation.params, { mask: 'center', size: 14 });
    assert.ok(j.restored.psnr > 5 && j.restored.ssim > 0, JSON.stringify(j.restored));
    assert.equal(readdirSync(path.join(outDir, 'restored')).length, 5);
    const grid = readFileSync(path.join(outDir, 'grid.png'));
    assert.equal(grid.readUInt32BE(16), 4 * 28 + 5); // width: four cells and five 1-pixel pads
    assert.deepEqual(JSON.parse(readFileSync(path.join(outDir, 'restore.json'), 'utf8')).degradation, j.degradation);
  });

  it('denoises a continuous model, super-resolves, and inpaints from a mask PNG and a folder of images', () => {
    const a = run(
      continuous,
      '--task',
      'denoise',
      '--sigma',
      '0.3',
      '--method',
      'naive',
      '--n',
      '3',
      '--out',
      path.join(tmp, 'dn'),
      '--json',
    );
    assert.equal(a.status, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout).degradation.params.sigma, 0.3);
    const b = run(
      continuous,
      '--task',
      'superres',
      '--factor',
      '4',
      '--n',
      '3',
      '--steps',
      '10',
      '--out',
      path.join(tmp, 'sr'),
      '--json',
    );
    assert.equal(b.status, 0, b.stderr);
    const mask = png(path.join(tmp, 'm.png'), 28, 28, (j) => (j % 28 < 14 ? 1 : 0)); // left half missing
    const imgs = path.join(tmp, 'imgs');
    mkdirSync(imgs);
    for (let i = 0; i < 2; i++) png(path.join(imgs, `${i}.png`), 28, 28, (j) => ((j + i) % 7) / 7);
    const c = run(
      binary,
      '--task',
      'inpaint',
      '--mask',
      mask,
      '--method',
      'gibbs',
      '--images',
      imgs,
      '--out',
      path.join(tmp, 'g'),
      '--json',
    );
    assert.equal(c.status, 0, c.stderr);
    const j = JSON.parse(c.stdout);
    assert.equal(j.n, 2);
    assert.equal(j.degradation.missingFraction, 0.5);
  });

  it('--observed: already-degraded images (low-res for superres), no originals, a grid of three columns', () => {
    const low = path.join(tmp, 'low');
    mkdirSync(low);
    for (let i = 0; i < 2; i++) png(path.join(low, `${i}.png`), 7, 7, (j) => ((j + i) % 5) / 5);
    const outDir = path.join(tmp, 'obs');
    const r = run(
      binary,
      '--task',
      'superres',
      '--factor',
      '4',
      '--observed',
      '--images',
      low,
      '--method',
      'naive',
      '--out',
      outDir,
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.n, 2);
    assert.equal(j.restored, null);
    assert.equal(readFileSync(path.join(outDir, 'grid.png')).readUInt32BE(16), 3 * 28 + 4);
    const bad = run(
      binary,
      '--task',
      'superres',
      '--factor',
      '2',
      '--observed',
      '--images',
      low,
      '--out',
      outDir + '2',
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /the images are 7×7×1, the model takes 14×14×1 \(×2 low-res\)/);
    assert.ok(!existsSync(outDir + '2'));
  });

  const bad: [string, string[], RegExp][] = [
    ['no task', [binary], /--task is required/],
    ['denoise without σ or p', [binary, '--task', 'denoise'], /needs its noise: --sigma/],
    ['superres without a factor', [binary, '--task', 'superres'], /needs --factor/],
    [
      'a factor that does not divide 28',
      [binary, '--task', 'superres', '--factor', '3'],
      /factor 3 does not divide the image size 28×28/,
    ],
    ['Gaussian noise on a binary model', [binary, '--task', 'denoise', '--sigma', '0.2'], /needs a continuous model/],
    ['bit flips on a continuous model', [continuous, '--task', 'denoise', '--p', '0.1'], /needs a binary model/],
    ['gibbs on superres', [binary, '--task', 'superres', '--factor', '2', '--method', 'gibbs'], /inpaint only/],
    ['a bad mask word', [binary, '--task', 'inpaint', '--mask', 'middle'], /--mask must be center:SIZE/],
    ['a random mask without its fraction', [binary, '--task', 'inpaint', '--mask', 'random'], /needs a number/],
  ];
  for (const [what, args, msg] of bad) {
    it(`bad input: ${what} — one line, non-zero exit, nothing written`, () => {
      const outDir = path.join(tmp, 'bad-' + what.replace(/\W+/g, '-'));
      const r = run(...args, '--out', outDir);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, msg);
      assert.equal(errorLines(r.stderr), 1, r.stderr);
      assert.ok(!existsSync(outDir));
    });
  }

  it('bad input: a mask PNG of the wrong size or not binary, images of another size', () => {
    const small = png(path.join(tmp, 'small.png'), 10, 10, (j) => j % 2);
    const grey = png(path.join(tmp, 'grey.png'), 28, 28, () => 0.5);
    const dir = path.join(tmp, 'img10');
    mkdirSync(dir);
    png(path.join(dir, 'a.png'), 10, 10, () => 0.2);
    for (const [args, msg] of [
      [['--mask', small], /is 10×10, the model's images are 28×28/],
      [['--mask', grey], /is not binary: pixel 0 is 128/],
      [['--mask', 'bottom', '--images', dir], /the images are 10×10×1, the model takes 28×28×1/],
    ] as const) {
      const outDir = path.join(tmp, 'bad-file');
      const r = run(binary, '--task', 'inpaint', ...args, '--out', outDir);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, msg);
      assert.equal(errorLines(r.stderr), 1, r.stderr);
      assert.ok(!existsSync(outDir));
    }
  });
});
