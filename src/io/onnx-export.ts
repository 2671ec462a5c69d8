import onnxProto from 'onnx-proto';
import type { TablePreprocessing } from '../data/preprocessing.js';
import { UsageError } from '../errors.js';
import { PIXEL_SCALE } from '../nn/kernels/gather.js';
import type { Activation } from '../nn/layout.js';
import type { Model } from '../nn/model.js';

// A model as an ONNX graph, encoded by protobufjs with the ONNX schema's own message
// definitions (the onnx-proto package), so any ONNX runtime can run it without gradpool:
//   input [N, features] (raw pixel values, 0–255) → Mul(1/255) → Gemm(W, b, transB) →
//   activation → … → Gemm → Softmax → probabilities [N, classes]
// A CSV model takes one input per column (its name, [N, 1]): numbers as doubles, standardised
// by Sub and Div in double and cast to float (gradpool's own float64 arithmetic, rounded
// once), categories one-hot encoded, concatenated; a regression model ends in Mul and Add back
// to its targets' units (output `values`). The preprocessing is part of the graph: the
// exported model takes what the data files hold. Every name the graph makes itself is in a
// namespace (`gradpool/…`) no column's name starts with, so a column called x0 or
// mean.0 cannot redefine one; only the output's name is shared with the columns' world.

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;

/** Opset 13: Gemm, Relu, Tanh, Sigmoid, Mul, Cast and Softmax(axis) as every current runtime has them. */
export const ONNX_OPSET = 13;
/** IR version 8 (ONNX 1.10), the schema onnx-proto carries; runtimes read older IRs. */
const IR_VERSION = 8;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'probabilities';
/** a regression model's output, in the targets' units */
export const ONNX_VALUES = 'values';
const ML_DOMAIN = 'ai.onnx.ml';
const NAMESPACE = 'gradpool/';

const ACTIVATION_OP: Record<Activation, string> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

type Nodes = onnxProto.onnx.INodeProto[];
type Initializers = onnxProto.onnx.ITensorProto[];

/**
 * The model as the bytes of an ONNX ModelProto. A CSV model with a column named as the
 * graph's output (`values` for regression, `probabilities` for classes) is a UsageError:
 * the output keeps its documented name, and a graph cannot have two of one name.
 */
export function encodeOnnx(model: Model, producerVersion: string): Uint8Array {
  const { layout } = model;
  const features = layout.sizes[0];
  const outputs = layout.sizes[layout.sizes.length - 1];
  const p = model.preprocessing;
  const regress = p?.kind === 'table' && p.target.task === 'regress';
  const output = regress ? ONNX_VALUES : ONNX_OUTPUT;
  const columns = p?.kind === 'table' ? p.inputs.map((c) => c.name) : [];
  if (columns.includes(output))
    throw new UsageError(
      `column '${output}' has the name of the ONNX graph's output '${output}': rename the column and train again to export this model`,
    );
  const name = internalNames(columns);
  const initializers: Initializers = [];
  const nodes: Nodes = [];
  const inputs =
    p?.kind === 'table'
      ? tableInputs(p, name, nodes, initializers)
      : imageInput(features, name, nodes, initializers);
  let x = name('x0');
  layout.layers.forEach((L, i) => {
    const w = model.params.subarray(L.weight, L.weight + L.outputs * L.inputs);
    const b = model.params.subarray(L.bias, L.bias + L.outputs);
    const weight = name(`layers.${i}.weight`);
    const bias = name(`layers.${i}.bias`);
    initializers.push(floatTensor(weight, [L.outputs, L.inputs], w));
    initializers.push(floatTensor(bias, [L.outputs], b));
    const z = name(`z${i}`);
    // Gemm: A·Bᵀ + C with B in nn.Linear's (out, in) layout, as the safetensors file holds it
    nodes.push(node('Gemm', [x, weight, bias], [z], name(`linear${i}`), [intAttribute('transB', 1)]));
    if (i < layout.layers.length - 1) {
      x = name(`a${i}`);
      nodes.push(node(ACTIVATION_OP[layout.activation], [z], [x], name(`activation${i}`)));
    } else if (regress) {
      unscaleTargets(p, z, name, nodes, initializers);
    } else {
      nodes.push(node('Softmax', [z], [ONNX_OUTPUT], name('softmax'), [intAttribute('axis', 1)]));
    }
  });
  checkUnique(inputs, nodes, initializers);
  const graph = onnx.GraphProto.create({
    name: `gradpool ${layout.sizes.join('-')} ${layout.activation}`,
    node: nodes,
    initializer: initializers,
    input: inputs,
    output: [valueInfo(output, outputs)],
  });
  const metadata: Record<string, string> = {
    ...model.metadata,
    layers: layout.sizes.join(','),
    activation: layout.activation,
  };
  delete metadata.sha256; // the safetensors file's digest, which does not cover this file
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [
      onnx.OperatorSetIdProto.create({ domain: '', version: ONNX_OPSET }),
      // OneHotEncoder, for category columns
      ...(p?.kind === 'table' ? [onnx.OperatorSetIdProto.create({ domain: ML_DOMAIN, version: 1 })] : []),
    ],
    producerName: 'gradpool',
    producerVersion,
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) =>
      onnx.StringStringEntryProto.create({ key, value }),
    ),
  });
  return onnx.ModelProto.encode(proto).finish();
}

