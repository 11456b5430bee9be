// Plain JavaScript on purpose: a worker thread starts with a fresh module loader that cannot read
// TypeScript, and `--import tsx` in a worker's execArgv does not take effect on Node 20. So this
// file registers tsx's loader in the worker, then imports the TypeScript entry named by the parent.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
