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
    out(
      !!f.json,
      { ...b },
      `backend: ${b.backend} (${b.detail})${b.warnings.length ? '\n' + b.warnings.join('\n') : ''}`,
    );
  });
}
