// What every command shares: the shape of a command module, the data and backend flags, and printing the
// result (text, or JSON with --json). Commands live in src/cli/commands/, one file each.
import { Command, Option } from 'commander';
import { nonNegInt, posInt } from './options.js';

/** A command module: adds its command (flags, description, action) to the program. */
export type CliCommand = (program: Command) => void;

export const BACKENDS = ['auto', 'node', 'native', 'wasm', 'cpu'] as const;

/** `--flag-name` of an option's attribute name (`flagName('rnnHidden')` is `--rnn-hidden`). */
export const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;

/** The data set flags; `withDefault`: train's (default mnist), else the model's own data set by default. */
export function dataOptions(cmd: Command, withDefault: boolean): Command {
  return cmd
    .option(
      '--dataset <name>',
      'fashion-mnist | mnist | dsprites | csv:PATH | images:DIR | words[:PATH] | timeseries:PATH (numeric series, one per row, columns = time steps; --model seqvae)' +
        (withDefault ? '' : ' (default: the one the model was trained on)'),
      withDefault ? 'mnist' : undefined,
    )
    .option(
      '--protocol <name>',
      'images: binary | continuous; csv, timeseries: standardize | minmax | none (default: binary for fashion-mnist/mnist, standardize for csv/timeseries)',
    )
    .option(
      '--ts-channels <C>',
      "timeseries: values per time step, columns step-major t0_c0,t0_c1,…,t1_c0,… (default 1; later commands: the model's)",
      posInt('--ts-channels'),
    )
    .option('--data-dir <dir>', 'fashion-mnist: directory holding the four IDX files')
    .option('--label-column <name>', 'csv: the label column')
    .option('--limit <n>', 'use only the first N training examples (and N/6 test examples)', posInt('--limit'));
}

export function backendOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--backend <name>', 'compute backend').choices(BACKENDS as unknown as string[]).default('auto'),
  );
}

/** Prints a command's result: the object as one JSON line with --json, else the text. */
export function out(json: boolean, obj: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj) + '\n' : text + '\n');
}

/** A line on stderr (progress, notes, warnings). */
export function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** Labels for a sample grid with one row of `perRow` samples per class. */
export function classRows(numClasses: number, perRow: number): Int32Array {
  return Int32Array.from({ length: numClasses * perRow }, (_, i) => Math.floor(i / perRow));
}

/** Words given on the command line: comma-separated, trimmed; an empty entry is an error. */
export function wordList(flag: string, v: string): string[] {
  const words = v.split(',').map((w) => w.trim());
  if (words.some((w) => w === ''))
    throw new Error(`${flag}: empty word in "${v}" (give comma-separated words, e.g. cat,zebra)`);
  return words;
}

/** --from/--to of interpolate: an example index (digits), or anything else as a word (words models). */
export const indexOrWord = (v: string): number | string => (/^\s*\d+\s*$/.test(v) ? nonNegInt('--from/--to')(v) : v);
