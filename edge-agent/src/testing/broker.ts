// A real MQTT broker (aedes) inside the test process, which tests can take down and bring back on the
// same port: `restart()` loses every session and retained message (a broker without persistence),
// `restart({ keepState: true })` only drops the connections (a persistent broker's outage).
import net from 'node:net';
import { Aedes } from 'aedes';

export interface TestBroker {
  readonly url: string;
  readonly port: number;
  /** Stops accepting and drops every connection; `up()` brings it back. */
  down(options?: { keepState?: boolean }): Promise<void>;
  up(): Promise<void>;
  restart(options?: { keepState?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startTestBroker(): Promise<TestBroker> {
  let broker = await Aedes.createBroker();
  let server: net.Server | null = null;
  const sockets = new Set<net.Socket>();
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        broker.handle(socket);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const closeBroker = () => new Promise<void>((resolve) => broker.close(() => resolve()));

  await listen();
  const handle: TestBroker = {
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    async down({ keepState = false } = {}) {
      const s = server;
      server = null;
      for (const socket of sockets) socket.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
      if (!keepState) {
        await closeBroker();
        broker = await Aedes.createBroker();
      }
    },
    up: listen,
    async restart(options) {
      await handle.down(options);
      await handle.up();
    },
    async close() {
      await handle.down({ keepState: true });
      await closeBroker();
    },
  };
  return handle;
}
