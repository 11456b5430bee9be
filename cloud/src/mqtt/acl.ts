import {
  CHANNEL_PUBLISHER,
  DEVICE_CHANNELS,
  type DeviceChannel,
  isDeviceId,
  SHA256_PATTERN,
  TOPIC_PREFIX,
  tryParseTopic,
} from '@edgeloop/shared';
import type { Principal } from '../identity/principal.ts';

/**
 * The broker's authorization rules, as pure functions. The embedded broker calls them on every
 * PUBLISH and SUBSCRIBE; `mosquitto-files.ts` expresses the same rules as Mosquitto pattern ACLs.
 * Everything derives from the shared topic contract: a device may publish only on its own channels
 * whose publisher is the device (`CHANNEL_PUBLISHER`), may subscribe only to filters that can match
 * nothing but its own topics, and may read (never write) artifact chunks. The cloud may do anything
 * except write to `$`-topics, which belong to the broker.
 */
export type AclRejection =
  /** Not a topic (or filter) of the edgeloop contract, or syntactically broken. */
  | 'TOPIC_INVALID'
  /** A device touching a topic that belongs to another device. */
  | 'FOREIGN_DEVICE'
  /** A device publishing on a channel only the cloud publishes (desired, artifact chunks). */
  | 'CLOUD_ONLY'
  /** A filter broad enough to match other devices' topics (`#`, `el/v1/dev/+/…`, `$share/…`). */
  | 'WILDCARD_TOO_BROAD'
  /** Broker-internal topics (`$SYS/…`). */
  | 'RESERVED_TOPIC';

export type AclDecision = { allowed: true } | { allowed: false; code: AclRejection; reason: string };

const ALLOW: AclDecision = { allowed: true };
const deny = (code: AclRejection, reason: string): AclDecision => ({ allowed: false, code, reason });

const PREFIX_LEVELS = TOPIC_PREFIX.split('/'); // ['el', 'v1']
const CHUNK_INDEX = /^(0|[1-9][0-9]{0,8})$/;

export function canPublish(principal: Principal, topic: string): AclDecision {
  if (topic.length === 0 || topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) {
    return deny('TOPIC_INVALID', 'a PUBLISH topic must be non-empty and contain no wildcards');
  }
  if (topic.startsWith('$')) return deny('RESERVED_TOPIC', '$-topics belong to the broker');
  if (principal.kind === 'cloud') return ALLOW;

  const parsed = tryParseTopic(topic);
  if (!parsed) return deny('TOPIC_INVALID', `${JSON.stringify(topic)} is not an edgeloop topic`);
  if (parsed.kind === 'artifact-chunk')
    return deny('CLOUD_ONLY', 'artifact chunks are published by the cloud');
  if (parsed.deviceId !== principal.deviceId) {
    return deny('FOREIGN_DEVICE', `device ${principal.deviceId} may not publish as ${parsed.deviceId}`);
  }
  if (CHANNEL_PUBLISHER[parsed.channel] !== 'device') {
    return deny('CLOUD_ONLY', `the ${parsed.channel} channel is published by the cloud`);
  }
  return ALLOW;
}

export function canSubscribe(principal: Principal, filter: string): AclDecision {
  const syntax = checkFilterSyntax(filter);
  if (syntax) return deny('TOPIC_INVALID', syntax);
  if (principal.kind === 'cloud') return ALLOW;

  const levels = filter.split('/');
  if (levels[0]?.startsWith('$')) {
    return levels[0] === '$share'
      ? deny('WILDCARD_TOO_BROAD', 'devices may not use shared subscriptions')
      : deny('RESERVED_TOPIC', '$-topics belong to the broker');
  }
  if (levels[0] !== PREFIX_LEVELS[0] || levels[1] !== PREFIX_LEVELS[1]) {
    return levels.slice(0, 2).some(isWildcard)
      ? deny('WILDCARD_TOO_BROAD', `${JSON.stringify(filter)} could match other devices' topics`)
      : deny('TOPIC_INVALID', `${JSON.stringify(filter)} is outside ${TOPIC_PREFIX}/`);
  }
  const family = levels[2];
  if (family === 'dev') return checkDeviceFilter(principal.deviceId, levels, filter);
  if (family === 'art') return checkArtifactFilter(levels, filter);
  return family !== undefined && isWildcard(family)
    ? deny('WILDCARD_TOO_BROAD', `${JSON.stringify(filter)} could match other devices' topics`)
    : deny('TOPIC_INVALID', `unknown topic family in ${JSON.stringify(filter)}`);
}

/** `el/v1/dev/<own id>/…`: any filter rooted at the device's own id matches only its own topics. */
function checkDeviceFilter(deviceId: string, levels: string[], filter: string): AclDecision {
  const id = levels[3];
  if (id === undefined || isWildcard(id)) {
    return deny('WILDCARD_TOO_BROAD', `${JSON.stringify(filter)} could match other devices' topics`);
  }
  if (id !== deviceId) {
    return deny(
      'FOREIGN_DEVICE',
      `device ${deviceId} may not subscribe to ${isDeviceId(id) ? id : 'that'} topic`,
    );
  }
  const rest = levels.slice(4);
  if (rest.length === 0) return deny('TOPIC_INVALID', `${JSON.stringify(filter)} names no channel`);
  if (!rest.some(isWildcard) && !(DEVICE_CHANNELS as readonly string[]).includes(rest.join('/'))) {
    return deny('TOPIC_INVALID', `unknown device channel in ${JSON.stringify(filter)}`);
  }
  return ALLOW;
}

/** `el/v1/art/{sha256|+}/{chunk|+}`: chunks are signed and content-addressed, so reading is harmless. */
function checkArtifactFilter(levels: string[], filter: string): AclDecision {
  const [, , , sha = '', chunk = ''] = levels;
  const shaOk = sha === '+' || SHA256_PATTERN.test(sha);
  const chunkOk = chunk === '+' || CHUNK_INDEX.test(chunk);
  if (levels.length !== 5 || !shaOk || !chunkOk) {
    return deny(
      'TOPIC_INVALID',
      `artifact filters look like ${TOPIC_PREFIX}/art/{sha256|+}/{chunk|+}, not ${JSON.stringify(filter)}`,
    );
  }
  return ALLOW;
}

const isWildcard = (level: string) => level === '+' || level === '#';

/** MQTT filter syntax: `#` only as the whole last level, `+` only as a whole level. Returns why not, or undefined. */
export function checkFilterSyntax(filter: string): string | undefined {
  if (filter.length === 0) return 'empty filter';
  if (filter.includes('\u0000')) return 'NUL in filter';
  const levels = filter.split('/');
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return '"#" must be the whole last level';
    }
    if (level.includes('+') && level !== '+') return '"+" must be a whole level';
  }
  return undefined;
}

/** Does an MQTT filter match a concrete topic? (MQTT 3.1.1 §4.7, incl. `$`-topics vs leading wildcards.) */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The channels a device publishes, in contract order: what its write ACL must cover. */
export const DEVICE_PUBLISHED_CHANNELS: readonly DeviceChannel[] = DEVICE_CHANNELS.filter(
  (c) => CHANNEL_PUBLISHER[c] === 'device',
);
