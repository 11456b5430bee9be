// Pulls the missing chunks of one artifact over MQTT. The agent asks on its own `artifact/req` topic
// for a window of missing chunk ranges; the cloud answers on `el/v1/art/{sha256}/{chunk}`, which every
// device downloading the same artifact shares. A corrupt chunk is asked for again at once; silence
// (a lost request, a cloud restart) is met by asking again after a quiet period, a bounded number of
// times. While the broker is unreachable nothing is counted: the fetch resumes on reconnect with what
// is still missing, and since ArtifactDownload keeps its state on disk, across agent restarts too.
import {
  artifactRequestPayload,
  channelDelivery,
  EdgeloopError,
  topicFilters,
  topics,
  tryParseTopic,
} from '@edgeloop/shared';
import type { AgentConnection } from '../connection.ts';
import type { ArtifactDownload, DownloadProgress } from '../download/artifact-download.ts';
import type { ChunkRange } from '../download/chunk-bitmap.ts';
import type { AgentEventBus } from '../event-bus.ts';
import { type AgentLogger, errorFields } from '../log.ts';

export interface ChunkFetchOptions {
  deviceId: string;
  download: ArtifactDownload;
  sha256: string;
  chunkSize: number;
  connection: Pick<AgentConnection, 'connected' | 'publish' | 'subscribe' | 'unsubscribe'>;
  bus: AgentEventBus;
  signal: AbortSignal;
  quietMs: number;
  maxQuietRetries: number;
  /** Chunks asked for per request. */
  windowChunks: number;
  /** Immediate re-requests of one chunk that keeps arriving corrupt; after that, quiet retries cover it. */
  maxRedeliveriesPerChunk?: number;
  onProgress?: (progress: DownloadProgress) => void;
  logger: AgentLogger;
}

export interface ChunkFetchStats {
  requests: number;
  corruptRerequests: number;
  quietRetries: number;
}

/** The first `limit` chunks of `ranges`, still as inclusive ranges. */
export function limitRanges(ranges: readonly ChunkRange[], limit: number): ChunkRange[] {
  const out: ChunkRange[] = [];
  let left = limit;
  for (const [first, last] of ranges) {
    if (left <= 0) break;
    const end = Math.min(last, first + left - 1);
    out.push([first, end]);
    left -= end - first + 1;
  }
  return out;
}

/** Resolves when every chunk is on disk; rejects with TIMEOUT, a disk error, or the abort reason. */
export function fetchChunks(options: ChunkFetchOptions): Promise<ChunkFetchStats> {
  const { download, connection, bus, signal, logger } = options;
  const stats: ChunkFetchStats = { requests: 0, corruptRerequests: 0, quietRetries: 0 };
  const filter = topicFilters.artifactChunks(options.sha256);
  const owner = {};
  const redeliveries = new Map<number, number>();
  /** Chunks of the current request window not yet received. */
  let windowLeft = new Set<number>();
  let quietTimer: NodeJS.Timeout | null = null;
  let consecutiveQuiet = 0;
  let settled = false;

  return new Promise<ChunkFetchStats>((resolve, reject) => {
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (quietTimer) clearTimeout(quietTimer);
      bus.removeListeners(owner);
      signal.removeEventListener('abort', onAbort);
      void connection.unsubscribe(filter).catch(() => undefined);
      if (err === undefined) resolve(stats);
      else reject(err);
    };
    const onAbort = () => settle(signal.reason);

    const send = (ranges: ChunkRange[]) => {
      if (settled || ranges.length === 0 || !connection.connected) return;
      stats.requests++;
      const payload = artifactRequestPayload.encode({
        v: 1,
        sha256: options.sha256,
        chunkSize: options.chunkSize,
        ranges,
      });
      connection
        .publish(topics.artifactRequest(options.deviceId), payload, channelDelivery['artifact/req'])
        .catch((err) => logger.warn('download.request_failed', errorFields(err)));
    };

    const requestWindow = () => {
      const ranges = limitRanges(download.missingRanges(), options.windowChunks);
      windowLeft = new Set(ranges.flatMap(([first, last]) => range(first, last)));
      send(ranges);
    };

    const armQuiet = () => {
      if (quietTimer) clearTimeout(quietTimer);
      quietTimer = setTimeout(onQuiet, options.quietMs);
    };

    const onQuiet = () => {
      quietTimer = null;
      if (settled || !connection.connected) return; // offline: the reconnect resumes us
      consecutiveQuiet++;
      stats.quietRetries++;
      if (consecutiveQuiet > options.maxQuietRetries) {
        settle(
          new EdgeloopError(
            'TIMEOUT',
            `no chunk of ${options.sha256} arrived after ${options.maxQuietRetries} requests`,
            { details: download.progress() },
          ),
        );
        return;
      }
      logger.info('download.quiet_rerequest', { sha256: options.sha256, attempt: consecutiveQuiet });
      requestWindow();
      armQuiet();
    };

    const onFrame = async (topic: string, payload: Buffer) => {
      if (settled) return;
      const parsed = tryParseTopic(topic);
      const index = parsed?.kind === 'artifact-chunk' ? parsed.chunk : undefined;
      let outcome: Awaited<ReturnType<ArtifactDownload['acceptFrame']>>;
      try {
        outcome = await download.acceptFrame(payload);
      } catch (err) {
        settle(err); // the disk failed: DISK_FULL / INTERNAL
        return;
      }
      if (settled) return;
      if (outcome.status === 'accepted') {
        consecutiveQuiet = 0;
        armQuiet();
        if (index !== undefined) windowLeft.delete(index);
        options.onProgress?.(download.progress());
        if (outcome.complete) settle();
        else if (windowLeft.size === 0) requestWindow();
        return;
      }
      if (
        outcome.status === 'rejected' &&
        outcome.reason !== 'finished' &&
        outcome.reason !== 'wrong_artifact'
      ) {
        logger.warn('download.chunk_rejected', { sha256: options.sha256, index, reason: outcome.message });
        if (index === undefined) return;
        const count = (redeliveries.get(index) ?? 0) + 1;
        redeliveries.set(index, count);
        if (count <= (options.maxRedeliveriesPerChunk ?? 5)) {
          stats.corruptRerequests++;
          send([[index, index]]);
        }
      }
    };

    if (signal.aborted) {
      settle(signal.reason);
      return;
    }
    signal.addEventListener('abort', onAbort);
    bus.on('connected', owner, () => {
      // A new session: whatever was in flight may be lost. Ask again for what is missing.
      consecutiveQuiet = 0;
      requestWindow();
      armQuiet();
    });
    bus.on('disconnected', owner, () => {
      if (quietTimer) clearTimeout(quietTimer);
      quietTimer = null;
    });
    connection.subscribe(filter, onFrame).then(
      () => {
        if (download.progress().complete) settle();
        else {
          requestWindow();
          armQuiet();
        }
      },
      (err) => settle(err),
    );
  });
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
