// The registry on every driver (PGlite always, PostgreSQL when DATABASE_URL is set).
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeloopError, type ModelManifest, type Signature, signedManifestSchema } from '@edgeloop/shared';
import { count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.ts';
import { toEdgeloopError } from '../db/errors.ts';
import { artifacts, events, modelAliases, modelVariants, modelVersions } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { FsArtifactStore, sha256Hex } from './artifact-store.ts';
import { ModelRegistry } from './model-registry.ts';
import { openModelRegistry } from './open-registry.ts';
import { type ManifestSigner, SigningKeys, verifyManifest } from './signing-keys.ts';
import { CLASSES, registration, tinyModelBytes } from './test-fixtures.ts';

async function rejection(promise: Promise<unknown>): Promise<EdgeloopError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(EdgeloopError);
  return error as EdgeloopError;
}

describe.each(testDatabases())('model registry on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let store: FsArtifactStore;
  let keys: SigningKeys;
  let registry: ModelRegistry;

  beforeAll(async () => {
    database = await open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-registry-'));
    store = new FsArtifactStore(join(dir, 'artifacts'));
    keys = SigningKeys.generate();
    registry = new ModelRegistry({ db: database.db, store, signer: keys });
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Everything a registration of `model` could have written. */
  async function footprint(model: string) {
    const { db } = database;
    const n = async (q: Promise<{ n: number }[]>) => (await q)[0]?.n ?? 0;
    return {
      versions: await n(
        db.select({ n: count() }).from(modelVersions).where(eq(modelVersions.modelName, model)),
      ),
      variants: await n(
        db.select({ n: count() }).from(modelVariants).where(eq(modelVariants.modelName, model)),
      ),
      aliases: await n(db.select({ n: count() }).from(modelAliases).where(eq(modelAliases.modelName, model))),
      events: await n(
        db
          .select({ n: count() })
          .from(events)
          .where(eq(events.subject, `model:${model}`)),
      ),
      artifactRows: await n(db.select({ n: count() }).from(artifacts)),
    };
  }

  async function storedFiles(): Promise<number> {
    const fanout = await readdir(store.root).catch(() => [] as string[]);
    let files = 0;
    for (const d of fanout.filter((f) => f !== 'tmp')) files += (await readdir(join(store.root, d))).length;
    return files;
  }

  it('registers a version with signed variants that verify after a round trip through the database', async () => {
    await registry.createModel({ name: 'animals', classes: CLASSES, description: 'three animals' });
    const registered = await registry.registerVersion(
      registration('animals', 1, { aliases: ['challenger'] }),
    );
    expect(registered.version).toBe(1);
    expect(registered.aliases).toEqual(['challenger']);

    const version = await registry.getVersion('animals', 1);
    expect(version).toEqual(registered);
    expect(version.lineage.datasetHash).toBe('d'.repeat(64));
    expect(version.variants.map((v) => v.variant)).toEqual(['fp32', 'int8']);
    for (const variant of version.variants) {
      const { manifest, signature } = signedManifestSchema.parse({
        manifest: variant.manifest,
        signature: variant.signature,
      });
      expect(manifest).toEqual(variant.manifest); // stored complete: parsing adds nothing
      expect(manifest).toMatchObject({
        name: 'animals',
        version: '1',
        variant: variant.variant,
        format: 'onnx',
        opset: 13,
      });
      expect(manifest.classes).toEqual(CLASSES);
      expect(manifest.preprocessing.scale).toBe(1 / 255);
      expect(manifest.size).toBe(variant.size);
      expect(signature.keyId).toBe(keys.keyId);
      expect(verifyManifest(variant.manifest, variant.signature, keys.publicKeyRaw)).toBe(true);
      expect(
        verifyManifest({ ...variant.manifest, size: variant.size + 1 }, variant.signature, keys.publicKeyRaw),
      ).toBe(false);
      // The artifact is in the store under the manifest's sha256, and hashes to it.
      expect(sha256Hex(await store.get(manifest.sha256))).toBe(manifest.sha256);
    }
    expect(await registry.getVariant('animals', 1, 'int8')).toEqual(version.variants[1]);
    expect(version.variants[1]?.quantizationReport).toEqual({ method: 'qdq', agreement: 0.998 });
    expect((await registry.resolveAlias('animals', 'challenger')).version).toBe(1);
  });

  it('assigns increasing, gap-free version numbers under concurrent registrations', async () => {
    await registry.createModel({ name: 'busy', classes: CLASSES });
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((seed) =>
        registry.registerVersion(registration('busy', 100 + seed, {}, ['fp32'])),
      ),
    );
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const model = await registry.getModel('busy');
    expect(model.latestVersion).toBe(6);
    expect(model.versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await registry.latestVersion('busy')).version).toBe(6);
  });

  it('refuses a corrupted model before anything is stored or written', async () => {
    await registry.createModel({ name: 'fragile', classes: CLASSES });
    await registry.registerVersion(registration('fragile', 200, { aliases: ['champion'] }));
    const before = await footprint('fragile');
    const filesBefore = await storedFiles();

    const input = registration('fragile', 201, { aliases: ['champion'] });
    const good = input.variants[0]!.bytes;
    for (const bytes of [
      good.slice(0, Math.floor(good.length / 2)),
      new Uint8Array([1, 2, 3]),
      good.map((b) => b ^ 0x5a),
    ]) {
      const error = await rejection(
        registry.registerVersion({
          ...input,
          variants: [{ ...input.variants[0]!, bytes }, input.variants[1]!],
        }),
      );
      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toMatch(/fragile fp32 artifact/);
    }
    // A manifest naming an input the model does not have is refused the same way.
    const renamed = {
      ...input.variants[1]!,
      manifestFields: {
        ...input.variants[1]!.manifestFields,
        input: { name: 'pixels', shape: [1, 1, 2, 2], dtype: 'float32' as const },
      },
    };
    expect(
      (await rejection(registry.registerVersion({ ...input, variants: [input.variants[0]!, renamed] })))
        .message,
    ).toMatch(/input 'pixels' is not an input of the model/);

    expect(await footprint('fragile')).toEqual(before);
    expect(await storedFiles()).toBe(filesBefore);
    expect((await registry.resolveAlias('fragile', 'champion')).version).toBe(1);
  });

  it('rolls everything back when a step inside the transaction fails, and the version number is not consumed', async () => {
    await registry.createModel({ name: 'atomic', classes: CLASSES });
    // A signer that fails on the second variant: the version row and the first variant are already
    // written in the transaction by then.
    const failingSigner: ManifestSigner = {
      keyId: keys.keyId,
      async signManifest(manifest: ModelManifest): Promise<Signature> {
        if (manifest.variant === 'int8') throw new EdgeloopError('UNAVAILABLE', 'signer offline');
        return keys.signManifest(manifest);
      },
    };
    const flaky = new ModelRegistry({ db: database.db, store, signer: failingSigner });
    const before = await footprint('atomic');
    const error = await rejection(
      flaky.registerVersion(registration('atomic', 300, { aliases: ['challenger'] })),
    );
    expect(error.code).toBe('UNAVAILABLE');
    expect(await footprint('atomic')).toEqual(before);
    await expect(registry.resolveAlias('atomic', 'challenger')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    expect((await registry.registerVersion(registration('atomic', 300))).version).toBe(1);
  });

  it('stores identical artifacts once: one file, one artifact row, two variants', async () => {
    await registry.createModel({ name: 'dedup', classes: CLASSES });
    const bytes = tinyModelBytes(4242);
    const input = registration('dedup', 400, {}, ['fp32']);
    const withBytes = { ...input, variants: [{ ...input.variants[0]!, bytes }] };
    const rowsBefore = (await footprint('dedup')).artifactRows;
    const filesBefore = await storedFiles();
    const [v1, v2] = [await registry.registerVersion(withBytes), await registry.registerVersion(withBytes)];
    expect(v2.version).toBe(v1.version + 1);
    expect(v1.variants[0]?.sha256).toBe(v2.variants[0]?.sha256);
    expect(v1.variants[0]?.signature).not.toEqual(v2.variants[0]?.signature); // different manifests
    expect((await footprint('dedup')).artifactRows).toBe(rowsBefore + 1);
    expect(await storedFiles()).toBe(filesBefore + 1);
  });

  it('moves aliases, logs every move, and refuses dangling or malformed aliases', async () => {
    await registry.createModel({ name: 'aliased', classes: CLASSES });
    await registry.registerVersion(registration('aliased', 500, {}, ['fp32']));
    await registry.registerVersion(registration('aliased', 501, {}, ['fp32']));
    const first = await registry.setAlias('aliased', 'champion', 1, 'alice');
    expect(first).toMatchObject({ version: 1, previousVersion: null, actor: 'alice' });
    const moved = await registry.setAlias('aliased', 'champion', 2, 'rollout:r1');
    expect(moved).toMatchObject({ version: 2, previousVersion: 1 });
    await registry.setAlias('aliased', 'canary-eu', 1);
    expect((await registry.resolveAlias('aliased', 'champion')).version).toBe(2);
    expect((await registry.getVersion('aliased', 1)).aliases).toEqual(['canary-eu']);

    expect((await rejection(registry.setAlias('aliased', 'champion', 9))).code).toBe('NOT_FOUND');
    expect((await rejection(registry.setAlias('aliased', 'Champion!', 1))).code).toBe('VALIDATION_FAILED');
    expect((await rejection(registry.setAlias('missing-model', 'champion', 1))).code).toBe('NOT_FOUND');
    expect((await registry.resolveAlias('aliased', 'champion')).version).toBe(2);

    const removed = await registry.removeAlias('aliased', 'canary-eu');
    expect(removed).toMatchObject({ version: null, previousVersion: 1 });
    expect((await rejection(registry.removeAlias('aliased', 'canary-eu'))).code).toBe('NOT_FOUND');

    const history = await registry.aliasHistory('aliased', 'champion');
    expect(history.map((h) => [h.version, h.previousVersion, h.actor])).toEqual([
      [1, null, 'alice'],
      [2, 1, 'rollout:r1'],
    ]);
    expect((await registry.aliasHistory('aliased')).map((h) => h.alias)).toEqual([
      'champion',
      'champion',
      'canary-eu',
      'canary-eu',
    ]);
    const summary = (await registry.listModels()).find((m) => m.name === 'aliased');
    expect(summary).toMatchObject({ latestVersion: 2, aliases: { champion: 2 } });
  });

  it('refuses to change a registered version or variant (IMMUTABLE), whoever tries', async () => {
    await registry.createModel({ name: 'frozen', classes: CLASSES });
    await registry.registerVersion(registration('frozen', 600, {}, ['fp32']));
    const { db } = database;
    const attempts = [
      db
        .update(modelVersions)
        .set({ metrics: { accuracy: 1 } })
        .where(eq(modelVersions.modelName, 'frozen')),
      db
        .update(modelVariants)
        .set({ manifest: sql`jsonb_set(${modelVariants.manifest}, '{sha256}', '"00"')` })
        .where(eq(modelVariants.modelName, 'frozen')),
      db.delete(modelVariants).where(eq(modelVariants.modelName, 'frozen')),
    ];
    for (const attempt of attempts) {
      const error = await attempt.then(
        () => undefined,
        (e: unknown) => toEdgeloopError(e, 'tampering'),
      );
      expect(error?.code).toBe('IMMUTABLE');
    }
    const variant = await registry.getVariant('frozen', 1, 'fp32');
    expect(verifyManifest(variant.manifest, variant.signature, keys.publicKeyRaw)).toBe(true);
  });

  it('opens with the data directory: the same key every start, artifacts under <dataDir>/artifacts', async () => {
    const dataDir = join(dir, 'cloud-data');
    const first = await openModelRegistry({ db: database.db, dataDir });
    const second = await openModelRegistry({ db: database.db, dataDir });
    expect(second.keys.keyId).toBe(first.keys.keyId);
    expect(first.store.root).toBe(join(dataDir, 'artifacts'));
    await first.registry.createModel({ name: 'wired', classes: CLASSES });
    const registered = await first.registry.registerVersion(registration('wired', 800, {}, ['fp32']));
    const variant = await second.registry.getVariant('wired', registered.version, 'fp32');
    expect(verifyManifest(variant.manifest, variant.signature, second.keys.publicKeyRaw)).toBe(true);
    expect(await second.store.has(variant.sha256)).toBe(true);
  });

  it('sweeps blobs no registration references once they are old enough, and nothing else', async () => {
    await registry.createModel({ name: 'swept', classes: CLASSES });
    const kept = await registry.registerVersion(registration('swept', 900, {}, ['fp32']));
    const keptSha = kept.variants[0]!.sha256;
    const oldOrphan = await store.put(tinyModelBytes(9001));
    const freshOrphan = await store.put(tinyModelBytes(9002));
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (const sha of [keptSha, oldOrphan.sha256]) await utimes(store.pathOf(sha), twoHoursAgo, twoHoursAgo);

    const { deleted } = await registry.sweepUnreferencedArtifacts({ minAgeMs: 3_600_000 });
    expect(deleted).toContain(oldOrphan.sha256);
    expect(deleted).not.toContain(keptSha);
    expect(deleted).not.toContain(freshOrphan.sha256);
    expect(await store.has(oldOrphan.sha256)).toBe(false);
    expect(await store.has(keptSha)).toBe(true);
    expect(await store.has(freshOrphan.sha256)).toBe(true);

    // Storing an old orphan again makes it young: a registration in flight keeps its bytes.
    await utimes(store.pathOf(freshOrphan.sha256), twoHoursAgo, twoHoursAgo);
    await store.put(tinyModelBytes(9002));
    expect((await registry.sweepUnreferencedArtifacts({ minAgeMs: 3_600_000 })).deleted).not.toContain(
      freshOrphan.sha256,
    );
  });

  it('answers bad requests with stable codes', async () => {
    await registry.createModel({ name: 'strict', classes: CLASSES });
    expect((await rejection(registry.createModel({ name: 'strict', classes: CLASSES }))).code).toBe(
      'CONFLICT',
    );
    expect((await rejection(registry.createModel({ name: 'Bad Name', classes: CLASSES }))).code).toBe(
      'VALIDATION_FAILED',
    );
    expect((await rejection(registry.registerVersion(registration('nobody', 700)))).code).toBe('NOT_FOUND');
    const parentless = registration('strict', 701, {
      lineage: { ...registration('strict', 701).lineage, parentVersion: 5 },
    });
    expect((await rejection(registry.registerVersion(parentless))).message).toMatch(/parentVersion 5/);
    const input = registration('strict', 702, {}, ['fp32']);
    const variant = input.variants[0]!;
    const wrongClasses = {
      ...input,
      variants: [{ ...variant, manifestFields: { ...variant.manifestFields, classes: ['a', 'b'] } }],
    };
    expect((await rejection(registry.registerVersion(wrongClasses))).code).toBe('VALIDATION_FAILED');
    const twice = registration('strict', 703, {}, ['fp32', 'fp32']);
    expect((await rejection(registry.registerVersion(twice))).message).toMatch(
      /each variant may appear once/,
    );
    expect((await rejection(registry.getVersion('strict', 1))).code).toBe('NOT_FOUND');
    expect((await rejection(registry.getModel('nobody'))).code).toBe('NOT_FOUND');
    expect(await footprint('strict')).toMatchObject({ versions: 0, variants: 0, aliases: 0 });
  });
});
