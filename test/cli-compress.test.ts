// `vaekit compress` / `vaekit decompress`: the real commands on the saved MNIST fixtures (PNG and IDX output,
// a folder of PNGs as input, the model found from the file), and their bad input: one line, a non-zero exit,
// nothing written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDataset, rowRange } from '../src/data/dataset.js';
import { parseIdx } from '../src/data/idx.js';
import { decodePng } from '../src/io/png.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = (k: string) => path.join(root, 'test', 'fixtures', 'models-v1', k);
const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-compress-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin', 'vaekit.js'), ...args], { encoding: 'utf8' });
const ok = (r: ReturnType<typeof run>) => assert.equal(r.status, 0, r.stderr);
const fails = (r: ReturnType<typeof run>, re: RegExp) => {
  assert.notEqual(r.status, 0);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l !== '(run with --help for usage)'); // commander's hint under its own errors
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
};

const N = 40;
const data = await loadDataset({ name: 'mnist', protocol: 'binary' });
const want = Uint8Array.from(rowRange(data.test, 0, N), (v) => v * 255);

describe('vaekit compress / decompress', () => {
  const vkz = path.join(tmp, 'digits.vkz');
  it('compresses test digits and decompresses them bit for bit to PNGs and to IDX', () => {
    const c = run('compress', fixture('vae'), '-n', String(N), '--out', vkz, '--json');
    ok(c);
    const rec = JSON.parse(c.stdout);
    assert.equal(rec.count, N);
    assert.equal(rec.fileBytes, readFileSync(vkz).length);
    assert.ok(rec.bitsPerDim > 0.2 && rec.bitsPerDim < 0.6, `${rec.bitsPerDim} bits/dim`);
    const pngDir = path.join(tmp, 'png');
    ok(run('decompress', vkz, '--out', pngDir)); // the model from the file's header
    const files = readdirSync(pngDir).sort();
    assert.equal(files.length, N);
    files.forEach((name, i) => {
      const img = decodePng(readFileSync(path.join(pngDir, name)));
      assert.deepEqual(
        Uint8Array.from(img.pixels, (v) => Math.round(v * 255)),
        want.subarray(i * 784, (i + 1) * 784),
      );
    });
    const idxDir = path.join(tmp, 'idx');
    ok(run('decompress', vkz, '--model', fixture('vae'), '--format', 'idx', '--out', idxDir));
    const idx = parseIdx(readFileSync(path.join(idxDir, 'images.idx')));
    assert.deepEqual(idx.dims, [N, 28, 28]);
    assert.deepEqual(new Uint8Array(idx.data.buffer, idx.data.byteOffset, idx.data.length), want);
    // the PNGs as --images give the same file again
    const again = path.join(tmp, 'again.vkz');
    ok(run('compress', fixture('vae'), '--images', pngDir, '--out', again));
    assert.deepEqual(readFileSync(again), readFileSync(vkz));
  });

  it('bad input: another model, damaged or foreign files, a continuous model, bad flags; nothing written', () => {
    const bytes = readFileSync(vkz);
    const bad = (name: string, b: Uint8Array) => {
      const p = path.join(tmp, name);
      writeFileSync(p, b);
      return p;
    };
    const outDir = path.join(tmp, 'never');
    fails(run('decompress', vkz, '--model', fixture('conv'), '--out', outDir), /compressed with another model/);
    fails(
      run('decompress', bad('cut.vkz', bytes.subarray(0, bytes.length - 100)), '--out', outDir),
      /cut\.vkz: truncated \.vkz file/,
    );
    const flipped = bytes.slice();
    flipped[bytes.length - 60] ^= 4;
    fails(run('decompress', bad('flip.vkz', flipped), '--out', outDir), /CRC of block 0 does not match/);
    const v9 = bytes.slice();
    v9[4] = 9;
    fails(run('decompress', bad('v9.vkz', v9), '--out', outDir), /unsupported \.vkz format version 9/);
    fails(run('decompress', fixture('vae') + '/config.json', '--out', outDir), /not a vaekit compressed file/);
    fails(run('decompress', path.join(tmp, 'missing.vkz'), '--out', outDir), /missing\.vkz: cannot read it \(ENOENT\)/);
    fails(run('decompress', vkz, '--format', 'gif', '--out', outDir), /--format/);
    assert.ok(!existsSync(outDir));
    const never = path.join(tmp, 'never.vkz');
    fails(run('compress', fixture('vae-gauss'), '-n', '2', '--out', never), /trained on the continuous protocol/);
    fails(run('compress', fixture('vae'), '--start', '99999', '--out', never), /--start 99999 is past the end/);
    fails(run('compress', fixture('vae'), '--latent-bits', '13', '--out', never), /--latent-bits must be 1…12/);
    assert.ok(!existsSync(never));
  });

  it('--lossy with the VQ-VAE fixture: the codes to a file and back as its reconstructions; bad input, one line', () => {
    const lossy = path.join(tmp, 'codes.vkz');
    const c = run('compress', fixture('vqvae'), '--lossy', '-n', '12', '--out', lossy, '--json');
    ok(c);
    const rec = JSON.parse(c.stdout);
    assert.equal(rec.mode, 'lossy');
    assert.equal(rec.count, 12);
    assert.equal(rec.fileBytes, readFileSync(lossy).length);
    assert.ok(rec.psnr > 5 && rec.ssim > -1 && rec.ssim < 1, `${rec.psnr} dB, SSIM ${rec.ssim}`);
    assert.ok(rec.payloadBitsPerImage > 0 && rec.payloadBitsPerImage <= 4 * 3 + 32 / 12 + 1);
    const pngDir = path.join(tmp, 'lossy-png');
    const d = run('decompress', lossy, '--out', pngDir, '--json');
    ok(d);
    assert.equal(JSON.parse(d.stdout).mode, 'lossy');
    assert.equal(readdirSync(pngDir).length, 12);
    const idxDir = path.join(tmp, 'lossy-idx');
    ok(run('decompress', lossy, '--format', 'idx', '--out', idxDir));
    const idx = parseIdx(readFileSync(path.join(idxDir, 'images.idx')));
    assert.deepEqual(idx.dims, [12, 28, 28]);
    const first = decodePng(readFileSync(path.join(pngDir, '00000.png')));
    assert.deepEqual(
      Uint8Array.from(first.pixels, (v) => Math.round(v * 255)),
      new Uint8Array(idx.data.buffer, idx.data.byteOffset, 784),
    );
    const never = path.join(tmp, 'never-lossy');
    fails(
      run('compress', fixture('vae'), '--lossy', '--out', never),
      /--lossy codes a VQ-VAE's code grid; this model is a vae/,
    );
    fails(run('compress', fixture('vqvae'), '--out', never), /this model is a VQ-VAE: its codes compress with --lossy/);
    const bytes = readFileSync(lossy);
    const cut = path.join(tmp, 'cut-lossy.vkz');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 9));
    fails(run('decompress', cut, '--out', never), /cut-lossy\.vkz: truncated \.vkz file/);
    const flipped = bytes.slice();
    flipped[bytes.length - 10] ^= 2;
    writeFileSync(cut, flipped);
    fails(run('decompress', cut, '--out', never), /CRC of block 0 does not match/);
    fails(run('decompress', lossy, '--model', fixture('vae'), '--out', never), /compressed with another model/);
    assert.ok(!existsSync(never));
  });
});
