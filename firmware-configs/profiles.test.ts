import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProfileError } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { loadProfileFile, loadProfiles, resolveProfile } from './index.ts';

describe('shipped device profiles', () => {
  it('all validate against the profile schema, and cover the classes we promise', async () => {
    const profiles = await loadProfiles();
    expect([...profiles.keys()]).toEqual(
      expect.arrayContaining([
        'raspberry-pi-4',
        'pi-zero-2w',
        'jetson-orin-nano',
        'x86-industrial-gateway',
        'browser',
      ]),
    );
    expect(profiles.size).toBeGreaterThanOrEqual(5);
    expect(profiles.get('jetson-orin-nano')?.executionProviders).toEqual(['cuda', 'cpu']);
    expect(profiles.get('jetson-orin-nano')?.preferredVariant).toBe('fp32');
    expect(profiles.get('pi-zero-2w')?.threads.intraOp).toBe(1);
    expect(profiles.get('browser')?.arch).toBe('wasm');
  });

  it('resolves a built-in id or a path', async () => {
    expect((await resolveProfile('raspberry-pi-4')).name).toBe('Raspberry Pi 4 Model B');
    expect((await resolveProfile('firmware-configs/pi-zero-2w.yaml')).id).toBe('pi-zero-2w');
  });
});

describe('a malformed profile fails with the file and the field named', () => {
  async function write(name: string, text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'edgeloop-profile-'));
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }
  const valid = `profileVersion: 1
id: my-cam
name: My camera
arch: arm64
executionProviders: [cpu]
threads: { intraOp: 2 }
preferredVariant: int8
maxModelBytes: 1048576
memoryBudgetBytes: 134217728
telemetry: { windowSeconds: 60, queueMaxBytes: 65536 }
sampling: { enabled: false, rate: 0, lowConfidenceThreshold: 0.5, maxPerHour: 0 }
`;

  it('accepts a minimal valid profile and fills defaults', async () => {
    const profile = await loadProfileFile(await write('my-cam.yaml', valid));
    expect(profile.download.chunkSize).toBe(65536);
    expect(profile.threads.interOp).toBe(1);
  });

  it.each([
    ['threads: { intraOp: 2 }', 'threads: { intraOp: "two" }', 'threads.intraOp'],
    ['preferredVariant: int8', 'preferredVariant: int4', 'preferredVariant'],
    ['executionProviders: [cpu]', 'executionProviders: []', 'executionProviders'],
    ['executionProviders: [cpu]', 'executionProviders: [wasm]', 'executionProviders'],
    ['profileVersion: 1', 'profileVersion: 2', 'profileVersion'],
    ['name: My camera', 'name: My camera\nfavouriteColour: blue', 'favouriteColour'],
  ])('%s → %s names %s', async (from, to, field) => {
    const path = await write('my-cam.yaml', valid.replace(from, to));
    const error = await loadProfileFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as ProfileError).message).toContain(path);
    expect((error as ProfileError).message).toMatch(new RegExp(`${field.replace('.', '\\.')}|${field}`));
    expect((error as ProfileError).issues.map((i) => i.path).join(' ')).toContain(
      field === 'favouriteColour' ? '(root)' : field,
    );
  });

  it('rejects an id that does not match the file name', async () => {
    await expect(loadProfileFile(await write('other.yaml', valid))).rejects.toThrow(
      /id: profile id "my-cam" must match/,
    );
  });

  it('rejects YAML that does not parse, and a missing file', async () => {
    await expect(loadProfileFile(await write('my-cam.yaml', 'id: [unclosed'))).rejects.toThrow(
      /not valid YAML/,
    );
    await expect(loadProfileFile('/nonexistent/x.yaml')).rejects.toThrow(/cannot read profile/);
  });
});
