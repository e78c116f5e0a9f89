// All five disentanglement metrics in one call, each with the library defaults unless overridden, timed.

import type { GroundTruthData } from '../../data/dsprites.js';
import { betaVaeScore, type BetaVaeOptions, type BetaVaeScore } from './beta-vae.js';
import type { MetricOptions, Representation } from './common.js';
import { dciScore, type DciOptions, type DciScore } from './dci.js';
import { factorVaeScore, type FactorVaeOptions, type FactorVaeScore } from './factor-vae.js';
import { migScore, type MigOptions, type MigScore } from './mig.js';
import { sapScore, type SapOptions, type SapScore } from './sap.js';

export type MetricName = 'betaVae' | 'factorVae' | 'mig' | 'dci' | 'sap';
export const METRIC_NAMES: readonly MetricName[] = ['betaVae', 'factorVae', 'mig', 'dci', 'sap'];

export interface DisentanglementOptions extends MetricOptions {
  metrics?: readonly MetricName[];
  betaVae?: BetaVaeOptions;
  factorVae?: FactorVaeOptions;
  mig?: MigOptions;
  dci?: DciOptions;
  sap?: SapOptions;
  log?: (msg: string) => void;
}

export interface DisentanglementReport {
  betaVae?: BetaVaeScore;
  factorVae?: FactorVaeScore;
  mig?: MigScore;
  dci?: DciScore;
  sap?: SapScore;
  /** The headline numbers: betaVae / factorVae eval accuracy, mig, dci disentanglement / completeness / informativeness (test), sap. */
  summary: Record<string, number>;
  seconds: Record<string, number>;
}

/** Runs the chosen metrics (all by default) with the library defaults unless overridden. */
export async function evaluateDisentanglement(
  data: GroundTruthData,
  rep: Representation,
  opts: DisentanglementOptions = {},
): Promise<DisentanglementReport> {
  const which = opts.metrics ?? METRIC_NAMES;
  for (const m of which)
    if (!METRIC_NAMES.includes(m))
      throw new Error(`unknown disentanglement metric '${m}' (known: ${METRIC_NAMES.join(', ')})`);
  const common = { seed: opts.seed, chunk: opts.chunk };
  const r: DisentanglementReport = { summary: {}, seconds: {} };
  const time = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    opts.log?.(`disentanglement: ${name} ...`);
    const v = await f();
    r.seconds[name] = (performance.now() - t0) / 1000;
    return v;
  };
  if (which.includes('betaVae')) {
    r.betaVae = await time('betaVae', () => betaVaeScore(data, rep, { ...common, ...opts.betaVae }));
    r.summary.betaVae = r.betaVae.evalAccuracy;
  }
  if (which.includes('factorVae')) {
    r.factorVae = await time('factorVae', () => factorVaeScore(data, rep, { ...common, ...opts.factorVae }));
    r.summary.factorVae = r.factorVae.evalAccuracy;
  }
  if (which.includes('mig')) {
    r.mig = await time('mig', () => migScore(data, rep, { ...common, ...opts.mig }));
    r.summary.mig = r.mig.mig;
  }
  if (which.includes('dci')) {
    r.dci = await time('dci', () => dciScore(data, rep, { ...common, ...opts.dci }));
    r.summary.dciDisentanglement = r.dci.disentanglement;
    r.summary.dciCompleteness = r.dci.completeness;
    r.summary.dciInformativeness = r.dci.informativenessTest;
  }
  if (which.includes('sap')) {
    r.sap = await time('sap', () => sapScore(data, rep, { ...common, ...opts.sap }));
    r.summary.sap = r.sap.sap;
  }
  return r;
}
