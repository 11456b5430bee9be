// Telemetry ingestion as the cloud runs it: the ingestor (its ack hold on the connection's router
// withholds PUBACKs while its buffer is full), then the MQTT bridge that feeds it, then the
// rollup/retention job. Stopped in reverse: no new messages, buffered windows written, then the job
// finishes its run.
import { Registry } from 'prom-client';
import type { Db } from '../db/index.ts';
import { MqttBridge, type MqttBridgeOptions } from '../mqtt/bridge.ts';
import type { CloudMqttConnection } from '../mqtt/connection.ts';
import type { Logger } from '../mqtt/observability.ts';
import { RollupJob, type RollupJobOptions } from './rollup-job.ts';
import { TelemetryIngestor, type TelemetryIngestorOptions } from './telemetry-ingestor.ts';

export interface TelemetryIngestionOptions {
  db: Db;
  connection: CloudMqttConnection;
  /** Where bridge and ingest series go (a private registry when omitted). */
  registry?: Registry;
  logger: Logger;
  bridge?: Omit<MqttBridgeOptions, 'db' | 'connection' | 'registry' | 'logger'>;
  ingest?: Omit<TelemetryIngestorOptions, 'db' | 'source' | 'connection' | 'registry' | 'logger'>;
  rollup?: Omit<RollupJobOptions, 'db' | 'logger'>;
}

export interface TelemetryIngestion {
  /** The started bridge: desired state goes out through it (rollouts). */
  bridge: MqttBridge;
  ingestor: TelemetryIngestor;
  rollups: RollupJob;
  registry: Registry;
  stop(): Promise<void>;
}

export async function startTelemetryIngestion(
  options: TelemetryIngestionOptions,
): Promise<TelemetryIngestion> {
  const { db, connection, logger } = options;
  const registry = options.registry ?? new Registry();
  const bridge = new MqttBridge({ ...options.bridge, db, connection, registry, logger });
  const ingestor = new TelemetryIngestor({
    ...options.ingest,
    db,
    source: bridge,
    connection,
    registry,
    logger,
  });
  ingestor.start();
  try {
    await bridge.start();
  } catch (err) {
    await ingestor.stop();
    throw err;
  }
  const rollups = new RollupJob({ ...options.rollup, db, logger });
  rollups.start();
  return {
    bridge,
    ingestor,
    rollups,
    registry,
    async stop() {
      await bridge.stop();
      await ingestor.stop();
      await rollups.stop();
    },
  };
}
