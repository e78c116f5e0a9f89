// A degradation from the words a person types (the `restore` command's flags), with an error naming the
// missing or wrong parameter: --task denoise|inpaint|superres, --sigma / --p [--noise], --mask, --factor.
import type { Degradation, MaskSpec, RestoreTask } from './degrade.js';

export const RESTORE_TASKS: readonly RestoreTask[] = ['denoise', 'inpaint', 'superres'];

export interface DegradationFlags {
  task: string;
  sigma?: number;
  p?: number;
  noise?: string;
  /** center:S | random:F | bottom | a PNG file (read by the caller: `userMask`). */
  mask?: string;
  factor?: number;
  seed?: number;
}

/** The mask flag's kind: a built-in mask, or the path of a PNG for the caller to read. */
export function parseMaskFlag(v: string, seed: number): MaskSpec | { kind: 'file'; path: string } {
  const m = /^(center|centre|random|bottom)(?::(.*))?$/.exec(v);
  if (!m) {
    if (/\.png$/i.test(v)) return { kind: 'file', path: v };
    throw new Error(`--mask must be center:SIZE, random:FRACTION, bottom or a .png file, got "${v}"`);
  }
  const arg = m[2];
  if (m[1] === 'bottom') {
    if (arg !== undefined) throw new Error(`--mask bottom takes no value, got "${v}"`);
    return { kind: 'bottom' };
  }
  const num = Number(arg);
  if (arg === undefined || arg.trim() === '' || !Number.isFinite(num))
    throw new Error(
      `--mask ${m[1]} needs a number (e.g. ${m[1] === 'random' ? 'random:0.5' : 'center:14'}), got "${v}"`,
    );
  if (m[1] === 'random') {
    if (!(num > 0 && num < 1)) throw new Error(`--mask random:F needs a fraction F in (0, 1), got "${v}"`);
    return { kind: 'random', fraction: num, seed };
  }
  if (!(Number.isInteger(num) && num >= 1))
    throw new Error(`--mask center:S needs a positive integer size, got "${v}"`);
  return { kind: 'center', size: num };
}

/** The degradation of the flags; `userMask` is the mask PNG's pixels when --mask named a file. */
export function degradationFromFlags(f: DegradationFlags, userMask?: MaskSpec): Degradation {
  const seed = f.seed ?? 0;
  const unused = (names: (keyof DegradationFlags)[]) => {
    for (const k of names) if (f[k] !== undefined) throw new Error(`--${k} is not a parameter of --task ${f.task}`);
  };
  if (f.task === 'denoise') {
    unused(['mask', 'factor']);
    if (f.sigma !== undefined && f.p !== undefined) throw new Error('--task denoise takes --sigma or --p, not both');
    if (f.sigma !== undefined) {
      if (f.noise !== undefined && f.noise !== 'gaussian') throw new Error(`--noise ${f.noise} takes --p, not --sigma`);
      return { task: 'denoise', noise: 'gaussian', sigma: f.sigma, seed };
    }
    if (f.p !== undefined) {
      const noise = f.noise ?? 'bit-flip';
      if (noise !== 'bit-flip' && noise !== 'salt-pepper')
        throw new Error(`--noise must be bit-flip or salt-pepper with --p, got "${noise}"`);
      return { task: 'denoise', noise, p: f.p, seed };
    }
    throw new Error('--task denoise needs its noise: --sigma S (continuous models) or --p P (binary models)');
  }
  if (f.task === 'inpaint') {
    unused(['sigma', 'p', 'noise', 'factor']);
    if (f.mask === undefined)
      throw new Error('--task inpaint needs --mask center:SIZE | random:FRACTION | bottom | FILE.png');
    const m = parseMaskFlag(f.mask, seed);
    if (m.kind === 'file') {
      if (!userMask) throw new Error(`--mask ${m.path}: the mask file was not read`);
      return { task: 'inpaint', mask: userMask };
    }
    return { task: 'inpaint', mask: m };
  }
  if (f.task === 'superres') {
    unused(['sigma', 'p', 'noise', 'mask']);
    if (f.factor === undefined) throw new Error('--task superres needs --factor F (2 or 4)');
    return { task: 'superres', factor: f.factor };
  }
  throw new Error(`--task must be one of ${RESTORE_TASKS.join(', ')}, got "${f.task}"`);
}
