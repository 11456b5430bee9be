// `edgeloop drift baseline list|set|remove` through the real dispatcher, against the API on a real socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { models, modelVersions } from '../db/schema.ts';
import { type CliApi, runCli, startCliApi } from './testing.ts';

describe('edgeloop drift baseline', () => {
  let cli: CliApi;
  let database: Database;
  let env: Record<string, string>;

  beforeAll(async () => {
    cli = await startCliApi('operator');
    ({ database, env } = cli);
    await database.db.insert(models).values({ name: 'digits', classes: ['0', '1'] });
    await database.db.insert(modelVersions).values([
      // Any JSON: the API only checks that the version has a profile to judge against.
      { modelName: 'digits', version: 1, lineage: {}, referenceProfile: { v: 1 } },
      { modelName: 'digits', version: 2, lineage: {} },
    ]);
  }, 60_000);
  afterAll(async () => {
    await cli?.close();
  });

  const run = (argv: string[]) => runCli(argv, { env });

  it('sets, lists and removes a baseline', async () => {
    expect((await run(['drift', 'baseline', 'list'])).out).toMatch(/^No drift baselines/);
    const set = await run([
      'drift',
      'baseline',
      'set',
      '--model',
      'digits',
      '--version',
      '1',
      '--scope',
      'pi4',
      '--samples',
      '300',
      '--reason',
      'new lens on every pi4',
    ]);
    expect(set.err).toBe('');
    expect(set.code).toBe(0);
    expect(set.out).toContain('digits v1 on device_class pi4: collecting 300 inferences');

    const listed = await run(['drift', 'baseline', 'list', '--model', 'digits']);
    const lines = listed.out.trim().split('\n');
    expect(lines[0]).toMatch(/^MODEL\s+VERSION\s+SLICE\s+STATE\s+BY\s+REASON$/);
    expect(lines[1]).toMatch(
      /^digits\s+v1\s+device_class:pi4\s+collecting 0\/300\s+\S+\s+new lens on every pi4$/,
    );

    const group = await run([
      'drift',
      'baseline',
      'set',
      '--model',
      'digits',
      '--version',
      '1',
      '--scope',
      'eu',
      '--group',
      '--json',
    ]);
    expect(JSON.parse(group.out)).toMatchObject({ scopeKind: 'group', scope: 'eu', targetSamples: 500 });

    const removed = await run([
      'drift',
      'baseline',
      'remove',
      '--model',
      'digits',
      '--version',
      '1',
      '--scope',
      'pi4',
    ]);
    expect(removed.out).toContain('baseline removed');
    const again = await run([
      'drift',
      'baseline',
      'remove',
      '--model',
      'digits',
      '--version',
      '1',
      '--scope',
      'pi4',
    ]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/no drift baseline for digits v1 device_class:pi4/);
  });

  it('refuses bad arguments and versions without a profile, with the reason', async () => {
    const missing = await run(['drift', 'baseline', 'set', '--model', 'digits', '--scope', 'pi4']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--model, --version and --scope are required');
    const noProfile = await run([
      'drift',
      'baseline',
      'set',
      '--model',
      'digits',
      '--version',
      '2',
      '--scope',
      'pi4',
    ]);
    expect(noProfile.code).toBe(1);
    expect(noProfile.err).toContain('digits v2 has no reference profile');
    const few = await run([
      'drift',
      'baseline',
      'set',
      '--model',
      'digits',
      '--version',
      '1',
      '--scope',
      'x',
      '--samples',
      '5',
    ]);
    expect(few.code).toBe(1);
    expect(few.err).toMatch(/samples/);
  });
});
