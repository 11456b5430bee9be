// Helpers for the artifact server's broker tests: a broker login that accepts the tests' principals,
// device clients, and a collector that decodes the chunk frames a device receives.
import { randomBytes } from 'node:crypto';
import {
  type ArtifactChunk,
  type ArtifactRequest,
  artifactRequestPayload,
  channelDelivery,
  decodeArtifactChunk,
  isDeviceId,
  topicFilters,
  topics,
} from '@edgeloop/shared';
import { connectAsync, type MqttClient } from 'mqtt';
import type { BrokerAuthenticator } from '../identity/authenticator.ts';
import { CLOUD_USERNAME } from '../identity/principal.ts';

/** The cloud account with any password, and every well-formed device id as itself. */
export const acceptingAuthenticator: BrokerAuthenticator = {
  async authenticate(username) {
    if (username === CLOUD_USERNAME) return { ok: true, principal: { kind: 'cloud', username } };
    if (username !== undefined && isDeviceId(username)) {
      return { ok: true, principal: { kind: 'device', deviceId: username } };
    }
    return { ok: false, code: 'UNAUTHENTICATED', reason: 'unknown test principal' };
  },
};

export async function connectDevice(url: string, deviceId: string): Promise<MqttClient> {
  return connectAsync(url, {
    clientId: deviceId,
    username: deviceId,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
}

export interface ReceivedChunks {
  /** Every frame received, decoded, in arrival order. */
  frames: ArtifactChunk[];
  /** Frames that failed to decode (there should be none). */
  corrupt: number;
}

/** Subscribes `client` to all chunks of `sha256` (the SUBACK is awaited) and collects them. */
export async function collectChunks(client: MqttClient, sha256: string): Promise<ReceivedChunks> {
  const received: ReceivedChunks = { frames: [], corrupt: 0 };
  const filter = topicFilters.artifactChunks(sha256);
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(filter.slice(0, -1))) return;
    const decoded = decodeArtifactChunk(new Uint8Array(payload));
    if (decoded.ok) received.frames.push(decoded.chunk);
    else received.corrupt++;
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return received;
}

export async function requestChunks(
  client: MqttClient,
  deviceId: string,
  request: Omit<ArtifactRequest, 'v'>,
): Promise<void> {
  await sendRaw(client, deviceId, artifactRequestPayload.encode({ v: 1, ...request }));
}

/** Publishes anything on the device's request topic (malformed-input tests). */
export async function sendRaw(
  client: MqttClient,
  deviceId: string,
  payload: Uint8Array | string,
): Promise<void> {
  await client.publishAsync(
    topics.artifactRequest(deviceId),
    typeof payload === 'string' ? payload : Buffer.from(payload),
    channelDelivery['artifact/req'],
  );
}

export const randomArtifact = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
