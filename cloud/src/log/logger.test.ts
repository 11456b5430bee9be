import { EdgeloopError } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { createLogger, type LoggerOptions } from './index.ts';

function capture(options: LoggerOptions & { isTTY?: boolean } = {}) {
  const lines: string[] = [];
  const sink = { write: (line: string) => lines.push(line), isTTY: options.isTTY ?? false };
  const logger = createLogger({ now: () => new Date('2030-01-02T03:04:05.678Z'), ...options, sink });
  return { logger, lines };
}

describe('createLogger', () => {
  it('writes JSON lines when the sink is not a terminal', () => {
    const { logger, lines } = capture();
    logger.info({ port: 8080 }, 'listening');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0] as string)).toEqual({
      level: 'info',
      time: '2030-01-02T03:04:05.678Z',
      msg: 'listening',
      port: 8080,
    });
  });

  it('drops lines below the level, and everything when silent', () => {
    const { logger, lines } = capture({ level: 'warn' });
    logger.info('hidden');
    logger.warn('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
    expect(logger.isEnabled('debug')).toBe(false);
    const silent = capture({ level: 'silent' });
    silent.logger.fatal('nothing');
    expect(silent.lines).toEqual([]);
  });

  it('child loggers carry bindings, and call fields override them', () => {
    const { logger, lines } = capture();
    const api = logger.child({ component: 'api', requestId: 'r1' });
    api.child({ tokenId: 't1' }).warn({ requestId: 'r2', code: 'FORBIDDEN' }, 'rejected');
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      component: 'api',
      tokenId: 't1',
      requestId: 'r2',
      code: 'FORBIDDEN',
    });
  });

  it('expands errors with code and cause in JSON', () => {
    const { logger, lines } = capture();
    const err = new EdgeloopError('UNAVAILABLE', 'database down', { cause: new Error('ECONNREFUSED') });
    logger.error({ err }, 'start failed');
    const parsed = JSON.parse(lines[0] as string);
    expect(parsed.err).toMatchObject({
      name: 'EdgeloopError',
      code: 'UNAVAILABLE',
      message: 'database down',
      cause: { message: 'ECONNREFUSED' },
    });
    expect(parsed.err.stack).toMatch(/database down/);
  });

  it('survives circular fields and bigints', () => {
    const { logger, lines } = capture();
    const loop: Record<string, unknown> = { n: 1n };
    loop.self = loop;
    logger.info({ loop }, 'odd');
    expect(JSON.parse(lines[0] as string).loop).toEqual({ n: '1', self: '[circular]' });
  });

  it('writes readable one-liners on a terminal, coloured only when asked', () => {
    const { logger, lines } = capture({ isTTY: true, color: false });
    logger.child({ component: 'http' }).info({ url: 'http://127.0.0.1:8080', n: 3 }, 'listening');
    expect(lines[0]).toBe('03:04:05.678 INFO  [http] listening url=http://127.0.0.1:8080 n=3\n');
    const coloured = capture({ isTTY: true, color: true });
    coloured.logger.warn('careful');
    expect(coloured.lines[0]).toContain('\x1b[33mWARN');
  });

  it('prints an error stack below the pretty line', () => {
    const { logger, lines } = capture({ format: 'pretty', color: false });
    logger.error({ err: new Error('bad thing') }, 'boom');
    const [first, ...rest] = (lines[0] as string).trimEnd().split('\n');
    expect(first).toBe('03:04:05.678 ERROR boom err="bad thing"');
    expect(rest[0]).toMatch(/^ {4}Error: bad thing/);
  });

  it('honours an explicit json format on a terminal', () => {
    const { logger, lines } = capture({ isTTY: true, format: 'json' });
    logger.info('x');
    expect(JSON.parse(lines[0] as string).msg).toBe('x');
  });
});
