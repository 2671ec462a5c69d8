import onnxProto from 'onnx-proto';
import type { Activation } from '../nn/layout.js';
import { PIXEL_SCALE } from '../nn/mlp.js';
import type { Model } from '../nn/model.js';

// A model as an ONNX graph, encoded by protobufjs with the ONNX schema's own message
// definitions (the onnx-proto package), so any ONNX runtime can run it without gradpool:
//   input [N, features] (raw pixel values, 0–255) → Mul(1/255) → Gemm(W, b, transB) →
//   activation → … → Gemm → Softmax → probabilities [N, classes]
// The input scaling is a node of the graph: the exported model takes what the data files hold.

const { onnx } = onnxProto;

/** Opset 13: Gemm, Relu, Tanh, Sigmoid, Mul and Softmax(axis) as every current runtime has them. */
export const ONNX_OPSET = 13;
/** IR version 8 (ONNX 1.10), the schema onnx-proto carries; runtimes read older IRs. */
const IR_VERSION = 8;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'probabilities';

const ACTIVATION_OP: Record<Activation, string> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The model as the bytes of an ONNX ModelProto. */
export function encodeOnnx(model: Model, producerVersion: string): Uint8Array {
  const { layout } = model;
  const features = layout.sizes[0];
  const classes = layout.sizes[layout.sizes.length - 1];
  const initializers = [floatTensor('input_scale', [1], Float32Array.of(PIXEL_SCALE))];
  const nodes = [node('Mul', [ONNX_INPUT, 'input_scale'], ['x0'], 'scale')];
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
    } else {
      nodes.push(node('Softmax', [z], [ONNX_OUTPUT], 'softmax', [intAttribute('axis', 1)]));
    }
  });
  const graph = onnx.GraphProto.create({
    name: `gradpool ${layout.sizes.join('-')} ${layout.activation}`,
    node: nodes,
    initializer: initializers,
    input: [valueInfo(ONNX_INPUT, features)],
    output: [valueInfo(ONNX_OUTPUT, classes)],
  });
  const metadata: Record<string, string> = {
    ...model.metadata,
    layers: layout.sizes.join(','),
    activation: layout.activation,
  };
  delete metadata.sha256; // the safetensors file's digest, which does not cover this file
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: ONNX_OPSET })],
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
) {
  return onnx.NodeProto.create({ opType, input, output, name, attribute });
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

/** A float32 [N, width] value with a symbolic batch dimension. */
function valueInfo(name: string, width: number) {
  const dim = [
    onnx.TensorShapeProto.Dimension.create({ dimParam: 'N' }),
    onnx.TensorShapeProto.Dimension.create({ dimValue: width }),
  ];
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({ dim }),
      }),
    }),
  });
}
