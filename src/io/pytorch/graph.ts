// A vaekit network (a tfjs-layers model) as a list of ops that src/io/pytorch/runtime.py runs with torch:
// each op names its inputs (earlier ops or the network's inputs) and, where it has weights, the state-dict
// prefix of its module (`encoder.layers.3`, `decoder.rnn`), found from the model's namedParameters, so the
// PyTorch module's state dict has exactly the names of model.safetensors. Pure: no files, no node: modules.
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { TorchGRU } from '../../nn/gru-cell.js';

export interface GraphOp {
  op: string;
  name: string;
  inputs: string[];
  [key: string]: unknown;
}

export interface NetGraph {
  inputs: string[];
  output: string;
  layers: GraphOp[];
}

type Cfg = Record<string, unknown>;

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number]);

/** The module prefix of each variable: the param name without its last part (`encoder.layers.3.weight` → `encoder.layers.3`). */
function modulePrefixes(params: Record<string, tf.Variable>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, v] of Object.entries(params)) out.set(v.id, name.slice(0, name.lastIndexOf('.')));
  return out;
}

function moduleOf(layer: tfl.layers.Layer, prefixes: Map<number, string>, net: string): string {
  const w = layer.trainableWeights[0] ?? layer.nonTrainableWeights[0];
  const p = w ? prefixes.get((w.read() as tf.Variable).id) : undefined;
  if (!p) throw new Error(`${net}: layer ${layer.name} has weights that are not among the model's named parameters`);
  return p;
}

function rnnOp(layer: tfl.layers.Layer, base: { name: string; inputs: string[] }, module: string): GraphOp {
  const cls = layer.getClassName();
  const inner = (
    cls === 'Bidirectional' ? (layer as unknown as { forwardLayer: tfl.RNN }).forwardLayer : layer
  ) as tfl.RNN;
  if (cls === 'Bidirectional' && (layer.getConfig() as Cfg).mergeMode !== 'concat')
    throw new Error(`${layer.name}: only a concatenating Bidirectional layer can be exported`);
  const innerCls = inner.getClassName();
  const cell = inner instanceof TorchGRU ? 'gru' : innerCls === 'LSTM' ? 'lstm' : innerCls === 'GRU' ? 'gru-v1' : null;
  if (!cell) throw new Error(`${layer.name}: a recurrent layer of class ${innerCls} cannot be exported`);
  const kernel = inner.trainableWeights[0].shape as number[];
  const c = inner.getConfig() as Cfg;
  if (c.goBackwards) throw new Error(`${layer.name}: a backwards-only recurrent layer cannot be exported`);
  return {
    op: 'rnn',
    ...base,
    module,
    cell,
    in: kernel[0],
    hidden: (inner.cell as unknown as { units: number }).units,
    bidirectional: cls === 'Bidirectional',
    return_sequences: Boolean(c.returnSequences),
  };
}

/** One layer as an op; an error naming the layer for anything runtime.py does not run. */
function opOf(layer: tfl.layers.Layer, inputs: string[], prefixes: Map<number, string>, net: string): GraphOp {
  const cls = layer.getClassName();
  const c = layer.getConfig() as Cfg;
  const base = { name: layer.name, inputs };
  const weights = layer.trainableWeights.length + layer.nonTrainableWeights.length > 0;
  const module = weights ? moduleOf(layer, prefixes, net) : undefined;
  const kernel = weights ? (layer.getWeights()[0].shape as number[]) : [];
  const act = (c.activation as string | undefined) ?? 'linear';
  const convCommon = () => {
    if (pair(c.dilationRate ?? 1).some((d) => d !== 1)) throw new Error(`${net}: ${layer.name} is dilated`);
    if (c.dataFormat && c.dataFormat !== 'channelsLast') throw new Error(`${net}: ${layer.name} is not channels-last`);
    return {
      kernel: pair(c.kernelSize),
      stride: pair(c.strides ?? 1),
      padding: c.padding,
      bias: c.useBias !== false,
      act,
    };
  };
  switch (cls) {
    case 'Dense':
      return { op: 'linear', ...base, module, in: kernel[0], out: kernel[1], bias: c.useBias !== false, act };
    case 'Conv2D':
      return { op: 'conv2d', ...base, module, in: kernel[2], out: kernel[3], ...convCommon() };
    case 'Conv2DTranspose':
      return { op: 'deconv2d', ...base, module, in: kernel[3], out: kernel[2], ...convCommon() };
    case 'Reshape':
      return { op: 'reshape', ...base, shape: c.targetShape };
    case 'Permute':
      return { op: 'permute', ...base, dims: c.dims };
    case 'Flatten':
      return { op: 'flatten', ...base };
    case 'Concatenate':
      return { op: 'concat', ...base, axis: c.axis ?? -1 };
    case 'Add':
      return { op: 'add', ...base };
    case 'Activation':
      return { op: 'act', ...base, act };
    case 'ZeroPadding2D':
      return { op: 'zeropad', ...base, padding: c.padding };
    case 'Cropping2D':
      return { op: 'crop', ...base, cropping: c.cropping };
    case 'RepeatVector':
      return { op: 'repeat', ...base, n: c.n };
    case 'Bidirectional':
    case 'GRU':
    case 'LSTM':
    case 'VaekitTorchGRU':
      return rnnOp(layer, base, module!);
    default:
      throw new Error(`${net}: layer ${layer.name} of class ${cls} is not one the PyTorch exporter knows`);
  }
}

/** The ops of network `net` of a model whose named parameters are `params`. */
export function netGraph(net: string, model: tfl.LayersModel, params: Record<string, tf.Variable>): NetGraph {
  const prefixes = modulePrefixes(params);
  const layers: GraphOp[] = [];
  if (model.getClassName() === 'Sequential') {
    // a chain: each layer reads the one before; the input is the model's one input
    let prev = `${net}_input`;
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      layers.push(opOf(layer, [prev], prefixes, net));
      prev = layer.name;
    }
    return { inputs: [`${net}_input`], output: prev, layers };
  }
  const cfg = model.getConfig() as unknown as {
    layers: { className: string; name: string; inboundNodes: [string, number, number, unknown][][] }[];
    inputLayers: [string, number, number][];
    outputLayers: [string, number, number][];
  };
  if (cfg.outputLayers.length !== 1) throw new Error(`${net}: a network with ${cfg.outputLayers.length} outputs`);
  for (const l of cfg.layers) {
    if (l.className === 'InputLayer') continue;
    if (l.inboundNodes.length !== 1) throw new Error(`${net}: layer ${l.name} is called more than once`);
    const inputs = l.inboundNodes[0].map(([name, , tensor]) => {
      if (tensor !== 0) throw new Error(`${net}: layer ${l.name} reads output ${tensor} of ${name}`);
      return name;
    });
    layers.push(opOf(model.getLayer(l.name), inputs, prefixes, net));
  }
  return { inputs: cfg.inputLayers.map(([n]) => n), output: cfg.outputLayers[0][0], layers };
}
