import onnxProto from 'onnx-proto';
import type { TablePreprocessing } from '../data/preprocessing.js';
import type { Activation } from '../nn/layout.js';
import { PIXEL_SCALE } from '../nn/mlp.js';
import type { Model } from '../nn/model.js';

// A model as an ONNX graph, encoded by protobufjs with the ONNX schema's own message
// definitions (the onnx-proto package), so any ONNX runtime can run it without gradpool:
//   input [N, features] (raw pixel values, 0–255) → Mul(1/255) → Gemm(W, b, transB) →
//   activation → … → Gemm → Softmax → probabilities [N, classes]
// A CSV model takes one input per column (its name, [N, 1]): numbers standardised by Sub and
// Div, categories one-hot encoded, concatenated; a regression model ends in Mul and Add back
// to its targets' units (output `values`). The preprocessing is part of the graph: the
// exported model takes what the data files hold.

const { onnx } = onnxProto;

/** Opset 13: Gemm, Relu, Tanh, Sigmoid, Mul and Softmax(axis) as every current runtime has them. */
export const ONNX_OPSET = 13;
/** IR version 8 (ONNX 1.10), the schema onnx-proto carries; runtimes read older IRs. */
const IR_VERSION = 8;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'probabilities';
/** a regression model's output, in the targets' units */
export const ONNX_VALUES = 'values';
const ML_DOMAIN = 'ai.onnx.ml';

const ACTIVATION_OP: Record<Activation, string> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The model as the bytes of an ONNX ModelProto. */
export function encodeOnnx(model: Model, producerVersion: string): Uint8Array {
  const { layout } = model;
  const features = layout.sizes[0];
  const outputs = layout.sizes[layout.sizes.length - 1];
  const p = model.preprocessing;
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const inputs =
    p?.kind === 'table' ? tableInputs(p, nodes, initializers) : imageInput(features, nodes, initializers);
  const regress = p?.kind === 'table' && p.target.task === 'regress';
  let x = 'x0';
  layout.layers.forEach((L, i) => {
    const w = model.params.subarray(L.weight, L.weight + L.outputs * L.inputs);
    const b = model.params.subarray(L.bias, L.bias + L.outputs);
    initializers.push(floatTensor(`layers.${i}.weight`, [L.outputs, L.inputs], w));
    initializers.push(floatTensor(`layers.${i}.bias`, [L.outputs], b));
    const z = `z${i}`;
    // Gemm: A·Bᵀ + C with B in nn.Linear's (out, in) layout, as the safetensors file holds it
    nodes.push(
      node('Gemm', [x, `layers.${i}.weight`, `layers.${i}.bias`], [z], `linear${i}`, [
        intAttribute('transB', 1),
      ]),
    );
    if (i < layout.layers.length - 1) {
      x = `a${i}`;
      nodes.push(node(ACTIVATION_OP[layout.activation], [z], [x], `activation${i}`));
    } else if (regress) {
      unscaleTargets(p, z, nodes, initializers);
    } else {
      nodes.push(node('Softmax', [z], [ONNX_OUTPUT], 'softmax', [intAttribute('axis', 1)]));
    }
  });
  const graph = onnx.GraphProto.create({
    name: `gradpool ${layout.sizes.join('-')} ${layout.activation}`,
    node: nodes,
    initializer: initializers,
    input: inputs,
    output: [valueInfo(regress ? ONNX_VALUES : ONNX_OUTPUT, outputs)],
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
function imageInput(
  features: number,
  nodes: onnxProto.onnx.INodeProto[],
  init: onnxProto.onnx.ITensorProto[],
) {
  init.push(floatTensor('input_scale', [1], Float32Array.of(PIXEL_SCALE)));
  nodes.push(node('Mul', [ONNX_INPUT, 'input_scale'], ['x0'], 'scale'));
  return [valueInfo(ONNX_INPUT, features)];
}

/**
 * A table model's inputs: one per column, by its name, [N, 1] (float for numbers, string for
 * categories), standardised (Sub, Div) or one-hot encoded (ai.onnx.ml OneHotEncoder, which
 * fails on a category training never saw, as gradpool does) and concatenated in the model's
 * feature order into x0.
 */
function tableInputs(
  p: TablePreprocessing,
  nodes: onnxProto.onnx.INodeProto[],
  init: onnxProto.onnx.ITensorProto[],
) {
  const parts: string[] = [];
  const inputs = p.inputs.map((c, i) => {
    if (c.kind === 'number') {
      init.push(
        floatTensor(`mean.${i}`, [1], Float32Array.of(c.mean)),
        floatTensor(`std.${i}`, [1], Float32Array.of(c.std)),
      );
      nodes.push(node('Sub', [c.name, `mean.${i}`], [`centred.${i}`], `centre${i}`));
      nodes.push(node('Div', [`centred.${i}`, `std.${i}`], [`feature.${i}`], `scale${i}`));
      parts.push(`feature.${i}`);
      return valueInfo(c.name, 1);
    }
    const K = c.categories.length;
    nodes.push(
      node(
        'OneHotEncoder',
        [c.name],
        [`onehot3.${i}`],
        `onehot${i}`,
        [stringsAttribute('cats_strings', c.categories), intAttribute('zeros', 0)],
        ML_DOMAIN,
      ),
    );
    init.push(int64Tensor(`shape.${i}`, [-1, K]));
    nodes.push(node('Reshape', [`onehot3.${i}`, `shape.${i}`], [`feature.${i}`], `flatten${i}`));
    parts.push(`feature.${i}`);
    return valueInfo(c.name, 1, onnx.TensorProto.DataType.STRING);
  });
  nodes.push(node('Concat', parts, ['x0'], 'features', [intAttribute('axis', 1)]));
  return inputs;
}

/** Regression outputs back in their targets' units: y·std + mean. */
function unscaleTargets(
  p: TablePreprocessing,
  z: string,
  nodes: onnxProto.onnx.INodeProto[],
  init: onnxProto.onnx.ITensorProto[],
) {
  if (p.target.task !== 'regress') return;
  const { columns } = p.target;
  init.push(
    floatTensor(
      'target_std',
      [columns.length],
      Float32Array.from(columns, (c) => c.std),
    ),
  );
  init.push(
    floatTensor(
      'target_mean',
      [columns.length],
      Float32Array.from(columns, (c) => c.mean),
    ),
  );
  nodes.push(node('Mul', [z, 'target_std'], ['scaled_values'], 'unscale'));
  nodes.push(node('Add', ['scaled_values', 'target_mean'], [ONNX_VALUES], 'uncentre'));
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
    dataType: onnx.TensorProto.DataType.INT64,
    int64Data: values,
  });
}

function intAttribute(name: string, i: number) {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

/** A float32 tensor; raw_data is little-endian by the ONNX spec, which typed arrays are here. */
function floatTensor(name: string, dims: number[], data: Float32Array) {
  if (!LITTLE_ENDIAN)
    return onnx.TensorProto.create({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      floatData: Array.from(data),
    });
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData });
}

/** A [N, width] value (float32 unless said) with a symbolic batch dimension. */
function valueInfo(name: string, width: number, elemType: number = onnx.TensorProto.DataType.FLOAT) {
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
