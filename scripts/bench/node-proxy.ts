/**
 * Reference: the Node limit for the pass-through scenario. A bare `node:http` server
 * that forwards `GET /tasks/{id}` to one provider's simulator over an undici keep-alive
 * pool, parses the answer and does a minimal, generic mapping to the Task shape (a `data`
 * wrapper unwrapped, the status word mapped, progress scaled): no routing table, caches,
 * retries, breaker, schemas or logs. With `--fastify` the same proxy runs as one plain
 * fastify route (no hooks, schemas or logger): the framework's own share of the gateway's
 * cost, and the pass-through target. Prints `{"url": …}` once it listens.
 *
 * node --import tsx scripts/bench/node-proxy.ts --upstream URL --task-path PREFIX
 *   --provider NAME [--header NAME=VALUE]... [--fastify]
 */
import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    'task-path': { type: 'string' },
    provider: { type: 'string' },
    header: { type: 'string', multiple: true },
    fastify: { type: 'boolean', default: false },
  },
});
const { upstream, provider } = values;
const taskPath = values['task-path'];
if (upstream === undefined || taskPath === undefined || provider === undefined) throw new Error('--upstream, --task-path and --provider are required');
const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 30_000 });
const upstreamHeaders: Record<string, string> = { accept: 'application/json' };
for (const entry of values.header ?? []) {
  const equals = entry.indexOf('=');
  upstreamHeaders[entry.slice(0, equals).toLowerCase()] = entry.slice(equals + 1);
}
const PREFIX = '/tasks/';
const ID = /^[A-Za-z0-9._:-]{1,200}$/;
const STATUS: Record<string, string> = {
  pending: 'queued', in_queue: 'queued', queued: 'queued',
  in_progress: 'in_progress', processing: 'in_progress', running: 'in_progress',
  completed: 'succeeded', success: 'succeeded', succeeded: 'succeeded',
  failed: 'failed', error: 'failed', canceled: 'canceled', cancelled: 'canceled',
};

function send(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

type Body = Record<string, unknown>;

function toTask(id: string, raw: Body): string {
  const task = (typeof raw['data'] === 'object' && raw['data'] !== null ? raw['data'] : raw) as Body;
  const word = typeof task['status'] === 'string' ? task['status'] : '';
  const status = STATUS[word.toLowerCase()] ?? 'in_progress';
  const progress = typeof task['progress'] === 'number' ? Math.round(task['progress'] <= 1 ? task['progress'] * 100 : task['progress']) : null;
  const url = typeof task['url'] === 'string' ? task['url'] : undefined;
  const outputs = url === undefined ? [] : [{ type: 'video', url }];
  const terminal = status === 'succeeded' || status === 'failed' || status === 'canceled';
  return JSON.stringify({
    id,
    provider,
    provider_task_id: id,
    status,
    provider_status: word,
    progress: status === 'succeeded' ? 100 : progress,
    url: outputs[0]?.url ?? null,
    outputs,
    error: status === 'failed' ? { code: 'task_failed', message: 'failed' } : null,
    model: typeof task['model'] === 'string' ? task['model'] : null,
    created_at: null,
    completed_at: null,
    poll_after_ms: terminal ? null : 5000,
  });
}

/** The upstream call and the mapping: status code and JSON text of the answer. */
async function proxy(id: string): Promise<[number, string]> {
  if (!ID.test(id)) return [400, '{"code":"invalid_task_id"}'];
  try {
    const upstream = await pool.request({
      path: `${taskPath}${encodeURIComponent(id)}`,
      method: 'GET',
      headers: upstreamHeaders,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await upstream.body.text();
    if (upstream.statusCode !== 200) return [upstream.statusCode === 404 ? 404 : 502, '{"code":"upstream_error"}'];
    return [200, toTask(id, JSON.parse(text) as Body)];
  } catch {
    return [502, '{"code":"upstream_error"}'];
  }
}

async function listen(): Promise<{ url: string; close: () => Promise<void> }> {
  if (values.fastify) {
    const app = Fastify({ logger: false });
    app.get<{ Params: { id: string } }>('/tasks/:id', async (request, reply) => {
      const [status, body] = await proxy(request.params.id);
      return reply.code(status).type('application/json; charset=utf-8').send(body);
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  }
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    proxy(url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '').then(
      ([status, body]) => send(response, status, body),
      (error: unknown) => {
        console.error(error);
        response.destroy();
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const listening = await listen();
process.stdout.write(`${JSON.stringify({ url: listening.url })}\n`);
const stop = () => {
  listening
    .close()
    .then(() => pool.close())
    .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
