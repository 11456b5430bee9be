// The API on a real socket, with a shutdown that lets in-flight requests finish: stop accepting,
// let idle keep-alive sockets go, wait up to the grace period, then cut whatever is still open.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Logger } from '../log/index.ts';

export interface HttpServerHandle {
  url: string;
  port: number;
  /** Resolves when every connection is closed; `true` if it had to cut requests short. */
  close(graceMs: number): Promise<boolean>;
}

type FetchHandler = (request: Request) => Response | Promise<Response>;

export async function startHttpServer(
  fetch: FetchHandler,
  options: { host: string; port: number; logger: Logger },
): Promise<HttpServerHandle> {
  const server = serve({ fetch, hostname: options.host, port: options.port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'EADDRINUSE' ? ' (port in use: pick another with --port or EDGELOOP_HTTP_PORT)' : '';
      reject(
        new Error(`HTTP server cannot listen on ${options.host}:${options.port}: ${err.message}${hint}`),
      );
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    close: (graceMs) =>
      new Promise<boolean>((resolve) => {
        let forced = false;
        const timer = setTimeout(() => {
          forced = true;
          options.logger.warn({ graceMs }, 'requests still running after the grace period; closing them');
          if ('closeAllConnections' in server) server.closeAllConnections();
        }, graceMs);
        // close() drops the sockets idle right now; a socket whose request finishes later would
        // linger until its keep-alive timeout, so keep sweeping until the server is closed.
        const sweep = setInterval(() => {
          if ('closeIdleConnections' in server) server.closeIdleConnections();
        }, 25);
        server.close(() => {
          clearTimeout(timer);
          clearInterval(sweep);
          resolve(forced);
        });
      }),
  };
}
