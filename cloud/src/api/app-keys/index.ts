// App keys: what browser and mobile apps present to the web SDK routes (and nothing else).

export { appKeyGuard, sdkCors } from './cross-origin.ts';
export { quickStartDemoKey } from './demo-key.ts';
export { APP_KEY_PATTERN, isAppKeyShaped } from './key-format.ts';
export { allowedOriginSchema } from './origins.ts';
export { AppKey, appKeyRoutes, CreatedAppKey } from './routes.ts';
export { APP_KEY_SCOPES, type AppKeyGrant, type AppKeyScope, WEB_TELEMETRY_PATH } from './scopes.ts';
export { type AppKeyRecord, AppKeyStore } from './store.ts';
