/**
 * In-memory ONNX models for the dense kernel, built with onnx-proto so no model file ships.
 * All dims are symbolic, so one session serves every (n, d, k).
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function valueInfo(name: string, elemType: number, dims: ReadonlyArray<string | number>): OnnxTypes.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

function encode(graph: OnnxTypes.GraphProto): Uint8Array {
  // Opset 13: TopK with K as an input tensor, `largest`/`sorted` attributes (both default 1).
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph });
  return onnx.ModelProto.encode(model).finish();
}

/** X[n,d] · Ct[d,k] − H[k] → TopK(K) along axis 1: outputs V float32 [n,K], I int64 [n,K]. */
export function buildTopKModel(K: number): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: `nearest_centres_top${K}`,
    node: [
      onnx.NodeProto.create({ opType: 'MatMul', input: ['X', 'Ct'], output: ['XC'] }),
      onnx.NodeProto.create({ opType: 'Sub', input: ['XC', 'H'], output: ['S'] }),
      onnx.NodeProto.create({
        opType: 'TopK',
        input: ['S', 'K'],
        output: ['V', 'I'],
        attribute: [
          onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }),
          onnx.AttributeProto.create({ name: 'largest', type: onnx.AttributeProto.AttributeType.INT, i: 1 }),
          onnx.AttributeProto.create({ name: 'sorted', type: onnx.AttributeProto.AttributeType.INT, i: 1 }),
        ],
      }),
    ],
    initializer: [onnx.TensorProto.create({ name: 'K', dataType: INT64, dims: [1], int64Data: [K] })],
    input: [valueInfo('X', FLOAT, ['n', 'd']), valueInfo('Ct', FLOAT, ['d', 'k']), valueInfo('H', FLOAT, ['k'])],
    output: [valueInfo('V', FLOAT, ['n', K]), valueInfo('I', INT64, ['n', K])],
  });
  return encode(graph);
}

/** X[n,d] · Ct[d,k] only: the sgemm ceiling reachable from Node, for the benchmark. */
export function buildMatMulModel(): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'matmul_only',
    node: [onnx.NodeProto.create({ opType: 'MatMul', input: ['X', 'Ct'], output: ['XC'] })],
    input: [valueInfo('X', FLOAT, ['n', 'd']), valueInfo('Ct', FLOAT, ['d', 'k'])],
    output: [valueInfo('XC', FLOAT, ['n', 'k'])],
  });
  return encode(graph);
}
