// The contracts package must run unchanged in browsers and web views (the web SDK uses it).
// Bundle it for the browser platform (a Node-only import fails the build) and exercise it in
// real headless Chromium, comparing with the results in Node.
import { fileURLToPath } from 'node:url';
import * as shared from '@edgeloop/shared';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInBrowser, type LaunchedBrowser, launchChromium } from '../support/browser.ts';

const entry = fileURLToPath(new URL('../../shared/src/index.ts', import.meta.url));

async function bundleShared(): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'edgeloopShared',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** Runs in the page (and in Node, for comparison). Must only use what it is given. */
function exercise(s: typeof shared) {
  const topic = s.topics.telemetry('cam-7');
  const parsed = s.parseTopic(topic);
  let smuggled = 'accepted';
  try {
    s.topics.telemetry('cam/7');
  } catch (err) {
    smuggled = (err as Error).message;
  }
  const status = {
    v: 1,
    state: 'online',
    agentVersion: '0.1.0',
    profile: 'browser',
    bootId: 'boot-123',
    at: 1,
  };
  const roundTrip = s.deviceStatusPayload.decode(s.deviceStatusPayload.encode(status as never));
  const wrongVersion = s.deviceStatusPayload.decode(JSON.stringify({ ...status, v: 7 }));
  const garbage = s.telemetryWindowPayload.decode(new Uint8Array([0xff, 0x00, 0x7b]));
  const frame = s.encodeArtifactChunk({
    sha256: 'ab'.repeat(32),
    index: 1,
    total: 3,
    chunkSize: 1024,
    payload: s.utf8Encode('héllo ✓'),
  });
  const chunk = s.decodeArtifactChunk(frame);
  frame[frame.length - 1] = (frame[frame.length - 1] ?? 0) ^ 1;
  const corrupted = s.decodeArtifactChunk(frame);
  return {
    topic,
    parsed,
    smuggled,
    roundTrip: roundTrip.ok,
    wrongVersion: wrongVersion.ok ? 'accepted' : wrongVersion.error.code,
    garbage: garbage.ok ? 'accepted' : garbage.error.code,
    chunkText: chunk.ok ? s.utf8Decode(chunk.chunk.payload) : chunk.reason,
    corrupted: corrupted.ok ? 'accepted' : corrupted.error,
    crc: s.crc32(s.utf8Encode('edgeloop')),
    canonical: s.canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }),
  };
}

describeInBrowser('@edgeloop/shared in headless Chromium', () => {
  let chromium: LaunchedBrowser;
  beforeAll(async () => {
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium?.close();
  });

  it('bundles for the browser platform and behaves exactly as in Node', async () => {
    const bundle = await bundleShared();
    const page = await chromium.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent('<!doctype html><title>shared</title>');
    await page.addScriptTag({ content: bundle });
    const inBrowser = await page.evaluate(`(${exercise.toString()})(globalThis.edgeloopShared)`);
    const inNode = exercise(shared);
    expect(errors).toEqual([]);
    expect(inBrowser).toEqual(inNode);
    expect(inNode.wrongVersion).toBe('SCHEMA_VERSION_UNSUPPORTED');
    expect(inNode.corrupted).toBe('CRC_MISMATCH');
    expect(inNode.smuggled).toContain('invalid device id');
    await page.close();
  });
});
