/**
 * The provider contract, proven with a provider defined here ("acme") that uses every
 * part of it a real one may need: credentials that mint a token per request (fetched and
 * cached), two calls per lookup under one deadline, ids with a `/`, bare ids asked at two
 * native ids at once, its own status words, private and inline outputs, files the provider
 * removed, and an expiry. Its upstream is a real HTTP server on loopback.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { GatewayError } from '../../src/errors.js';
import { readTaskBody } from '../../src/providers/http.js';
import { resolveResultUrl } from '../../src/providers/normalize.js';
import type { ProviderDefinition, TaskDraft } from '../../src/providers/types.js';
import { z } from 'zod';
import { defineHttpProvider } from '../../src/providers/define.js';
import { runLookup } from '../helpers/adapter.js';
import { json } from '../helpers/stack.js';

interface AcmeTask {
  status: string;
  /** Succeeded: the file id the second call resolves. */
  file?: string;
  /** The file's URL the second call answers (relative: on the provider's own origin). */
  fileUrl?: string;
  inline?: boolean;
  removed?: boolean;
  expiresAt?: number;
  /** Delay before answering the status call. */
  delayMs?: number;
  /** The files call never answers. */
  hangFiles?: boolean;
  /** A status answer that echoes the token it was sent. */
  echoToken?: boolean;
}

interface Upstream {
  url: string;
  tasks: Map<string, AcmeTask>;
  requests: Array<{ method: string; path: string; authorization: string | undefined }>;
  tokensIssued: number;
}

const SECRET = 'acme-secret-9c41';
const INLINE_BYTES = Buffer.from('0123456789abcdefghij');

