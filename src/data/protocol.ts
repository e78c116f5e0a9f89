// Benchmark protocols: how 8-bit pixels become model inputs. Sources return raw uint8 pixels and never
// normalise; a protocol is applied explicitly, by name, and its name is saved with the model.
//
//   binary:     x = pixel/255 > 0.5 ? 1 : 0   (deterministic binarisation; pixel >= 128 -> 1)
//   continuous: x = pixel/255                 (values in [0, 1])

export type PixelProtocol = 'binary' | 'continuous';

export const PIXEL_PROTOCOLS: Readonly<Record<PixelProtocol, string>> = {
  binary: 'pixels/255, then x > 0.5 ? 1 : 0',
  continuous: 'pixels/255 (values in [0, 1])',
};

export function isPixelProtocol(name: string): name is PixelProtocol {
  return Object.prototype.hasOwnProperty.call(PIXEL_PROTOCOLS, name);
}

/** Applies a pixel protocol to uint8 pixels, into `out` (allocated when absent). */
export function applyProtocol(name: string, pixels: Uint8Array, out?: Float32Array): Float32Array {
  if (!isPixelProtocol(name)) {
    throw new Error(`unknown protocol '${name}' (known: ${Object.keys(PIXEL_PROTOCOLS).join(', ')})`);
  }
  const y = out ?? new Float32Array(pixels.length);
  if (y.length !== pixels.length)
    throw new Error(`applyProtocol: output length ${y.length} != input length ${pixels.length}`);
  const table = protocolTable(name);
  for (let i = 0; i < pixels.length; i++) y[i] = table[pixels[i]];
  return y;
}

/** The model input of each pixel value 0..255 under a protocol: a table lookup gives exactly the same float32
 * values whether the pixels are converted all at once or per batch. */
export function protocolTable(name: PixelProtocol): Float32Array {
  const table = new Float32Array(256);
  for (let p = 0; p < 256; p++) table[p] = name === 'binary' ? (p / 255 > 0.5 ? 1 : 0) : p / 255;
  return table;
}
