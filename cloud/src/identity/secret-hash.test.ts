import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, parseSecretHash, verifySecret } from './secret-hash.ts';

const run = promisify(execFile);
const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

describe('secret hashing ($7$ PBKDF2-SHA512)', () => {
  it('verifies the right secret and refuses a wrong one', async () => {
    const secret = generateSecret();
    const hash = await hashSecret(secret);
    expect(hash).toMatch(/^\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    expect(await verifySecret(secret, hash)).toBe(true);
    expect(await verifySecret(`${secret}x`, hash)).toBe(false);
    expect(await verifySecret('', hash)).toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashSecret('same'), hashSecret('same')]);
    expect(a).not.toBe(b);
    expect(parseSecretHash(a).salt).toHaveLength(12);
  });

  it('never verifies against a malformed hash', async () => {
    for (const bad of ['', 'plain', '$6$101$abc$def', '$7$0$AAAA$AAAA', '$7$101$AAAA$AAAA']) {
      expect(await verifySecret('secret', bad)).toBe(false);
    }
    expect(() => parseSecretHash('$7$x$a$b')).toThrow(/\$7\$/);
  });

  it('rejects nonsense iteration counts at hashing time', async () => {
    await expect(hashSecret('s', 0)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it.skipIf(!existsSync(MOSQUITTO_PASSWD))('reads hashes written by mosquitto_passwd', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'el-passwd-'));
    try {
      const file = join(dir, 'passwd');
      await writeFile(file, '');
      await run(MOSQUITTO_PASSWD, ['-b', file, 'dev-1', 's3cret']);
      const line = (await readFile(file, 'utf8')).trim();
      const hash = line.slice('dev-1:'.length);
      expect(await verifySecret('s3cret', hash)).toBe(true);
      expect(await verifySecret('s3cret!', hash)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
