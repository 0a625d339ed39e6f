/**
 * The student as an in-memory ONNX model (onnx-proto), for onnxruntime's MLAS GEMMs.
 *
 * fp32:  X[n,d] (uint8 → Cast float) → Gemm(W0·scale, b0) → Relu → … → Gemm(W_L, b_L) → ArgMax → Cast int32 (labels) or Y.
 * int8: every dense layer's weights are stored as int8 with one scale per output column (symmetric,
 *   zero point 0), and its input as uint8. The pixels already are uint8 with zero point 0, so on uint8
 *   input X goes into layer 0 with no conversion pass (the 1/255 scale is folded into Wq's scales).
 *   - calibrated students (activationRanges, calibrate.ts): every activation has a fixed scale and zero
 *     point, in the standard QDQ form: hidden layer = DequantizeLinear(hq), DequantizeLinear(Wq) →
 *     MatMul → Add b → Relu → QuantizeLinear, which onnxruntime fuses into one QGemm (uint8 in, uint8
 *     out); the output layer = MatMulInteger(hq, Wq) → Cast → Mul(s_h·s_w) → Add b. A row's output is a
 *     function of that row alone.
 *   - students saved before calibration: DynamicQuantizeLinear(h) → MatMulInteger(hq, Wq, zp) → Cast →
 *     Mul(s_h·s_w) → Add b (fused into DynamicQuantizeMatMul), the scale being each batch's own range.
 *   Both run MLAS's u8s8 GEMM (AVX2 / AVX-512 VNNI): ~4× the fp32 rate per core on VNNI hardware.
 * Softmax is dropped for labels: argmax(softmax(z)) = argmax(z). The input scale is folded into the first
 * layer: (x·s)·W = x·(s·W).
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import { firstLayerInput, MLP, type StudentArchitecture } from './architecture.ts';
import type { StudentLayer, StudentSignature, TrainedStudent } from './types.ts';

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
  /** Default the MLP. One whose layer 0 reads a gather (firstLayerInput's patchIndex, conv's patches): Gather → Reshape → layer 0 → Reshape. */
  architecture?: StudentArchitecture;
  /**
   * int8 only: each layer's input range [min, max] over the training inputs (calibrate.ts). With
   * them every activation is quantised with a fixed scale and zero point (QuantizeLinear), so a row's
   * output depends on that row alone; without them (students saved before calibration) the scale is
   * the batch's own range (DynamicQuantizeLinear), and a label can change with the rows batched beside it.
   */
  activationRanges?: ReadonlyArray<readonly [number, number]>;
}

/**
 * uint8 affine quantisation of [min, max], as DynamicQuantizeLinear derives it from a tensor's range:
 * the range is widened to hold 0 (so 0 is exact), scale = (hi − lo)/255, zero point = round(−lo/scale).
 */
export function uint8Quantisation(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const scale = Math.fround((hi - lo) / 255);
  if (!(scale > 0) || !Number.isFinite(scale)) return { scale: 1, zeroPoint: 0 };
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

function uint8Init(name: string, value: number): OnnxNs.TensorProto {
  return onnx.TensorProto.create({ name, dataType: T.UINT8, dims: [], rawData: Uint8Array.of(value) });
}

function int64Init(name: string, dims: number[], data: ArrayLike<number>): OnnxNs.TensorProto {
  const b = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) b[i] = BigInt(data[i]!);
  return onnx.TensorProto.create({ name, dataType: T.INT64, dims, rawData: new Uint8Array(b.buffer) });
}

