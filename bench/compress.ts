// Usage: node --import tsx bench/compress.ts --dataset fashion-mnist|mnist --model NAME=DIR [--model NAME=DIR …]
//          [--pixels binary|8bit] [--n N] [--no-jxl] [--zopfli] [--no-baselines] [--json FILE]
// (--no-baselines: only the models' rows, for a model added to a table whose codec rows were measured already)
// Lossless compression of the test images, binary (the binary protocol, default) or raw 8-bit (--pixels 8bit:
// the continuous protocol's k/255, models with a discretized-logistic decoder): vaekit's bits-back coder with
// each model (src/tasks/compress: vae or hvae) beside the standard codecs on the same pixels, and each model's
// test −ELBO in bits, the figure bits-back coding should reach. Prints a Markdown table: bits/dim, bytes/image,
// file / −ELBO, images/s.
//   PNG (optipng -o7, optionally zopflipng), WebP lossless (cwebp -lossless -z 9), JPEG XL lossless
//   (cjxl -d 0 -e 9): one image of all the test images tiled 100 to a row (their headers amortised as vaekit's
//   is over the set; per-image files would only cost them more); gzip -9, bzip2 -9, xz -9e: the pixels
//   packed 8 to a byte (8-bit: the raw bytes, one a pixel). All sizes are whole files, headers included.
// The baseline tools come from Debian's webp, libjxl-tools, optipng and zopfli (scripts/install-system.sh --bench).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { packBits } from '../src/codec/bitio.js';
import { loadDataset, parseDatasetName, rowRange } from '../src/data/dataset.js';
import { evaluateElbo } from '../src/eval/likelihood.js';
import { encodePng } from '../src/io/png.js';
import { loadModel } from '../src/io/model.js';
import { Rng } from '../src/rng.js';
import { compressBinaryImages, decompressBinaryImages } from '../src/tasks/compress/index.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const values = (name: string) => args.flatMap((a, i) => (a === name && args[i + 1] ? [args[i + 1]] : []));
const dataset = values('--dataset')[0] ?? 'fashion-mnist';
const models = values('--model').map((s) => s.split('='));
const nFlag = values('--n')[0];
const jsonOut = values('--json')[0];
const pixels = values('--pixels')[0] ?? 'binary';
if (pixels !== 'binary' && pixels !== '8bit') throw new Error(`--pixels must be binary or 8bit, got ${pixels}`);
const eightBit = pixels === '8bit';

const info = await initBackend('auto', true);
const data = await loadDataset({ ...parseDatasetName(dataset), protocol: eightBit ? 'continuous' : 'binary' });
const n = Math.min(nFlag ? Number(nFlag) : data.test.n, data.test.n);
const [H, W] = data.shape;
const D = data.shape.reduce((a, b) => a * b, 1);
const x = rowRange(data.test, 0, n);
const dims = n * D;
const levels = Uint8Array.from(x, (v) => Math.round(v * 255)); // 8-bit: the pixels; binary: 0/1
console.error(
  `backend ${info.backend} (${info.detail}); ${dataset}: ${n} ${pixels} test images ${data.shape.join('×')}`,
);

interface Row {
  codec: string;
  bytes: number;
  negElboBits?: number;
  compressPerSec?: number;
  decompressPerSec?: number;
  note?: string;
}
const rows: Row[] = [];

for (const [name, dir] of models) {
  const { model } = await loadModel(dir);
  const rng = new Rng(0);
  let nats = 0;
  for (let r = 0; r < 2; r++)
    nats += evaluateElbo(model, { x, n, shape: data.test.shape, y: data.test.y?.subarray(0, n) }, { rng }).total / 2;
  const negElboBits = (n * nats) / Math.LN2;
  let t = performance.now();
  const { bytes, stats } = compressBinaryImages(model, x, n);
  const cs = (performance.now() - t) / 1000;
  t = performance.now();
  const back = decompressBinaryImages(model, bytes);
  const ds = (performance.now() - t) / 1000;
  const exact = back.x.every((v, i) => v === (eightBit ? levels[i] : x[i]));
  if (!exact) throw new Error(`${name}: decompress(compress(x)) != x`);
  rows.push({
    codec: `vaekit bits-back, ${name}`,
    bytes: bytes.length,
    negElboBits,
    compressPerSec: n / cs,
    decompressPerSec: n / ds,
    note: `exact; start-up ${stats.startupBits} bits; test −ELBO ${(negElboBits / dims).toFixed(4)} bits/dim (${nats.toFixed(2)} nats)`,
  });
  console.error(`${name}: ${bytes.length} bytes, ${cs.toFixed(1)} s / ${ds.toFixed(1)} s`);
  model.dispose();
}

