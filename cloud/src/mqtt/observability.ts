import { Counter, type Registry } from 'prom-client';

/**
 * The logging surface the MQTT and identity code needs: structured object first, message second
 * (pino's call shape, so the cloud's logger fits without an adapter).
 */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/**
 * A counter registered once per registry: two brokers or bridges in one process (tests, the demo)
 * share it instead of failing on a duplicate metric name.
 */
export function sharedCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}
