// `edgeloop samples …` through the real dispatcher against the real API over HTTP.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture } from '../api/testing.ts';
import { type HttpServerHandle, startHttpServer } from '../cloud/http-server.ts';
import type { Database } from '../db/index.ts';
import { fleetSamples } from '../db/schema.ts';
import { type TestDatabase, testDatabases } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import { FsArtifactStore } from '../registry/artifact-store.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { SigningKeys } from '../registry/signing-keys.ts';
import { CLASSES, registration } from '../registry/test-fixtures.ts';
import { insertSamples, sampleRow } from '../samples/index.ts';
import { testSample } from '../samples/testing.ts';
import { runCli } from './testing.ts';

// The CLI is a client of the API: the embedded database is enough here.
const pglite = testDatabases()[0] as TestDatabase;

describe('edgeloop samples', () => {
  let database: Database;
  let dir: string;
  let http: HttpServerHandle;
  let env: Record<string, string | undefined>;
  const ids: Record<string, number> = {};

  const run = (argv: string[], token?: string) =>
    runCli(argv, { env: token ? { ...env, EDGELOOP_TOKEN: token } : env });

  beforeAll(async () => {
    database = await pglite.open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-samples-cli-'));
    const registry = new ModelRegistry({
      db: database.db,
      store: new FsArtifactStore(join(dir, 'artifacts')),
      signer: SigningKeys.generate(),
    });
    await registry.createModel({ name: 'digits', classes: CLASSES });
    await registry.registerVersion(registration('digits', 1));
    const at = new Date();
    await insertSamples(database.db, [
      sampleRow('cam-1', testSample('a'), at),
      sampleRow('cam-1', testSample('b', { label: 0 }), at),
      sampleRow('cam-2', testSample('c', { prediction: { classIndex: 2, confidence: 0.5 } }), at),
    ]);
    for (const row of await database.db.select().from(fleetSamples)) ids[row.sampleId] = row.id;
    const fx = await createApiFixture(database.db);
    http = await startHttpServer(fx.app.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });
    env = { EDGELOOP_CLOUD: http.url, EDGELOOP_TOKEN: fx.tokens.operator, viewer: fx.tokens.viewer };
  }, 60_000);

  afterAll(async () => {
    await http?.close(1000);
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists samples as a table and as JSON, filtered', async () => {
    const listed = await run(['samples', 'list', '--unlabelled']);
    expect(listed.code).toBe(0);
    expect(listed.out.split('\n')[0]).toMatch(
      /^ID\s+DEVICE\s+MODEL\s+REASON\s+PREDICTED\s+CONF\s+LABEL\s+SOURCE\s+CAPTURED$/,
    );
    expect(listed.out).toMatch(
      new RegExp(`${ids['c']}\\s+cam-2\\s+digits@1\\s+low-confidence\\s+2\\s+0\\.50\\s+-\\s+-`),
    );
    expect(listed.out).not.toMatch(new RegExp(`^${ids['b']}\\s+cam-1`, 'm'));
    expect(listed.out).toMatch(/2 samples/);
    const json = await run(['samples', 'list', '--device', 'cam-1', '--labelled', '--json']);
    expect(JSON.parse(json.out).items.map((s: { sampleId: string }) => s.sampleId)).toEqual(['b']);
    const both = await run(['samples', 'list', '--labelled', '--unlabelled']);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/exclude each other/);
  });

  it('shows a sample with its classes and saves the PNG preview', async () => {
    const png = join(dir, 'a.png');
    const shown = await run(['samples', 'show', String(ids['a']), '--png', png, '--scale', '3']);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/prediction:\s+1 \(dog\) at 0\.420/);
    expect(shown.out).toMatch(/classes:\s+0=cat 1=dog 2=fox/);
    const meta = await sharp(await readFile(png)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 6, 6]);
    const missing = await run(['samples', 'show', '999999']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/sample 999999 does not exist/);
  });

  it('labels by index, by class name and by confirming; refuses bad labels and viewers', async () => {
    const byName = await run(['samples', 'label', String(ids['a']), 'fox']);
    expect(byName.code).toBe(0);
    expect(byName.out).toMatch(new RegExp(`Sample ${ids['a']} labelled 2 \\(fox\\) by test-operator`));
    const confirmed = await run(['samples', 'label', String(ids['c']), '--confirm', '--json']);
    expect(JSON.parse(confirmed.out)).toMatchObject({ label: 2, labelSource: 'operator' });
    const byIndex = await run(['samples', 'label', String(ids['b']), '1']);
    expect(byIndex.out).toMatch(/labelled 1 \(dog\)/);

    const outOfRange = await run(['samples', 'label', String(ids['b']), '7']);
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.err).toMatch(/label 7 is out of range: digits version 1 has 3 classes/);
    const unknownName = await run(['samples', 'label', String(ids['b']), 'wolf']);
    expect(unknownName.code).toBe(2);
    expect(unknownName.err).toMatch(/"wolf" is not a class of this sample's model: cat, dog, fox/);
    const neither = await run(['samples', 'label', String(ids['b'])]);
    expect(neither.code).toBe(2);
    const viewer = await run(['samples', 'label', String(ids['b']), '0'], env['viewer']);
    expect(viewer.code).toBe(1);
    expect(viewer.err).toMatch(/needs the operator role/);
  });

  it('prints stats per model version', async () => {
    const stats = await run(['samples', 'stats', '--model', 'digits']);
    expect(stats.code).toBe(0);
    expect(stats.out).toMatch(/^MODEL\s+VERSION\s+TOTAL\s+LABELLED\s+UNLABELLED\s+BY DEVICE\s+BY OPERATOR/);
    const json = JSON.parse((await run(['samples', 'stats', '--json'])).out);
    const rows = await database.db.select().from(fleetSamples);
    expect(json.versions).toEqual([
      {
        model: 'digits',
        version: 1,
        total: rows.length,
        labelled: rows.filter((r) => r.label !== null).length,
        unlabelled: rows.filter((r) => r.label === null).length,
        labelledBy: {
          device: rows.filter((r) => r.labelSource === 'device').length,
          operator: rows.filter((r) => r.labelSource === 'operator').length,
        },
      },
    ]);
  });
});
