// What image sources return: raw 8-bit pixels, never normalised (a protocol turns them into inputs).

export interface RawImages {
  /** n × height × width × channels uint8 pixels, row-major, channels last. */
  pixels: Uint8Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  /** Class index per example, when the source has labels. */
  labels?: Int32Array;
}

/** Rows `order[i]` of `src`, in that order (copies). */
export function gatherRaw(src: RawImages, order: ArrayLike<number>): RawImages {
  const d = src.height * src.width * src.channels;
  const pixels = new Uint8Array(order.length * d);
  const labels = src.labels ? new Int32Array(order.length) : undefined;
  for (let i = 0; i < order.length; i++) {
    const j = order[i];
    pixels.set(src.pixels.subarray(j * d, j * d + d), i * d);
    if (labels) labels[i] = src.labels![j];
  }
  return { pixels, n: order.length, height: src.height, width: src.width, channels: src.channels, labels };
}

/** The first k examples, as views (no copy). */
export function takeRaw(src: RawImages, k: number): RawImages {
  const m = Math.max(0, Math.min(k, src.n));
  const d = src.height * src.width * src.channels;
  return { ...src, n: m, pixels: src.pixels.subarray(0, m * d), labels: src.labels?.subarray(0, m) };
}
