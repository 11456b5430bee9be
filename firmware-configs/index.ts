// Device-class profiles: one YAML file per class in this folder, validated by the profile schema
// in @edgeloop/shared. Read by the edge agent (its own class) and the cloud (all classes).
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DeviceProfile, ProfileError, parseDeviceProfile } from '@edgeloop/shared';
import { parse as parseYaml } from 'yaml';

/** The folder holding the profiles that ship with edgeloop. */
export const BUILTIN_PROFILES_DIR = dirname(fileURLToPath(import.meta.url));

/** Reads and validates one profile file (YAML or JSON). Errors name the file and every bad field. */
export async function loadProfileFile(path: string): Promise<DeviceProfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ProfileError(`${path}: cannot read profile (${(err as Error).message})`, path, []);
  }
  let document: unknown;
  try {
    document = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new ProfileError(`${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`, path, []);
  }
  const profile = parseDeviceProfile(document, path);
  const stem = basename(path, extname(path));
  if (profile.id !== stem) {
    throw new ProfileError(
      `${path}: id: profile id "${profile.id}" must match the file name "${stem}"`,
      path,
      [{ path: 'id', message: `must match the file name "${stem}"` }],
    );
  }
  return profile;
}

/** Loads every *.yaml / *.yml / *.json profile in a folder, keyed by id. */
export async function loadProfiles(dir: string = BUILTIN_PROFILES_DIR): Promise<Map<string, DeviceProfile>> {
  const files = (await readdir(dir))
    .filter(
      (f) =>
        ['.yaml', '.yml', '.json'].includes(extname(f)) && f !== 'package.json' && !f.startsWith('tsconfig'),
    )
    .sort();
  const profiles = new Map<string, DeviceProfile>();
  for (const file of files) {
    const profile = await loadProfileFile(join(dir, file));
    profiles.set(profile.id, profile);
  }
  return profiles;
}

/** Resolves a `--profile` argument: a path to a file, or the id of a built-in profile. */
export async function resolveProfile(pathOrId: string): Promise<DeviceProfile> {
  const looksLikePath = pathOrId.includes('/') || /\.(ya?ml|json)$/.test(pathOrId);
  return loadProfileFile(looksLikePath ? pathOrId : join(BUILTIN_PROFILES_DIR, `${pathOrId}.yaml`));
}
