import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { decodePng, encodePng, imageGrid, reconstructionGrid, upscale, writePng } from '../src/io/png.js';
import { encodeGif, writeGif } from '../src/io/gif.js';

const created: string[] = [];
after(() => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});
function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vaekit-io-png-'));
  created.push(d);
  return d;
}

function lcgBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

it('png: uint8 encode → decode is pixel-exact for 1, 3 and 4 channels', () => {
  for (const c of [1, 3, 4] as const) {
    const w = 7;
    const h = 5;
    const px = lcgBytes(w * h * c, c);
    const png = encodePng(px, w, h, c);
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
    const back = decodePng(png);
    assert.equal(back.width, w);
    assert.equal(back.height, h);
    assert.equal(back.channels, c);
    assert.deepEqual(
      [...back.pixels].map((v) => Math.round(v * 255)),
      [...px],
      `channels ${c}`,
    );
    for (const v of back.pixels) assert.ok(v >= 0 && v <= 1);
    // The PNG colour type matches the channel count.
    assert.equal(png[25], { 1: 0, 3: 2, 4: 6 }[c]);
  }
});

it('png: floats are clamped to [0,1] and NaN is refused', () => {
  const px = new Float32Array([-0.5, 0, 0.5, 1, 1.5, 0.2]);
  const back = decodePng(encodePng(px, 3, 2, 1));
  assert.deepEqual(
    [...back.pixels].map((v) => Math.round(v * 255)),
    [0, 0, 128, 255, 255, 51],
  );
  assert.throws(() => encodePng(new Float32Array([0, NaN]), 2, 1, 1), /NaN at element 1/);
  assert.throws(() => encodePng(new Float32Array(5), 3, 2, 1), /needs 6 values, got 5/);
  assert.throws(() => encodePng(new Float32Array(4), 2, 1, 2 as never), /channels must be 1, 3 or 4/);
  assert.throws(() => encodePng(new Float32Array(0), 0, 1, 1), /width must be a positive integer/);
  assert.throws(() => decodePng(Buffer.from('not a png')), /decodePng: not a valid PNG/);
});

it('png: decodes gray+alpha and transparency as RGBA', () => {
  const png = new PNG({ width: 2, height: 1 });
  png.data = Buffer.from([10, 10, 10, 255, 20, 20, 20, 0]);
  const ga = PNG.sync.write(png, { colorType: 4 });
  const back = decodePng(ga);
  assert.equal(back.channels, 4);
  assert.deepEqual(
    [...back.pixels].map((v) => Math.round(v * 255)),
    [10, 10, 10, 255, 20, 20, 20, 0],
  );
});

it('imageGrid lays images out row by row with padding (pixel by pixel)', () => {
  // Three 2×2 grayscale images: image k has pixel values k+0.1, k+0.2, ... (scaled small)
  const imgs = new Float32Array([
    0.1,
    0.2,
    0.3,
    0.4, // image 0: rows [0.1 0.2] [0.3 0.4]
    0.5,
    0.6,
    0.7,
    0.8, // image 1
    0.9,
    1.0,
    0.0,
    0.05, // image 2
  ]);
  const g = imageGrid(imgs, 3, 2, 2, 1, { cols: 2, pad: 1, padValue: 0.25 });
  assert.equal(g.width, 7); // 2·2 + 3·1
  assert.equal(g.height, 7);
  assert.equal(g.channels, 1);
  const P = 0.25;
  const expected = [
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    0.1,
    0.2,
    P,
    0.5,
    0.6,
    P,
    P,
    0.3,
    0.4,
    P,
    0.7,
    0.8,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    0.9,
    1.0,
    P,
    P,
    P,
    P, // third image; the empty fourth cell is padValue
    P,
    0.0,
    0.05,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
    P,
  ];
  assert.deepEqual([...g.pixels], [...new Float32Array(expected)]);

  // Defaults: cols = ceil(sqrt(n)), pad 1, padValue 1. Colour images keep channels interleaved.
  const rgb = new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]); // two 1×1 RGB images
  const g2 = imageGrid(rgb, 2, 1, 1, 3, { pad: 0 });
  assert.deepEqual([g2.width, g2.height], [2, 1]);
  assert.deepEqual([...g2.pixels], [...rgb]);
  const g3 = imageGrid(new Float32Array([0.5]), 1, 1, 1, 1);
  assert.deepEqual([...g3.pixels], [1, 1, 1, 1, 0.5, 1, 1, 1, 1]);
  assert.throws(() => imageGrid(new Float32Array(3), 1, 2, 2, 1), /need 4 values, got 3/);
});