async function startUpstream(t: TestContext): Promise<Upstream> {
  const upstream: Upstream = { url: '', tasks: new Map(), requests: [], tokensIssued: 0 };
  const issued = new Set<string>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? '/';
    upstream.requests.push({ method: request.method ?? 'GET', path, authorization: request.headers.authorization });
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (path === '/token' && request.method === 'POST') {
      const token = `tok-${++upstream.tokensIssued}-${'x'.repeat(12)}`;
      issued.add(token);
      return send(200, { token });
    }
    const token = request.headers.authorization?.replace(/^Bearer /, '');
    if (token === undefined || !issued.has(token)) return send(401, { error: 'bad token' });
    if (path.startsWith('/download/')) {
      response.writeHead(200, { 'content-type': 'video/webm', 'content-length': '4' });
      return response.end('webm');
    }
    const files = /^\/v1\/files\/(\w+)$/.exec(path);
    if (files !== null) {
      const task = [...upstream.tasks.values()].find((candidate) => candidate.file === files[1]);
      if (task?.hangFiles === true) return;
      return task === undefined ? send(404, {}) : send(200, { url: task.fileUrl ?? `/download/${files[1]}.webm` });
    }
    const status = /^\/v1\/(video|image)\/(\d+)$/.exec(path);
    const task = status === null ? undefined : upstream.tasks.get(`${status[1]}/${status[2]}`);
    if (task === undefined) return send(404, { error: 'no such task' });
    const answer = () => send(200, { ...task, echo: task.echoToken === true ? `you sent ${token}` : undefined });
    if (task.delayMs === undefined) answer();
    else setTimeout(answer, task.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return upstream;
}

const AcmeBody = z.object({
  status: z.string(),
  file: z.string().optional(),
  inline: z.boolean().optional(),
  removed: z.boolean().optional(),
  expiresAt: z.number().optional(),
  echo: z.string().optional(),
});
const FileBody = z.object({ url: z.string() });
const isNotFound = (response: { statusCode: number }) => response.statusCode === 404;

/** Mints a token by a call of its own the first time, then reuses it; counts how often it was asked. */
const acme: ProviderDefinition = {
  name: 'acme',
  title: 'a provider that needs every part of the contract',
  credentials: [{ setting: 'secret', env: 'ACME_SECRET', secret: true }],
  defaultBaseUrl: undefined,
  baseUrlRequired: 'acme has no public host',
  cadenceMs: 5000,
  idRules: [{ pattern: '^\\d+$', order: 1 }],
  nativeIds: { pattern: /^(?:(?:video|image)\/)?\d{1,20}$/, description: 'digits, optionally after video/ or image/', example: 'video/123' },
  statuses: { queued: ['Waiting'], in_progress: ['Working'], succeeded: ['Done'], failed: ['Broken'] },
  expand: (nativeId) => (nativeId.includes('/') ? [nativeId] : [`video/${nativeId}`, `image/${nativeId}`]),
  connect({ settings, addSecret }) {
    let token: Promise<string> | undefined;
    return {
      async authorize(url, call) {
        token ??= call
          .request({ method: 'POST', path: '/token', template: '/token', form: { secret: settings.credentials['secret'] ?? '' }, auth: false })
          .then((response) => {
            const minted = (JSON.parse(response.body) as { token: string }).token;
            addSecret(minted);
            return minted;
          });
        return { authorization: `Bearer ${await token}` };
      },
      async lookup(nativeId, call): Promise<TaskDraft> {
        const response = await call.request({ path: `/v1/${nativeId}`, template: '/v1/{kind}/{id}' });
        const body = readTaskBody(response, { provider: 'acme', isNotFound, schema: AcmeBody });
        const draft: TaskDraft = {
          provider_task_id: nativeId,
          provider_status: body.echo ?? body.status,
          progress: null,
          outputs: [],
          error: null,
          model: null,
          created_at: null,
          completed_at: null,
          expires_at: body.expiresAt === undefined ? null : new Date(body.expiresAt).toISOString().replace(/\.\d+Z$/, 'Z'),
        };
        if (body.removed === true) return { ...draft, filesRemoved: true };
        if (body.inline === true) return { ...draft, outputs: [{ type: 'video', url: 'inline:0', private: true }] };
        if (body.file === undefined) return draft;
        if (call.remainingMs <= 0) throw new GatewayError('upstream_timeout', { provider: 'acme' });
        seenRemaining.push(call.remainingMs);
        const file = readTaskBody(await call.request({ path: `/v1/files/${body.file}`, template: '/v1/files/{file}' }), { provider: 'acme', isNotFound, schema: FileBody });
        const url = resolveResultUrl(file.url, settings.baseUrl);
        return { ...draft, outputs: url === null ? [] : [{ type: 'video', url }] };
      },
      async openInline() {
        return { contentType: 'video/mp4', bytes: INLINE_BYTES };
      },
    };
  },
};
/** What the lookup saw of its deadline before its second call. */
const seenRemaining: number[] = [];

async function gateway(t: TestContext, upstream: Upstream, env: Record<string, string> = {}) {
  const config = loadConfig({ ACME_SECRET: SECRET, ACME_BASE_URL: upstream.url, ...env }, [acme]);
  const app = await buildApp({ ...config, cache: { ...config.cache, freshMs: 0 } }, { logger: false, providers: [acme] });
  t.after(() => app.close());
  return app;
}

test('a base URL without a default is required with the credentials, named by its variable', () => {
  assert.throws(() => loadConfig({ ACME_SECRET: 's' }, [acme]), /^ConfigError: ACME_BASE_URL: is required with ACME_SECRET: acme has no public host$/);
  assert.equal(loadConfig({}, [acme]).providers['acme']?.credentials, undefined, 'no credentials: not configured, and no error');
});

test('a bare id is asked at both native ids at once; the one that has it is remembered', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('image/123', { status: 'Working' });
  const app = await gateway(t, upstream);
  const first = await app.inject({ url: '/tasks/123' });
  assert.equal(first.statusCode, 200);
  assert.equal(json(first).provider_task_id, 'image/123');
  const statusCalls = () => upstream.requests.filter((request) => request.path.startsWith('/v1/')).map((request) => request.path).sort();
  assert.deepEqual(statusCalls(), ['/v1/image/123', '/v1/video/123']);
  upstream.requests.length = 0;
  const second = await app.inject({ url: '/tasks/123' });
  assert.equal(json(second).provider_task_id, 'image/123');
  assert.deepEqual(statusCalls(), ['/v1/image/123'], 'remembered: only the native id that has it is asked');
  // Another spelling of the id is probed again, but video/123's "not found" is still remembered.
  const third = await app.inject({ url: '/tasks/acme:123' });
  assert.equal(json(third).status, 'in_progress');
  assert.deepEqual(statusCalls(), ['/v1/image/123', '/v1/image/123']);
});

