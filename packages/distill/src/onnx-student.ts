/**
 * The student as an in-memory ONNX model (onnx-proto), for onnxruntime's MLAS GEMMs:
 *   X[n,d] (uint8 → Cast float) → Gemm(W0·scale, b0) → Relu → … → Gemm(W_L, b_L) → ArgMax (labels) or Y.
 * The input scale is folded into the first weight matrix (x·s)·W = x·(s·W), so uint8 pixels go in as they
 * are, with no JS conversion pass. Softmax is dropped for labels: argmax(softmax(z)) = argmax(z).
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import type { StudentLayer, StudentSignature } from './types.ts';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

function valueInfo(name: string, elemType: number, dims: ReadonlyArray<string | number>): OnnxNs.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
}

function floatInit(name: string, dims: number[], data: Float32Array): OnnxNs.TensorProto {
  // rawData (little-endian bytes) rather than floatData: no per-element varint encoding of ~10⁵ floats.
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return onnx.TensorProto.create({ name, dataType: T.FLOAT, dims, rawData: raw });
}

const intAttr = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });

/** Output name: 'labels' (int64 [n]) or 'values' (float [n, size]). */
export function buildStudentOnnx(signature: StudentSignature, layers: StudentLayer[]): { bytes: Uint8Array; output: string } {
  const node: OnnxNs.NodeProto[] = [];
  const initializer: OnnxNs.TensorProto[] = [];
  let h = 'X';
  if (signature.inputDType === 'uint8') {
    node.push(onnx.NodeProto.create({ opType: 'Cast', input: ['X'], output: ['Xf'], attribute: [intAttr('to', T.FLOAT)] }));
    h = 'Xf';
  }
  layers.forEach((layer, l) => {
    let w = layer.weight;
    if (l === 0 && signature.normalisation.scale !== 1) {
      const s = signature.normalisation.scale;
      w = w.map((v) => v * s);
    }
    initializer.push(floatInit(`W${l}`, [layer.inDim, layer.outDim], w), floatInit(`B${l}`, [layer.outDim], layer.bias));
    const z = `Z${l}`;
    node.push(onnx.NodeProto.create({ opType: 'Gemm', input: [h, `W${l}`, `B${l}`], output: [z] }));
    h = z;
    if (layer.activation === 'relu') {
      node.push(onnx.NodeProto.create({ opType: 'Relu', input: [z], output: [`H${l}`] }));
      h = `H${l}`;
    }
  });
  const size = signature.output.size;
  let output: string;
  let outInfo: OnnxNs.ValueInfoProto;
  if (signature.output.kind === 'labels') {
    output = 'labels';
    // ArgMax returns the first maximal index, matching tf.argMax on ties.
    node.push(onnx.NodeProto.create({ opType: 'ArgMax', input: [h], output: [output], attribute: [intAttr('axis', 1), intAttr('keepdims', 0)] }));
    outInfo = valueInfo(output, T.INT64, ['n']);
  } else {
    output = 'values';
    node.push(onnx.NodeProto.create({ opType: 'Identity', input: [h], output: [output] }));
    outInfo = valueInfo(output, T.FLOAT, ['n', size]);
  }
  const graph = onnx.GraphProto.create({
    name: 'cmbn_student',
    node,
    initializer,
    input: [valueInfo('X', signature.inputDType === 'uint8' ? T.UINT8 : T.FLOAT, ['n', signature.inputDims])],
    output: [outInfo],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph, producerName: 'cmbn-distill' });
  return { bytes: onnx.ModelProto.encode(model).finish(), output };
}
