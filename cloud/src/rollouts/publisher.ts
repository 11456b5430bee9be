// Carries out a step's device actions through the MQTT bridge: `send` (the device's new model),
// `shadow` (its current model, with the new one as `desired.shadow`) and `unshadow` (its desired
// state again without the shadow). A failed publish is undone in the step's state, so the next tick
// retries it, and recorded as an event.
import type { DeliveredModel, DesiredState, ModelRef, ModelVariant } from '@edgeloop/shared';
import { forEachConcurrently } from '../concurrency.ts';
import type { DesiredPublishResult, MqttBridge } from '../mqtt/bridge.ts';
import type { DesiredEntry } from '../mqtt/device-state.ts';
import type { Logger } from '../mqtt/observability.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { VariantRecord } from '../registry/records.ts';
import type { RolloutAction, RolloutDevice, RolloutWave, Step } from './machine.ts';
import type { LoadedRollout } from './store.ts';

/** Desired states as stored on the device rows (what each device was last told). */
export type StoredDesired = ReadonlyMap<string, Partial<DesiredState>>;

type DeviceAction = Exclude<RolloutAction, { kind: 'rollback' }>;

/** Devices with several actions (shadow phases), published at once, one device's actions in order. */
const PUBLISH_CONCURRENCY = 32;
/**
 * Plain sends (a wave's devices getting the new model) go out through `publishDesiredMany`, this many
 * per call: one database transaction each instead of one per device, so a wave of thousands is sent
 * in seconds (a transaction per device took ~170 s for 1,000 devices on PGlite under load).
 */
const SEND_BATCH = 1000;