/** The graph of a trained student: its architecture and calibration come with it. */
export function studentGraph(
  student: Pick<TrainedStudent, 'signature' | 'layers' | 'architecture' | 'activationRanges'>,
  opts: Omit<BuildOnnxOptions, 'architecture' | 'activationRanges'> = {},
): { bytes: Uint8Array; output: string } {
  return buildStudentOnnx(student.signature, student.layers, {
    ...opts,
    ...(student.architecture ? { architecture: student.architecture } : {}),
    ...(student.activationRanges ? { activationRanges: student.activationRanges } : {}),
  });
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
  const ranges = precision === 'int8' ? opts.activationRanges : undefined;
  if (ranges && ranges.length !== layers.length) throw new RangeError(`${ranges.length} activation ranges for ${layers.length} layers`);
  /** Calibrated int8 only: the layer input as uint8, with the names of its scale and zero point. */
  let hq: { name: string; scale: number; scaleName: string; zeroPoint: string } | undefined;
  const quantiseInput = (l: number, from: string): NonNullable<typeof hq> => {
    const { scale, zeroPoint } = uint8Quantisation(ranges![l]![0], ranges![l]![1]);
    initializer.push(floatInit(`Hs${l}`, [], Float32Array.of(scale)), uint8Init(`Hz${l}`, zeroPoint));
    node.push(nodeOf('QuantizeLinear', [from, `Hs${l}`, `Hz${l}`], [`Hq${l}`]));
    return { name: `Hq${l}`, scale, scaleName: `Hs${l}`, zeroPoint: `Hz${l}` };
  };
  layers.forEach((layer, l) => {
    let w = layer.weight;
    if (l === 0 && signature.normalisation.scale !== 1) {
      const s = signature.normalisation.scale;
      w = w.map((v) => v * s);
    }
    const z = `Z${l}`;
    const last = l === layers.length - 1;
    initializer.push(floatInit(`B${l}`, [layer.outDim], layer.bias));
    if (precision === 'fp32') {
      initializer.push(floatInit(`W${l}`, [layer.inDim, layer.outDim], w));
      node.push(nodeOf('Gemm', [h, `W${l}`, `B${l}`], [z]));
    } else if (ranges) {
      const { q, scales } = quantizeColumns(w, layer.inDim, layer.outDim);
      initializer.push(int8Init(`Wq${l}`, [layer.inDim, layer.outDim], q));
      if (l === 0 && u8Input) {
        // The pixels are the quantised input itself: scale 1, zero point 0 (1/255 is folded into Wq's scales).
        if (!last) initializer.push(floatInit('Hs0', [], Float32Array.of(1)));
        initializer.push(uint8Init('Hz0', 0));
        hq = { name: h, scale: 1, scaleName: 'Hs0', zeroPoint: 'Hz0' };
      } else if (!hq) {
        hq = quantiseInput(l, h);
      }
      if (!last) {
        // QDQ: DequantizeLinear(x), DequantizeLinear(W) → MatMul → Add → Relu → QuantizeLinear, the standard
        // form of a statically quantised layer, which onnxruntime runs as one QGemm (uint8 in and out).
        initializer.push(floatInit(`Ws${l}`, [layer.outDim], scales), int8Init(`Wz${l}`, [layer.outDim], new Int8Array(layer.outDim)));
        node.push(nodeOf('DequantizeLinear', [hq.name, hq.scaleName, hq.zeroPoint], [`Dx${l}`]));
        node.push(nodeOf('DequantizeLinear', [`Wq${l}`, `Ws${l}`, `Wz${l}`], [`Dw${l}`], [intAttr('axis', 1)]));
        node.push(nodeOf('MatMul', [`Dx${l}`, `Dw${l}`], [`P${l}`]), nodeOf('Add', [`P${l}`, `B${l}`], [z]));
      } else {
        // The output layer stays in integer arithmetic to float: MatMulInteger → Cast → Mul(s_x·s_w) → Add b.
        initializer.push(int8Init(`Wz${l}`, [], new Int8Array(1)), floatInit(`S${l}`, [layer.outDim], scales.map((v) => v * hq!.scale)));
        node.push(nodeOf('MatMulInteger', [hq.name, `Wq${l}`, hq.zeroPoint, `Wz${l}`], [`I${l}`]));
        node.push(nodeOf('Cast', [`I${l}`], [`F${l}`], [intAttr('to', T.FLOAT)]));
        node.push(nodeOf('Mul', [`F${l}`, `S${l}`], [`M${l}`]), nodeOf('Add', [`M${l}`, `B${l}`], [z]));
      }
      hq = undefined;
    } else {
      // Uncalibrated (students saved before calibration): the graph they were published with.
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
    // Calibrated int8: the next layer's input is quantised here, so its QDQ group closes with this Q.
    if (ranges && !last) hq = quantiseInput(l + 1, h);
    if (l === 0 && first.patchIndex) {
      // [n·P, filters] → [n, P·filters], position-major (the tfjs Flatten order); on the uint8 codes when quantised.
      initializer.push(int64Init('MapShape', [2], [-1, first.positions * layer.outDim]));
      if (hq) {
        node.push(nodeOf('Reshape', [hq.name, 'MapShape'], ['Hmap']));
        hq = { ...hq, name: 'Hmap' };
      } else {
        node.push(nodeOf('Reshape', [h, 'MapShape'], ['Hmap']));
        h = 'Hmap';
      }
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
