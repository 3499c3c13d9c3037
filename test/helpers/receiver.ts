/**
 * A webhook receiver for tests: a real HTTP server on loopback (port 0) that records every
 * delivery (headers and raw body, as a receiver must verify them) and answers as told per
 * path: a status, or `hang` (never answers, until the receiver closes).
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

/** What to answer the `index`-th (0-based) delivery to a path. */
export type Responder = (index: number, delivery: ReceivedDelivery) => number | 'hang';

export interface Receiver {
  /** The receiver's origin, `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  deliveries: ReceivedDelivery[];
  /** TCP connections accepted, whatever came over them (a TLS hello, nothing at all). */
  connections(): number;
  /** Deliveries to one path. */
  at(path: string): ReceivedDelivery[];
  respond(path: string, responder: Responder): void;
  /** Resolves once `path` has received `count` deliveries; rejects after `timeoutMs` with what arrived. */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  close(): Promise<void>;
}

type Closable = { after(fn: () => Promise<void> | void): void };

export async function startReceiver(t: Closable): Promise<Receiver> {
  const deliveries: ReceivedDelivery[] = [];
  const responders = new Map<string, Responder>();
  const hanging = new Set<ServerResponse>();
  const waiters = new Set<() => void>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const delivery: ReceivedDelivery = { path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), receivedAt: Date.now() };
      const index = deliveries.filter((earlier) => earlier.path === path).length;
      deliveries.push(delivery);
      for (const wake of [...waiters]) wake();
      const answer = responders.get(path)?.(index, delivery) ?? 200;
      if (answer === 'hang') {
        hanging.add(response);
        return;
      }
      response.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  let connections = 0;
  server.on('connection', () => void connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const at = (path: string) => deliveries.filter((delivery) => delivery.path === path);
  const close = async () => {
    for (const response of hanging) response.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    deliveries,
    connections: () => connections,
    at,
    respond: (path, responder) => void responders.set(path, responder),
    waitFor: (path, count, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (at(path).length < count) return;
          finish();
          resolve(at(path));
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`${path}: ${at(path).length} of ${count} deliveries within ${timeoutMs} ms: ${at(path).map((delivery) => delivery.body.slice(0, 80)).join(' | ')}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close,
  };
}
