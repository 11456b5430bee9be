// A small labelled image folder (ImageFolder layout, `<dir>/<class>/<n>.png`) cut from the MNIST
// train split: a champion trained on it learns in seconds, and its lineage names a dataset the
// retraining loop can load again, as it would a customer's folder.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadMnistDataset } from '@edgeloop/cloud';
import sharp from 'sharp';

export async function writeDigitFolder(dir: string, perClass: number): Promise<string> {
  const digits = loadMnistDataset();
  const { train } = digits;
  const pixels = 28 * 28;
  const written = new Array<number>(digits.classes.length).fill(0);
  for (const name of digits.classes) await mkdir(join(dir, name), { recursive: true });
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < train.count; i++) {
    const label = train.labels[i] as number;
    if ((written[label] as number) >= perClass) continue;
    const n = written[label] as number;
    written[label] = n + 1;
    const grey = Buffer.from(
      Array.from(train.images.subarray(i * pixels, (i + 1) * pixels), (v) => Math.round(v * 255)),
    );
    const file = join(dir, digits.classes[label] as string, `${n}.png`);
    writes.push(
      sharp(grey, { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(file),
    );
    if (writes.length >= 64) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  return dir;
}
