/**
 * A lint of the Dockerfile, not a build: no Docker engine runs here. What the image does is
 * proven by `npm run smoke` (in CI, after `npm run build`), which copies exactly the files
 * the runtime stage copies (parsed from this Dockerfile) into an empty folder and starts the
 * server from them: health, readiness, a task of every provider, SIGTERM, tracing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').replace(/\\\n/g, ' ');
const lines = dockerfile.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
const stages = lines.reduce<string[][]>((all, line) => {
  if (/^FROM\s/i.test(line)) all.push([line]);
  else all.at(-1)?.push(line);
  return all;
}, []);
const runtime = stages.at(-1) ?? [];

test('lint: multi-stage, a build stage, then a runtime stage on the same base', () => {
  assert.ok(stages.length >= 2);
  assert.match(stages[0]![0]!, /^FROM \$\{NODE_IMAGE\} AS build$/);
  assert.match(runtime[0]!, /^FROM \$\{NODE_IMAGE\} AS runtime$/);
  assert.match(lines[0]!, /^ARG NODE_IMAGE=node:\d+-slim$/, 'the current LTS, overridable with a pinned digest');
});

test('lint: the runtime stage copies only the bundle and what it loads, runs as node, checks health, and runs node as PID 1', () => {
  const copies = runtime.filter((line) => line.startsWith('COPY'));
  assert.deepEqual(
    copies.map((line) => line.replace(/--chown=\S+ /, '')),
    [
      'COPY --from=build /app/dist/taskgate.mjs ./taskgate.mjs',
      'COPY --from=build /app/dist/taskgate-server.mjs ./taskgate-server.mjs',
      'COPY --from=build /app/dist/tracing-sdk.mjs ./tracing-sdk.mjs',
      'COPY --from=build /app/dist/archive-s3.mjs ./archive-s3.mjs',
      'COPY --from=build /app/dist/runtime/node_modules ./node_modules',
    ],
  );
  assert.ok(runtime.includes('USER node'));
  assert.ok(runtime.some((line) => /^HEALTHCHECK .*CMD \["node", "-e", .*\/healthz/.test(line)));
  assert.ok(runtime.includes('CMD ["node", "taskgate.mjs"]'), 'node itself, not npm: SIGTERM reaches it');
});

test('lint: secrets and local files stay out of the build context', () => {
  const ignored = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8').split('\n');
  for (const entry of ['.env*', 'node_modules', 'dist', '.git']) assert.ok(ignored.includes(entry), entry);
});
