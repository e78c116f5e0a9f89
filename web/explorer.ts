// The latent-space explorer (served by `vaekit serve`, bundled by src/serve/page.ts). The model is loaded over
// HTTP from /model/ and runs here with tfjs: the test examples (from /api/examples) are encoded in the page,
// their means μ(x) mapped to 2-D (PCA, or UMAP with ?map=umap, seeded), and every decoded image is decoded
// in the page. Only the anomaly score of a drawing is asked of the server (/api/score), when it offers it.
// window.explorer exposes the state and a decode(z) for the browser tests.
import { UMAP } from 'umap-js';
import {
  chooseBackend,
  decodeCodes,
  degrade,
  decodeLatent,
  encodeCodes,
  isWordsModel,
  encode,
  generate,
  klPerUnit,
  loadModelFromUrl,
  nearestRows,
  pcaInverse,
  pcaMap,
  reconstruct,
  restoreImages,
  Rng,
  scoreBatch,
  SCORER_DEFAULTS,
  unitsByUse,
  type LatentVariableModel,
  type RestoreMethod,
} from '../src/browser.js';
import { drawRow, isImage, makeDrawable, PALETTE, readDrawing } from './draw.js';
import { setupVq, type VqState } from './vq.js';
import { setupWordBox, wordAt, wordsOfRows } from './words.js';

interface Info {
  kind: string;
  inputShape: number[];
  latentDim: number | null;
  numClasses: number | null;
  classNames: string[] | null;
  dataset: string;
  protocol: string;
  examples: number;
  routes: string[];
  calibration: { score: string; threshold: number; targetFpr: number } | null;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string) => ($('status').textContent = s);

async function getJson<T>(url: string, body?: unknown): Promise<T> {
  const r = await fetch(
    url,
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  const j = await r.json();
  if (!r.ok) throw new Error(`${url}: ${j.error ?? r.status}`);
  return j as T;
}

function base64Floats(b64: string): Float32Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

interface MapState {
  kind: 'identity' | 'pca' | 'umap';
  points: Float32Array; // [n × 2]
  lo: [number, number];
  hi: [number, number];
  toZ(u: number, v: number): Float32Array;
}

function makeMap(mu: Float32Array, n: number, d: number, method: string): MapState {
  let points: Float32Array;
  let toZ: (u: number, v: number) => Float32Array;
  let kind: MapState['kind'];
  if (d === 2 && method !== 'umap') {
    kind = 'identity';
    points = mu.slice();
    toZ = (u, v) => Float32Array.of(u, v);
  } else if (method === 'umap' && n >= 4) {
    kind = 'umap';
    const rng = new Rng(0);
    const rows = Array.from({ length: n }, (_, i) => Array.from(mu.subarray(i * d, (i + 1) * d)));
    const emb = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, n - 1), random: () => rng.uniform() }).fit(rows);
    points = Float32Array.from(emb.flat());
    // the inverse: an inverse-distance blend of the three nearest examples' μ
    toZ = (u, v) => {
      const near = Array.from({ length: n }, (_, i) => [Math.hypot(points[2 * i] - u, points[2 * i + 1] - v), i])
        .sort((a, b) => a[0] - b[0])
        .slice(0, 3);
      const z = new Float32Array(d);
      let wsum = 0;
      for (const [dist, i] of near) {
        const w = 1 / (dist + 1e-6);
        wsum += w;
        for (let j = 0; j < d; j++) z[j] += w * mu[i * d + j];
      }
      return z.map((x) => x / wsum);
    };
  } else {
    kind = 'pca';
    const m = pcaMap(mu, n, d);
    points = m.points;
    toZ = (u, v) => pcaInverse(m, u, v);
  }
  const lo: [number, number] = [Infinity, Infinity];
  const hi: [number, number] = [-Infinity, -Infinity];
  for (let i = 0; i < n; i++)
    for (const k of [0, 1]) {
      lo[k] = Math.min(lo[k], points[2 * i + k]);
      hi[k] = Math.max(hi[k], points[2 * i + k]);
    }
  for (const k of [0, 1]) {
    const pad = (hi[k] - lo[k] || 1) * 0.05;
    lo[k] -= pad;
    hi[k] += pad;
  }
  return { kind, points, lo, hi, toZ };
}

