// The JSON schema of a saved model's config.json (src/models/files.ts writes it), checked with ajv before a
// model is rebuilt from it, so that a damaged or hand-written file gets one line naming the file and the field
// ("runs/x/model/config.json: config.network.hidden must be an array") instead of a TypeError deep in a model.
// The schema checks the structure and the types; the ranges and the relations between fields (latentDim = Σ
// latentDims, a vocabulary one shorter than the width, …) are the models' own validators' (src/models/*.ts).
// Fields this code does not know are allowed, so a file from a newer writer fails on its version, not here.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION } from '../models/files.js';

const posInt = { type: 'integer', minimum: 1 } as const;
const posInts = { type: 'array', items: posInt } as const;
const number = { type: 'number' } as const;
const activation = { enum: ['relu', 'tanh', 'elu', 'softplus', 'sigmoid', 'linear'] } as const;
const imageLikelihood = { enum: ['bernoulli', 'gaussian'] } as const;
/** vae, cvae and hvae also take the discretised logistic over 8-bit pixels. */
const vaeLikelihood = { enum: ['bernoulli', 'gaussian', 'discretized-logistic', 'local-logistic-mixture'] } as const;
const sigma = { anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { const: 'learned' }] } as const;

const mlp = {
  type: 'object',
  required: ['type', 'hidden'],
  properties: { type: { const: 'mlp' }, hidden: posInts, activation },
} as const;
const conv = {
  type: 'object',
  required: ['type', 'channels', 'kernel', 'stride', 'dense'],
  properties: {
    type: { const: 'conv' },
    channels: posInts,
    kernel: posInt,
    stride: posInt,
    dense: posInts,
    activation,
  },
} as const;
const network = {
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [mlp, conv],
} as const;
const rnn = {
  type: 'object',
  required: ['type', 'cell', 'hidden'],
  properties: {
    type: { const: 'rnn' },
    cell: { enum: ['gru', 'lstm'] },
    hidden: posInt,
    embedding: { type: 'integer', minimum: 0 },
    bidirectional: { type: 'boolean' },
    resetAfter: { type: 'boolean' },
  },
} as const;

const imageModel = {
  inputShape: { ...posInts, minItems: 1 },
  latentDim: posInt,
  network,
  likelihood: vaeLikelihood,
  sigma,
  logisticScale: { enum: ['per-pixel', 'decoder'] },
  mixtures: posInt,
  neighbours: posInt,
  /** Format 1 and 2 only: β, which format 3 keeps in training.objective (parseModelMeta moves it there). */
  beta: number,
} as const;
const imageRequired = ['kind', 'inputShape', 'latentDim', 'network', 'likelihood'] as const;

const vae = {
  type: 'object',
  required: imageRequired,
  properties: { kind: { const: 'vae' }, ...imageModel },
} as const;
const cvae = {
  type: 'object',
  required: [...imageRequired, 'numClasses', 'labelEncoding', 'prior'],
  properties: {
    kind: { const: 'cvae' },
    ...imageModel,
    numClasses: posInt,
    labelEncoding: { enum: ['onehot', 'embedding'] },
    embeddingDim: posInt,
    prior: { enum: ['standard', 'learned'] },
  },
} as const;
const hvae = {
  type: 'object',
  required: [...imageRequired, 'latentDims', 'layerHidden'],
  properties: { kind: { const: 'hvae' }, ...imageModel, latentDims: posInts, layerHidden: posInts },
} as const;
const seqvae = {
  type: 'object',
  required: ['kind', 'inputShape', 'latentDim', 'network', 'likelihood'],
  properties: {
    kind: { const: 'seqvae' },
    inputShape: { ...posInts, minItems: 2, maxItems: 2 },
    latentDim: posInt,
    network: rnn,
    likelihood: { enum: ['categorical', 'gaussian'] },
    vocabulary: { type: 'string' },
    sigma,
    // format 1 and 2 only (format 3: training.objective)
    wordDropout: number,
    beta: number,
  },
} as const;
const vqvae = {
  type: 'object',
  required: ['kind', 'inputShape', 'network', 'likelihood', 'codebookSize', 'codeDim', 'commitment'],
  properties: {
    kind: { const: 'vqvae' },
    inputShape: { ...posInts, minItems: 1 },
    network,
    likelihood: imageLikelihood,
    sigma: { type: 'number', exclusiveMinimum: 0 },
    codebookSize: posInt,
    codeDim: posInt,
    numCodes: posInt,
    commitment: number,
    ema: {
      anyOf: [
        { type: 'null' },
        { type: 'object', required: ['decay', 'epsilon'], properties: { decay: number, epsilon: number } },
      ],
    },
    restartAfter: { type: 'integer', minimum: 0 },
    prior: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          required: ['type', 'channels', 'layers'],
          properties: { type: { const: 'pixelcnn' }, channels: posInt, layers: { type: 'integer', minimum: 0 } },
        },
      ],
    },
  },
} as const;

