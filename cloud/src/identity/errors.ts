import { EdgeloopError, type ErrorCode } from '@edgeloop/shared';

/** Identity failures: provisioning conflicts, unknown devices, malformed stored hashes. */
export class IdentityError extends EdgeloopError {
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(code, message, options);
    this.name = 'IdentityError';
  }
}