it('reconstructionGrid puts each original next to its reconstruction', () => {
  const orig = new Float32Array([0.1, 0.2, 0.3]); // three 1×1 images
  const rec = new Float32Array([0.6, 0.7, 0.8]);
  const g = reconstructionGrid(orig, rec, 3, 1, 1, 1, { pairsPerRow: 2, pad: 0, padValue: 0 });
  assert.deepEqual([g.width, g.height], [4, 2]);
  assert.deepEqual([...g.pixels], [...new Float32Array([0.1, 0.6, 0.2, 0.7, 0.3, 0.8, 0, 0])]);
});

it('upscale is nearest-neighbour', () => {
  const img = { pixels: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), width: 2, height: 1, channels: 3 as const };
  const up = upscale(img, 2);
  assert.deepEqual([up.width, up.height, up.channels], [4, 2, 3]);
  const a = [0.1, 0.2, 0.3];
  const b = [0.4, 0.5, 0.6];
  const row = [...a, ...a, ...b, ...b];
  assert.deepEqual([...up.pixels], [...new Float32Array([...row, ...row])]);
  assert.throws(() => upscale(img, 1.5), /positive integer/);
});

it('writePng / writeGif write files; GIF frames are exact grayscale', async (t) => {
  const dir = tmpdir();
  const frames = [0, 1, 2].map(
    (k) => new Float32Array(Array.from({ length: 6 }, (_, i) => (((k * 6 + i) * 13) % 256) / 255)),
  );
  await writePng(path.join(dir, 'a.png'), { pixels: frames[0], width: 3, height: 2, channels: 1 });
  await writeGif(path.join(dir, 'a.gif'), frames, 3, 2, 1, { delayMs: 80, scale: 2 });
  const rgbFrames = [new Float32Array([1, 0, 0, 0, 1, 0]), new Float32Array([0, 0, 1, 1, 1, 1])];
  fs.writeFileSync(path.join(dir, 'rgb.gif'), encodeGif(rgbFrames, 2, 1, 3));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.gif', 'a.png', 'rgb.gif']);
  const gif = fs.readFileSync(path.join(dir, 'a.gif'));
  assert.equal(gif.subarray(0, 6).toString('latin1'), 'GIF89a');
  assert.equal(gif.readUInt16LE(6), 6); // logical screen 3·2 × 2·2
  assert.equal(gif.readUInt16LE(8), 4);
  assert.equal(gif[gif.length - 1], 0x3b); // trailer
  assert.throws(() => encodeGif([], 1, 1), /no frames/);
  assert.throws(() => encodeGif([new Float32Array(3)], 2, 1), /frame 0 has 3 values, expected 2/);
  assert.throws(() => encodeGif([new Float32Array([NaN])], 1, 1), /frame 0: image has NaN/);

  // Decode with Pillow when available: every frame, every pixel.
  const py = '/usr/bin/python3';
  const probe = fs.existsSync(py) ? spawnSync(py, ['-c', 'import PIL'], { encoding: 'utf8' }) : undefined;
  if (!probe || probe.status !== 0) {
    t.skip('Pillow not available: GIF/PNG checked structurally only');
    return;
  }
  const script = String.raw`
import json, sys
from PIL import Image, ImageSequence
d = sys.argv[1]
out = {}
with Image.open(d + "/a.gif") as im:
    out["gif"] = [list(f.convert("L").getdata()) for f in ImageSequence.Iterator(im)]
    out["size"] = list(im.size)
    out["duration"] = im.info.get("duration")
    out["loop"] = im.info.get("loop")
with Image.open(d + "/rgb.gif") as im:
    out["rgb"] = [list(f.convert("RGB").getdata()) for f in ImageSequence.Iterator(im)]
with Image.open(d + "/a.png") as im:
    out["png"] = list(im.getdata()); out["mode"] = im.mode
print(json.dumps(out))
`;
  const r = spawnSync(py, ['-c', script, dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const bytes = frames.map((f) => [...f].map((v) => Math.round(v * 255)));
  assert.deepEqual(out.size, [6, 4]);
  assert.equal(out.duration, 80);
  assert.equal(out.loop, 0);
  assert.equal(out.gif.length, 3);
  for (let k = 0; k < 3; k++) {
    const up = upscale({ pixels: new Float32Array(bytes[k]), width: 3, height: 2, channels: 1 }, 2);
    assert.deepEqual(out.gif[k], [...up.pixels], `frame ${k}`);
  }
  assert.deepEqual(out.rgb, [
    [
      [255, 0, 0],
      [0, 255, 0],
    ],
    [
      [0, 0, 255],
      [255, 255, 255],
    ],
  ]);
  assert.equal(out.mode, 'L');
  assert.deepEqual(out.png, bytes[0]);
});
