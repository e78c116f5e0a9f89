// The explorer's part for a VQ-VAE (a grid of M discrete codes, not a point z): the code usage of the test
// examples (bars, the codes used and the perplexity), the code grid of the picked example drawn cell by cell
// (colour and number of each code), and a control that sets the code at a picked grid position: every change
// is decoded in the page (E[x | k]). The map shows the examples' quantised latents z_q by PCA; clicking or
// dragging on it loads the nearest example's code grid.
import { codeUsage, codeVectors, decodeCodes, encodeCodes, type LatentVariableModel } from '../src/browser.js';
import { drawRow, PALETTE } from './draw.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export interface VqState {
  /** The grid shown and decoded [M]. */
  codes: Int32Array;
  /** The cell the code control sets. */
  cell: number;
  grid: [number, number];
  K: number;
  setCode(cell: number, k: number): void;
  loadExample(i: number): void;
  /** Shows and decodes a grid (e.g. a drawing's codes), named by `from`. */
  loadCodes(codes: ArrayLike<number>, from: string): void;
  usage: { counts: number[]; used: number; perplexity: number };
}

/** Encodes the examples to code grids, draws the usage and wires the grid editor; returns z_q for the map. */
export function setupVq(
  model: LatentVariableModel,
  xs: Float32Array,
  n: number,
  shape: number[],
): { state: VqState; vectors: Float32Array; dim: number; exampleCodes: Int32Array } {
  const m = model as unknown as { grid: [number, number]; K: number; numCodes: number };
  const [h, w] = m.grid;
  const M = m.numCodes;
  const K = m.K;
  const D = shape.reduce((a, b) => a * b, 1);
  const exampleCodes = new Int32Array(n * M);
  for (let s = 0; s < n; s += 256) {
    const e = Math.min(n, s + 256);
    exampleCodes.set(encodeCodes(model, xs.subarray(s * D, e * D), e - s).codes, s * M);
  }
  const u = codeUsage(exampleCodes, K);
  $('vqbox').hidden = false;
  $('unitsbox').hidden = true;
  drawUsage($<HTMLCanvasElement>('usage'), u.counts);
  $('usagetext').textContent =
    `${u.used} of ${K} codes used by ${n} test examples (${M} codes each); perplexity ${u.perplexity.toFixed(2)}`;

  const control = $<HTMLInputElement>('code');
  control.max = String(K - 1);
  const gridCanvas = $<HTMLCanvasElement>('codegrid');
  const state: VqState = {
    codes: n > 0 ? exampleCodes.slice(0, M) : new Int32Array(M),
    cell: 0,
    grid: [h, w],
    K,
    usage: { counts: Array.from(u.counts), used: u.used, perplexity: u.perplexity },
    setCode(cell, k) {
      state.codes[cell] = k;
      state.cell = cell;
      redraw();
    },
    loadCodes(codes, from) {
      state.codes = Int32Array.from(codes);
      $('codefrom').textContent = from;
      redraw();
    },
    loadExample(i) {
      state.codes = exampleCodes.slice(i * M, (i + 1) * M);
      $('codefrom').textContent = `test example #${i}`;
      redraw();
    },
  };
  const redraw = () => {
    drawRow($<HTMLCanvasElement>('decoded'), decodeCodes(model, state.codes, 1), shape);
    drawGrid(gridCanvas, state.codes, h, w, state.cell);
    control.value = String(state.codes[state.cell]);
    $('codetext').textContent =
      `cell (${Math.floor(state.cell / w)}, ${state.cell % w}): code ${state.codes[state.cell]}`;
  };
  control.addEventListener('input', () => state.setCode(state.cell, Number(control.value)));
  gridCanvas.addEventListener('click', (e) => {
    const b = gridCanvas.getBoundingClientRect();
    const c = Math.min(w - 1, Math.floor(((e.clientX - b.left) / b.width) * w));
    const r = Math.min(h - 1, Math.floor(((e.clientY - b.top) / b.height) * h));
    state.cell = r * w + c;
    redraw();
  });
  if (n > 0) $('codefrom').textContent = 'test example #0';
  redraw();
  const vectors = n > 0 ? codeVectors(model, exampleCodes, n) : new Float32Array(0);
  return { state, vectors, dim: vectors.length / Math.max(1, n), exampleCodes };
}

function drawUsage(canvas: HTMLCanvasElement, counts: Int32Array): void {
  const ctx = canvas.getContext('2d')!;
  const W = canvas.width;
  const H = canvas.height;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const max = Math.max(1, ...counts);
  const bw = W / counts.length;
  counts.forEach((c, k) => {
    ctx.fillStyle = PALETTE[k % PALETTE.length];
    const bh = (c / max) * (H - 2);
    ctx.fillRect(k * bw, H - bh, Math.max(1, bw - 1), bh);
  });
}

function drawGrid(canvas: HTMLCanvasElement, codes: Int32Array, h: number, w: number, cell: number): void {
  const ctx = canvas.getContext('2d')!;
  const cw = canvas.width / w;
  const ch = canvas.height / h;
  ctx.font = `${Math.max(8, Math.min(cw, ch) * 0.45)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let i = 0; i < h * w; i++) {
    const [r, c] = [Math.floor(i / w), i % w];
    ctx.fillStyle = PALETTE[codes[i] % PALETTE.length];
    ctx.fillRect(c * cw, r * ch, cw, ch);
    ctx.fillStyle = '#fff';
    ctx.fillText(String(codes[i]), (c + 0.5) * cw, (r + 0.5) * ch);
  }
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 3;
  ctx.strokeRect((cell % w) * cw + 1.5, Math.floor(cell / w) * ch + 1.5, cw - 3, ch - 3);
}