async function main(): Promise<void> {
  // tfjs on WebGL when the browser has it, else on the CPU (?backend=cpu|webgl|auto; the page says which runs)
  const want = new URLSearchParams(location.search).get('backend') ?? 'auto';
  const be = await chooseBackend(want === 'cpu' || want === 'webgl' ? want : 'auto');
  const info = await getJson<Info>('/api/info');
  $('title').textContent = `${info.kind} · ${info.dataset}`;
  $('backend').textContent =
    `tfjs backend: ${be.backend}${be.backend === 'webgl' && !be.float32 ? ' (16-bit floats)' : ''}` +
    (be.fallback ? ` (${be.fallback}; fell back to the CPU)` : '');
  status('loading the model…');
  const { model, source } = await loadModelFromUrl(`${location.origin}/model`);
  const shape = info.inputShape;
  const D = shape.reduce((a, b) => a * b, 1);
  const K = info.numClasses ?? 0;
  const label = $<HTMLSelectElement>('label');
  if (K) {
    $('labelpick').hidden = false;
    for (let k = 0; k < K; k++) label.add(new Option(info.classNames?.[k] ?? String(k), String(k)));
  }
  const y1 = () => (K ? [Number(label.value)] : undefined);
  const exposed: Record<string, unknown> = { info, model, points: 0, backend: be, source };
  (window as unknown as { explorer: unknown }).explorer = exposed;

  // for the tests: the page's own reconstruction and samples (x ~ p(x|z) with sampleX: a learned σ shows there)
  exposed.reconstruct = (x: number[], y?: number[]) =>
    Array.from(reconstruct(model, Float32Array.from(x), x.length / D, y));
  exposed.sample = (n: number, seed: number, sampleX: boolean, y?: number[]) =>
    Array.from(generate(model, n, new Rng(seed), { sampleX, y }));
  // the anomaly scores and restoration of vaekit/browser, run in the page (the tests compare them with Node's)
  exposed.scoreInPage = async (x: number[], n: number, k: number) => {
    const rows = { x: Float32Array.from(x), n, shape };
    const s = await scoreBatch(model, rows, { ...SCORER_DEFAULTS, rng: new Rng(SCORER_DEFAULTS.seed), k });
    return { negElbo: [...s.negElbo], nll: [...s.nll], corrected: s.corrected ? [...s.corrected] : null };
  };
  exposed.restoreInPage = (x: number[], mask: number[], method: RestoreMethod, seed: number) => {
    const deg = degrade(Float32Array.from(x), 1, shape, {
      task: 'inpaint',
      mask: { kind: 'user', name: 'm', values: mask },
    });
    const r = restoreImages(model, deg, { method, seed, samples: 4, restarts: 2, steps: 20 });
    return { x: [...r.x], uncertainty: [...r.uncertainty] };
  };
  setupDrawing(model, info, shape, y1);
  const ex = await getJson<{ n: number; x: string; y: number[] | null }>('/api/examples');
  const xs = base64Floats(ex.x);
  const n = ex.n;
  const method = new URLSearchParams(location.search).get('map') ?? 'pca';
  if (info.latentDim === null) {
    // a VQ-VAE: a grid of discrete codes; the map shows the examples' quantised latents z_q
    status('encoding the test examples to codes…');
    const v = setupVq(model, xs, n, shape);
    exposed.vq = v.state;
    exposed.exampleCodes = Array.from(v.exampleCodes);
    exposed.decodeCodes = (c: number[]) => Array.from(decodeCodes(model, c, c.length / v.state.codes.length));
    if (n > 1) {
      const map = makeMap(v.vectors, n, v.dim, method);
      $('mapkind').textContent = `(${map.kind} of the quantised latents, ${n} test examples)`;
      const nearest = (u: number, w: number) => nearestRows(map.points, n, 2, [u, w], 1).index[0];
      setupMap(map, n, ex.y, xs, D, shape, info, (u, w) => v.state.loadExample(nearest(u, w)));
      exposed.points = n;
      exposed.map = map;
    }
    const [h, w] = v.state.grid;
    status(
      `ready: ${info.kind} with a ${h}×${w} grid of codes from a codebook of ${v.state.K}` +
        (n > 1 ? `, ${n} test examples mapped` : ''),
    );
    return;
  }
  const d = info.latentDim;
  const words = isWordsModel(model);
  const testWords = words ? wordsOfRows(model, xs) : null;
  if (words) {
    $<HTMLCanvasElement>('decoded').hidden = true;
    $('decodedword').hidden = false;
  }

  status('encoding the test examples…');
  const mu = new Float32Array(n * d);
  const lv = new Float32Array(n * d);
  for (let s = 0; s < n; s += 256) {
    const e = Math.min(n, s + 256);
    const r = encode(model, xs.subarray(s * D, e * D), e - s, K && ex.y ? ex.y.slice(s, e) : undefined);
    mu.set(r.mu, s * d);
    lv.set(r.logVar, s * d);
  }
  const kl = klPerUnit(mu, lv, n, d);
  const order = unitsByUse(kl);

  const z = new Float32Array(d);
  const decodedCanvas = $<HTMLCanvasElement>('decoded');
  const redraw = () => {
    if (words) $('decodedword').textContent = wordAt(model, z) || '(empty)';
    else drawRow(decodedCanvas, decodeLatent(model, z, 1, y1()), shape);
  };
  const sliders: HTMLInputElement[] = [];
  for (const i of order) {
    const l = document.createElement('label');
    l.textContent = `z${i} (${kl[i].toFixed(2)})`;
    const s = document.createElement('input');
    Object.assign(s, { type: 'range', min: '-3', max: '3', step: '0.01', value: '0', id: `unit${i}` });
    const v = document.createElement('span');
    v.textContent = '0.00';
    s.addEventListener('input', () => {
      z[i] = Number(s.value);
      v.textContent = z[i].toFixed(2);
      redraw();
    });
    sliders[i] = s;
    $('sliders').append(l, s, v);
  }
  const setZ = (nz: ArrayLike<number>) => {
    for (let i = 0; i < d; i++) {
      z[i] = nz[i];
      sliders[i].value = String(nz[i]);
      (sliders[i].nextSibling as HTMLElement).textContent = z[i].toFixed(2);
    }
    redraw();
  };
  label.addEventListener('change', redraw);
  exposed.setZ = setZ;
  redraw();

  if (testWords) exposed.wordQuery = setupWordBox(model, testWords, mu, d, setZ);
  exposed.testWords = testWords;
  if (n > 0) {
    status(`mapping ${n} test examples…`);
    await new Promise((r) => setTimeout(r, 0));
    const map = makeMap(mu, n, d, method);
    $('mapkind').textContent = `(${map.kind}, ${n} test examples)`;
    setupMap(map, n, ex.y, xs, D, shape, info, (u, v) => setZ(map.toZ(u, v)), testWords);
    exposed.points = n;
    exposed.map = map;
  }
  exposed.decode = (zz: number[], y?: number[]) =>
    Array.from(decodeLatent(model, Float32Array.from(zz), zz.length / d, y));
  exposed.z = z;
  exposed.kl = Array.from(kl);
  status(`ready: ${info.kind} with ${d} latent units${n ? `, ${n} test examples mapped` : ''}`);
}

