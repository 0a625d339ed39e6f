/**
 * The student as an in-memory ONNX model (onnx-proto), for onnxruntime's MLAS GEMMs.
 *
 * fp32:  X[n,d] (uint8 → Cast float) → Gemm(W0·scale, b0) → Relu → … → Gemm(W_L, b_L) → ArgMax → Cast int32 (labels) or Y.
 * int8 ('quantize'): every dense layer's weights are stored as int8 with one scale per output column
 *   (symmetric, zero point 0), and its input as uint8:
 *   - layer 0 on uint8 input: the pixels already are uint8 with zero point 0, so X goes straight into
 *     MatMulInteger(X, Wq) with no conversion pass at all (the 1/255 scale is folded into Wq's scales);
 *   - other layers (and float input): DynamicQuantizeLinear(h) → MatMulInteger(hq, Wq, zp) → Cast → Mul(s_h·s_w) → Add b.
 *   These are the patterns onnxruntime fuses into MatMulIntegerToFloat / DynamicQuantizeMatMul, which run
 *   MLAS's u8s8 GEMM (AVX2 / AVX-512 VNNI): ~4× the fp32 rate per core on VNNI hardware.
 * Softmax is dropped for labels: argmax(softmax(z)) = argmax(z). The input scale is folded into the first
 * layer: (x·s)·W = x·(s·W).
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import { firstLayerInput, MLP, type StudentArchitecture } from './architecture.ts';
import type { StudentLayer, StudentSignature } from './types.ts';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

export type StudentPrecision = 'fp32' | 'int8';

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

function int8Init(name: string, dims: number[], data: Int8Array): OnnxNs.TensorProto {
  return onnx.TensorProto.create({ name, dataType: T.INT8, dims, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
}

const intAttr = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const nodeOf = (opType: string, input: string[], output: string[], attribute: OnnxNs.AttributeProto[] = []) =>
  onnx.NodeProto.create({ opType, input, output, attribute });

/**
 * Largest weight code: 7 bits, not 8 (onnxruntime's "reduce_range"). On x86-64 CPUs without VNNI
 * (AVX2 machines, e.g. AMD EPYC before Zen 4, many Xeons), MLAS runs a uint8×int8 MatMulInteger with
 * vpmaddubsw, which adds two adjacent u8·s8 products into a saturating int16: 2·255·127 = 64,770
 * overflows it, 2·255·63 = 32,130 does not. With 127 an int8 student gave wrong outputs on such a
 * CPU while VNNI machines were exact (packages/distill/src/train.test.ts, embedding target: RMS 19.5
 * against 0.4 for tfjs); a pulled archive must compute the same on every machine it is deployed to.
 */
export const INT8_WEIGHT_MAX = 63;

/** Symmetric per-output-column quantisation of a row-major in×out matrix to ±INT8_WEIGHT_MAX: w ≈ q·s[j]. */
export function quantizeColumns(w: Float32Array, inDim: number, outDim: number): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(outDim);
  for (let i = 0; i < inDim; i++) {
    for (let j = 0; j < outDim; j++) scales[j] = Math.max(scales[j]!, Math.abs(w[i * outDim + j]!));
  }
  for (let j = 0; j < outDim; j++) scales[j] = scales[j]! > 0 ? scales[j]! / INT8_WEIGHT_MAX : 1;
  const q = new Int8Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) {
    for (let j = 0; j < outDim; j++) q[i * outDim + j] = Math.max(-INT8_WEIGHT_MAX, Math.min(INT8_WEIGHT_MAX, Math.round(w[i * outDim + j]! / scales[j]!)));
  }
  return { q, scales };
}

export interface BuildOnnxOptions {
  precision?: StudentPrecision;
  /** ModelProto.metadata_props, written in key order (so the bytes are a function of the inputs). */
  metadata?: Record<string, string>;
  /** Default the MLP. A conv student's graph gathers patches first: Gather → Reshape → layer 0 → Reshape. */
  architecture?: StudentArchitecture;
}

function int64Init(name: string, dims: number[], data: ArrayLike<number>): OnnxNs.TensorProto {
  const b = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) b[i] = BigInt(data[i]!);
  return onnx.TensorProto.create({ name, dataType: T.INT64, dims, rawData: new Uint8Array(b.buffer) });
}

