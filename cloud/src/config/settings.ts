// Where each setting comes from: one row per field of cloudConfigSchema, naming its flag and its
// environment variable. `cloud start --help` is generated from this table, so help, flags and env
// cannot drift apart.

export interface Setting {
  /** Dotted path into CloudConfig. */
  path: string;
  flag: string;
  env: string;
  help: string;
  /** Boolean flags take no value on the command line. */
  boolean?: true;
  /** Never echoed in error messages (URLs with passwords, tokens). */
  secret?: true;
}

export const CLOUD_SETTINGS: readonly Setting[] = [
  { path: 'http.host', flag: 'host', env: 'EDGELOOP_HTTP_HOST', help: 'HTTP listen address (127.0.0.1)' },
  { path: 'http.port', flag: 'port', env: 'EDGELOOP_HTTP_PORT', help: 'HTTP port, 0 = any free port (8080)' },
  {
    path: 'http.bodyLimit',
    flag: 'body-limit',
    env: 'EDGELOOP_BODY_LIMIT',
    help: 'largest request body, e.g. 1mb (1mb)',
  },
  {
    path: 'http.publicUrl',
    flag: 'public-url',
    env: 'EDGELOOP_PUBLIC_URL',
    help: 'URL clients use, when behind a proxy',
  },
  {
    path: 'dataDir',
    flag: 'data-dir',
    env: 'EDGELOOP_DATA_DIR',
    help: 'embedded database, artifacts, keys (./.edgeloop)',
  },
  {
    path: 'database.url',
    flag: 'database-url',
    env: 'DATABASE_URL',
    help: 'PostgreSQL URL (unset: embedded PGlite)',
    secret: true,
  },
  {
    path: 'mqtt.url',
    flag: 'mqtt-url',
    env: 'MQTT_URL',
    help: 'external MQTT broker (unset: embedded)',
    secret: true,
  },
  {
    path: 'mqtt.host',
    flag: 'mqtt-host',
    env: 'EDGELOOP_MQTT_HOST',
    help: 'embedded broker listen address (127.0.0.1)',
  },
  {
    path: 'mqtt.tcpPort',
    flag: 'mqtt-port',
    env: 'EDGELOOP_MQTT_PORT',
    help: 'embedded broker TCP port (1884)',
  },
  {
    path: 'mqtt.wsPort',
    flag: 'mqtt-ws-port',
    env: 'EDGELOOP_MQTT_WS_PORT',
    help: 'embedded broker WebSocket port (8884)',
  },
  {
    path: 'mqtt.cloudSecret',
    flag: 'mqtt-cloud-secret',
    env: 'EDGELOOP_MQTT_CLOUD_SECRET',
    help: "the cloud's MQTT password (external broker)",
    secret: true,
  },
  {
    path: 'mqtt.shareGroup',
    flag: 'mqtt-share-group',
    env: 'EDGELOOP_MQTT_SHARE_GROUP',
    help: "shared-subscription group of this deployment's cloud processes (edgeloop)",
  },
  {
    path: 'log.level',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    help: 'trace|debug|info|warn|error|fatal|silent (info)',
  },
  {
    path: 'log.format',
    flag: 'log-format',
    env: 'LOG_FORMAT',
    help: 'auto|json|pretty; auto = pretty on a terminal (auto)',
  },
  {
    path: 'auth.adminToken',
    flag: 'admin-token',
    env: 'EDGELOOP_ADMIN_TOKEN',
    help: 'ensure this admin token exists (el_<id>_<secret>)',
    secret: true,
  },
  {
    path: 'startup.retryForMs',
    flag: 'startup-retry-ms',
    env: 'EDGELOOP_STARTUP_RETRY_MS',
    help: 'keep retrying database/broker for this long (30000)',
  },
  {
    path: 'shutdown.graceMs',
    flag: 'shutdown-grace-ms',
    env: 'EDGELOOP_SHUTDOWN_GRACE_MS',
    help: 'time in-flight requests get on shutdown (10000)',
  },
  {
    path: 'quickStart',
    flag: 'quick-start',
    env: 'EDGELOOP_QUICK_START',
    help: 'create and keep an admin token in the data dir',
    boolean: true,
  },
];
