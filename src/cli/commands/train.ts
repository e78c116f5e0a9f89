// `vaekit train`: its flags (those of the model kinds from src/cli/model-kinds.ts), --resume with the run's
// flags, then the run of the model kind (src/cli/training.ts).
import { Option, type Command } from 'commander';
import { initBackend, type BackendChoice } from '../../backend/index.js';
import { ACTIVATIONS } from '../../nn/mlp.js';
import { BASELINES } from '../../objectives/score-function.js';
import { OPTIMIZERS } from '../../train/optimizers.js';
import { backendOption, dataOptions, log } from '../common.js';
import { checkDataFlags, loadData } from '../data.js';
import { addKindOptions, checkKindFlags, modelChoices, modelHelp, PRESETS } from '../model-kinds.js';
import { parseLrSchedule } from '../../train/schedules.js';
import { int, intList, nonNegInt, nonNegNum, posInt, posNum } from '../options.js';
import { readRunFlags, resumeRunFlags, runFlags, unrecordedFlagsWarning } from '../run-flags.js';
import { trainContinuous, trainVq } from '../training.js';

function trainOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--model <kind>', modelHelp()).choices(modelChoices()).default('vae'))
    .option(
      '--preset <name>',
      'canonical model of docs/PROTOCOL.md: mlp | conv (default: mlp, or the one of --network)',
    )
    .addOption(
      new Option('--network <type>', "encoder/decoder networks (default: the preset's)").choices(['mlp', 'conv']),
    )
    .option('--latent <d>', "latent dimensions (default: the preset's)", posInt('--latent'))
    .option(
      '--hidden <widths>',
      "dense hidden widths, encoder order, e.g. 512,256 (conv: after the convolutions; decoder mirrors; default: the preset's)",
      intList('--hidden'),
    )
    .option(
      '--channels <list>',
      'conv: channels of the stride-s convolutions, e.g. 32,64 (decoder mirrors them transposed)',
      intList('--channels'),
    )
    .option('--kernel <k>', 'conv: kernel size (default 4)', posInt('--kernel'))
    .option('--stride <s>', 'conv: stride (default 2)', posInt('--stride'))
    .addOption(new Option('--activation <name>', 'hidden activation').choices(ACTIVATIONS).default('relu'));
}

function objectiveOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--likelihood <name>',
        'p(x|z): bernoulli for binary data, gaussian for continuous, discretized-logistic for 8-bit pixels on the continuous protocol (an exact code length: bits/dim), local-logistic-mixture: a mixture of discretised logistics per pixel whose means follow the causal neighbours (default: by protocol)',
      ).choices(['bernoulli', 'gaussian', 'discretized-logistic', 'local-logistic-mixture']),
    )
    .option('--sigma <s>', 'gaussian decoder: fixed σ (a number) or "learned"', '1')
    .addOption(
      new Option(
        '--logistic-scale <where>',
        'discretized-logistic decoder (vae, hvae): one learned log scale per pixel, or the decoder outputs each image’s (default per-pixel)',
      ).choices(['per-pixel', 'decoder']),
    )
    .option(
      '--mixtures <k>',
      'local-logistic-mixture decoder (vae, hvae): discretised logistics per pixel (default 3)',
      posInt('--mixtures'),
    )
    .addOption(
      new Option(
        '--neighbours <n>',
        'local-logistic-mixture decoder: the causal neighbours its means follow, 4 (left, up, up-left, up-right) or 8 (default 4)',
      ).choices(['4', '8']),
    )
    .option('--beta <b>', 'weight of the KL term (1: plain VAE, >1: β-VAE)', nonNegNum('--beta'), 1)
    .option('--kl-warmup <steps>', 'raise β linearly from 0 over this many steps', nonNegInt('--kl-warmup'), 0)
    .option(
      '--free-bits <nats>',
      "free bits λ: the objective's KL is Σ_j max(λ, batch-mean KL_j) over latent units (vae, cvae, seqvae; default 0: off; --resume keeps the run's)",
      nonNegNum('--free-bits'),
    )
    .option('--samples <L>', 'samples of ε per example in the ELBO', posInt('--samples'), 1)
    .addOption(new Option('--objective <name>', 'training objective').choices(['elbo', 'iwae']).default('elbo'))
    .option('--k <k>', 'importance samples for --objective iwae', posInt('--k'), 5)
    .addOption(
      new Option('--estimator <name>', 'encoder gradient: reparameterization or score function (REINFORCE)')
        .choices(['reparam', 'score'])
        .default('reparam'),
    )
    .addOption(
      new Option('--baseline <name>', 'score-function baseline').choices([...BASELINES]).default('moving-average'),
    );
}

function runOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(OPTIMIZERS).default('adam'))
    .option('--lr <rate>', 'learning rate', posNum('--lr'), 1e-3)
    .option('--momentum <m>', 'sgd momentum', nonNegNum('--momentum'), 0)
    .option('--lr-schedule <s>', 'constant | cosine[:MIN] | step:EVERY:GAMMA', 'constant')
    .option('--epochs <n>', 'epochs', posInt('--epochs'), 10)
    .option('--steps <n>', 'stop after this many steps in all', posInt('--steps'))
    .option('--batch-size <n>', 'minibatch size', posInt('--batch-size'), 128)
    .option('--seed <n>', 'seed of everything random (init, data order, ε)', int('--seed'), 0)
    .option('--out <dir>', 'run directory (metrics.jsonl, checkpoint/, model/, samples, report)', 'runs/vae')
    .option(
      '--resume',
      "continue the run in --out from its last checkpoint, with the run's flags (--epochs, --steps may extend it; a different data set, model or objective is refused)",
    )
    .option(
      '--checkpoint-every <steps>',
      'also checkpoint every N steps inside an epoch',
      nonNegInt('--checkpoint-every'),
      0,
    )
    .addOption(
      new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'none']).default('auto'),
    )
    .option('--no-eval', 'skip the test −ELBO after each epoch')
    .option('--report-k <k>', "importance samples for the report's test NLL (0: skip)", nonNegInt('--report-k'), 100)
    .option('--json', 'print the final summary as JSON');
}

/** The flags that are otherwise looked at only after the data have loaded: checked first, each naming itself. */
function checkTrainFlags(f: Record<string, any>): void {
  checkDataFlags(f);
  parseLrSchedule(f.lrSchedule, 1);
  if (f.sigma !== 'learned' && !(Number(f.sigma) > 0 && Number.isFinite(Number(f.sigma))))
    throw new Error(`--sigma must be a positive number or "learned", got "${f.sigma}"`);
  if (f.preset !== undefined && !(f.preset in PRESETS))
    throw new Error(`unknown --preset "${f.preset}" (expected ${Object.keys(PRESETS).join(', ')})`);
}

export function train(program: Command): void {
  const cmd = program
    .command('train')
    .description(
      'train a VAE (β-VAE with --beta, conditional, hierarchical) and write the model, samples and a report',
    );
  dataOptions(cmd, true);
  backendOption(cmd);
  addKindOptions(cmd, ['vqvae']);
  trainOptions(cmd);
  addKindOptions(cmd, ['cvae', 'seqvae', 'hvae']);
  objectiveOptions(cmd);
  runOptions(cmd).action(async (f) => {
    if (f.resume) {
      // continue the run that was started: its flags where none are given; a change of data, model or objective is refused here, before anything is written
      const run = await readRunFlags(f.out);
      if (run?.flags) for (const line of resumeRunFlags(cmd, f, run.flags, run.checkpoint)) log(line);
      else if (run) log(unrecordedFlagsWarning(run.checkpoint));
    }
    const kind = checkKindFlags(f);
    checkTrainFlags(f);
    const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
    const flags = runFlags(cmd, f); // kept in the checkpoint for --resume
    const info = await initBackend(f.backend as BackendChoice);
    const data = await loadData(f);
    const config = kind.config(f, data, given);
    const run = { f, data, info, flags, given, describe: kind.describe };
    await (config.kind === 'vqvae' ? trainVq(config, run) : trainContinuous(config, run));
  });
}
