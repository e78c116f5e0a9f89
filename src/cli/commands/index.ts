// The commands of `vaekit`, in the order `vaekit --help` lists them. A new command: one file in this folder
// exporting a CliCommand (src/cli/common.ts), one import and one entry here (docs/CONTRIBUTING.md).
import type { CliCommand } from '../common.js';
import { calibrate } from './calibrate.js';
import { compress } from './compress.js';
import { decompress } from './decompress.js';
import { encode } from './encode.js';
import { evaluate } from './eval.js';
import { exportCommand } from './export.js';
import { gradVariance } from './grad-variance.js';
import { importCommand } from './import.js';
import { info } from './info.js';
import { interpolate } from './interpolate.js';
import { ood } from './ood.js';
import { reconstruct } from './reconstruct.js';
import { report } from './report.js';
import { restore } from './restore.js';
import { sample } from './sample.js';
import { serve } from './serve.js';
import { score } from './score.js';
import { train } from './train.js';
import { trainPriorCommand } from './train-prior.js';
import { traverse } from './traverse.js';

export const COMMANDS: readonly CliCommand[] = [
  train,
  sample,
  reconstruct,
  restore,
  compress,
  decompress,
  interpolate,
  traverse,
  encode,
  evaluate,
  gradVariance,
  info,
  trainPriorCommand,
  exportCommand,
  importCommand,
  serve,
  report,
  score,
  calibrate,
  ood,
];
