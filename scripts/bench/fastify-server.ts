/**
 * Reference: the smallest fastify app answering `GET /tasks/:id` with the same prepared
 * bytes and headers the gateway sent for a cached terminal task: what the framework
 * itself costs, without our hooks, schemas or logging. Prints `{"url": …}` once it listens.
 *
 * node --import tsx scripts/bench/fastify-server.ts --response-file FILE
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const { values } = parseArgs({ options: { 'response-file': { type: 'string' } } });
const file = values['response-file'];
if (file === undefined) throw new Error('--response-file is required');
const prepared = JSON.parse(readFileSync(file, 'utf8')) as { body: string; headers: Record<string, string> };

const app = Fastify({ logger: false });
app.get('/tasks/:id', async (_request, reply) => {
  reply.headers(prepared.headers);
  return reply.send(prepared.body);
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ url })}\n`);
const stop = () => {
  app.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
