// Drives every unfinished rollout: on an interval and whenever a device reports, it loads each one
// from the database, observes its devices (their stored reported state and connection), measures
// the health gates of a soaking wave, runs the pure state machine, publishes desired states for the
// devices entering a wave and saves the step. Only the process holding the scheduler advisory lock
// does this; the others stand by and take over when it goes away. Because everything is loaded from
// the database on each tick, a restarted cloud resumes every rollout where it stood.
import { EventEmitter } from 'node:events';
import { type DesiredState, type ReferenceProfile, referenceProfileSchema } from '@edgeloop/shared';
import { inArray } from 'drizzle-orm';
import { type SessionAdvisoryLock, sessionAdvisoryLock } from '../db/advisory-lock.ts';
import type { Database, Db } from '../db/database.ts';
import { devices } from '../db/schema.ts';
import type { MqttBridge, MqttBridgeEvents } from '../mqtt/bridge.ts';
import { type Logger, silentLogger } from '../mqtt/observability.ts';
import { writeAlias } from '../registry/aliases.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { evaluateDriftGate } from './drift-gate.ts';
import { evaluateGates, type GateResult, type RolloutTelemetry, TelemetryMemory } from './gates.ts';
import {
  advance,
  type DeviceObservation,
  type RolloutDevice,
  type RolloutEvent,
  type Step,
} from './machine.ts';
import { DesiredStatePublisher } from './publisher.ts';
import { mostCommon, prepareRollback } from './rollback.ts';
import { parseReported } from './service.ts';
import { type ShadowResult, shadowOpen } from './shadow.ts';
import {
  insertRollout,
  type LoadedRollout,
  loadRollout,
  type NewRollout,
  saveStep,
  shadowUndoRolloutIds,
  unfinishedRolloutIds,
} from './store.ts';

type SchedulerRegistry = Pick<ModelRegistry, 'getVariant' | 'getVersion'>;

type Heard = 'reported' | 'telemetry';

/** What the scheduler needs of the MQTT bridge (tests pass a fake). */
export interface RolloutBridge {
  publishDesired: MqttBridge['publishDesired'];
  publishDesiredMany: MqttBridge['publishDesiredMany'];
  on<K extends Heard>(event: K, listener: (...args: MqttBridgeEvents[K]) => void): unknown;
  off<K extends Heard>(event: K, listener: (...args: MqttBridgeEvents[K]) => void): unknown;
}

export interface RolloutSchedulerOptions {
  database: Pick<Database, 'db' | 'driver'>;
  bridge: RolloutBridge;
  registry: SchedulerRegistry;
  /** Gate inputs; default: an in-memory window of the bridge's telemetry events. */
  telemetry?: RolloutTelemetry;
  lock?: SessionAdvisoryLock;
  /** Tick interval (default 5 s); a `reported` event also triggers a tick after `reportDelayMs`. */
  tickIntervalMs?: number;
  reportDelayMs?: number;
  /** false: no timers; tests call `tick()`. Default true. */
  autoTick?: boolean;
  now?: () => number;
  logger?: Logger;
}

export interface TickSummary {
  leader: boolean;
  rollouts: number;
  sent: number;
  events: number;
}

export interface RolloutSchedulerEvents {
  /** After a step was saved, with the events it recorded. */
  step: [rolloutId: string, events: readonly RolloutEvent[]];
  leadership: [leader: boolean];
}

/**
 * @example
 * const scheduler = new RolloutScheduler({ database, bridge, registry });
 * await scheduler.start(); // takes the lock if free, resumes every unfinished rollout
 * await scheduler.stop();
 */
export class RolloutScheduler extends EventEmitter<RolloutSchedulerEvents> {
  readonly #db: Db;
  readonly #bridge: RolloutBridge;
  readonly #registry: SchedulerRegistry;
  /** Reference profiles by `model@version` (versions are immutable); null: the version has none. */
  readonly #profiles = new Map<string, Promise<ReferenceProfile | null>>();
  readonly #telemetry: RolloutTelemetry;
  readonly #memory: TelemetryMemory | undefined;
  readonly #lock: SessionAdvisoryLock;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #options: RolloutSchedulerOptions;
  readonly #publisher: DesiredStatePublisher;
  #leader = false;
  #started = false;
  #interval: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #running: Promise<TickSummary> | undefined;
  #again = false;
  readonly #onReported = () => this.nudge(this.#options.reportDelayMs ?? 100);
  readonly #onTelemetry = (...[deviceId, window]: MqttBridgeEvents['telemetry']) =>
    this.#memory?.record(deviceId, window);

