import { describe, expect, it } from 'vitest';
import {
  buildDataset,
  concatSplits,
  type Dataset,
  datasetVersion,
  emptySplit,
  float32LittleEndian,
  gatherImages,
  type ImageShape,
  type LabelledImages,
} from './dataset.ts';

const shape: ImageShape = { channels: 1, height: 2, width: 2 };

function split(values: number[][], labels: number[]): LabelledImages {
  return { count: labels.length, images: Float32Array.from(values.flat()), labels: Uint8Array.from(labels) };
}

function tiny(): Omit<Dataset, 'version'> {
  return {
    name: 'tiny',
    classes: ['a', 'b'],
    shape,
    train: split(
      [
        [0, 0.1, 0.2, 0.3],
        [1, 0.9, 0.8, 0.7],
      ],
      [0, 1],
    ),
    validation: split([[0.5, 0.5, 0.5, 0.5]], [1]),
    test: split([[0.2, 0.2, 0.2, 0.2]], [0]),
    source: { kind: 'mnist' },
  };
}

describe('datasetVersion', () => {
  it('is 16 hex chars and stable for equal content', () => {
    const version = datasetVersion(tiny());
    expect(version).toMatch(/^[0-9a-f]{16}$/);
    expect(datasetVersion(tiny())).toBe(version);
  });

  it('ignores name and source, which do not change what a model learns', () => {
    const renamed = { ...tiny(), name: 'other', source: { kind: 'image-folder' as const, path: '/x' } };
    expect(datasetVersion(renamed)).toBe(datasetVersion(tiny()));
  });

  it('changes with one pixel, one label, the classes, the shape, or an image moving between splits', () => {
    const base = datasetVersion(tiny());
    const pixel = tiny();
    pixel.train.images[3] = 0.31;
    const label = tiny();
    label.test.labels[0] = 1;
    const classes = { ...tiny(), classes: ['a', 'c'] };
    const reshaped = { ...tiny(), shape: { channels: 1, height: 4, width: 1 } };
    const moved = tiny();
    moved.validation = concatSplits([moved.validation, moved.test]);
    moved.test = emptySplit();
    const versions = [pixel, label, classes, reshaped, moved].map(datasetVersion);
    expect(new Set([base, ...versions]).size).toBe(6);
  });
});

describe('buildDataset', () => {
  it('stamps the content version', () => {
    const dataset = buildDataset(tiny());
    expect(dataset.version).toBe(datasetVersion(tiny()));
    expect(dataset.name).toBe('tiny');
  });
});

describe('split helpers', () => {
  it('gathers images and labels in the order of the indices', () => {
    const pool = tiny().train;
    const gathered = gatherImages(pool, [1, 0, 1], shape);
    expect(gathered.count).toBe(3);
    expect([...gathered.labels]).toEqual([1, 0, 1]);
    expect([...gathered.images.subarray(0, 4)]).toEqual([...pool.images.subarray(4, 8)]);
    expect([...gathered.images.subarray(4, 8)]).toEqual([...pool.images.subarray(0, 4)]);
  });

  it('concatenates splits in order', () => {
    const { train, validation } = tiny();
    const joined = concatSplits([train, emptySplit(), validation]);
    expect(joined.count).toBe(3);
    expect([...joined.labels]).toEqual([0, 1, 1]);
    expect(joined.images.length).toBe(12);
    expect(joined.images[8]).toBeCloseTo(0.5);
  });

  it('lays floats out little-endian', () => {
    const bytes = float32LittleEndian(Float32Array.of(1));
    expect([...bytes]).toEqual([0x00, 0x00, 0x80, 0x3f]);
  });
});
