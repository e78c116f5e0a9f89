// Usage: node --import tsx bench/compress-lossy.ts --model NAME=DIR [--model NAME=DIR …] [--n N]
//          [--jpeg 5,10,…] [--webp 0,5,…] [--check N] [--json FILE]
// A rate–distortion comparison of lossy coding on the first N (default 1,000) 8-bit Fashion-MNIST test images
// (continuous protocol, values k/255): vaekit's VQ-VAE codes entropy-coded under the PixelCNN prior
// (src/tasks/compress/lossy.ts; one .vkz file for the set) against JPEG (cjpeg -grayscale -quality q,
// libjpeg-turbo) and WebP (cwebp -q q -m 6) sweeps. The baselines get one image of all N images tiled 40 to a
// row, so their headers are amortised over the set as vaekit's is, and decode it back (djpeg, dwebp) to cut
// the reconstructions out again. PSNR (data range 1) and SSIM are per image, then averaged, for every codec.
// Two sizes per codec: the whole file (headers counted: vaekit's JSON header and CRCs, JPEG's markers and
// tables, WebP's RIFF/VP8 headers) and headerless (vaekit's rANS message; JPEG's entropy-coded scan, from after
// the SOS marker segment to EOI; WebP's VP8 frame data, after the VP8 chunk's 10-byte frame header). At each
// vaekit point the baselines' bits/image are interpolated (linearly between the two sweep points that bracket
// its PSNR) to the same PSNR; 'JPEG / vaekit' > 1 means vaekit's file is smaller.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { loadDataset, rowRange } from '../src/data/dataset.js';
import { decodePng } from '../src/io/png.js';
import { loadModel } from '../src/io/model.js';
import { psnrRows, ssimRows } from '../src/tasks/restore/metrics.js';
import { compressLossy, decompressLossy } from '../src/tasks/compress/index.js';

const args = process.argv.slice(2);
const values = (name: string) => args.flatMap((a, i) => (a === name && args[i + 1] ? [args[i + 1]] : []));
const list = (name: string, def: number[]) => (values(name)[0] ? values(name)[0].split(',').map(Number) : def);
const models = values('--model').map((s) => s.split('='));
const N = Number(values('--n')[0] ?? 1000);
const check = Number(values('--check')[0] ?? 100);
const jpegQ = list('--jpeg', [1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 70, 90]);
const webpQ = list('--webp', [0, 2, 5, 10, 20, 30, 50, 70, 90]);
const jsonOut = values('--json')[0];

const info = await initBackend('auto', true);
const data = await loadDataset({ name: 'fashion-mnist', protocol: 'continuous' });
const n = Math.min(N, data.test.n);
const [H, W] = data.shape;
const D = H * W;
const x = rowRange(data.test, 0, n);
const levels = Uint8Array.from(x, (v) => Math.round(v * 255));
console.error(`backend ${info.backend}; fashion-mnist: ${n} 8-bit test images ${H}×${W}`);

interface Point {
  codec: string;
  setting: string;
  bitsPerImage: number;
  headerlessBitsPerImage: number;
  psnr: number;
  ssim: number;
  imagesPerSecond?: number;
  decodePerSecond?: number;
}

const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
const quality = (rec: Uint8Array) => {
  const a = Float64Array.from(levels, (v) => v / 255);
  const b = Float64Array.from(rec, (v) => v / 255);
  return { psnr: mean(psnrRows(a, b, n)), ssim: mean(ssimRows(a, b, n, [H, W, 1])) };
};

// ---- the tiled mosaic (PGM) for the baselines
const perRow = 40;
const rowsOf = Math.ceil(n / perRow);
const MW = perRow * W;
const MH = rowsOf * H;
const mosaic = new Uint8Array(MW * MH);
for (let i = 0; i < n; i++) {
  const oy = Math.floor(i / perRow) * H;
  const ox = (i % perRow) * W;
  for (let y = 0; y < H; y++) mosaic.set(levels.subarray(i * D + y * W, i * D + (y + 1) * W), (oy + y) * MW + ox);
}
const uncut = (m: Uint8Array): Uint8Array => {
  const out = new Uint8Array(n * D);
  for (let i = 0; i < n; i++) {
    const oy = Math.floor(i / perRow) * H;
    const ox = (i % perRow) * W;
    for (let y = 0; y < H; y++) out.set(m.subarray((oy + y) * MW + ox, (oy + y) * MW + ox + W), i * D + y * W);
  }
  return out;
};
const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-lossy-bench-'));
const pgm = path.join(tmp, 'mosaic.pgm');
writeFileSync(pgm, Buffer.concat([Buffer.from(`P5\n${MW} ${MH}\n255\n`), Buffer.from(mosaic)]));