/**
 * Names for what the graph makes itself: `gradpool/` + a local name, the prefix lengthened
 * (`_gradpool/`, …) until no column's name starts with it, so none can equal a column's.
 */
function internalNames(columns: readonly string[]): (local: string) => string {
  let prefix = NAMESPACE;
  while (columns.some((c) => c.startsWith(prefix))) prefix = `_${prefix}`;
  return (local) => prefix + local;
}

/** Each value defined once: an input, an initializer or a node's output (a guard on the naming above). */
function checkUnique(inputs: onnxProto.onnx.IValueInfoProto[], nodes: Nodes, init: Initializers): void {
  const seen = new Set<string>();
  const names = [
    ...inputs.map((v) => v.name!),
    ...init.map((t) => t.name!),
    ...nodes.flatMap((n) => n.output!),
  ];
  for (const n of names) {
    if (seen.has(n)) throw new Error(`ONNX export: '${n}' is defined twice`);
    seen.add(n);
  }
}

function node(
  opType: string,
  input: string[],
  output: string[],
  name: string,
  attribute: onnxProto.onnx.IAttributeProto[] = [],
  domain = '',
) {
  return onnx.NodeProto.create({ opType, input, output, name, attribute, domain });
}

/** An image model's input: raw pixel values, scaled by 1/255 into x0. */
function imageInput(features: number, name: (local: string) => string, nodes: Nodes, init: Initializers) {
  init.push(floatTensor(name('input_scale'), [1], Float32Array.of(PIXEL_SCALE)));
  nodes.push(node('Mul', [ONNX_INPUT, name('input_scale')], [name('x0')], name('scale')));
  return [valueInfo(ONNX_INPUT, features)];
}

/**
 * A table model's inputs: one per column, by its name, [N, 1] (double for numbers, string for
 * categories), standardised (Sub, Div in double, then Cast to float) or one-hot encoded
 * (ai.onnx.ml OneHotEncoder, which fails on a category training never saw, as gradpool does)
 * and concatenated in the model's feature order into x0.
 */
