// From a decoded sample batch to `fleet_samples` rows. Pure: the checks the zod schema cannot make
// (a tensor whose bytes do not match its shape, a window seq past the column's range) and the
// mapping, so the consumer only routes and writes.
import type { Sample, SampleBatch } from '@edgeloop/shared';
import type { fleetSamples } from '../db/schema.ts';

export type FleetSampleRow = typeof fleetSamples.$inferInsert;

/** `window_seq` is an int4 column. */
const MAX_WINDOW_SEQ = 2 ** 31 - 1;

/** Why a batch cannot be stored as it is, with a stable dead-letter code. */
export interface SampleRefusal {
  code: 'TENSOR_INVALID' | 'VALIDATION_FAILED';
  reason: string;
}

/** Bytes of a float32 tensor of `shape`. */
export function tensorByteLength(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1) * 4;
}

/**
 * Every sample's tensor must decode to exactly product(shape) float32s: a truncated or mislabelled
 * tensor would train on garbage. The first bad sample refuses the whole batch (a device bug, not
 * a transient), with the sample named.
 */
export function checkSampleBatch(batch: SampleBatch): SampleRefusal | undefined {
  for (const [i, sample] of batch.samples.entries()) {
    const bytes = Buffer.byteLength(sample.tensor.data, 'base64');
    const expected = tensorByteLength(sample.tensor.shape);
    if (bytes !== expected) {
      return {
        code: 'TENSOR_INVALID',
        reason: `samples.${i} (${sample.id}): tensor has ${bytes} bytes, shape [${sample.tensor.shape.join(', ')}] needs ${expected} (float32)`,
      };
    }
    if (sample.windowSeq !== undefined && sample.windowSeq > MAX_WINDOW_SEQ) {
      return {
        code: 'VALIDATION_FAILED',
        reason: `samples.${i} (${sample.id}): windowSeq ${sample.windowSeq} exceeds ${MAX_WINDOW_SEQ}`,
      };
    }
  }
  return undefined;
}

/** A checked sample as a row. A label sent by the device (simulator ground truth) is `device`'s. */
export function sampleRow(deviceId: string, sample: Sample, receivedAt: Date): FleetSampleRow {
  const labelled = sample.label !== undefined;
  return {
    deviceId,
    sampleId: sample.id,
    modelName: sample.model.name,
    modelVersion: Number(sample.model.version),
    variant: sample.model.variant,
    capturedAt: new Date(sample.capturedAt),
    receivedAt,
    windowSeq: sample.windowSeq ?? null,
    reason: sample.reason,
    predictedClass: sample.prediction.classIndex,
    confidence: sample.prediction.confidence,
    shape: sample.tensor.shape,
    tensor: Buffer.from(sample.tensor.data, 'base64'),
    label: sample.label ?? null,
    labelSource: labelled ? 'device' : null,
    labelledBy: labelled ? `device:${deviceId}` : null,
    labelledAt: labelled ? receivedAt : null,
  };
}
