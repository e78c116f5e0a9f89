// Drawing rows on canvases for the explorer: an image row (shape [H, W, C], values in [0, 1]) scaled up with
// nearest-neighbour pixels, or any other row as a line; and reading a drawing back as a row.

export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

export function isImage(shape: readonly number[]): boolean {
  return shape.length === 3 && (shape[2] === 1 || shape[2] === 3);
}

const clamp255 = (v: number) => Math.max(0, Math.min(255, Math.round(v * 255)));

/** Draws one row on `canvas`, scaled to fill it. */
export function drawRow(canvas: HTMLCanvasElement, row: ArrayLike<number>, shape: readonly number[]): void {
  const ctx = canvas.getContext('2d')!;
  if (isImage(shape)) {
    const [H, W, C] = shape;
    const img = new ImageData(W, H);
    for (let p = 0; p < H * W; p++) {
      const r = clamp255(row[p * C]);
      img.data[p * 4] = r;
      img.data[p * 4 + 1] = C === 3 ? clamp255(row[p * C + 1]) : r;
      img.data[p * 4 + 2] = C === 3 ? clamp255(row[p * C + 2]) : r;
      img.data[p * 4 + 3] = 255;
    }
    const off = document.createElement('canvas');
    off.width = W;
    off.height = H;
    off.getContext('2d')!.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    return;
  }
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < row.length; i++) [lo, hi] = [Math.min(lo, row[i]), Math.max(hi, row[i])];
  const span = hi - lo || 1;
  ctx.strokeStyle = '#1f77b4';
  ctx.beginPath();
  for (let i = 0; i < row.length; i++) {
    const x = (i / Math.max(1, row.length - 1)) * (canvas.width - 8) + 4;
    const y = canvas.height - 4 - ((row[i] - lo) / span) * (canvas.height - 8);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  }
  ctx.stroke();
}

/** The drawing on `canvas` as a row of shape [H, W, C]: the mean of each cell's pixels, in [0, 1]. */
export function readDrawing(canvas: HTMLCanvasElement, shape: readonly number[]): Float32Array {
  const [H, W, C] = shape;
  const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
  const out = new Float32Array(H * W * C);
  const ch = canvas.height / H;
  const cw = canvas.width / W;
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++)
      for (let k = 0; k < C; k++) {
        let s = 0;
        let m = 0;
        for (let y = Math.floor(r * ch); y < Math.floor((r + 1) * ch); y++)
          for (let x = Math.floor(c * cw); x < Math.floor((c + 1) * cw); x++) {
            s += data[(y * canvas.width + x) * 4 + (C === 3 ? k : 0)];
            m++;
          }
        out[(r * W + c) * C + k] = s / Math.max(1, m) / 255;
      }
  return out;
}

/** Lets the user draw white strokes on a black `canvas` with the mouse or a pen. */
export function makeDrawable(canvas: HTMLCanvasElement, width: number): { clear(): void } {
  const ctx = canvas.getContext('2d')!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const b = canvas.getBoundingClientRect();
    return [((e.clientX - b.left) * canvas.width) / b.width, ((e.clientY - b.top) * canvas.height) / b.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    last = at(e);
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = width;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  const up = () => (last = null);
  canvas.addEventListener('pointerup', up);
  canvas.addEventListener('pointercancel', up);
  return { clear };
}
