// Test helpers for ingestion: windows, and a database whose writes can be switched off to play an
// outage at the driver boundary (every statement the ingestor sends goes through `execute`).
import type { TelemetryWindow } from '@edgeloop/shared';
import type { Db } from '../db/index.ts';

export function telemetryWindow(
  deviceId: string,
  seq: number,
  overrides: Partial<TelemetryWindow> = {},
): TelemetryWindow {
  const windowEnd = 1_900_000_000_000 + seq * 60_000;
  return {
    v: 1,
    deviceId,
    seq,
    windowStart: windowEnd - 60_000,
    windowEnd,
    model: { name: 'digits', version: '3', variant: 'int8', sha256: 'ab'.repeat(32) },
    inferences: 100,
    errors: 2,
    latencyMs: { count: 100, min: 0.5, p50: 1.5, p95: 4, p99: 6, max: 9, mean: 1.9 },
    classCounts: [50, 30, 20],
    meanConfidence: 0.9,
    droppedWindows: 0,
    ...overrides,
  };
}

export interface FlakyDb {
  db: Db;
  down: boolean;
  failures: number;
}

export function flakyDb(db: Db): FlakyDb {
  const state: FlakyDb = { db, down: false, failures: 0 };
  state.db = new Proxy(db, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key !== 'execute' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (state.down) {
          state.failures++;
          return Promise.reject(
            Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
          );
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return state;
}