/** The artifact a device row was planned for; throws when the row has none. */
function artifactOf(device: RolloutDevice): [version: number, variant: ModelVariant] {
  if (device.modelVersion === null || device.variant === null || device.chunkSize === null)
    throw new Error('device row has no artifact');
  return [device.modelVersion, device.variant];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

const delivered = (record: VariantRecord, chunkSize: number): DeliveredModel => ({
  manifest: record.manifest,
  signature: record.signature,
  delivery: { chunkSize, chunks: Math.ceil(record.size / chunkSize) },
});

export class DesiredStatePublisher {
  constructor(
    private readonly bridge: Pick<MqttBridge, 'publishDesired' | 'publishDesiredMany'>,
    private readonly registry: Pick<ModelRegistry, 'getVariant'>,
    private readonly logger: Logger,
  ) {}

  /** Publishes what `step` asks for; returns how many desired states went out. */
  async carryOut(loaded: LoadedRollout, step: Step, stored: StoredDesired): Promise<number> {
    const variants = new Map<string, Promise<VariantRecord>>();
    const variantOf = (model: string, version: number, variant: ModelVariant) => {
      const key = `${model}/${version}/${variant}`;
      let found = variants.get(key);
      if (found === undefined) {
        found = this.registry.getVariant(model, version, variant);
        variants.set(key, found);
      }
      return found;
    };
    const rolloutId = loaded.state.id;
    const fail = (device: RolloutDevice, kind: string, err: unknown) => {
      const reason = `publish failed: ${message(err)}`;
      step.events.push({ kind, wave: device.wave, deviceId: device.deviceId, reason });
      this.logger.warn(
        { event: `rollouts.${kind}`, rolloutId, deviceId: device.deviceId, reason },
        'could not publish a desired state; retried next tick',
      );
    };
    let sent = 0;
    const indexOf = new Map(step.state.devices.map((d, i) => [d.deviceId, i]));
    const sendFailed = (index: number, device: RolloutDevice, err: unknown) => {
      const reason = `publish failed: ${message(err)}`;
      step.state.devices[index] = { ...device, state: 'pending', sentAt: null, reason };
      fail(device, 'device.send_failed', err);
    };
    const one = async (action: DeviceAction): Promise<void> => {
      const index = indexOf.get(action.deviceId) ?? -1;
      const device = step.state.devices[index];
      if (device === undefined) return;
      const current = stored.get(device.deviceId);
      try {
        if (action.kind === 'unshadow') {
          // Only our own shadow is removed: a later rollout may own the desired state by now.
          if (current?.rolloutId !== rolloutId || !current.shadow) return;
          await this.bridge.publishDesired(device.deviceId, {
            rolloutId,
            model: current.model ?? null,
            config: current.config ?? {},
            shadow: null,
          });
          sent++;
          return;
        }
        if (action.kind === 'send') {
          const desired = await this.bridge.publishDesired(device.deviceId, await sendOf(device));
          step.state.devices[index] = { ...device, generation: desired.generation };
        } else {
          const record = await variantOf(loaded.state.modelName, ...artifactOf(device));
          const phase = step.state.waves.find((w) => w.index === device.wave)?.params.shadow;
          await this.bridge.publishDesired(device.deviceId, {
            rolloutId,
            model: current?.model ?? (await this.#currentModel(device, variantOf)),
            config: current?.config ?? {},
            shadow: { model: delivered(record, device.chunkSize as number), rate: phase?.rate ?? 0 },
          });
        }
        sent++;
      } catch (err) {
        if (action.kind === 'send') sendFailed(index, device, err);
        else if (action.kind === 'shadow') {
          editShadowSent(step.state.waves, device, (sentTo) => sentTo.filter((id) => id !== device.deviceId));
          fail(device, 'device.shadow_send_failed', err);
        } else {
          editShadowSent(step.state.waves, device, (sentTo) => [...sentTo, device.deviceId]);
          fail(device, 'device.unshadow_failed', err);
        }
      }
    };
    /** The desired state that moves `device` to the rollout's model. */
    const sendOf = async (device: RolloutDevice) => {
      const record = await variantOf(loaded.state.modelName, ...artifactOf(device));
      return {
        rolloutId,
        model: delivered(record, device.chunkSize as number),
        config: stored.get(device.deviceId)?.config ?? {},
        shadow: null, // replaces a shadow phase's desired state
      };
    };
    // A device with a single `send` (the common case: a wave's devices) goes out in a batch; one with
    // several actions (shadow phases) goes out action by action, in order, devices in parallel.
    const byDevice = new Map<string, DeviceAction[]>();
    for (const action of step.actions) {
      if (action.kind === 'rollback') continue;
      const list = byDevice.get(action.deviceId) ?? [];
      list.push(action);
      byDevice.set(action.deviceId, list);
    }
    const batched: string[] = [];
    const sequenced: DeviceAction[][] = [];
    for (const [deviceId, actions] of byDevice) {
      if (actions.length === 1 && actions[0]?.kind === 'send') batched.push(deviceId);
      else sequenced.push(actions);
    }
    for (let i = 0; i < batched.length; i += SEND_BATCH) {
      const entries: DesiredEntry[] = [];
      for (const deviceId of batched.slice(i, i + SEND_BATCH)) {
        const index = indexOf.get(deviceId) ?? -1;
        const device = step.state.devices[index];
        if (device === undefined) continue;
        try {
          entries.push({ deviceId, desired: await sendOf(device) });
        } catch (err) {
          sendFailed(index, device, err);
        }
      }
      let results: DesiredPublishResult[];
      try {
        results = await this.bridge.publishDesiredMany(entries);
      } catch (err) {
        // The transaction failed (the database went away): none of these went out.
        const error = err instanceof Error ? err : new Error(String(err));
        results = entries.map((e) => ({ deviceId: e.deviceId, ok: false, error }));
      }
      for (const result of results) {
        const index = indexOf.get(result.deviceId) ?? -1;
        const device = step.state.devices[index];
        if (device === undefined) continue;
        if (result.ok) {
          step.state.devices[index] = { ...device, generation: result.state.generation };
          sent++;
        } else sendFailed(index, device, result.error);
      }
    }
    await forEachConcurrently(sequenced, PUBLISH_CONCURRENCY, async (actions) => {
      for (const action of actions) await one(action);
    });
    return sent;
  }

  /** The model a device without a stored desired state runs: what it reported when planned. */
  async #currentModel(
    device: RolloutDevice,
    variantOf: (model: string, version: number, variant: ModelVariant) => Promise<VariantRecord>,
  ): Promise<DeliveredModel | null> {
    const from: ModelRef | null = device.fromModel;
    if (from === null) return null; // it runs nothing: the shadow has nothing to agree with yet
    const record = await variantOf(from.name, Number(from.version), from.variant);
    if (record.sha256 !== from.sha256)
      throw new Error(`its current model ${from.name} v${from.version} is not the registered artifact`);
    return delivered(record, device.chunkSize ?? 64 * 1024);
  }
}

function editShadowSent(
  waves: RolloutWave[],
  device: RolloutDevice,
  edit: (sent: string[]) => string[],
): void {
  const i = waves.findIndex((w) => w.index === device.wave);
  const wave = waves[i];
  if (wave?.params.shadow === undefined) return;
  waves[i] = {
    ...wave,
    params: { ...wave.params, shadow: { ...wave.params.shadow, sent: edit(wave.params.shadow.sent) } },
  };
}
