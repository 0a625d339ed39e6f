export type { StudentTarget, StudentSpec } from './spec.ts';
export { DEFAULT_STUDENT_SPEC, validateSpec } from './spec.ts';
export type { TfBackendName } from './backend.ts';
export { loadTf } from './backend.ts';
export type {
  EpochReport,
  LayerActivation,
  Normalisation,
  StudentInput,
  StudentLayer,
  StudentSignature,
  StudentTargetData,
  TrainedStudent,
  TrainHistory,
} from './types.ts';
export type { TrainOptions } from './train.ts';
export { trainStudent } from './train.ts';
export { saveStudent, loadStudent, isStudentDir, STUDENT_FORMAT, STUDENT_VERSION } from './student-files.ts';
export type { PredictorOptions, StudentPrediction, StudentPredictor } from './predictor.ts';
export { createStudentPredictor } from './predictor.ts';
export { buildStudentOnnx } from './onnx-student.ts';
