/**
 * What one student architecture kind implements (architecture-registry.ts lists them). Everything a
 * kind does differently from another is here, so that training (train.ts), the tfjs forward pass
 * (tfjs-forward.ts, calibrate.ts), the ONNX graph (onnx-student.ts), the tfjs layers model
 * (layers-model.ts), the files (student-files.ts) and the CLI read a kind through these functions and
 * never name one. Type-only imports of tfjs: `@cmbn/distill/architecture` stays zod only.
 */
import type { layers, Tensor } from '@tensorflow/tfjs';
import type { Tf } from './backend.ts';
import type { StudentLayer } from './types.ts';

/** How the first dense layer sees one input row. */
export interface FirstLayerInput {
  /** Columns of layer 0's input (d for mlp, kernel² for conv). */
  inDim: number;
  /** Rows of layer 0 per input row (1 for mlp, P for conv); its n·positions × outDim output is read as n × positions·outDim. */
  positions: number;
  /**
   * Layer 0 reads the row's values at these indices (positions·inDim of them, position-major), not
   * the row itself: conv's im2col patches. Absent: the row as it is. Training and the tfjs forward
   * pass gather with it, the ONNX graph is Gather → Reshape → layer 0 → Reshape, and int8
   * calibration measures layer 0's input range over these columns.
   */
  patchIndex?: Int32Array;
}

/** The tfjs layers that stand for a kind's leading layers in its layers model, and their weights. */
export interface TfjsHead {
  /** Added first, in order; when there are any, the first of them takes the input shape. */
  layers: layers.Layer[];
  /** The leading layers' weights in the head's own layout (called inside tf.tidy). */
  weights(): Tensor[];
}

export interface ArchitectureImpl<A extends { kind: string }> {
  /** What `--student-arch <kind>` alone trains; the fields that the positional parameters leave out. */
  readonly defaults: A;
  /**
   * A's numeric fields in the order of its positional form, `--student-arch conv:filters,kernel,stride`
   * (architectureFromParams); empty for a kind without fields.
   */
  readonly params: readonly Exclude<keyof A, 'kind'>[];
  /** Throws a RangeError naming the problem when this architecture cannot read rows of d columns. */
  check(a: A, d: number): void;
  firstLayer(a: A, d: number): FirstLayerInput;
  /**
   * The widths of the layers this kind puts before spec.hidden (conv: its convolution, `filters`
   * wide): the student's layers are these, then the hidden ones, then the output layer, each one
   * StudentLayer. So the hidden widths read back from a student are layers.slice(leading, -1).
   */
  leadingWidths(a: A): number[];
  /** The tfjs layers model's part for the leading layers (`lead`, leadingWidths(a).length of them). */
  tfjsHead(tf: Tf, a: A, inputDims: number, lead: readonly StudentLayer[]): TfjsHead;
}
