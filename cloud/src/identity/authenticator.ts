import type { Principal } from './principal.ts';

/** Why a login was refused. Stable codes from the shared error vocabulary. */
export type AuthRejectionCode = 'UNAUTHENTICATED' | 'TOKEN_REVOKED' | 'DEVICE_MISMATCH' | 'FORBIDDEN';

export type AuthOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; code: AuthRejectionCode; reason: string };

/**
 * What a broker needs from the identity side: check a username/password, and hear about revocations
 * so it can drop the live connection at once (a revoked device must not keep an open session).
 */
export interface BrokerAuthenticator {
  authenticate(username: string | undefined, password: string | undefined): Promise<AuthOutcome>;
  /** Subscribes to revocations of a device's credentials; returns the unsubscribe function. */
  onRevoked?(listener: (deviceId: string) => void): () => void;
}
