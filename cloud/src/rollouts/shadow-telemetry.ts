// The live shadow results of a running shadow phase, read from the ingested telemetry windows
// (`telemetry_windows.shadow`), for the rollout view: the scheduler judges from the bridge's
// in-memory windows, the view shows what ingestion stored, so both survive each other's restarts.
import { shadowSummarySchema } from '@edgeloop/shared';
import { and, gte, inArray, isNotNull, lte } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { telemetryWindows } from '../db/schema.ts';
import { mergeShadowSamples, type ShadowResult, type ShadowSample, shadowOpen } from './shadow.ts';
import type { LoadedRollout } from './store.ts';

/** Null unless the rollout's shadow phase is running. */
export async function liveShadowResult(
  db: Db,
  loaded: LoadedRollout,
  now: number,
): Promise<ShadowResult | null> {
  const { state } = loaded;
  const wave = state.waves.find((w) => shadowOpen(w.params.shadow));
  const phase = wave?.params.shadow;
  if (wave === undefined || phase?.startedAt == null) return null;
  const ids = state.devices.filter((d) => d.wave === wave.index).map((d) => d.deviceId);
  const samples: ShadowSample[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await db
      .select({
        deviceId: telemetryWindows.deviceId,
        shadow: telemetryWindows.shadow,
        count: telemetryWindows.latencyCount,
        p95: telemetryWindows.latencyP95Ms,
      })
      .from(telemetryWindows)
      .where(
        and(
          inArray(telemetryWindows.deviceId, ids.slice(i, i + 1000)),
          gte(telemetryWindows.windowEnd, new Date(phase.startedAt)),
          lte(telemetryWindows.windowEnd, new Date(now)),
          isNotNull(telemetryWindows.shadow),
        ),
      );
    for (const row of rows) {
      const parsed = shadowSummarySchema.safeParse(row.shadow);
      if (!parsed.success) continue; // validated at ingest; a hand-edited row is not worth failing the view
      const { model } = parsed.data;
      if (model.name !== state.modelName || model.version !== String(state.version)) continue;
      samples.push({
        deviceId: row.deviceId,
        shadow: parsed.data,
        activeLatency: row.p95 === null ? null : { count: row.count, p95: row.p95 },
      });
    }
  }
  return mergeShadowSamples(samples);
}
