// Kernel outputs from a pool, and the backend class that recycles them.
//
// A fresh `new Float32Array(n)` of a few hundred KB costs more than the kernel that fills it (V8
// callocs it; large blocks come from mmap and fault in page by page): ~100 µs for 128×784, ~1.5 ms
// of a training step. Native kernels therefore take their outputs from a pool, and the backend puts
// an array back when its tensor data is disposed, so one step's buffers are reused by the next.
// An array is only reused if nothing else can still see it: never after it was read out
// (readSync/read: dataSync(), data(), print()... return the array itself), and never if a cpu
// kernel made another tensor over the same memory (a zero-copy slice, for instance).
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

const POOL_MIN_BYTES = 4 * 1024;
let poolLimitBytes = (() => {
  const mb = Number.parseFloat(process.env.VAEKIT_POOL_MB ?? '');
  return Number.isFinite(mb) && mb >= 0 ? mb * 2 ** 20 : 256 * 2 ** 20;
})();
const pool = new Map<number, Float32Array[]>();
let pooledBytes = 0;
const managed = new WeakSet<object>(); // buffers allocated by allocF32
const exposed = new WeakSet<object>(); // managed buffers that escaped: never reused
const inPool = new WeakSet<object>();
export const poolStats = { hits: 0, misses: 0, recycled: 0 };

/** A Float32Array for a kernel output; contents are unspecified (the kernel overwrites all of it). */
export function allocF32(n: number): Float32Array {
  const bytes = n * 4;
  if (bytes < POOL_MIN_BYTES) return new Float32Array(n);
  const list = pool.get(n);
  if (list && list.length) {
    const a = list.pop()!;
    inPool.delete(a.buffer);
    pooledBytes -= bytes;
    poolStats.hits++;
    return a;
  }
  poolStats.misses++;
  const a = new Float32Array(n);
  managed.add(a.buffer);
  return a;
}

function recycle(v: Float32Array): void {
  const buf = v.buffer;
  if (!managed.has(buf) || exposed.has(buf) || inPool.has(buf)) return;
  if (v.byteOffset !== 0 || v.byteLength !== buf.byteLength) return;
  if (pooledBytes + v.byteLength > poolLimitBytes) return;
  let list = pool.get(v.length);
  if (!list) pool.set(v.length, (list = []));
  list.push(v);
  inPool.add(buf);
  pooledBytes += v.byteLength;
  poolStats.recycled++;
}

function expose(v: unknown): void {
  if (ArrayBuffer.isView(v) && managed.has(v.buffer)) exposed.add(v.buffer);
}

/** Sets the most memory the output pool keeps for reuse (0 disables reuse); returns the old limit. */
export function setOutputPoolLimit(bytes: number): number {
  const old = poolLimitBytes;
  poolLimitBytes = Math.max(0, bytes);
  if (pooledBytes > poolLimitBytes) {
    pool.clear();
    pooledBytes = 0;
  }
  return old;
}

/** tfjs-cpu with the firstUse warning ("install tfjs-node") silenced, and output buffer reuse. */
export class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  override readSync(dataId: object): tf.BackendValues {
    expose(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }

  override read(dataId: object): Promise<tf.BackendValues> {
    expose(this.data.get(dataId)?.values);
    return super.read(dataId);
  }

  override disposeData(dataId: object, force = false): boolean {
    const v = this.data.get(dataId)?.values;
    const r = super.disposeData(dataId, force);
    if (v instanceof Float32Array && !this.data.has(dataId)) recycle(v);
    return r;
  }
}

type TI = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;
type Backend = MathBackendCPU;

/**
 * Marks pooled inputs as exposed when a (cpu) kernel returns a new tensor over their memory (a
 * zero-copy view). Outputs that are an input's own data (Identity, Reshape: same dataId, reference
 * counted) are fine.
 */
export function guarded(kf: KernelFunc): KernelFunc {
  return (args) => {
    const r = kf(args);
    const backend = args.backend as Backend;
    const outs = Array.isArray(r) ? r : [r];
    const ins = Object.values(args.inputs as Record<string, TI | TI[] | undefined>);
    for (const o of outs) {
      const v = backend.data.get(o.dataId)?.values;
      if (!ArrayBuffer.isView(v) || !managed.has(v.buffer)) continue;
      let own = false;
      for (const i of ins) {
        if (i && (Array.isArray(i) ? i.some((t) => t.dataId === o.dataId) : i.dataId === o.dataId)) own = true;
      }
      if (!own) exposed.add(v.buffer);
    }
    return r;
  };
}
