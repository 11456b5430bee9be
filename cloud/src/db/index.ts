export {
  type AdvisoryLockName,
  type SessionAdvisoryLock,
  sessionAdvisoryLock,
  tryAdvisoryXactLock,
} from './advisory-lock.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './connect.ts';
export {
  type Database,
  type DatabaseDriver,
  type DatabaseLog,
  type Db,
  type OpenDatabaseOptions,
  openDatabase,
  queryRows,
  type Schema,
} from './database.ts';
export { redactUrl, SQLSTATE_IMMUTABLE, sqlState, toEdgeloopError } from './errors.ts';
export { ADVISORY_LOCK_CLASS, AdvisoryLockKey, MIGRATIONS_FOLDER } from './migrate.ts';
export * as schema from './schema.ts';
