// The machine floor of bench/run.ts: the 11 GEMMs of one mlp step (bench/sgemm_floor.c) timed with
// every GEMM engine and OpenBLAS core type this CPU can run, the best of them as the floor, and the
// CPU's theoretical FP32 peak (cores × FMA units × SIMD lanes × 2 × clock).
//
// Core types: OpenBLAS as it picks by itself (OPENBLAS_CORETYPE unset: what Debian's PyTorch and an
// unconfigured program get) and each kernel family the ISA allows (Haswell: AVX2+FMA; Zen: the same on
// AMD; SkylakeX: AVX-512F/BW/VL/DQ/CD; Cooperlake: + AVX512_BF16); oneDNN's dnnl_sgemm dispatches by
// ISA itself.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export const MLP_MACS_PER_STEP = 128 * (784 * 400 * 2 + 400 * 40 * 3 + 20 * 400 * 3 + 400 * 784 * 3); // 11 GEMMs

export interface FloorRow {
  /** 'openblas' or 'onednn' */
  engine: string;
  /** OPENBLAS_CORETYPE set for the run ('' = unset); not used by oneDNN. */
  coretype: string;
  /** The kernel that ran (OpenBLAS's core name, or oneDNN). */
  kernel: string;
  msPerStep?: number;
  secondsPerEpoch?: number;
  gflops?: number;
  torchLayoutSecondsPerEpoch?: number;
  error?: string;
}

export interface Peak {
  cores: number;
  fmaUnits: number;
  lanes: number;
  ghz: number;
  gflops: number;
  /** How each factor was found. */
  how: string;
}

/**
 * The OpenBLAS core types worth timing on a CPU with these ISA extensions ('' = OpenBLAS's own pick);
 * `vendor` as /proc/cpuinfo's vendor_id: an AMD CPU with AVX2 also gets Zen (OpenBLAS's kernels for Zen
 * 1-3, the core type vaekit sets there).
 */
export function coretypesFor(isa: string, vendor = ''): string[] {
  const has = (f: string) => isa.split(/\s+/).includes(f);
  const out = [''];
  if (has('AVX2') && has('FMA')) out.push('Haswell');
  if (vendor === 'AuthenticAMD' && has('AVX2') && has('FMA')) out.push('Zen');
  const avx512 = ['AVX512F', 'AVX512BW', 'AVX512VL', 'AVX512DQ', 'AVX512CD'].every(has);
  if (avx512) out.push('SkylakeX');
  if (avx512 && has('AVX512_BF16')) out.push('Cooperlake');
  return out;
}

/**
 * The theoretical FP32 peak. Clock: the highest "cpu MHz" in /proc/cpuinfo (the current clock; a VM
 * shows the nominal one) unless `ghz` is given. FMA units per core: 2 unless given (Intel server cores
 * since Skylake-SP issue two FMAs a cycle at the AVX-512 width, AMD Zen 2/3 two 256-bit FMAs (pipes 0
 * and 1: 2 × 8 FP32 lanes), Zen 4/5 two at 512 bits; a few low-end parts issue one; Zen 1's 256-bit FMA is
 * two 128-bit halves: --fma-units 1 there).
 */
export function fp32Peak(lanes: number, cores: number, fmaUnits?: number, ghz?: number): Peak {
  let clock = ghz;
  let how = ghz ? `clock ${ghz} GHz (given)` : '';
  if (!clock) {
    try {
      const mhz = [...readFileSync('/proc/cpuinfo', 'utf8').matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) =>
        Number(m[1]),
      );
      if (mhz.length) clock = Math.max(...mhz) / 1000;
      how = `clock ${clock?.toFixed(2)} GHz (/proc/cpuinfo "cpu MHz")`;
    } catch {
      /* not Linux */
    }
  }
  if (!clock) {
    clock = (os.cpus()[0]?.speed ?? 0) / 1000;
    how = `clock ${clock.toFixed(2)} GHz (os.cpus)`;
  }
  const units = fmaUnits ?? 2;
  const gflops = cores * units * lanes * 2 * clock;
  how += `, ${units} FMA units/core (${fmaUnits ? 'given' : 'assumed'}), ${lanes} FP32 lanes (cpuid), ${cores} cores`;
  return { cores, fmaUnits: units, lanes, ghz: clock, gflops, how };
}

/** Seconds an mlp epoch would take at `gflops` doing only its GEMMs. */
export function epochAtGflops(gflops: number, stepsPerEpoch: number): number {
  return (2 * MLP_MACS_PER_STEP * stepsPerEpoch) / (gflops * 1e9);
}

/** The fastest measured row, or undefined. */
export function bestRow(rows: FloorRow[]): FloorRow | undefined {
  return rows
    .filter((r) => r.msPerStep !== undefined)
    .sort((a, b) => (a.msPerStep ?? Infinity) - (b.msPerStep ?? Infinity))[0];
}

/** The fastest OpenBLAS core type that was set explicitly (for the fairly configured PyTorch run). */
export function bestCoretype(rows: FloorRow[]): string | undefined {
  return bestRow(rows.filter((r) => r.engine === 'openblas' && r.coretype))?.coretype;
}

export function floorTable(rows: FloorRow[], peak: Peak | undefined, stepsPerEpoch: number): string[] {
  const best = bestRow(rows);
  const lines = [
    `| GEMM engine (the 11 GEMMs of one mlp step, 2 threads) | kernel | ms/step | GFLOP/s | s/epoch (× ${stepsPerEpoch}) |`,
    '|---|---|---:|---:|---:|',
  ];
  for (const r of rows) {
    const name =
      r.engine === 'onednn' ? 'oneDNN dnnl_sgemm' : `OpenBLAS, OPENBLAS_CORETYPE=${r.coretype || 'unset (as shipped)'}`;
    const mark = r === best ? ' **(floor)**' : '';
    lines.push(
      r.error
        ? `| ${name} | — | failed (${r.error}) | | |`
        : `| ${name}${mark} | ${r.kernel} | ${r.msPerStep?.toFixed(2)} | ${r.gflops?.toFixed(0)} | ${r.secondsPerEpoch?.toFixed(3)} |`,
    );
  }
  if (peak)
    lines.push(
      `| theoretical FP32 peak (${peak.how}) | | ${((2 * MLP_MACS_PER_STEP) / (peak.gflops * 1e6)).toFixed(2)} | ${peak.gflops.toFixed(0)} | ${epochAtGflops(peak.gflops, stepsPerEpoch).toFixed(3)} |`,
    );
  return lines;
}
