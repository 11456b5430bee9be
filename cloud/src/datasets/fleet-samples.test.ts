import { describe, expect, it } from 'vitest';
import { buildDataset, type Dataset, type LabelledImages } from './dataset.ts';
import { contributingDevices, datasetFromSamples, type FleetSample, mergeDatasets } from './fleet-samples.ts';

const shape = { channels: 1, height: 2, width: 2 };

function filled(count: number, value: number, label: number): LabelledImages {
  return {
    count,
    images: new Float32Array(count * 4).fill(value),
    labels: new Uint8Array(count).fill(label),
  };
}

const base: Dataset = buildDataset({
  name: 'base',
  classes: ['no', 'yes'],
  shape,
  train: filled(6, 0.1, 0),
  validation: filled(2, 0.2, 1),
  test: filled(3, 0.3, 0),
  source: { kind: 'mnist' },
});

function sample(deviceId: string, value: number, label: number, window?: number): FleetSample {
  return { deviceId, image: new Float32Array(4).fill(value), label, window };
}

const samples = [
  sample('cam-b', 0.5, 1, 2),
  sample('cam-a', 0.6, 0, 1),
  sample('cam-b', 0.7, 1, 1),
  sample('cam-a', 0.8, 1),
];

describe('datasetFromSamples', () => {
  it('puts the samples in train with the base classes and shape and records the devices', () => {
    const fleet = datasetFromSamples(samples, base);
    expect(fleet.classes).toEqual(base.classes);
    expect(fleet.shape).toEqual(base.shape);
    expect(fleet.name).toBe('base-fleet');
    expect(fleet.train.count).toBe(4);
    expect(fleet.validation.count).toBe(0);
    expect(fleet.test.count).toBe(0);
    expect(fleet.source).toEqual({ kind: 'fleet-samples', devices: ['cam-a', 'cam-b'] });
    // Canonical order: device, then window (unknown first), then arrival.
    expect([...fleet.train.images.filter((_, i) => i % 4 === 0)].map((v) => Math.round(v * 10))).toEqual([
      8, 6, 7, 5,
    ]);
    expect([...fleet.train.labels]).toEqual([1, 0, 1, 1]);
  });

  it('gives the same version whatever order the samples arrived in', () => {
    const reversed = datasetFromSamples([...samples].reverse(), base);
    expect(reversed.version).toBe(datasetFromSamples(samples, base).version);
  });

  it('names the device and index of a bad sample', () => {
    const wrongSize = { ...sample('cam-x', 0.5, 0), image: new Float32Array(3) };
    expect(() => datasetFromSamples([samples[0] as FleetSample, wrongSize], base)).toThrow(
      expect.objectContaining({
        code: 'DATASET_INVALID_SAMPLE',
        message: expect.stringMatching(/sample 1 .*cam-x/),
      }),
    );
    expect(() => datasetFromSamples([sample('cam-y', 0.5, 2)], base)).toThrow(/label 2/);
    expect(() => datasetFromSamples([sample('cam-z', 1.5, 0)], base)).toThrow(/outside 0\.\.1/);
    expect(() => datasetFromSamples([sample('cam-z', Number.NaN, 0)], base)).toThrow(/NaN/);
    expect(() => datasetFromSamples([], base)).toThrow(expect.objectContaining({ code: 'DATASET_EMPTY' }));
  });
});

describe('mergeDatasets', () => {
  const fleet = datasetFromSamples(samples, base);

  it('adds the extra images to train, keeps test unchanged and records lineage', () => {
    const merged = mergeDatasets(base, fleet);
    expect(merged.train.count).toBe(10);
    expect(merged.validation.count).toBe(2);
    expect(merged.test).toEqual(base.test);
    expect(merged.train.images.subarray(0, 24)).toEqual(base.train.images);
    expect(merged.train.images.subarray(24)).toEqual(fleet.train.images);
    expect(merged.name).toBe('base');
    expect(merged.source).toEqual({
      kind: 'merged',
      parents: [base.version, fleet.version],
      devices: ['cam-a', 'cam-b'],
    });
    expect(merged.version).not.toBe(base.version);
  });

  it('moves a seeded share of the extra images into validation', () => {
    const merged = mergeDatasets(base, fleet, { validationShare: 0.5, seed: 3 });
    expect(merged.train.count).toBe(8);
    expect(merged.validation.count).toBe(4);
    expect(mergeDatasets(base, fleet, { validationShare: 0.5, seed: 3 }).version).toBe(merged.version);
    // Every extra image lands in exactly one of the two splits.
    const extraValues = [...merged.train.images.subarray(24), ...merged.validation.images.subarray(8)]
      .filter((_, i) => i % 4 === 0)
      .map((v) => Math.round(v * 10))
      .sort();
    expect(extraValues).toEqual([5, 6, 7, 8]);
  });

  it('carries devices through repeated merges', () => {
    const first = mergeDatasets(base, fleet);
    const later = datasetFromSamples([sample('cam-c', 0.4, 0)], base);
    const second = mergeDatasets(first, later);
    expect(contributingDevices(second)).toEqual(['cam-a', 'cam-b', 'cam-c']);
    expect(second.source).toMatchObject({ parents: [first.version, later.version] });
    expect(contributingDevices(base)).toEqual([]);
  });

  it('refuses datasets with other classes or shape', () => {
    const otherClasses = { ...fleet, classes: ['no', 'maybe'] };
    const otherShape = { ...fleet, shape: { channels: 1, height: 4, width: 1 } };
    expect(() => mergeDatasets(base, otherClasses)).toThrow(
      expect.objectContaining({
        code: 'DATASET_INCOMPATIBLE',
        message: expect.stringContaining('classes differ'),
      }),
    );
    expect(() => mergeDatasets(base, otherShape)).toThrow(
      expect.objectContaining({ code: 'DATASET_INCOMPATIBLE' }),
    );
    expect(() => mergeDatasets(base, fleet, { validationShare: 2 })).toThrow(/validationShare/);
  });
});