function setupMap(
  map: MapState,
  n: number,
  labels: number[] | null,
  xs: Float32Array,
  D: number,
  shape: number[],
  info: Info,
  pick: (u: number, v: number) => void,
  words: string[] | null = null,
): void {
  const canvas = $<HTMLCanvasElement>('map');
  const ctx = canvas.getContext('2d')!;
  const W = canvas.width;
  const H = canvas.height;
  const px = (i: number): [number, number] => [
    ((map.points[2 * i] - map.lo[0]) / (map.hi[0] - map.lo[0])) * W,
    H - ((map.points[2 * i + 1] - map.lo[1]) / (map.hi[1] - map.lo[1])) * H,
  ];
  const fromPx = (x: number, y: number): [number, number] => [
    map.lo[0] + (x / W) * (map.hi[0] - map.lo[0]),
    map.lo[1] + ((H - y) / H) * (map.hi[1] - map.lo[1]),
  ];
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  for (let i = 0; i < n; i++) {
    const [x, y] = px(i);
    ctx.fillStyle = PALETTE[(labels?.[i] ?? 0) % PALETTE.length];
    ctx.beginPath();
    ctx.arc(x, y, 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  if (labels) {
    const classes = [...new Set(labels)].sort((a, b) => a - b);
    $('legend').innerHTML = classes
      .map((k) => `<span><i style="background:${PALETTE[k % PALETTE.length]}"></i>${info.classNames?.[k] ?? k}</span>`)
      .join('');
  }
  const hover = $('hover');
  const at = (e: MouseEvent): [number, number] => {
    const b = canvas.getBoundingClientRect();
    return [((e.clientX - b.left) * W) / b.width, ((e.clientY - b.top) * H) / b.height];
  };
  let dragging = false;
  canvas.addEventListener('mousedown', (e) => {
    dragging = true;
    pick(...fromPx(...at(e)));
  });
  window.addEventListener('mouseup', () => (dragging = false));
  canvas.addEventListener('mouseleave', () => (hover.style.display = 'none'));
  canvas.addEventListener('mousemove', (e) => {
    const [x, y] = at(e);
    if (dragging) pick(...fromPx(x, y));
    let best = -1;
    let bd = 36;
    for (let i = 0; i < n; i++) {
      const [a, b] = px(i);
      const dd = (a - x) ** 2 + (b - y) ** 2;
      if (dd < bd) [bd, best] = [dd, i];
    }
    if (best < 0) {
      hover.style.display = 'none';
      return;
    }
    $('hovercanvas').hidden = words !== null;
    if (!words) drawRow($<HTMLCanvasElement>('hovercanvas'), xs.subarray(best * D, (best + 1) * D), shape);
    $('hoverlabel').textContent =
      `#${best}${words ? ` · ${words[best]}` : ''}${labels ? ` · ${info.classNames?.[labels[best]] ?? labels[best]}` : ''}`;
    Object.assign(hover.style, { display: 'block', left: `${e.pageX + 12}px`, top: `${e.pageY + 12}px` });
  });
}

function setupDrawing(model: LatentVariableModel, info: Info, shape: number[], y1: () => number[] | undefined): void {
  const canvas = $<HTMLCanvasElement>('draw');
  if (!isImage(shape)) {
    canvas.parentElement!.hidden = true;
    return;
  }
  const pad = makeDrawable(canvas, Math.max(8, Math.round((2 * canvas.width) / shape[1])));
  $('clear').addEventListener('click', () => pad.clear());
  $('roundtrip').addEventListener('click', async () => {
    const x = readDrawing(canvas, shape);
    // a model of binary pixels takes 0/1 values (the server's score refuses others)
    if (info.protocol === 'binary') x.forEach((v, i) => (x[i] = v > 0.5 ? 1 : 0));
    const rec = reconstruct(model, x, 1, y1());
    drawRow($<HTMLCanvasElement>('recon'), rec, shape);
    const setZ = (window as unknown as { explorer: { setZ?: (z: ArrayLike<number>) => void } }).explorer.setZ;
    if (setZ && info.latentDim !== null) setZ(encode(model, x, 1, y1()).mu);
    const vq = (window as unknown as { explorer: { vq?: VqState } }).explorer.vq;
    if (vq) vq.loadCodes(encodeCodes(model, x, 1).codes, 'the drawing');
    if (info.routes.includes('/api/score')) {
      const body = { x: [Array.from(x)], ...(info.numClasses ? { y: y1() } : {}) };
      try {
        const s = await getJson<{
          negElbo: number[];
          score: string;
          value: number[];
          threshold?: number;
          flagged?: boolean[];
        }>('/api/score', body);
        const unit = s.score === 'corrected' ? 'bits' : 'nats';
        $('score').textContent =
          `anomaly score: −ELBO ${s.negElbo[0].toFixed(1)} nats` +
          (s.score === 'negElbo' ? '' : ` · ${s.score} ${s.value[0].toFixed(1)} ${unit}`) +
          (s.flagged
            ? ` · ${s.flagged[0] ? 'FLAGGED' : 'not flagged'} (threshold ${s.threshold!.toFixed(1)})`
            : ' · no threshold (vaekit calibrate sets one)');
      } catch (e) {
        $('score').textContent = String(e);
      }
    }
    $('score').dataset.done = '1';
  });
}

main().catch((e) => {
  status(`error: ${e instanceof Error ? e.message : e}`);
  console.error(e);
});