test('an id with a / travels percent-encoded in one path segment, on every route, and Task.id is the decoded id', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/77', { status: 'Done', file: 'f77' });
  const app = await gateway(t, upstream, { TASKGATE_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` });
  const response = await app.inject({ url: '/tasks/acme:video%2F77' });
  assert.equal(response.statusCode, 200);
  const task = json<{ id: string; content_url: string; outputs: Array<{ url: string }> }>(response);
  assert.equal(task.id, 'acme:video/77');
  assert.equal(task.content_url, 'http://localhost:80/tasks/acme%3Avideo%2F77/content');
  for (const [method, url, expected] of [
    ['GET', '/tasks/acme:video%2F77/content', 200],
    ['HEAD', '/tasks/acme:video%2F77/content', 200],
    ['GET', '/tasks/acme:video%2F77/events', 200],
    ['POST', '/tasks/acme:video%2F77/links', 201],
    ['GET', '/tasks/acme:video%2F77/webhooks', 200],
  ] as const) {
    const answer = await app.inject({ method, url });
    assert.equal(answer.statusCode, expected, `${method} ${url}: ${answer.body.slice(0, 200)}`);
  }
  const batch = await app.inject({ method: 'POST', url: '/tasks/batch', payload: { ids: ['acme:video/77'] } });
  assert.equal(batch.statusCode, 200);
  assert.match(batch.body, /"id":"acme:video\/77"/);
});

test("a native id of a form the provider cannot have is a 400 naming the form, and nothing goes upstream", async (t) => {
  const upstream = await startUpstream(t);
  const app = await gateway(t, upstream);
  const response = await app.inject({ url: '/tasks/acme:video%2Fabc' });
  assert.equal(response.statusCode, 400);
  assert.equal(json(response).code, 'invalid_task_id');
  assert.equal(json(response).detail, 'The id does not have the form its provider uses: a acme task id is digits, optionally after video/ or image/, e.g. video/123.');
  assert.equal(upstream.requests.length, 0);
});

test('credentials are made per request (a token fetched once, then reused) and only the provider\'s origins get them', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/4', { status: 'Working' });
  upstream.tasks.set('video/5', { status: 'Done', file: 'f5' });
  upstream.tasks.set('video/6', { status: 'Done', file: 'f6', fileUrl: 'http://localhost:1/elsewhere.webm' });
  const app = await gateway(t, upstream);
  for (let round = 0; round < 3; round++) assert.equal((await app.inject({ url: '/tasks/acme:video%2F4' })).statusCode, 200);
  assert.equal(upstream.tokensIssued, 1, 'one token, reused while valid');
  const authorized = upstream.requests.filter((request) => request.path !== '/token');
  assert.equal(authorized.length, 3, 'a running task is asked each time (no reuse window here)');
  assert.ok(authorized.every((request) => request.authorization === 'Bearer tok-1-xxxxxxxxxxxx'));
  const tokenRequest = upstream.requests.find((request) => request.path === '/token');
  assert.equal(tokenRequest?.authorization, undefined, 'the token request itself carries no credentials');
  const task = json<{ url: string; outputs: Array<{ url: string }> }>(await app.inject({ url: '/tasks/acme:video%2F5' }));
  assert.equal(task.url, 'http://localhost:80/tasks/acme%3Avideo%2F5/content?output=0', 'a file on the provider\'s origin is served through the gateway');
  const content = await app.inject({ url: '/tasks/acme:video%2F5/content' });
  assert.equal(content.statusCode, 200);
  assert.equal(content.body, 'webm');
  assert.equal(upstream.requests.at(-1)?.authorization, 'Bearer tok-1-xxxxxxxxxxxx');
  const elsewhere = json<{ url: string }>(await app.inject({ url: '/tasks/acme:video%2F6' }));
  assert.equal(elsewhere.url, 'http://localhost:1/elsewhere.webm', 'a file elsewhere is handed out as is');
});

test('a minted token is redacted from answers like a configured key', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/8', { status: 'Working', echoToken: true });
  const app = await gateway(t, upstream);
  const response = await app.inject({ url: '/tasks/acme:video%2F8' });
  assert.equal(response.statusCode, 200);
  assert.equal(json(response).provider_status, 'you sent [redacted]');
  assert.ok(!response.body.includes('tok-1'));
});

test('the calls of one lookup share one deadline', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/9', { status: 'Done', file: 'f9', delayMs: 150, hangFiles: true });
  const app = await gateway(t, upstream, { UPSTREAM_TIMEOUT_MS: '400' });
  seenRemaining.length = 0;
  const response = await app.inject({ url: '/tasks/acme:video%2F9' });
  assert.equal(response.statusCode, 504);
  assert.equal(json(response).code, 'upstream_timeout');
  // The second call got what the first one left, not a budget of its own.
  assert.equal(seenRemaining.length, 1);
  assert.ok(seenRemaining[0]! <= 400 - 150, `the second call started with ${seenRemaining[0]} ms left`);
});

test("each provider's own status words: acme's Done is succeeded, a common word is not", async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/10', { status: 'Broken' });
  upstream.tasks.set('video/11', { status: 'completed' });
  const app = await gateway(t, upstream);
  const failed = json<{ status: string; error: { code: string } }>(await app.inject({ url: '/tasks/acme:video%2F10' }));
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.code, 'task_failed');
  const foreign = json<{ status: string; provider_status: string }>(await app.inject({ url: '/tasks/acme:video%2F11' }));
  assert.deepEqual([foreign.status, foreign.provider_status], ['in_progress', 'completed']);
});

test('an inline output is served through /content with ranges, from the provider anew', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/12', { status: 'Done', inline: true });
  const app = await gateway(t, upstream);
  const task = json<{ url: string; outputs: Array<{ url: string }> }>(await app.inject({ url: '/tasks/acme:video%2F12' }));
  assert.equal(task.outputs[0]?.url, 'http://localhost:80/tasks/acme%3Avideo%2F12/content?output=0');
  const whole = await app.inject({ url: '/tasks/acme:video%2F12/content' });
  assert.equal(whole.statusCode, 200);
  assert.equal(whole.body, INLINE_BYTES.toString());
  assert.equal(whole.headers['accept-ranges'], 'bytes');
  const etag = String(whole.headers['etag']);
  const range = await app.inject({ url: '/tasks/acme:video%2F12/content', headers: { range: 'bytes=5-9', 'if-range': etag } });
  assert.equal(range.statusCode, 206);
  assert.equal(range.body, '56789');
  assert.equal(range.headers['content-range'], `bytes 5-9/${INLINE_BYTES.length}`);
  const stale = await app.inject({ url: '/tasks/acme:video%2F12/content', headers: { range: 'bytes=5-9', 'if-range': '"other"' } });
  assert.equal(stale.statusCode, 200, 'a changed validator gets the whole file');
  const past = await app.inject({ url: '/tasks/acme:video%2F12/content', headers: { range: 'bytes=100-' } });
  assert.equal(past.statusCode, 416);
  assert.equal(past.headers['content-range'], `bytes */${INLINE_BYTES.length}`);
});

test('files the provider removed: succeeded, url is the content URL, and /content says 410', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/13', { status: 'Done', removed: true });
  const app = await gateway(t, upstream);
  const task = json<{ status: string; url: string; content_url: string; outputs: unknown[] }>(await app.inject({ url: '/tasks/acme:video%2F13' }));
  assert.equal(task.status, 'succeeded');
  assert.deepEqual(task.outputs, []);
  assert.equal(task.url, task.content_url);
  const content = await app.inject({ url: '/tasks/acme:video%2F13/content' });
  assert.equal(content.statusCode, 410);
  assert.equal(json(content).code, 'content_expired');
});

test('a finished task is not served from memory past the time its files expire', async (t) => {
  const upstream = await startUpstream(t);
  upstream.tasks.set('video/14', { status: 'Done', file: 'f14', expiresAt: Date.now() - 1000 });
  upstream.tasks.set('video/15', { status: 'Done', file: 'f15', expiresAt: Date.now() + 3_600_000 });
  const app = await gateway(t, upstream);
  const calls = (path: string) => upstream.requests.filter((request) => request.path === path).length;
  for (let round = 0; round < 3; round++) {
    await app.inject({ url: '/tasks/acme:video%2F14' });
    await app.inject({ url: '/tasks/acme:video%2F15' });
  }
  assert.equal(calls('/v1/video/14'), 3, 'expired files: asked again each time (fresh signed URLs)');
  assert.equal(calls('/v1/video/15'), 1, 'files still served: answered from memory');
});

test('a one-GET provider gets its auth headers made for every request', async () => {
  let made = 0;
  const traced = defineHttpProvider({
    name: 'traced',
    title: 'a one-GET provider with a trace id per call',
    defaultBaseUrl: 'https://traced.example',
    cadenceMs: 1000,
    idRules: [],
    taskPath: (id) => `/tasks/${id}`,
    auth: (credentials) => ({ 'api-key': credentials['apiKey'] ?? '', 'trace-id': `trace-${++made}` }),
    schema: z.object({ status: z.string() }),
    toDraft: (body, context) => ({ provider_task_id: context.nativeId, provider_status: body.status, progress: null, outputs: [], error: null, model: null, created_at: null, completed_at: null }),
    isNotFound: (response) => response.statusCode === 404,
  });
  const seen: string[] = [];
  for (let round = 0; round < 3; round++) {
    const { requests } = await runLookup(traced, 'job1', () => ({ statusCode: 200, headers: {}, body: '{"status":"running"}' }), { credentials: { apiKey: 'k' } });
    seen.push(requests[0]!.headers['trace-id']!);
    assert.equal(requests[0]!.headers['api-key'], 'k');
  }
  assert.deepEqual(seen, ['trace-1', 'trace-2', 'trace-3']);
});

test('a retry carries credentials made anew, as a new request would (a provider that wants a new value per call)', async (t) => {
  let made = 0;
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(String(request.headers['trace-id']));
    response.writeHead(seen.length === 1 ? 503 : 200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ status: 'running' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const traced = defineHttpProvider({
    name: 'traced',
    title: 'a one-GET provider with a trace id per call',
    defaultBaseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cadenceMs: 1000,
    idRules: [],
    taskPath: (id) => `/tasks/${id}`,
    auth: () => ({ 'trace-id': `trace-${++made}` }),
    schema: z.object({ status: z.string() }),
    toDraft: (body, context) => ({ provider_task_id: context.nativeId, provider_status: body.status, progress: null, outputs: [], error: null, model: null, created_at: null, completed_at: null }),
    isNotFound: (response) => response.statusCode === 404,
  });
  const config = loadConfig({ TRACED_API_KEY: 'k' }, [traced]);
  const app = await buildApp(config, { logger: false, providers: [traced] });
  t.after(() => app.close());
  const response = await app.inject({ url: '/tasks/traced:job1' });
  assert.equal(response.statusCode, 200, 'the retry after the 503 went through');
  assert.deepEqual(seen, ['trace-1', 'trace-2'], 'each attempt its own value');
});
