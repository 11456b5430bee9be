// @edgeloop/shared — the wire contracts. Everything that crosses a process boundary is defined
// here once: topics, payload schemas, the model manifest and its signature, device profiles, errors.
// Browser-safe: depends on zod only.

export * from './drift/index.ts';
export * from './encoding.ts';
export * from './errors.ts';
export * from './http/models.ts';
export * from './http/web-telemetry.ts';
export * from './ids.ts';
export * from './manifest.ts';
export * from './messages/artifact.ts';
export * from './messages/desired.ts';
export * from './messages/reported.ts';
export * from './messages/samples.ts';
export * from './messages/status.ts';
export * from './messages/telemetry.ts';
export * from './payload.ts';
export * from './preprocessing.ts';
export * from './profile.ts';
export * from './signing.ts';
export * from './sketches/index.ts';
export * from './telemetry/latency-tally.ts';
export * from './telemetry/window-builder.ts';
export * from './topics.ts';
export * from './wire.ts';
