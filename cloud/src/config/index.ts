export { ConfigError, type ConfigIssue, cloudFlagOptions, loadCloudConfig, parseCloudArgs } from './load.ts';
export { API_TOKEN_PATTERN, type CloudConfig, cloudConfigSchema, LOG_LEVELS } from './schema.ts';
export { CLOUD_SETTINGS, type Setting } from './settings.ts';
