// The alert loop: every `intervalMs` one pass reads the four conditions and reconciles the `alerts`
// table with what fires. A pass is one transaction that first takes a transaction-level advisory
// lock (AdvisoryLockKey.alerts): with several cloud processes one evaluates at a time and the
// others skip that pass, and the lock goes with the transaction — no session to reserve or lose.
// A condition that cannot be read fails the whole pass, so nothing resolves because of an error.
import { type Db, tryAdvisoryXactLock } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import type { FiringAlert } from './alert.ts';
import { devicesOfflineAlerts } from './devices-offline.ts';
import { driftAlerts } from './drift.ts';
import { errorRateAlerts } from './error-rate.ts';
import { rolloutStuckAlerts } from './rollout-stuck.ts';
import { type Reconciled, reconcileAlerts } from './store.ts';
import { type AlertThresholds, type AlertThresholdsInput, alertThresholdsSchema } from './thresholds.ts';

export interface AlertEvaluatorOptions {
  db: Db;
  /** Partial thresholds over the documented defaults (thresholds.ts). */
  thresholds?: AlertThresholdsInput;
  /** Pass interval for `start()` (default 30 s); 0 leaves it to explicit `tick()` calls. */
  intervalMs?: number;
  logger?: Logger;
  now?: () => Date;
}

export type AlertTick = ({ ran: true; firing: number } & Reconciled) | { ran: false };

/**
 * @example
 * const evaluator = new AlertEvaluator({ db, thresholds: { errorRate: { minRate: 0.1 } } });
 * evaluator.start();
 * ...
 * await evaluator.stop();
 */
export class AlertEvaluator {
  readonly thresholds: AlertThresholds;
  readonly #o: AlertEvaluatorOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<AlertTick> | undefined;

  constructor(options: AlertEvaluatorOptions) {
    const interval = options.intervalMs ?? 30_000;
    if (!Number.isInteger(interval) || interval < 0) {
      throw new RangeError(`AlertEvaluator intervalMs must be an integer ≥ 0, got ${interval}`);
    }
    this.#o = options;
    // A bad threshold fails here, at start-up, with the field named.
    this.thresholds = alertThresholdsSchema.parse(options.thresholds ?? {});
  }

  start(): void {
    const interval = this.#o.intervalMs ?? 30_000;
    if (interval === 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      this.tick().catch((err: unknown) =>
        this.#o.logger?.error({ event: 'alerts.tick_failed', err: String(err) }, 'alert evaluation failed'),
      );
    }, interval);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One pass. Passes never overlap: a slow one is waited for, not raced. */
  tick(): Promise<AlertTick> {
    const run = (this.#running ?? Promise.resolve<AlertTick>({ ran: false }))
      .catch(() => undefined)
      .then(() => this.#tick());
    this.#running = run;
    return run;
  }

  async #tick(): Promise<AlertTick> {
    const now = this.#o.now?.() ?? new Date();
    const t = this.thresholds;
    const result = await this.#o.db.transaction(async (tx): Promise<AlertTick> => {
      if (!(await tryAdvisoryXactLock(tx, 'alerts'))) return { ran: false };
      const firing: FiringAlert[] = [
        ...(await devicesOfflineAlerts(tx, t.devicesOffline, now)),
        ...(await errorRateAlerts(tx, t.errorRate, now)),
        ...(await rolloutStuckAlerts(tx, t.rolloutStuck, now)),
        ...(await driftAlerts(tx, t.drift, now)),
      ];
      return { ran: true, firing: firing.length, ...(await reconcileAlerts(tx, firing, now)) };
    });
    if (result.ran) {
      for (const a of result.opened)
        this.#o.logger?.warn(
          { event: 'alerts.opened', key: a.key, kind: a.kind, severity: a.severity },
          a.message,
        );
      for (const a of result.resolved)
        this.#o.logger?.info(
          { event: 'alerts.resolved', key: a.key, kind: a.kind },
          `resolved: ${a.message}`,
        );
    }
    return result;
  }
}