function readPgm(file: string): Uint8Array {
  const b = readFileSync(file);
  // P5\nW H\n255\n (djpeg writes exactly this form)
  let pos = 0;
  let fields = 0;
  while (fields < 4) {
    while (b[pos] === 0x20 || b[pos] === 0x0a || b[pos] === 0x0d || b[pos] === 0x09) pos++;
    while (!(b[pos] === 0x20 || b[pos] === 0x0a || b[pos] === 0x0d || b[pos] === 0x09)) pos++;
    fields++;
  }
  pos++;
  return new Uint8Array(b.subarray(pos, pos + MW * MH));
}

/** JPEG: the entropy-coded data runs from after the (last) SOS marker segment to the EOI marker. */
function jpegHeaderless(b: Buffer): number {
  let pos = 2;
  let scanStart = -1;
  while (pos < b.length) {
    if (b[pos] !== 0xff) throw new Error('jpeg: lost the marker chain');
    const marker = b[pos + 1];
    const len = b.readUInt16BE(pos + 2);
    if (marker === 0xda) {
      scanStart = pos + 2 + len;
      break;
    }
    pos += 2 + len;
  }
  if (scanStart < 0) throw new Error('jpeg: no SOS');
  return b.length - 2 - scanStart; // less the EOI marker
}

/** WebP (lossy, simple format): the VP8 chunk's payload less its 10-byte frame header. */
function webpHeaderless(b: Buffer): number {
  let pos = 12;
  while (pos + 8 <= b.length) {
    const tag = b.toString('latin1', pos, pos + 4);
    const size = b.readUInt32LE(pos + 4);
    if (tag === 'VP8 ') return size - 10;
    pos += 8 + size + (size & 1);
  }
  throw new Error('webp: no VP8 chunk');
}

const points: Point[] = [];
for (const q of jpegQ) {
  const f = path.join(tmp, `q${q}.jpg`);
  execFileSync('cjpeg', ['-grayscale', '-quality', String(q), '-optimize', '-outfile', f, pgm]);
  const bytes = readFileSync(f);
  execFileSync('djpeg', ['-pnm', '-outfile', path.join(tmp, 'back.pgm'), f]);
  const rec = uncut(readPgm(path.join(tmp, 'back.pgm')));
  points.push({
    codec: 'JPEG',
    setting: `cjpeg -grayscale -optimize -quality ${q}`,
    bitsPerImage: (8 * bytes.length) / n,
    headerlessBitsPerImage: (8 * jpegHeaderless(bytes)) / n,
    ...quality(rec),
  });
}
for (const q of webpQ) {
  const f = path.join(tmp, `q${q}.webp`);
  execFileSync('cwebp', ['-quiet', '-q', String(q), '-m', '6', pgm, '-o', f]);
  const bytes = readFileSync(f);
  const png = path.join(tmp, 'back.png');
  execFileSync('dwebp', ['-quiet', f, '-o', png]);
  const img = decodePng(readFileSync(png));
  const C = img.pixels.length / (MW * MH);
  const gray = new Uint8Array(MW * MH);
  for (let i = 0; i < gray.length; i++) gray[i] = Math.round(img.pixels[i * C] * 255);
  points.push({
    codec: 'WebP',
    setting: `cwebp -q ${q} -m 6`,
    bitsPerImage: (8 * bytes.length) / n,
    headerlessBitsPerImage: (8 * webpHeaderless(bytes)) / n,
    ...quality(uncut(gray)),
  });
}
rmSync(tmp, { recursive: true, force: true });

