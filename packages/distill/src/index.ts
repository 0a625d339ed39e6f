export type { StudentTarget, StudentSpec } from './spec.ts';
export type { StudentSpecRequest } from './spec.ts';
export { DEFAULT_STUDENT_SPEC, studentSpecFromRequest, validateSpec } from './spec.ts';
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
export { activationRanges } from './calibrate.ts';
export { saveStudent, loadStudent, readStudentMeta, isStudentDir, checkStudentOnnxFiles, STUDENT_FORMAT, STUDENT_VERSION, ZStudentJson, ZStudentSignature } from './student-files.ts';
export type { TStudentJson } from './student-files.ts';
export { ONNX_FILES, ONNX_SIGNATURE_KEY, ZOnnxSignature, onnxSignature, studentOnnxFiles } from './onnx-files.ts';
export type { TOnnxSignature } from './onnx-files.ts';
export type { PredictorOptions, StudentPrediction, StudentPredictor } from './predictor.ts';
export { createStudentPredictor, DEFAULT_PREDICT_PRECISION } from './predictor.ts';
export { buildStudentOnnx, quantizeColumns, studentGraph, uint8Quantisation } from './onnx-student.ts';
export type { BuildOnnxOptions, StudentPrecision } from './onnx-student.ts';
export type { ArchitectureKind, ArchitectureText, FirstLayerInput, StudentArchitecture, StudentTrainer } from './architecture.ts';
export {
  ARCHITECTURE_KINDS,
  architectureFromParams,
  architectureParams,
  architectureTextUsage,
  checkArchitecture,
  DEFAULT_CONV,
  defaultArchitecture,
  firstLayerInput,
  hiddenWidths,
  leadingWidths,
  MLP,
  parseArchitectureText,
  storedArchitecture,
  STUDENT_TRAINERS,
  trainerProblem,
  ZStudentArchitecture,
} from './architecture.ts';
export { handSetStudent, mnistShapedStudent, tinyStudent } from './tiny-student.ts';
