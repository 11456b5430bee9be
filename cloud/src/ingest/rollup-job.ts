// Rollups and retention for telemetry. Raw windows roll up into per-minute and per-hour rows keyed
// by bucket, device, group, device class and model version, with mergeable aggregates only (sums,
// max, element-wise histogram sums), so a bucket is built by adding deltas:
//
// - Each run reads the windows ingested since the watermark (`ingested_at`, the database's clock)
//   up to now - settle, adds them into both levels, and moves the watermark, in ONE transaction:
//   a crash rolls everything back, a re-run finds nothing new. Exactly once, and late windows (a
//   device's backlog after an outage) land in their own old buckets.
// - `settle` covers insert transactions still in flight when the run reads (now() is taken at
//   transaction start); batch inserts here take milliseconds, the default margin is 10 s.
// - A transaction-level advisory lock makes one process do it; the others skip the run.
// - Retention deletes per level by age; a raw window is only deleted once it is rolled up.
import { sql } from 'drizzle-orm';
import { type Db, queryRows, tryAdvisoryXactLock } from '../db/index.ts';
import { type Logger, silentLogger } from '../mqtt/observability.ts';

export interface TelemetryRetention {
  /** Raw windows, minute rollups and hour rollups are kept this long (ms). */
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}

const DAY = 86_400_000;
export const DEFAULT_TELEMETRY_RETENTION: TelemetryRetention = {
  rawMs: 7 * DAY,
  minuteMs: 30 * DAY,
  hourMs: 400 * DAY,
};

export interface RollupJobOptions {
  db: Db;
  /** Time between runs (default 60 s). */
  intervalMs?: number;
  /** Newest ingested windows left for the next run (default 10 s). */
  settleMs?: number;
  retention?: Partial<TelemetryRetention>;
  logger?: Logger;
}

export interface RollupRun {
  /** False when another process held the lock. */
  ran: boolean;
  windows: number;
  deleted: { raw: number; minute: number; hour: number };
}

const JOB = 'telemetry';

function rollupInto(
  table: 'telemetry_rollup_minute' | 'telemetry_rollup_hour',
  unit: 'minute' | 'hour',
  from: Date,
  to: Date,
) {
  const t = sql.raw(table);
  return sql`
    insert into ${t} as t (bucket, device_id, group_name, device_class, model_name, model_version, model_variant,
      windows, inferences, errors, dropped_windows, latency_count, latency_sum_ms, latency_max_ms,
      latency_p95_weighted_ms, latency_hist, confidence_sum, confidence_count, class_counts, updated_at)
    select date_trunc(${unit}, w.window_end), w.device_id, coalesce(d.group_name, ''),
      coalesce(d.device_class, 'unknown'), coalesce(w.model_name, ''), coalesce(w.model_version, 0),
      coalesce(w.model_variant, ''),
      count(*), sum(w.inferences)::bigint, sum(w.errors)::bigint, sum(w.dropped_windows)::bigint,
      sum(w.latency_count)::bigint, coalesce(sum(w.latency_mean_ms * w.latency_count), 0),
      max(w.latency_max_ms), coalesce(sum(w.latency_p95_ms * w.latency_count), 0),
      edgeloop_array_sum(w.latency_hist), coalesce(sum(w.mean_confidence * w.inferences), 0),
      coalesce(sum(w.inferences) filter (where w.mean_confidence is not null), 0)::bigint,
      edgeloop_array_sum(w.class_counts), now()
    from telemetry_windows w left join devices d on d.id = w.device_id
    where w.ingested_at > ${from.toISOString()}::timestamptz and w.ingested_at <= ${to.toISOString()}::timestamptz
    group by 1, 2, 3, 4, 5, 6, 7
    on conflict (bucket, device_id, group_name, device_class, model_name, model_version, model_variant) do update set
      windows = t.windows + excluded.windows,
      inferences = t.inferences + excluded.inferences,
      errors = t.errors + excluded.errors,
      dropped_windows = t.dropped_windows + excluded.dropped_windows,
      latency_count = t.latency_count + excluded.latency_count,
      latency_sum_ms = t.latency_sum_ms + excluded.latency_sum_ms,
      latency_max_ms = greatest(t.latency_max_ms, excluded.latency_max_ms),
      latency_p95_weighted_ms = t.latency_p95_weighted_ms + excluded.latency_p95_weighted_ms,
      latency_hist = edgeloop_array_add(t.latency_hist, excluded.latency_hist),
      confidence_sum = t.confidence_sum + excluded.confidence_sum,
      confidence_count = t.confidence_count + excluded.confidence_count,
      class_counts = edgeloop_array_add(t.class_counts, excluded.class_counts),
      updated_at = now()`;
}

