/**
 * A second, independent reading of the spec: Stoplight Prism in validating-proxy mode
 * (offline) in front of a live gateway, replaying a request mix that covers every
 * operation and its usual answers. Prism checks each request against the spec and each
 * answer (status, media type, headers, body) against what the spec says; a single
 * violation fails the test, so drift between the served behaviour and the document shows
 * even where our own ajv check (generated-client.test.ts) reads the spec the same way we
 * wrote it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { request } from 'undici';
import { startCdn } from '../../src/simulators/media/cdn.js';
import { listen } from '../helpers/http.js';
import { startStack } from '../helpers/stack.js';
import { freePort } from '../hardening/support.js';

const SPEC = new URL('../../openapi/openapi.json', import.meta.url).pathname;
const PRISM = createRequire(import.meta.url).resolve('@stoplight/prism-cli/dist/index.js');

async function startPrism(t: { after(fn: () => void): void }, upstream: string): Promise<string> {
  const port = await freePort();
  const prism = spawn(process.execPath, [PRISM, 'proxy', SPEC, upstream, '--port', String(port), '--host', '127.0.0.1', '--errors'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => prism.kill('SIGKILL'));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prism did not start: ${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Prism is listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    prism.stdout.on('data', read);
    prism.stderr.on('data', read);
    prism.once('exit', (code) => reject(new Error(`prism exited with ${code}: ${output}`)));
  });
  return `http://127.0.0.1:${port}`;
}

interface Exchange {
  method?: 'GET' | 'HEAD' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** What the gateway answers (Prism passes it through when it conforms). */
  status: number;
}

test('every answer of a request mix conforms to the spec, as Prism reads it', async (t) => {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const allowHosts = [{ host: '127.0.0.1', port: Number(new URL(cdn.url).port) }];
  const { app, vtrix, gravitex } = await startStack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts } }) });
  const gateway = await listen(app);
  const done = [{ atMs: 0, status: 'succeeded' as const }];
  vtrix.setTask('task_pr0001', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }] });
  vtrix.setTask('task_pr0002', { variant: 'cli', timeline: done });
  vtrix.setTask('task_pr0003', { variant: 'legacy', timeline: [{ atMs: 0, status: 'failed' }] });
  gravitex.setTask('video_pr04', { variant: 'wrapped', timeline: done });
  vtrix.setTask('task_pr0005', {
    raw: { status: 200, body: { id: 'task_pr0005', status: 'completed', output: [{ content: [{ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }] }] } },
  });
  const prism = await startPrism(t, gateway);
  const etag = (await request(`${gateway}/tasks/task_pr0002`)).headers.etag as string;

  const mix: Exchange[] = [
    { path: '/tasks/task_pr0001', status: 200 },
    { path: '/tasks/task_pr0002', status: 200 },
    { path: '/tasks/task_pr0002', headers: { 'if-none-match': etag }, status: 304 },
    { path: '/tasks/task_pr0003', status: 200 },
    { path: '/tasks/gravitex:video_pr04', status: 200 },
    { path: '/tasks/task_pr0001?wait=1', status: 200 },
    { path: '/tasks/task_pr0001', headers: { prefer: 'wait=1' }, status: 200 },
    { path: '/tasks/task_pr_missing', status: 404 },
    { path: '/tasks/nope-nope', status: 404 },
    { path: '/tasks/openai:video_unconfigured', status: 404 },
    // No HEAD of a JSON answer: Prism 5 itself fails on those (it parses the empty body of a
    // HEAD answer as JSON: "invalid json response body"); HEAD of a file works and is here.
    { method: 'POST', path: '/tasks/batch', body: { ids: ['task_pr0002', 'task_pr0003', 'task_pr_missing', 'bad id!'] }, status: 200 },
    { method: 'POST', path: '/tasks/task_pr0002/links', body: { ttl_seconds: 120 }, status: 201 },
    { method: 'POST', path: '/tasks/task_pr0002/links', status: 201 },
    { path: '/tasks/task_pr0005/content', status: 200 },
    { path: '/tasks/task_pr0005/content', headers: { range: 'bytes=0-99' }, status: 206 },
    { method: 'HEAD', path: '/tasks/task_pr0005/content', status: 200 },
    { path: '/tasks/task_pr0001/content', status: 409 },
    { path: '/tasks/task_pr0005/content?output=7', status: 404 },
    { path: '/tasks/task_pr0002/events', status: 200 },
    { path: '/healthz', status: 200 },
    { path: '/readyz', status: 200 },
    { path: '/metrics', status: 200 },
    { path: '/problems/task_not_found', status: 200 },
    { path: '/problems/task_not_found', headers: { accept: 'application/json' }, status: 200 },
  ];
  const violations: string[] = [];
  for (const exchange of mix) {
    const method = exchange.method ?? 'GET';
    const response = await request(`${prism}${exchange.path}`, {
      method,
      headers: { ...exchange.headers, ...(exchange.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: exchange.body === undefined ? undefined : JSON.stringify(exchange.body),
    });
    const body = await response.body.text();
    const where = `${method} ${exchange.path}`;
    const found = response.headers['sl-violations'];
    if (found !== undefined) violations.push(`${where}: ${String(found)}`);
    else if (response.statusCode !== exchange.status) violations.push(`${where}: ${response.statusCode} (expected ${exchange.status}) ${body.slice(0, 300)}`);
  }
  assert.deepEqual(violations, []);
});
