// The client side of the frames: this process posting the JPEG to an agent's `POST /infer`.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';

/**
 * The two HTTP clients the agent is measured with. `http`: node:http with one keep-alive socket per
 * request in flight, the lightest client Node ships. `fetch`: Node 20's fetch (undici), also keep-alive, which costs the
 * client about half a millisecond more per request on these machines (bench/README.md): both are
 * reported, so the client's share stays visible.
 */
export type Client = 'http' | 'fetch';

function poster(localUrl: string, jpeg: Buffer, client: Client, sockets: number): () => Promise<void> {
  const url = `${localUrl}/infer`;
  if (client === 'fetch') {
    return async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: jpeg,
      });
      if (!response.ok) throw new Error(`/infer: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    };
  }
  const agent = new HttpAgent({ keepAlive: true, maxSockets: sockets });
  const headers = { 'content-type': 'image/jpeg', 'content-length': jpeg.length };
  return () =>
    new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve()
            : reject(new Error(`/infer: ${res.statusCode} ${Buffer.concat(chunks).toString()}`)),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(jpeg);
    });
}

/**
 * Frames/s through the agent's local API with `concurrency` requests in flight (each posts the next
 * frame as soon as its answer is in), and the agent's CPU time meanwhile.
 */
export async function throughAgent(
  localUrl: string,
  jpeg: Buffer,
  seconds: number,
  client: Client,
  agentCpuMs: () => Promise<number>,
  concurrency = 1,
) {
  const post = poster(localUrl, jpeg, client, concurrency);
  for (let i = 0; i < 20; i++) await post();
  let frames = 0;
  const cpuBefore = await agentCpuMs();
  const started = performance.now();
  const inFlight = async () => {
    while (performance.now() - started < seconds * 1000) {
      await post();
      frames++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, inFlight));
  const elapsed = (performance.now() - started) / 1000;
  return { frames, seconds: elapsed, cpuMs: (await agentCpuMs()) - cpuBefore };
}
