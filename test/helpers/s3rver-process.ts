/**
 * A real S3 API server (s3rver, from npm) as a process of its own, for tests and the
 * benchmarks: `node --import tsx test/helpers/s3rver-process.ts <folder> <bucket> [--quiet]`.
 * It listens on a free loopback port, creates the bucket, and prints one JSON line when
 * it listens (`{"port"}`), then, unless quiet, one per request it receives (`{"method",
 * "path", "range"}`), so a test can count what reached the store.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

const [directory, bucket, flag] = process.argv.slice(2);
if (directory === undefined || bucket === undefined) {
  process.stderr.write('usage: s3rver-process.ts <folder> <bucket> [--quiet]\n');
  process.exit(2);
}
const quiet = flag === '--quiet';
const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket }] });
await s3rver.configureBuckets();
const handle = s3rver.callback();
const server = createServer((request, response) => {
  if (!quiet) {
    const range = request.headers.range;
    process.stdout.write(`${JSON.stringify({ method: request.method, path: request.url, range: range ?? null })}\n`);
  }
  handle(request, response);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
