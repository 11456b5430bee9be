import type { SessionConfigEntries } from '../onnx/index.ts';
import type { CalibrationMethod } from './calibrate.ts';
import type { NodeMode } from './ops.ts';

/** Whole-model batch-1 latency (ms, p50) with one node switched to each mode, rest of the plan fixed. */
export interface NodeMeasurement {
  int8?: number;
  'weight-only'?: number;
  fp32?: number;
}

export interface NodeReport {
  name: string;
  op: string;
  mode: NodeMode;
  reason: string;
  measuredMs?: NodeMeasurement;
}

export interface CandidateReport {
  label: 'fp32' | 'weight-only' | 'int8-mixed' | 'int8';
  bytes: number;
  latencyB1Ms: number;
  /** Top-1 agreement with the fp32 model on the calibration images. */
  agreement: number;
  sessionOptions: SessionConfigEntries;
  chosen: boolean;
  /** Why it was not eligible, when it was not. */
  rejected?: string;
}

export interface QuantizationReport {
  format: 'QDQ';
  weights: 'int8 symmetric per-channel' | 'int8 symmetric per-tensor';
  activations: 'int8 asymmetric per-tensor';
  opset: number;
  calibration: { method: CalibrationMethod; percentile?: number; images: number };
  preparation: { foldedBatchNorms: string[]; constantsToInitializers: number };
  nodes: NodeReport[];
  /** Nodes that run in fp32 in the chosen plan, and why. */
  keptFp32: { name: string; op: string; reason: string }[];
  candidates: CandidateReport[];
  chosen: CandidateReport['label'];
  sizes: { fp32Bytes: number; quantizedBytes: number; ratio: number };
  latencyB1: { fp32Ms: number; quantizedMs: number; ratio: number };
  /**
   * onnxruntime session config entries the quantized model must be opened with, as measured. The
   * model manifest carries them to the agent and the web SDK.
   */
  sessionOptions: SessionConfigEntries;
}
