// `vaekit info`: which compute backend, BLAS and threads are in use.
import type { Command } from 'commander';
import { initBackend, type BackendChoice } from '../../backend/index.js';
import { backendOption, out } from '../common.js';

export function info(program: Command): void {
  backendOption(
    program
      .command('info')
      .description('which compute backend, BLAS and threads are in use')
      .option('--json', 'as JSON'),
  ).action(async (f) => {
    const b = await initBackend(f.backend as BackendChoice, true);
    const lines = [`backend: ${b.backend} (${b.detail})`];
    if (b.cpu) lines.push(`cpu: ${b.cpu.brand} (family ${b.cpu.family}, model ${b.cpu.model}): ${b.cpu.isa}`);
    if (b.gemm) {
      lines.push(`gemm: ${b.gemm.engine}, kernel ${b.gemm.kernel} (${b.gemm.why})`);
      if (b.gemm.openblas)
        lines.push(
          `openblas: ${b.gemm.openblasKernel} kernels; OPENBLAS_CORETYPE=${b.gemm.coretype || '(unset)'}: ${b.gemm.coretypeWhy}`,
        );
    }
    out(!!f.json, { ...b }, [...lines, ...b.warnings].join('\n'));
  });
}