  constructor(options: RolloutSchedulerOptions) {
    super();
    this.#options = options;
    this.#db = options.database.db;
    this.#bridge = options.bridge;
    this.#registry = options.registry;
    this.#memory = options.telemetry ? undefined : new TelemetryMemory();
    this.#telemetry = options.telemetry ?? (this.#memory as TelemetryMemory);
    this.#lock = options.lock ?? sessionAdvisoryLock(options.database, 'scheduler');
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
    this.#publisher = new DesiredStatePublisher(options.bridge, options.registry, this.#logger);
  }

  get leader(): boolean {
    return this.#leader;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#bridge.on('reported', this.#onReported);
    this.#bridge.on('telemetry', this.#onTelemetry);
    if (this.#options.autoTick ?? true) {
      const every = this.#options.tickIntervalMs ?? 5_000;
      this.#interval = setInterval(() => this.nudge(0), every);
      this.#interval.unref();
      await this.tick();
    }
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    clearInterval(this.#interval);
    clearTimeout(this.#soon);
    this.#bridge.off('reported', this.#onReported);
    this.#bridge.off('telemetry', this.#onTelemetry);
    await this.#running?.catch(() => undefined);
    if (this.#leader) {
      await this.#lock.release();
      this.#setLeader(false);
    }
  }

  /** Asks for a tick within `delayMs` (coalesced). Operator commands in this process call it. */
  nudge(delayMs = 0): void {
    if (!this.#started || !(this.#options.autoTick ?? true) || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.tick().catch((err: unknown) =>
        this.#logger.error({ event: 'rollouts.tick_failed', err: String(err) }, 'rollout tick failed'),
      );
    }, delayMs);
  }

