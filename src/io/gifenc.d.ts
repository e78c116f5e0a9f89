// Minimal types for the parts of gifenc (https://github.com/mattdesl/gifenc, no bundled types) that
// src/io/gif.ts uses. Under Node ESM the CommonJS build exposes everything on the default export.
declare module 'gifenc' {
  type Palette = number[][];
  interface FrameOptions {
    palette?: Palette;
    delay?: number; // milliseconds (stored in 1/100 s)
    repeat?: number; // -1 once, 0 forever, n extra loops
    transparent?: boolean;
    transparentIndex?: number;
    colorDepth?: number;
    dispose?: number;
    first?: boolean;
  }
  interface Encoder {
    writeFrame(index: Uint8Array, width: number, height: number, opts?: FrameOptions): void;
    finish(): void;
    bytes(): Uint8Array;
    bytesView(): Uint8Array;
    reset(): void;
  }
  interface Gifenc {
    GIFEncoder(opts?: { initialCapacity?: number; auto?: boolean }): Encoder;
    quantize(
      rgba: Uint8Array | Uint8ClampedArray,
      maxColors: number,
      opts?: { format?: 'rgb565' | 'rgb444' | 'rgba4444' },
    ): Palette;
    applyPalette(
      rgba: Uint8Array | Uint8ClampedArray,
      palette: Palette,
      format?: 'rgb565' | 'rgb444' | 'rgba4444',
    ): Uint8Array;
  }
  const gifenc: Gifenc;
  export default gifenc;
}
