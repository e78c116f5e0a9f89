// `vaekit train-prior MODEL`: fits (or refits) the PixelCNN prior of a saved VQ-VAE and saves the model again,
// atomically.
import { Option, type Command } from 'commander';
import { saveModel } from '../../io/model.js';
import { VQVAE } from '../../models/vqvae.js';
import type { VqPriorConfig } from '../../nn/pixelcnn.js';
import { DEFAULT_VQ_PRIOR } from '../../nn/pixelcnn.js';
import { Rng } from '../../rng.js';
import { backendOption, dataOptions, out } from '../common.js';
import { withModel } from '../data.js';
import { priorConfig, priorOptions, VQ_CLI_DEFAULTS, vqPriorTrained } from '../model-kinds.js';
import { int, posInt, posNum } from '../options.js';
import { finalVqFigures, fitPrior } from '../training.js';

/** A copy of the model with a freshly initialised prior of config `prior` (the rest of its parameters copied). */
function withFreshPrior(model: VQVAE, prior: VqPriorConfig, rng: Rng): VQVAE {
  const fresh = new VQVAE({ ...model.config, prior }, rng);
  const src = model.namedParameters();
  for (const [k, v] of Object.entries(fresh.namedParameters())) if (!k.startsWith('prior.')) v.assign(src[k]);
  return fresh;
}

export function trainPriorCommand(program: Command): void {
  const cmd = program
    .command('train-prior <model>')
    .description(
      'fit (or refit) the PixelCNN prior over the code grid of a saved VQ-VAE, so that `vaekit sample` can draw new images; saves the model in place, atomically',
    )
    .option('--epochs <n>', 'epochs', posInt('--epochs'), 5)
    .option('--batch-size <n>', 'minibatch size', posInt('--batch-size'), 128)
    .option('--lr <rate>', 'learning rate (Adam)', posNum('--lr'), VQ_CLI_DEFAULTS.priorLr)
    .option('--seed <n>', 'seed (initialisation of a new prior, data order)', int('--seed'), 0)
    .option('--continue', "start from the current prior's weights (default: refit from a fresh initialisation)")
    .addOption(
      new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'none']).default('auto'),
    )
    .option('--json', 'print the summary as JSON');
  for (const o of priorOptions(false)) cmd.addOption(o);
  dataOptions(cmd, false);
  backendOption(cmd).action((dir: string, f: Record<string, any>) =>
    withModel(dir, f, async (ctx) => {
      const { meta } = ctx;
      if (!(ctx.model instanceof VQVAE))
        throw new Error(
          `train-prior: the model is a ${ctx.model.config.kind}, not a VQ-VAE (train one with vaekit train --model vqvae)`,
        );
      const data = await ctx.data();
      const cur = ctx.model.config.prior;
      const want = priorConfig(f, cur ?? DEFAULT_VQ_PRIOR);
      const same = !!cur && cur.channels === want.channels && cur.layers === want.layers;
      if (f.continue && !same)
        throw new Error(
          '--continue: the saved prior has another shape (or there is none) than --prior-channels/--prior-layers ask for; leave out --continue to fit a new one',
        );
      if (f.continue && !vqPriorTrained(meta))
        throw new Error("--continue: this VQ-VAE's prior has not been trained yet; leave out --continue");
      const model = f.continue ? ctx.model : withFreshPrior(ctx.model, want, new Rng(f.seed));
      try {
        const prior = await fitPrior(model, data, {
          epochs: f.epochs,
          batchSize: f.batchSize,
          seed: f.seed,
          lr: f.lr,
          progress: f.progress,
        });
        if (f.continue) prior.continued_from = (meta.training as { prior?: unknown } | undefined)?.prior;
        await saveModel(dir, model, meta.data, { ...meta.training, prior });
        const final = data.test.n > 0 ? finalVqFigures(model, data.test, true) : {};
        out(
          !!f.json,
          { model: dir, epochs: f.epochs, prior: { ...prior, history: undefined }, final },
          `done: prior fitted for ${f.epochs} epochs (${(prior.seconds as number).toFixed(0)} s); saved ${dir}` +
            (final.prior_nll !== undefined
              ? `\ntest −log p(k) ${final.prior_nll.toFixed(2)} nats per grid (${final.prior_bits_per_code.toFixed(3)} bits per code; uniform: ${Math.log2(model.K).toFixed(3)})`
              : ''),
        );
      } finally {
        if (model !== ctx.model) model.dispose();
      }
    }),
  );
}
