// The `vaekit` command: the program of the commands in src/cli/commands/ (index.ts lists them), and errors
// mapped to one line and an exit code. Commands parse flags, load data and models, and call the library; they
// do no math.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.js';

/** The version of package.json (the one `npm` installed). */
export function vaekitVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('vaekit')
    .description('Train, evaluate and use Variational Autoencoders')
    .version(vaekitVersion(), '-V, --version', 'print the version of vaekit')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride();
  for (const add of COMMANDS) add(program);
  return program;
}

/** Runs the CLI; errors print one clear line and exit non-zero (commander's own errors: its exit code). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`vaekit: error: ${(e as Error).message}\n`);
    if (process.env.VAEKIT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}
