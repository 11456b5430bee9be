// Load generator for bench/api.ts, in its own thread so the client does not share the server's
// event loop (PGlite runs on that loop too). Plain JS: workers do not inherit the tsx loader.
// workerData: { url, headers, seconds, concurrency, warmupMs }; posts back sorted latencies (ms).
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { url, headers, seconds, concurrency, warmupMs } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

const once = () =>
  new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });

async function phase(untilMs, record) {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < untilMs) {
        const t0 = performance.now();
        const status = await once();
        record?.(performance.now() - t0, status);
      }
    }),
  );
}

await phase(performance.now() + warmupMs); // JIT, connections, query plans
const latencies = [];
let errors = 0;
const started = performance.now();
await phase(started + seconds * 1000, (ms, status) => {
  latencies.push(ms);
  if (status !== 200) errors++;
});
const elapsedS = (performance.now() - started) / 1000;
agent.destroy();
latencies.sort((a, b) => a - b);
parentPort.postMessage({ latencies, errors, elapsedS });