if (!flag('--no-baselines')) baselines();

function baselines(): void {
  const tmp = mkdtempSync(path.join(tmpdir(), 'vaekit-bench-compress-'));
  const timed = (codec: string, file: string, fn: () => void, note?: string) => {
    const t = performance.now();
    try {
      fn();
    } catch (e) {
      console.error(`${codec}: skipped (${(e as Error).message.split('\n')[0]})`);
      return;
    }
    rows.push({ codec, bytes: statSync(file).size, compressPerSec: n / ((performance.now() - t) / 1000), note });
  };
  const run = (cmd: string, a: string[], input?: Uint8Array) =>
    execFileSync(cmd, a, { input, maxBuffer: 1 << 30, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });

  // the tiled image: 100 images to a row, 0/255 grayscale
  const cols = Math.min(100, n);
  const gridRows = Math.ceil(n / cols);
  const grid = new Uint8Array(gridRows * H * cols * W);
  for (let i = 0; i < n; i++) {
    const [r0, c0] = [Math.floor(i / cols) * H, (i % cols) * W];
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) {
        const v = levels[i * D + y * W + xx];
        grid[(r0 + y) * cols * W + c0 + xx] = eightBit ? v : v ? 255 : 0;
      }
  }
  const png = path.join(tmp, 'grid.png');
  writeFileSync(png, encodePng(grid, cols * W, gridRows * H, 1));
  const tiled = `one ${cols * W}×${gridRows * H} image`;
  timed(
    'PNG, optipng -o7',
    path.join(tmp, 'o.png'),
    () => run('optipng', ['-o7', '-quiet', '-out', path.join(tmp, 'o.png'), png]),
    tiled,
  );
  if (flag('--zopfli'))
    timed(
      'PNG, zopflipng -m',
      path.join(tmp, 'z.png'),
      () => run('zopflipng', ['-m', '-y', png, path.join(tmp, 'z.png')]),
      tiled,
    );
  timed(
    'WebP lossless, cwebp -lossless -z 9',
    path.join(tmp, 'o.webp'),
    () => run('cwebp', ['-quiet', '-lossless', '-z', '9', png, '-o', path.join(tmp, 'o.webp')]),
    tiled,
  );
  if (!flag('--no-jxl'))
    timed(
      'JPEG XL lossless, cjxl -d 0 -e 9',
      path.join(tmp, 'o.jxl'),
      () => run('cjxl', ['--quiet', '-d', '0', '-e', '9', png, path.join(tmp, 'o.jxl')]),
      tiled,
    );
  const packed = eightBit ? levels : packBits(x);
  for (const [tool, a] of [
    ['gzip', ['-9', '-c']],
    ['bzip2', ['-9', '-c']],
    ['xz', ['-9e', '-c']],
  ] as const) {
    const file = path.join(tmp, `packed.${tool}`);
    timed(`${tool} ${a[0]} of the ${eightBit ? 'raw bytes' : 'packed pixels'}`, file, () =>
      writeFileSync(file, run(tool, [...a], packed)),
    );
  }
  rmSync(tmp, { recursive: true, force: true });
}

const baselineBytes = rows.filter((r) => !r.codec.startsWith('vaekit')).map((r) => r.bytes);
const best = baselineBytes.length ? Math.min(...baselineBytes) : NaN;
const lines = [
  `${eightBit ? '8-bit' : 'Binary'} ${dataset}, ${n} test images (${dims} pixels); backend ${info.backend}.`,
  '',
  '| codec | bits/dim | bytes/image | file / −ELBO | best baseline / file | compress img/s | decompress img/s |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      [
        r.codec,
        ((8 * r.bytes) / dims).toFixed(4),
        (r.bytes / n).toFixed(2),
        r.negElboBits ? ((8 * r.bytes) / r.negElboBits).toFixed(4) : '',
        r.codec.startsWith('vaekit') && Number.isFinite(best) ? (best / r.bytes).toFixed(2) + '×' : '',
        r.compressPerSec ? r.compressPerSec.toFixed(0) : '',
        r.decompressPerSec ? r.decompressPerSec.toFixed(0) : '',
      ]
        .join(' | ')
        .replace(/^/, '| ') + ' |',
  ),
  '',
  ...rows.filter((r) => r.note).map((r) => `- ${r.codec}: ${r.note}`),
];
console.log(lines.join('\n'));
if (jsonOut)
  writeFileSync(jsonOut, JSON.stringify({ dataset, pixels, n, backend: info.backend, rows }, null, 2) + '\n');
