// ROC curves as SVG (plain text, no dependencies): one line per score, the chance diagonal dashed, the AUROC of
// each score in the legend. Points are (FPR, TPR) as src/stats/roc.ts computes them.
import type { RocPoint } from '../stats/roc.js';
import { writeFileAtomic } from '../util/atomic.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export interface RocSeries {
  name: string;
  points: readonly RocPoint[];
  auroc: number;
}

/** SVG of ROC curves (each curve thinned to about 2,000 points for drawing). */
export function rocSvg(curves: readonly RocSeries[], title = 'ROC'): string {
  const S = 360;
  const L = 50;
  const T = 30;
  const X = (f: number) => (L + f * S).toFixed(1);
  const Y = (t: number) => (T + (1 - t) * S).toFixed(1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L + S + 200}" height="${T + S + 50}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${L}" y="18" font-size="14">${escape(title)}</text>`,
    `<rect x="${L}" y="${T}" width="${S}" height="${S}" fill="none" stroke="#444"/>`,
    `<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#aaa" stroke-dasharray="4 4"/>`,
  ];
  for (let g = 0; g <= 4; g++) {
    const v = g / 4;
    parts.push(`<text x="${X(v)}" y="${T + S + 16}" text-anchor="middle">${v}</text>`);
    parts.push(`<text x="${L - 6}" y="${(+Y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  parts.push(`<text x="${L + S / 2}" y="${T + S + 34}" text-anchor="middle">false-positive rate</text>`);
  parts.push(
    `<text x="14" y="${T + S / 2}" text-anchor="middle" transform="rotate(-90 14 ${T + S / 2})">true-positive rate</text>`,
  );
  curves.forEach((c, i) => {
    const color = COLORS[i % COLORS.length];
    const step = Math.max(1, Math.ceil(c.points.length / 2000));
    const pts = c.points.filter((_, j) => j % step === 0 || j === c.points.length - 1);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map((p) => `${X(p.fpr)},${Y(p.tpr)}`).join(' ')}"/>`,
    );
    const ly = T + 10 + i * 18;
    parts.push(
      `<line x1="${L + S + 14}" y1="${ly}" x2="${L + S + 34}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${L + S + 40}" y="${ly + 4}">${escape(c.name)}  ${c.auroc.toFixed(4)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export async function writeRocSvg(file: string, curves: readonly RocSeries[], title?: string): Promise<void> {
  await writeFileAtomic(file, rocSvg(curves, title));
}