  /** One pass over every unfinished rollout; concurrent calls share a pass and queue one more. */
  tick(): Promise<TickSummary> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#tick().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.nudge(0);
      }
    });
    return this.#running;
  }

  async #tick(): Promise<TickSummary> {
    const summary: TickSummary = { leader: false, rollouts: 0, sent: 0, events: 0 };
    if (!(await this.#holdLock())) return summary;
    summary.leader = true;
    const ids = new Set([
      ...(await unfinishedRolloutIds(this.#db)),
      ...(await shadowUndoRolloutIds(this.#db)),
    ]);
    for (const id of ids) {
      try {
        const step = await this.#step(id);
        if (step === null) continue;
        summary.rollouts++;
        summary.sent += step.sent;
        summary.events += step.events;
      } catch (err) {
        // One broken rollout must not stop the others; it is retried next tick.
        this.#logger.error(
          { event: 'rollouts.step_failed', rolloutId: id, err: String(err) },
          'rollout step failed',
        );
      }
    }
    return summary;
  }

  async #holdLock(): Promise<boolean> {
    const held = this.#leader ? await this.#lock.held() : await this.#lock.tryAcquire();
    if (held !== this.#leader) this.#setLeader(held);
    return held;
  }

  #setLeader(leader: boolean): void {
    this.#leader = leader;
    this.#logger.info(
      { event: leader ? 'rollouts.leader' : 'rollouts.standby' },
      leader ? 'this process now schedules rollouts' : 'this process no longer schedules rollouts',
    );
    this.emit('leadership', leader);
  }

  async #step(id: string): Promise<{ sent: number; events: number } | null> {
    const loaded = await loadRollout(this.#db, id);
    const now = this.#now();
    const observed = await this.#observe(loaded);
    const gates = await this.#measureGates(loaded, now);
    const shadow = await this.#measureShadow(loaded, now);
    const step = advance(
      loaded.state,
      { devices: observed.devices, ...(gates ? { gates } : {}), ...(shadow ? { shadow } : {}) },
      now,
    );
    const sent = await this.#publisher.carryOut(loaded, step, await this.#storedDesired(step));
    const rollbackReason = step.actions.find((a) => a.kind === 'rollback');
    const rollback = rollbackReason
      ? await prepareRollback(
          (m, v, variant) => this.#registry.getVariant(m, v, variant),
          loaded.record,
          step.state,
          'scheduler',
        )
      : null;
    if (rollback) {
      step.events.push({
        kind: 'rollout.rolled_back',
        wave: null,
        deviceId: null,
        reason: `replaced by rollback ${rollback.id}`,
        data: { rollbackId: rollback.id },
      });
    }
    // Every change of state comes with an event, so no events means nothing to save.
    if (step.events.length === 0) return { sent, events: 0 };
    const at = new Date(now);
    const promote = this.#promotion(loaded, step);
    const saved = await saveStep(this.#db, loaded, step.state, step.events, {
      at,
      ...(rollback || promote ? { also: (tx: Db) => this.#also(tx, at, loaded, rollback, promote) } : {}),
    });
    if (!saved) return null; // an operator command won the race; next tick starts from it
    this.emit('step', id, step.events);
    if (rollback) this.nudge(0);
    return { sent, events: step.events.length };
  }

  /** The alias to move when this step completes a rollout. */
  #promotion(loaded: LoadedRollout, step: Step): string | undefined {
    const alias = loaded.record.policy.promoteAlias;
    const completed = step.events.some((e) => e.kind === 'rollout.completed');
    return alias !== undefined && completed && loaded.state.kind === 'rollout' ? alias : undefined;
  }

  /** Written in the step's transaction: the rollback that replaces it, the alias it promotes. */
  async #also(
    tx: Db,
    at: Date,
    loaded: LoadedRollout,
    rollback: NewRollout | null,
    alias: string | undefined,
  ): Promise<RolloutEvent[]> {
    if (rollback) await insertRollout(tx, rollback, at);
    if (alias === undefined) return [];
    const { modelName: model, version, id } = loaded.state;
    const change = await writeAlias(tx, { model, alias, version, actor: `rollout ${id}`, at });
    const was = change.previousVersion === null ? 'new alias' : `was v${change.previousVersion}`;
    return [
      {
        kind: 'alias.promoted',
        wave: null,
        deviceId: null,
        reason: `${model} alias ${alias} now points at v${version} (${was})`,
        data: { alias, version, previousVersion: change.previousVersion },
      },
    ];
  }

  async #observe(loaded: LoadedRollout): Promise<{ devices: Map<string, DeviceObservation> }> {
    const ids = loaded.state.devices.filter((d) => d.state !== 'excluded').map((d) => d.deviceId);
    const observations = new Map<string, DeviceObservation>();
    for (let i = 0; i < ids.length; i += 1000) {
      const rows = await this.#db
        .select({ id: devices.id, reported: devices.reported, connection: devices.connection })
        .from(devices)
        .where(inArray(devices.id, ids.slice(i, i + 1000)));
      for (const row of rows) {
        observations.set(row.id, { reported: parseReported(row.reported), connection: row.connection });
      }
    }
    return { devices: observations };
  }

  /**
   * What the step's devices were last told (their config and shadow carry over), read only for
   * devices the step acts on: a desired state holds a whole signed manifest, too much to read for
   * every device on every tick.
   */
  async #storedDesired(step: Step): Promise<Map<string, Partial<DesiredState>>> {
    const ids = [...new Set(step.actions.flatMap((a) => (a.kind === 'rollback' ? [] : [a.deviceId])))];
    const stored = new Map<string, Partial<DesiredState>>();
    for (let i = 0; i < ids.length; i += 1000) {
      const rows = await this.#db
        .select({ id: devices.id, desired: devices.desired })
        .from(devices)
        .where(inArray(devices.id, ids.slice(i, i + 1000)));
      for (const row of rows) if (row.desired) stored.set(row.id, row.desired as Partial<DesiredState>);
    }
    return stored;
  }

  /** Gate verdicts for the current wave while it soaks; undefined otherwise. */
  async #measureGates(loaded: LoadedRollout, now: number): Promise<GateResult[] | undefined> {
    const { state, record } = loaded;
    const wave = state.waves.find((w) => w.index === state.currentWave);
    if (state.status !== 'running' || wave?.status !== 'soaking' || wave.startedAt === null) return undefined;
    const gates = record.policy.gates;
    const model = { name: state.modelName, version: String(state.version) };
    const inWave = state.devices.filter((d) => d.wave === wave.index && d.state === 'active');
    const everyone = state.devices.filter((d) => d.state !== 'excluded');
    const [candidate, baseline] = await Promise.all([
      this.#telemetry.cohortHealth({
        deviceIds: inWave.map((d) => d.deviceId),
        since: wave.startedAt,
        until: now,
        model: { ...model, match: 'this' },
      }),
      this.#telemetry.cohortHealth({
        deviceIds: everyone.map((d) => d.deviceId),
        since: wave.startedAt - record.policy.gateBaselineSeconds * 1000,
        until: now,
        model: { ...model, match: 'other' },
      }),
    ]);
    const results = evaluateGates(gates, candidate, baseline);
    if (gates.drift) results.push(await this.#driftGate(loaded, gates.drift, wave.startedAt, now));
    return results;
  }

  /** The wave's devices against their new version's profile, the others against the old one's. */
  async #driftGate(
    loaded: LoadedRollout,
    gate: NonNullable<LoadedRollout['record']['policy']['gates']['drift']>,
    startedAt: number,
    now: number,
  ): Promise<GateResult> {
    const { state, record } = loaded;
    const name = state.modelName;
    const inWave = state.devices.filter((d) => d.wave === state.currentWave && d.state === 'active');
    const everyone = state.devices.filter((d) => d.state !== 'excluded');
    // The control group's old version: the one most of the rollout's devices ran when it was planned.
    const old = mostCommon(
      state.devices.flatMap((d) => (d.fromModel?.name === name ? [d.fromModel.version] : [])),
    );
    const newVersion = String(state.version);
    const side = async (devices: RolloutDevice[], version: string, since: number) => {
      const profile = await this.#profile(name, version);
      const query = {
        deviceIds: devices.map((d) => d.deviceId),
        since,
        until: now,
        model: { name, version, match: 'this' as const },
      };
      const sample = profile
        ? await this.#telemetry.driftSample(query, profile)
        : { windows: 0, incompatible: 0, sketch: null };
      return { version, profile, sample };
    };
    if (old === undefined) {
      return evaluateDriftGate(gate, await side(inWave, newVersion, startedAt), {
        version: '?',
        profile: null,
        sample: { windows: 0, incompatible: 0, sketch: null },
      });
    }
    const [candidate, baseline] = await Promise.all([
      side(inWave, newVersion, startedAt),
      side(everyone, old, startedAt - record.policy.gateBaselineSeconds * 1000),
    ]);
    return evaluateDriftGate(gate, candidate, baseline);
  }

  #profile(model: string, version: string): Promise<ReferenceProfile | null> {
    const key = `${model}@${version}`;
    let found = this.#profiles.get(key);
    if (found === undefined) {
      found = this.#registry.getVersion(model, Number(version)).then(
        (v) => {
          const parsed = referenceProfileSchema.safeParse(v.referenceProfile);
          return parsed.success ? parsed.data : null;
        },
        (error: unknown) => {
          this.#profiles.delete(key); // not cached: the registry may answer next time
          throw error;
        },
      );
      this.#profiles.set(key, found);
    }
    return found;
  }

  /** What the current wave's devices reported about the shadow model since its phase started. */
  async #measureShadow(loaded: LoadedRollout, now: number): Promise<ShadowResult | undefined> {
    const { state } = loaded;
    const wave = state.waves.find((w) => w.index === state.currentWave);
    const phase = wave?.params.shadow;
    if (state.status !== 'running' || !shadowOpen(phase) || phase.startedAt === null) return undefined;
    return this.#telemetry.shadowHealth({
      deviceIds: state.devices.filter((d) => d.wave === wave?.index).map((d) => d.deviceId),
      since: phase.startedAt,
      until: now,
      model: { name: state.modelName, version: String(state.version), match: 'this' },
    });
  }
}
