// The cloud's drift loop: new telemetry windows with sketches are merged per model version × fleet
// slice (device class or group) until the slice has enough samples, then judged against the
// version's reference profile by a `DriftDetector` (hysteresis across evaluations). Each evaluation
// is stored as a `drift_reports` row and sets the drift gauge.
//
// Windows are read by `ingested_at` (the database clock) above a watermark, so clock skew on
// devices cannot hide a window, and every window counts once: successive evaluations of a slice
// cover disjoint windows, as `DriftDetector.evaluate` expects.
import {
  DriftDetector,
  type DriftDetectorOptions,
  type DriftReport,
  type ReferenceProfile,
  referenceFromWindows,
  referenceProfileSchema,
  WindowSketch,
} from '@edgeloop/shared';
import { and, asc, eq, isNotNull, sql } from 'drizzle-orm';
import type { SessionAdvisoryLock } from '../db/advisory-lock.ts';
import type { Db } from '../db/index.ts';
import { devices, driftReports, modelVersions, telemetryWindows } from '../db/schema.ts';
import type { Logger } from '../log/index.ts';
import { activateBaseline, type DriftBaseline, listBaselines, recordCollected } from './baselines.ts';

export type DriftScopeKind = 'device_class' | 'group';

export interface DriftMonitorOptions {
  db: Db;
  /** Slice the fleet by device class (default) or by group (devices in no group form `''`). */
  scope?: DriftScopeKind;
  /** How often `start()` evaluates; 0 leaves it to explicit `tick()` calls. */
  intervalMs?: number;
  /** Windows ingested less than this long ago wait for the next tick (commits still in flight). */
  settleMs?: number;
  /** Most windows read per tick. */
  batchSize?: number;
  detector?: DriftDetectorOptions;
  /** Called with the largest PSI per feature of each version evaluated (the drift gauge). */
  onScore?: (model: string, version: string, feature: string, psi: number) => void;
  /** Called with every stored report (events, alerts). */
  onReport?: (report: StoredDriftReport) => void;
  /** Called when a slice's collected windows become its baseline (`drift_baselines`). */
  onBaseline?: (baseline: DriftBaseline) => void;
  logger?: Logger;
  now?: () => Date;
  /**
   * Leadership across cloud processes (`sessionAdvisoryLock(database, 'driftMonitor')`): only the
   * holder evaluates, so a fleet is judged once and each drift alert triggers once. Without it every
   * tick evaluates (one process, tests).
   */
  lock?: SessionAdvisoryLock;
}

/** A drift report with the slice it judged, as stored in `drift_reports`. */
export interface StoredDriftReport {
  model: string;
  version: number;
  scopeKind: DriftScopeKind;
  scope: string;
  windowStart: Date;
  windowEnd: Date;
  report: DriftReport;
}

interface Stream {
  detector: DriftDetector;
  /** What the slice is judged against: its active baseline, else the version's profile. */
  profile: ReferenceProfile;
  /** The version's own profile (the spec windows are read with, the base a baseline rebases). */
  versionProfile: ReferenceProfile;
  /** The baseline row this stream was built from (`requestId:status`), or '' for none. */
  baselineTag: string;
  /** While the slice's baseline is collecting: its request and the windows merged so far. */
  collecting: { baseline: DriftBaseline; merged: WindowSketch | null } | null;
  pending: WindowSketch | null;
  windows: number;
  start: Date | null;
  end: Date | null;
}

/**
 * @example
 * const monitor = new DriftMonitor({ db, intervalMs: 60_000, onScore: fleetMetrics.setDriftScore });
 * monitor.start();
 * ...
 * await monitor.stop();
 */
export class DriftMonitor {
  readonly #o: DriftMonitorOptions;
  readonly #scope: DriftScopeKind;
  readonly #streams = new Map<string, Stream>();
  /** Reference profiles by `model@version`; null: the version has none (no drift to judge). */
  readonly #profiles = new Map<string, ReferenceProfile | null>();
  /** `ingested_at` of the last window read, as Postgres text: a JS Date would drop the microseconds. */
  #watermark = '1970-01-01 00:00:00+00';
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<StoredDriftReport[]> | null = null;
  #leader = false;
  /** Set while another process leads: taking over then starts from now. */
  #followed = false;

  constructor(options: DriftMonitorOptions) {
    this.#o = options;
    this.#scope = options.scope ?? 'device_class';
    if (options.intervalMs !== undefined && !(options.intervalMs >= 0)) {
      throw new RangeError('DriftMonitor intervalMs must be ≥ 0');
    }
  }

