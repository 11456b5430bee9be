import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log/index.ts';
import { startHttpServer } from './http-server.ts';

function slowApp(ms: number) {
  return new Hono().get('/slow', async (c) => {
    await new Promise((r) => setTimeout(r, ms));
    return c.text('done');
  });
}

describe('startHttpServer', () => {
  it('lets an in-flight request finish on close, then refuses new connections', async () => {
    const server = await startHttpServer(slowApp(300).fetch, {
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
    });
    const inFlight = fetch(`${server.url}/slow`);
    await new Promise((r) => setTimeout(r, 50));
    const closed = server.close(5_000);
    const res = await inFlight;
    expect(await res.text()).toBe('done');
    expect(await closed).toBe(false);
    await expect(fetch(`${server.url}/slow`)).rejects.toThrow();
  });

  it('cuts requests still running after the grace period', async () => {
    const server = await startHttpServer(slowApp(5_000).fetch, {
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
    });
    const inFlight = fetch(`${server.url}/slow`).catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    expect(await server.close(200)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await inFlight).toBeInstanceOf(Error);
  });

  it('names the port when it is taken', async () => {
    const first = await startHttpServer(slowApp(1).fetch, {
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
    });
    await expect(
      startHttpServer(slowApp(1).fetch, { host: '127.0.0.1', port: first.port, logger: silentLogger }),
    ).rejects.toThrow(/port in use.*--port/);
    await first.close(100);
  });
});
