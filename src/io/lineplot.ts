// Line plots of numeric series as SVG (plain text, no dependencies): small multiples, one panel per
// series, one line per channel; with a second set of series (reconstructions) drawn dashed over the first.
// Values are plotted as given (callers pass data units, after invertNormalizer).
import { writeFileAtomic } from '../util/atomic.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

export interface SeriesPlotOptions {
  /** Panels per row (default: up to 4). */
  cols?: number;
  /** Dashed overlay of the same shape as `rows` (e.g. reconstructions). */
  overlay?: Float32Array;
  title?: string;
  /** Legend of the solid and dashed lines. */
  labels?: [string, string];
}

const fmt = (v: number) =>
  Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : String(+v.toPrecision(4));

/** SVG of n series of T steps × C channels (rows [n, T·C], step-major). All panels share one y-range. */
export function seriesSvg(
  rows: Float32Array,
  n: number,
  steps: number,
  channels: number,
  opts: SeriesPlotOptions = {},
): string {
  const D = steps * channels;
  if (rows.length !== n * D)
    throw new Error(`seriesSvg: ${rows.length} values is not ${n} series × ${steps} steps × ${channels} channels`);
  if (opts.overlay && opts.overlay.length !== rows.length)
    throw new Error('seriesSvg: the overlay must have the shape of the series');
  const cols = Math.max(1, Math.min(opts.cols ?? 4, n));
  const gridRows = Math.ceil(n / cols);
  const pw = 220;
  const ph = 120;
  const pad = 6;
  const top = opts.title || opts.overlay ? 24 : 4;
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of [rows, opts.overlay ?? rows])
    for (const v of a) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  if (!(hi > lo)) [lo, hi] = [lo - 1, lo + 1];
  const W = cols * (pw + pad) + pad;
  const H = top + gridRows * (ph + pad) + pad;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="10">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (opts.title)
    out.push(
      `<text x="${pad}" y="15" font-size="12">${opts.title.replace(/[<&>]/g, (c) => `&#${c.charCodeAt(0)};`)}</text>`,
    );
  if (opts.overlay) {
    const [a, b] = opts.labels ?? ['original', 'reconstruction'];
    out.push(`<text x="${W - 200}" y="15">— ${a}   - - ${b}</text>`);
  }
  const path = (a: Float32Array, i: number, c: number, x0: number, y0: number) => {
    const pts: string[] = [];
    for (let t = 0; t < steps; t++) {
      const x = x0 + 4 + ((pw - 8) * t) / Math.max(1, steps - 1);
      const y = y0 + ph - 4 - ((ph - 8) * (a[i * D + t * channels + c] - lo)) / (hi - lo);
      pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    }
    return pts.join(' ');
  };
  for (let i = 0; i < n; i++) {
    const x0 = pad + (i % cols) * (pw + pad);
    const y0 = top + Math.floor(i / cols) * (ph + pad);
    out.push(`<rect x="${x0}" y="${y0}" width="${pw}" height="${ph}" fill="none" stroke="#ccc"/>`);
    for (let c = 0; c < channels; c++) {
      const color = COLORS[c % COLORS.length];
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.2" points="${path(rows, i, c, x0, y0)}"/>`);
      if (opts.overlay)
        out.push(
          `<polyline fill="none" stroke="${channels === 1 ? '#d62728' : color}" stroke-width="1.2" stroke-dasharray="4 2" points="${path(opts.overlay, i, c, x0, y0)}"/>`,
        );
    }
    if (i === 0)
      out.push(
        `<text x="${x0 + 3}" y="${y0 + 10}" fill="#666">${fmt(hi)}</text><text x="${x0 + 3}" y="${y0 + ph - 3}" fill="#666">${fmt(lo)}</text>`,
      );
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Writes {@link seriesSvg} to `file` atomically. */
export async function writeSeriesSvg(
  file: string,
  rows: Float32Array,
  n: number,
  steps: number,
  channels: number,
  opts: SeriesPlotOptions = {},
): Promise<string> {
  await writeFileAtomic(file, seriesSvg(rows, n, steps, channels, opts));
  return file;
}
