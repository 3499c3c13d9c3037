/**
 * Reference: a bare `node:http` server that answers every request with the same prepared
 * bytes and headers the gateway sent for a cached terminal task. The ceiling for the
 * "cached terminal task" scenario. Prints `{"url": …}` once it listens.
 *
 * node --import tsx scripts/bench/bare-server.ts --response-file FILE
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'response-file': { type: 'string' } } });
const file = values['response-file'];
if (file === undefined) throw new Error('--response-file is required');
const prepared = JSON.parse(readFileSync(file, 'utf8')) as { body: string; headers: Record<string, string> };
const body = Buffer.from(prepared.body);
const headers = { ...prepared.headers, 'content-length': String(body.length) };

const server = createServer((request, response) => {
  response.writeHead(200, headers);
  response.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