/** Output name: 'labels' (int32 [n]) or 'values' (float [n, size]). */
export function buildStudentOnnx(
  signature: StudentSignature,
  layers: StudentLayer[],
  opts: BuildOnnxOptions = {},
): { bytes: Uint8Array; output: string } {
  const precision = opts.precision ?? 'fp32';
  const node: OnnxNs.NodeProto[] = [];
  const initializer: OnnxNs.TensorProto[] = [];
  const u8Input = signature.inputDType === 'uint8';
  let h = 'X';
  // In fp32 the uint8 pixels are cast once; in int8 layer 0 reads them as they are.
  if (u8Input && precision === 'fp32') {
    node.push(nodeOf('Cast', ['X'], ['Xf'], [intAttr('to', T.FLOAT)]));
    h = 'Xf';
  }
  const first = firstLayerInput(opts.architecture ?? MLP, signature.inputDims);
  if (first.patchIndex) {
    // im2col: [n, d] → [n, P·k²] → [n·P, k²] (architecture.ts's patch order).
    initializer.push(int64Init('PatchIdx', [first.patchIndex.length], first.patchIndex), int64Init('PatchShape', [2], [-1, first.inDim]));
    node.push(nodeOf('Gather', [h, 'PatchIdx'], ['Xg'], [intAttr('axis', 1)]), nodeOf('Reshape', ['Xg', 'PatchShape'], ['Xp']));
    h = 'Xp';
  }
  layers.forEach((layer, l) => {
    let w = layer.weight;
    if (l === 0 && signature.normalisation.scale !== 1) {
      const s = signature.normalisation.scale;
      w = w.map((v) => v * s);
    }
    const z = `Z${l}`;
    initializer.push(floatInit(`B${l}`, [layer.outDim], layer.bias));
    if (precision === 'fp32') {
      initializer.push(floatInit(`W${l}`, [layer.inDim, layer.outDim], w));
      node.push(nodeOf('Gemm', [h, `W${l}`, `B${l}`], [z]));
    } else {
      const { q, scales } = quantizeColumns(w, layer.inDim, layer.outDim);
      initializer.push(int8Init(`Wq${l}`, [layer.inDim, layer.outDim], q), floatInit(`Ws${l}`, [layer.outDim], scales));
      let scale = `Ws${l}`;
      if (l === 0 && u8Input) {
        node.push(nodeOf('MatMulInteger', [h, `Wq${l}`], [`I${l}`]));
      } else {
        initializer.push(int8Init(`Wz${l}`, [], new Int8Array(1)));
        node.push(nodeOf('DynamicQuantizeLinear', [h], [`Hq${l}`, `Hs${l}`, `Hz${l}`]));
        node.push(nodeOf('MatMulInteger', [`Hq${l}`, `Wq${l}`, `Hz${l}`, `Wz${l}`], [`I${l}`]));
        node.push(nodeOf('Mul', [`Hs${l}`, `Ws${l}`], [`S${l}`]));
        scale = `S${l}`;
      }
      node.push(nodeOf('Cast', [`I${l}`], [`F${l}`], [intAttr('to', T.FLOAT)]));
      node.push(nodeOf('Mul', [`F${l}`, scale], [`M${l}`]));
      node.push(nodeOf('Add', [`M${l}`, `B${l}`], [z]));
    }
    h = z;
    if (layer.activation === 'relu') {
      node.push(nodeOf('Relu', [z], [`H${l}`]));
      h = `H${l}`;
    }
    if (l === 0 && first.patchIndex) {
      // [n·P, filters] → [n, P·filters], position-major (the tfjs Flatten order).
      initializer.push(int64Init('MapShape', [2], [-1, first.positions * layer.outDim]));
      node.push(nodeOf('Reshape', [h, 'MapShape'], ['Hmap']));
      h = 'Hmap';
    }
  });
  const size = signature.output.size;
  let output: string;
  let outInfo: OnnxNs.ValueInfoProto;
  if (signature.output.kind === 'labels') {
    output = 'labels';
    // ArgMax returns the first maximal index, matching tf.argMax on ties; int32 so JS reads it without BigInt.
    node.push(nodeOf('ArgMax', [h], ['labels64'], [intAttr('axis', 1), intAttr('keepdims', 0)]));
    node.push(nodeOf('Cast', ['labels64'], [output], [intAttr('to', T.INT32)]));
    outInfo = valueInfo(output, T.INT32, ['n']);
  } else {
    output = 'values';
    node.push(nodeOf('Identity', [h], [output]));
    outInfo = valueInfo(output, T.FLOAT, ['n', size]);
  }
  const graph = onnx.GraphProto.create({
    name: 'cmbn_student',
    node,
    initializer,
    input: [valueInfo('X', u8Input ? T.UINT8 : T.FLOAT, ['n', signature.inputDims])],
    output: [outInfo],
  });
  const metadataProps = Object.keys(opts.metadata ?? {})
    .sort()
    .map((key) => onnx.StringStringEntryProto.create({ key, value: opts.metadata![key]! }));
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph, producerName: 'cmbn-distill', metadataProps });
  return { bytes: onnx.ModelProto.encode(model).finish(), output };
}