function tableInputs(
  p: TablePreprocessing,
  name: (local: string) => string,
  nodes: Nodes,
  init: Initializers,
) {
  const parts: string[] = [];
  const inputs = p.inputs.map((c, i) => {
    const feature = name(`feature.${i}`);
    parts.push(feature);
    if (c.kind === 'number') {
      init.push(
        doubleTensor(name(`mean.${i}`), [1], Float64Array.of(c.mean)),
        doubleTensor(name(`std.${i}`), [1], Float64Array.of(c.std)),
      );
      nodes.push(node('Sub', [c.name, name(`mean.${i}`)], [name(`centred.${i}`)], name(`centre${i}`)));
      nodes.push(
        node('Div', [name(`centred.${i}`), name(`std.${i}`)], [name(`scaled.${i}`)], name(`scale${i}`)),
      );
      nodes.push(
        node('Cast', [name(`scaled.${i}`)], [feature], name(`float${i}`), [
          intAttribute('to', DataType.FLOAT),
        ]),
      );
      return valueInfo(c.name, 1, DataType.DOUBLE);
    }
    const K = c.categories.length;
    nodes.push(
      node(
        'OneHotEncoder',
        [c.name],
        [name(`onehot3.${i}`)],
        name(`onehot${i}`),
        [stringsAttribute('cats_strings', c.categories), intAttribute('zeros', 0)],
        ML_DOMAIN,
      ),
    );
    init.push(int64Tensor(name(`shape.${i}`), [-1, K]));
    nodes.push(node('Reshape', [name(`onehot3.${i}`), name(`shape.${i}`)], [feature], name(`flatten${i}`)));
    return valueInfo(c.name, 1, DataType.STRING);
  });
  nodes.push(node('Concat', parts, [name('x0')], name('features'), [intAttribute('axis', 1)]));
  return inputs;
}

/** Regression outputs back in their targets' units: y·std + mean. */
function unscaleTargets(
  p: TablePreprocessing,
  z: string,
  name: (local: string) => string,
  nodes: Nodes,
  init: Initializers,
) {
  if (p.target.task !== 'regress') return;
  const { columns } = p.target;
  init.push(
    floatTensor(
      name('target_std'),
      [columns.length],
      Float32Array.from(columns, (c) => c.std),
    ),
  );
  init.push(
    floatTensor(
      name('target_mean'),
      [columns.length],
      Float32Array.from(columns, (c) => c.mean),
    ),
  );
  nodes.push(node('Mul', [z, name('target_std')], [name('scaled_values')], name('unscale')));
  nodes.push(node('Add', [name('scaled_values'), name('target_mean')], [ONNX_VALUES], name('uncentre')));
}

function stringsAttribute(name: string, values: readonly string[]) {
  return onnx.AttributeProto.create({
    name,
    type: onnx.AttributeProto.AttributeType.STRINGS,
    strings: values.map((v) => new TextEncoder().encode(v)),
  });
}

function int64Tensor(name: string, values: number[]) {
  return onnx.TensorProto.create({
    name,
    dims: [values.length],
    dataType: DataType.INT64,
    int64Data: values,
  });
}

function intAttribute(name: string, i: number) {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

/** A float32 tensor; raw_data is little-endian by the ONNX spec, which typed arrays are here. */
function floatTensor(name: string, dims: number[], data: Float32Array) {
  if (!LITTLE_ENDIAN)
    return onnx.TensorProto.create({ name, dims, dataType: DataType.FLOAT, floatData: [...data] });
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({ name, dims, dataType: DataType.FLOAT, rawData });
}

/** A float64 tensor, stored as floatTensor stores float32. */
function doubleTensor(name: string, dims: number[], data: Float64Array) {
  if (!LITTLE_ENDIAN)
    return onnx.TensorProto.create({ name, dims, dataType: DataType.DOUBLE, doubleData: [...data] });
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({ name, dims, dataType: DataType.DOUBLE, rawData });
}

/** A [N, width] value (float32 unless said) with a symbolic batch dimension. */
function valueInfo(name: string, width: number, elemType: number = DataType.FLOAT) {
  const dim = [
    onnx.TensorShapeProto.Dimension.create({ dimParam: 'N' }),
    onnx.TensorShapeProto.Dimension.create({ dimValue: width }),
  ];
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({ dim }),
      }),
    }),
  });
}