export class RollupJob {
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly retention: TelemetryRetention;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly options: RollupJobOptions) {
    this.db = options.db;
    this.logger = options.logger ?? silentLogger;
    this.retention = { ...DEFAULT_TELEMETRY_RETENTION, ...options.retention };
    for (const [level, ms] of Object.entries(this.retention)) {
      if (!(ms > 0)) throw new RangeError(`telemetry retention ${level} must be > 0 ms, got ${ms}`);
    }
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.runOnce().catch((err: unknown) =>
        this.logger.error(
          { event: 'rollup.failed', err: String(err) },
          'telemetry rollup failed; retrying next run',
        ),
      );
    };
    this.timer = setInterval(tick, this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One rollup + retention pass; safe to call from any number of processes at once. */
  async runOnce(): Promise<RollupRun> {
    const settle = this.options.settleMs ?? 10_000;
    return this.db.transaction(async (tx) => {
      if (!(await tryAdvisoryXactLock(tx, 'telemetryRollup')))
        return { ran: false, windows: 0, deleted: { raw: 0, minute: 0, hour: 0 } };
      await tx.execute(
        sql`insert into rollup_watermarks (job, ingested_through) values (${JOB}, 'epoch') on conflict do nothing`,
      );
      // The bound is truncated to milliseconds in SQL, so the JavaScript Date it comes back as is
      // exact and the range, the count and the new watermark all agree.
      const [mark] = await queryRows<{ from: Date | string; to: Date | string; windows: number }>(
        tx,
        sql`with m as (
              select ingested_through as from,
                     date_trunc('milliseconds', now() - make_interval(secs => ${settle / 1000})) as to
              from rollup_watermarks where job = ${JOB} for update)
            select m.from, m.to,
                   (select count(*)::int from telemetry_windows w
                     where w.ingested_at > m.from and w.ingested_at <= m.to) as windows
            from m`,
      );
      const from = new Date(mark?.from ?? 0);
      const to = new Date(mark?.to ?? 0);
      const windows = Number(mark?.windows ?? 0);
      if (windows > 0 && to > from) {
        await tx.execute(rollupInto('telemetry_rollup_minute', 'minute', from, to));
        await tx.execute(rollupInto('telemetry_rollup_hour', 'hour', from, to));
      }
      if (to > from) {
        await tx.execute(
          sql`update rollup_watermarks set ingested_through = ${to.toISOString()}::timestamptz, updated_at = now() where job = ${JOB}`,
        );
      }
      const deleted = await this.applyRetention(tx, to > from ? to : from);
      return { ran: true, windows, deleted };
    });
  }

  private async applyRetention(tx: Db, rolledThrough: Date): Promise<RollupRun['deleted']> {
    const age = (ms: number) => sql`now() - make_interval(secs => ${ms / 1000})`;
    const count = async (query: ReturnType<typeof sql>) =>
      (
        await queryRows<{ n: number }>(
          tx,
          sql`with d as (${query} returning 1) select count(*)::int as n from d`,
        )
      )[0]?.n ?? 0;
    return {
      raw: await count(
        sql`delete from telemetry_windows where window_end < ${age(this.retention.rawMs)} and ingested_at <= ${rolledThrough.toISOString()}::timestamptz`,
      ),
      minute: await count(
        sql`delete from telemetry_rollup_minute where bucket < ${age(this.retention.minuteMs)}`,
      ),
      hour: await count(sql`delete from telemetry_rollup_hour where bucket < ${age(this.retention.hourMs)}`),
    };
  }
}