  /** Starts evaluating every `intervalMs`, beginning with the windows ingested from now on. */
  start(): void {
    this.#watermark = this.#now().toISOString();
    const interval = this.#o.intervalMs ?? 60_000;
    if (interval === 0) return;
    this.#timer = setInterval(() => {
      this.tick().catch((err: unknown) =>
        this.#o.logger?.error({ event: 'drift.tick_failed', err: String(err) }, 'drift tick failed'),
      );
    }, interval);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
    if (this.#leader) await this.#o.lock?.release();
    this.#leader = false;
  }

  /** Whether this process evaluates this tick: always without a lock, else while it holds it. */
  async #lead(): Promise<boolean> {
    const lock = this.#o.lock;
    if (!lock) return true;
    const held = this.#leader ? await lock.held() : await lock.tryAcquire();
    if (held && !this.#leader) {
      if (this.#followed) {
        // Taking over from another process: it judged what came before, so start from now (like
        // `start()`); the detectors' sliding windows rebuild within a few ticks.
        this.#watermark = this.#now().toISOString();
        this.#streams.clear();
      }
      this.#o.logger?.info({ event: 'drift.leader' }, 'this process now evaluates drift');
    }
    this.#followed = !held;
    this.#leader = held;
    return held;
  }

  /** One pass: reads the windows ingested since the last one and stores any reports it makes. */
  tick(): Promise<StoredDriftReport[]> {
    // Ticks never overlap: a slow pass is waited for, not raced.
    const run = (this.#running ?? Promise.resolve([])).then(() => this.#tick());
    this.#running = run;
    return run;
  }

  async #tick(): Promise<StoredDriftReport[]> {
    if (!(await this.#lead())) return [];
    const { db } = this.#o;
    // The settle margin is measured on the database clock, like `ingested_at` itself: a JS Date
    // (millisecond resolution) can sort before a row the database stamped a few microseconds ago.
    const settleMs = this.#o.settleMs ?? 1_000;
    const scopeColumn = this.#scope === 'group' ? devices.groupName : devices.deviceClass;
    const rows = await db
      .select({
        model: telemetryWindows.modelName,
        version: telemetryWindows.modelVersion,
        scope: scopeColumn,
        sketches: telemetryWindows.sketches,
        windowStart: telemetryWindows.windowStart,
        windowEnd: telemetryWindows.windowEnd,
        ingestedAt: sql<string>`${telemetryWindows.ingestedAt}::text`,
      })
      .from(telemetryWindows)
      .innerJoin(devices, eq(devices.id, telemetryWindows.deviceId))
      .where(
        and(
          sql`${telemetryWindows.ingestedAt} > ${this.#watermark}::timestamptz`,
          sql`${telemetryWindows.ingestedAt} <= now() - (${settleMs}::double precision * interval '1 millisecond')`,
          isNotNull(telemetryWindows.sketches),
          isNotNull(telemetryWindows.modelVersion),
        ),
      )
      .orderBy(asc(telemetryWindows.ingestedAt))
      .limit(this.#o.batchSize ?? 10_000);
    const baselines = await this.#baselines();
    const touched = new Set<string>();
    const collected = new Set<string>();
    for (const row of rows) {
      this.#watermark = row.ingestedAt;
      if (row.model === null || row.version === null) continue;
      const stream = await this.#stream(row.model, row.version, row.scope ?? '', baselines);
      if (stream === undefined) continue;
      let window: WindowSketch;
      try {
        window = WindowSketch.fromWire(row.sketches, stream.versionProfile.spec);
      } catch {
        continue; // binned against another spec (or malformed): it cannot be compared with this profile
      }
      if (stream.collecting) {
        // A slice collecting its new normal is not judged meanwhile.
        const { merged } = stream.collecting;
        stream.collecting.merged = merged ? merged.merge(window) : window;
        collected.add(streamKey(row.model, row.version, row.scope ?? ''));
        continue;
      }
      stream.pending = stream.pending ? stream.pending.merge(window) : window;
      stream.windows++;
      stream.start = stream.start && stream.start < row.windowStart ? stream.start : row.windowStart;
      stream.end = stream.end && stream.end > row.windowEnd ? stream.end : row.windowEnd;
      touched.add(streamKey(row.model, row.version, row.scope ?? ''));
    }
    for (const key of collected) await this.#collect(key);
    const stored: StoredDriftReport[] = [];
    for (const key of touched) {
      const report = this.#evaluate(key);
      if (report) stored.push(report);
    }
    if (stored.length > 0) {
      await db.insert(driftReports).values(
        stored.map((s) => ({
          modelName: s.model,
          modelVersion: s.version,
          scopeKind: s.scopeKind,
          scope: s.scope,
          profile: s.report.profile,
          state: s.report.state,
          changed: s.report.changed,
          drifted: s.report.drifted,
          samples: s.report.samples,
          windows: s.report.windows,
          windowStart: s.windowStart,
          windowEnd: s.windowEnd,
          report: s.report,
        })),
      );
      this.#publishScores(stored);
      for (const s of stored) this.#o.onReport?.(s);
    }
    return stored;
  }

  /** Evaluates a slice once it holds enough samples; until then its windows keep accumulating. */
  #evaluate(key: string): StoredDriftReport | undefined {
    const stream = this.#streams.get(key);
    if (!stream?.pending || stream.pending.count < stream.detector.thresholds.minSamples) return undefined;
    const report = stream.detector.evaluate(stream.pending, stream.windows);
    const [model, version, scope] = JSON.parse(key) as [string, number, string];
    const stored: StoredDriftReport = {
      model,
      version,
      scopeKind: this.#scope,
      scope,
      windowStart: stream.start as Date,
      windowEnd: stream.end as Date,
      report,
    };
    stream.pending = null;
    stream.windows = 0;
    stream.start = null;
    stream.end = null;
    return stored;
  }

  #publishScores(stored: StoredDriftReport[]): void {
    if (!this.#o.onScore) return;
    const worst = new Map<string, number>();
    for (const s of stored) {
      for (const f of s.report.features) {
        if (f.psi === null) continue;
        const key = JSON.stringify([s.model, String(s.version), f.feature]);
        worst.set(key, Math.max(worst.get(key) ?? 0, f.psi));
      }
    }
    for (const [key, psi] of worst) {
      const [model, version, feature] = JSON.parse(key) as [string, string, string];
      this.#o.onScore(model, version, feature, psi);
    }
  }

  async #stream(
    model: string,
    version: number,
    scope: string,
    baselines: Map<string, DriftBaseline>,
  ): Promise<Stream | undefined> {
    const key = streamKey(model, version, scope);
    const baseline = baselines.get(key);
    const tag = baseline ? `${baseline.requestId}:${baseline.status}` : '';
    const known = this.#streams.get(key);
    if (known && known.baselineTag === tag) return known;
    const versionProfile = await this.#profile(model, version);
    if (!versionProfile) return undefined;
    const profile = (baseline?.status === 'active' && baseline.profile) || versionProfile;
    const stream: Stream = {
      detector: new DriftDetector(profile, this.#o.detector),
      profile,
      versionProfile,
      baselineTag: tag,
      collecting: baseline?.status === 'collecting' ? { baseline, merged: null } : null,
      pending: null,
      windows: 0,
      start: null,
      end: null,
    };
    this.#streams.set(key, stream);
    return stream;
  }

  /** This scope kind's baselines by stream key, read every tick (a handful of rows). */
  async #baselines(): Promise<Map<string, DriftBaseline>> {
    const rows = await listBaselines(this.#o.db, { scopeKind: this.#scope });
    return new Map(rows.map((b) => [streamKey(b.model, b.version, b.scope), b]));
  }

  /** Records a collecting slice's progress; with enough samples its windows become its baseline. */
  async #collect(key: string): Promise<void> {
    const stream = this.#streams.get(key);
    const collecting = stream?.collecting;
    if (!stream || !collecting?.merged) return;
    const { baseline, merged } = collecting;
    if (merged.count < baseline.targetSamples) {
      await recordCollected(this.#o.db, baseline, merged.count);
      return;
    }
    const profile = referenceFromWindows(stream.versionProfile, merged);
    const active = await activateBaseline(this.#o.db, baseline, profile);
    if (!active) return; // replaced or removed meanwhile: the next tick rebuilds the stream
    Object.assign(stream, {
      detector: new DriftDetector(profile, this.#o.detector),
      profile,
      baselineTag: `${active.requestId}:${active.status}`,
      collecting: null,
    });
    this.#o.logger?.info(
      {
        event: 'drift.baseline_active',
        model: active.model,
        version: active.version,
        scope: `${active.scopeKind}:${active.scope}`,
        samples: profile.sampleSize,
      },
      `drift baseline of ${active.model} v${active.version} on ${active.scopeKind} ${active.scope} is active`,
    );
    this.#o.onBaseline?.(active);
  }

  async #profile(model: string, version: number): Promise<ReferenceProfile | null> {
    const key = `${model}@${version}`;
    if (this.#profiles.has(key)) return this.#profiles.get(key) ?? null;
    const [row] = await this.#o.db
      .select({ profile: modelVersions.referenceProfile })
      .from(modelVersions)
      .where(and(eq(modelVersions.modelName, model), eq(modelVersions.version, version)));
    const parsed = referenceProfileSchema.safeParse(row?.profile);
    const profile = parsed.success ? parsed.data : null;
    if (row !== undefined) this.#profiles.set(key, profile); // a version registered later is looked up again
    return profile;
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }
}

function streamKey(model: string, version: number, scope: string): string {
  return JSON.stringify([model, version, scope]);
}

/** Newest reports of a model (optionally one version), newest first. */
export async function recentDriftReports(
  db: Db,
  filter: { model: string; version?: number; limit?: number },
): Promise<StoredDriftReport[]> {
  const rows = await db
    .select()
    .from(driftReports)
    .where(
      and(
        eq(driftReports.modelName, filter.model),
        filter.version === undefined ? undefined : eq(driftReports.modelVersion, filter.version),
      ),
    )
    .orderBy(sql`${driftReports.id} desc`)
    .limit(filter.limit ?? 100);
  return rows.map((r) => ({
    model: r.modelName,
    version: r.modelVersion,
    scopeKind: r.scopeKind,
    scope: r.scope,
    windowStart: r.windowStart,
    windowEnd: r.windowEnd,
    report: r.report as DriftReport,
  }));
}