for (const [name, dir] of models) {
  const { model } = await loadModel(dir);
  const t0 = performance.now();
  const r = compressLossy(model, x, n);
  const cs = (performance.now() - t0) / 1000;
  // the decoder runs the prior autoregressively: check the first `check` images decode to the same codes
  const m = Math.min(check, n);
  const sub = compressLossy(model, x.subarray(0, m * D), m);
  const t1 = performance.now();
  const back = decompressLossy(model, sub.bytes);
  const ds = (performance.now() - t1) / 1000;
  if (back.codes.some((v, i) => v !== sub.codes[i]) || back.images.some((v, i) => v !== r.images[i]))
    throw new Error(`${name}: the decoded codes differ`);
  const q = quality(r.images);
  points.push({
    codec: 'vaekit',
    setting: `${name} (${r.stats.codes} codes of K = ${r.stats.codebookSize}; ${(r.stats.codes * Math.log2(r.stats.codebookSize)).toFixed(0)} bits under a uniform prior)`,
    bitsPerImage: r.stats.bitsPerImage,
    headerlessBitsPerImage: r.stats.payloadBitsPerImage,
    psnr: q.psnr,
    ssim: q.ssim,
    imagesPerSecond: n / cs,
    decodePerSecond: m / ds,
  });
  console.error(
    `${name}: ${r.stats.bitsPerImage.toFixed(1)} bits/image, PSNR ${q.psnr.toFixed(2)} (${cs.toFixed(0)} s)`,
  );
}

/** Bits/image of a baseline at PSNR p, linear between the bracketing sweep points (null outside the sweep). */
function at(codec: string, p: number, key: 'bitsPerImage' | 'headerlessBitsPerImage'): number | null {
  const c = points.filter((q) => q.codec === codec).sort((a, b) => a.psnr - b.psnr);
  for (let i = 0; i + 1 < c.length; i++)
    if (c[i].psnr <= p && p <= c[i + 1].psnr) {
      const t = (p - c[i].psnr) / (c[i + 1].psnr - c[i].psnr || 1);
      return c[i][key] + t * (c[i + 1][key] - c[i][key]);
    }
  return null;
}

const f1 = (v: number) => v.toFixed(1);
const ratio = (b: number | null, v: number) => (b === null ? 'outside sweep' : `${(b / v).toFixed(2)}×`);
console.log(`\n**Rate–distortion, first ${n} Fashion-MNIST test images (8-bit)**\n`);
console.log('| codec | setting | bits/image | bits/dim | headerless bits/image | PSNR dB | SSIM | img/s (enc / dec) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const p of points)
  console.log(
    `| ${p.codec} | ${p.setting} | ${f1(p.bitsPerImage)} | ${(p.bitsPerImage / D).toFixed(4)} | ${f1(p.headerlessBitsPerImage)} | ${p.psnr.toFixed(2)} | ${p.ssim.toFixed(4)} | ${p.imagesPerSecond ? `${p.imagesPerSecond.toFixed(0)} / ${p.decodePerSecond!.toFixed(0)}` : ''} |`,
  );
console.log('\n**At the PSNR of each vaekit model: the baselines interpolated (ratio > 1: vaekit smaller)**\n');
console.log(
  '| model | PSNR dB | vaekit bits/image | JPEG bits/image | JPEG / vaekit | WebP bits/image | WebP / vaekit | headerless: JPEG / vaekit | WebP / vaekit |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const p of points.filter((q) => q.codec === 'vaekit')) {
  const j = at('JPEG', p.psnr, 'bitsPerImage');
  const w = at('WebP', p.psnr, 'bitsPerImage');
  const jh = at('JPEG', p.psnr, 'headerlessBitsPerImage');
  const wh = at('WebP', p.psnr, 'headerlessBitsPerImage');
  console.log(
    `| ${p.setting.split(' (')[0]} | ${p.psnr.toFixed(2)} | ${f1(p.bitsPerImage)} | ${j === null ? '–' : f1(j)} | ${ratio(j, p.bitsPerImage)} | ${w === null ? '–' : f1(w)} | ${ratio(w, p.bitsPerImage)} | ${ratio(jh, p.headerlessBitsPerImage)} | ${ratio(wh, p.headerlessBitsPerImage)} |`,
  );
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ n, backend: info.backend, points }, null, 2));
