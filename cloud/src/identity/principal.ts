/**
 * Who is on the other end of an MQTT connection, once authenticated. Devices log in with their id
 * as username; the cloud's own processes share one service account.
 */
export type Principal = { kind: 'device'; deviceId: string } | { kind: 'cloud'; username: string };

/** The cloud service account's username, in the embedded broker and in generated Mosquitto files. */
export const CLOUD_USERNAME = 'edgeloop-cloud';

export const devicePrincipal = (deviceId: string): Principal => ({ kind: 'device', deviceId });
export const cloudPrincipal = (username: string = CLOUD_USERNAME): Principal => ({ kind: 'cloud', username });

export function principalName(principal: Principal): string {
  return principal.kind === 'device' ? principal.deviceId : principal.username;
}
