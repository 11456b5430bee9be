// The datasets module: versioned, content-hashed labelled images with deterministic splits, from
// MNIST, ImageFolder directories or fleet samples, plus corruptions for drift simulation.
export {
  CORRUPTION_KINDS,
  CORRUPTIONS,
  type CorruptImagesOptions,
  type Corruption,
  type CorruptionKind,
  corruptImages,
} from './corruptions.ts';
export {
  buildDataset,
  concatSplits,
  type Dataset,
  type DatasetSource,
  datasetDigest,
  datasetVersion,
  emptySplit,
  gatherImages,
  gaussian,
  type ImageShape,
  imageSize,
  type LabelledImages,
  MAX_CLASSES,
  mulberry32,
  type Rng,
  SPLIT_NAMES,
  type SplitName,
  type SplitPlan,
  shuffleInPlace,
  splitPlanFromFractions,
  stratifiedSplit,
} from './dataset.ts';
export { DATASET_FORMAT, type DatasetManifest, readDatasetDir, writeDatasetDir } from './dataset-files.ts';
export { DatasetError, type DatasetErrorCode } from './errors.ts';
export {
  contributingDevices,
  datasetFromSamples,
  type FleetSample,
  type MergeOptions,
  mergeDatasets,
} from './fleet-samples.ts';
export { type ImageFolderOptions, loadImageFolder } from './image-folder.ts';
export { loadMnistDataset, MNIST_CLASSES, MNIST_SHAPE, MNIST_SPLIT } from './mnist.ts';