export const MODEL_KINDS = ['vae', 'cvae', 'hvae', 'seqvae', 'vqvae'] as const;

/** The schema of config.json (format "vaekit-model", versions 1 … MODEL_FORMAT_VERSION). */
export const MODEL_CONFIG_SCHEMA = {
  $id: 'https://vaekit.dev/schemas/model-config.json',
  type: 'object',
  required: ['format', 'version', 'config', 'data'],
  properties: {
    format: { const: 'vaekit-model' },
    version: posInt,
    config: {
      type: 'object',
      required: ['kind'],
      discriminator: { propertyName: 'kind' },
      oneOf: [vae, cvae, hvae, seqvae, vqvae],
    },
    data: {
      type: 'object',
      required: ['dataset', 'protocol', 'shape'],
      properties: {
        dataset: { type: 'string' },
        protocol: { type: 'string' },
        shape: { ...posInts, minItems: 1 },
        numClasses: posInt,
        classNames: { type: 'array', items: { type: 'string' } },
      },
    },
    training: {
      type: 'object',
      properties: {
        // the run's objective settings (src/objectives/config.ts), format 3
        objective: {
          type: 'object',
          properties: {
            beta: number,
            klWarmup: { type: 'integer', minimum: 0 },
            freeBits: number,
            wordDropout: number,
          },
        },
      },
    },
    savedAt: { type: 'string' },
  },
} as const;

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= new Ajv({ discriminator: true, allErrors: false, strict: true, strictRequired: false }).compile(
    MODEL_CONFIG_SCHEMA,
  );
  return compiled;
}

/** `/config/network/hidden/0` → `config.network.hidden[0]`. */
function fieldName(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (child !== undefined) parts.push(child);
  return parts
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function valueAt(root: unknown, instancePath: string): unknown {
  let v = root;
  for (const p of instancePath.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[p];
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One line for the first schema error: the field, what it must be, what it is. */
function describe(e: ErrorObject, root: unknown): string {
  const field = fieldName(e.instancePath) || 'the file';
  const got = `, got ${show(valueAt(root, e.instancePath))}`;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${fieldName(e.instancePath, String(p.missingProperty))} is missing`;
    case 'type':
      return `${field} must be ${/^[aeiou]/.test(String(p.type)) ? 'an' : 'a'} ${String(p.type)}${got}`;
    case 'const':
      return `${field} must be ${JSON.stringify(p.allowedValue)}${got}`;
    case 'enum':
      return `${field} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'discriminator': {
      const tag = fieldName(e.instancePath, String(p.tag));
      if (p.error === 'mapping' && fieldName(e.instancePath) === 'config')
        return `${tag} must be one of ${MODEL_KINDS.join(', ')}, got ${show(p.tagValue)}`;
      if (p.error === 'mapping') return `${tag} must be "mlp" or "conv", got ${show(p.tagValue)}`;
      return `${tag} must be a string, got ${show(p.tagValue)}`;
    }
    case 'minimum':
    case 'exclusiveMinimum':
      return `${field} ${e.message}${got}`;
    case 'minItems':
    case 'maxItems':
      return `${field} ${e.message}${got}`;
    case 'anyOf': {
      const v = valueAt(root, e.instancePath);
      return e.instancePath.endsWith('/sigma')
        ? `${field} must be a positive number or "learned"${got}`
        : `${field} must be null or an object of the right fields${v === undefined ? '' : got}`;
    }
    default:
      return `${field} ${e.message ?? 'is not valid'}${got}`;
  }
}

/**
 * Checks a parsed config.json against MODEL_CONFIG_SCHEMA; throws one line naming `file` and the field
 * ("m/config.json: config.kind is missing"). A format or version this code does not read is left to
 * parseModelMeta, which says so in its own words.
 */
export function validateModelConfigJson(json: unknown, file: string): void {
  const v = json as { format?: unknown; version?: unknown } | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Error(`${file}: a model config must be a JSON object, got ${show(json)}`);
  if (v.format !== MODEL_FORMAT || typeof v.version !== 'number' || v.version > MODEL_FORMAT_VERSION) return;
  const validate = validator();
  if (validate(json)) return;
  const e = validate.errors?.[0];
  throw new Error(`${file}: ${e ? describe(e, json) : 'not a valid vaekit model config'}`);
}
