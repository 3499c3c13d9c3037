/**
 * GET/HEAD /tasks/{id}/content against the simulators and a real "CDN" origin with signed,
 * expiring links: ranges both ways, the content error codes, the address guard on real
 * connections, the provider key only to the provider's origin, and stale links refreshed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { syntheticBytes } from '../../src/simulators/media/synthetic.js';
import { assertProblem } from '../hardening/support.js';
import { listen } from '../helpers/http.js';
import { json, startStack, type Stack } from '../helpers/stack.js';

const VIDEO = loadAsset('sample.webm');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A vtrix task (legacy-free model variant) whose one video output is `url`. */
function succeededAt(url: string, extra: Record<string, unknown> = {}) {
  return {
    raw: {
      status: 200,
      body: { id: 'x', status: 'completed', created_at: 1775831525, output: [{ content: [{ type: 'video', url }] }], ...extra },
    },
  };
}

let cdnClock = Date.now();
let cdn: Cdn;
before(async () => {
  cdn = await startCdn({ now: () => cdnClock });
});
after(() => cdn.close());

async function stackWithCdn(t: Parameters<typeof startStack>[0], env: Record<string, string> = {}): Promise<Stack & { base: string }> {
  const cdnHost = new URL(cdn.url).host;
  const stack = await startStack(t, {
    env,
    configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: Number(cdnHost.split(':')[1]) }] } }),
  });
  return { ...stack, base: await listen(stack.app) };
}

describe('streaming a result file', () => {
  let stack: Stack & { base: string };
  const closers: Array<() => Promise<void> | void> = [];
  before(async () => {
    stack = await stackWithCdn({ after: (close: () => Promise<void> | void) => closers.push(close) });
  });
  after(async () => {
    for (const close of closers) await close();
  });

  it('streams the whole file with its type, validators and inline disposition', async () => {
    stack.vtrix.setTask('task_ct0001', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    const response = await request(`${stack.base}/tasks/task_ct0001/content`);
    const bytes = Buffer.from(await response.body.arrayBuffer());
    assert.equal(response.statusCode, 200);
    assert.equal(sha256(bytes), sha256(VIDEO.bytes!));
    assert.equal(response.headers['content-type'], 'video/webm');
    assert.equal(response.headers['content-length'], String(VIDEO.size));
    assert.equal(response.headers['accept-ranges'], 'bytes');
    assert.equal(response.headers['etag'], VIDEO.etag);
    assert.equal(response.headers['cache-control'], 'private');
    assert.equal(response.headers['content-disposition'], 'inline; filename="task_ct0001.webm"');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
  });

  it('passes ranges both ways: 206 with Content-Range, Safari\'s bytes=0-, suffix ranges', async () => {
    stack.vtrix.setTask('task_ct0002', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    const url = `${stack.base}/tasks/task_ct0002/content`;
    const first = await request(url, { headers: { range: 'bytes=0-1023' } });
    assert.equal(first.statusCode, 206);
    assert.equal(first.headers['content-range'], `bytes 0-1023/${VIDEO.size}`);
    assert.deepEqual(Buffer.from(await first.body.arrayBuffer()), VIDEO.bytes!.subarray(0, 1024));
    const open = await request(url, { headers: { range: 'bytes=0-' } });
    assert.equal(open.statusCode, 206);
    assert.equal((await open.body.arrayBuffer()).byteLength, VIDEO.size);
    const tail = await request(url, { headers: { range: 'bytes=-100' } });
    assert.equal(tail.statusCode, 206);
    assert.deepEqual(Buffer.from(await tail.body.arrayBuffer()), VIDEO.bytes!.subarray(VIDEO.size - 100));
    const ranges = cdn.requests('sample.webm').map((entry) => entry.range);
    for (const range of ['bytes=0-1023', 'bytes=0-', 'bytes=-100']) assert.ok(ranges.includes(range), `the CDN saw ${range}`);
  });

  it('answers 416 with the file\'s Content-Range, and a changed If-Range gets the whole file', async () => {
    stack.vtrix.setTask('task_ct0003', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    const url = `${stack.base}/tasks/task_ct0003/content`;
    const past = await request(url, { headers: { range: `bytes=${VIDEO.size + 10}-` } });
    const problem = assertProblem({ statusCode: past.statusCode, headers: past.headers, body: await past.body.text() }, 416, 'invalid_request');
    assert.equal(past.headers['content-range'], `bytes */${VIDEO.size}`);
    assert.equal(problem.provider, 'vtrix');
    const stale = await request(url, { headers: { range: 'bytes=0-99', 'if-range': '"not-the-etag"' } });
    assert.equal(stale.statusCode, 200);
    assert.equal((await stale.body.arrayBuffer()).byteLength, VIDEO.size);
    const fresh = await request(url, { headers: { range: 'bytes=0-99', 'if-range': VIDEO.etag } });
    assert.equal(fresh.statusCode, 206);
    await fresh.body.dump();
  });

  it('an If-Range it cannot pass on makes it ignore the Range (RFC 9110): the whole file, never a range of a changed one', async () => {
    stack.vtrix.setTask('task_ct0011', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    const url = `${stack.base}/tasks/task_ct0011/content`;
    for (const ifRange of [`"${'e'.repeat(300)}"`, '"tab\tinside"']) {
      const response = await request(url, { headers: { range: 'bytes=0-99', 'if-range': ifRange } });
      assert.equal(response.statusCode, 200, ifRange.slice(0, 20));
      assert.equal((await response.body.arrayBuffer()).byteLength, VIDEO.size);
      const seen = cdn.requests('sample.webm').at(-1)!;
      assert.equal(seen.range, undefined, 'no range went upstream');
      assert.equal(seen.ifRange, undefined);
    }
    // The control: an If-Range it can pass on goes with its Range.
    const ranged = await request(url, { headers: { range: 'bytes=0-99', 'if-range': VIDEO.etag } });
    assert.equal(ranged.statusCode, 206);
    await ranged.body.dump();
    assert.equal(cdn.requests('sample.webm').at(-1)!.range, 'bytes=0-99');
  });

  it('HEAD answers the headers only; download=1 makes it an attachment', async () => {
    stack.vtrix.setTask('task_ct0004', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    const head = await request(`${stack.base}/tasks/task_ct0004/content?download=1`, { method: 'HEAD' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], String(VIDEO.size));
    assert.equal(head.headers['content-disposition'], 'attachment; filename="task_ct0004.webm"');
    assert.equal((await head.body.arrayBuffer()).byteLength, 0);
    assert.equal(cdn.requests('sample.webm').at(-1)?.method, 'HEAD');
  });

  it('refuses a task without a result (409, naming the status) and an output past the list (404)', async () => {
    stack.vtrix.setTask('task_ct0005', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }] });
    const running = await stack.app.inject({ url: '/tasks/task_ct0005/content' });
    const problem = assertProblem(running, 409, 'task_not_ready', 'vtrix');
    assert.match(problem.detail, /in_progress/);
    stack.vtrix.setTask('task_ct0006', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    assertProblem(await stack.app.inject({ url: '/tasks/task_ct0006/content?output=1' }), 404, 'output_not_found');
    // Any index is a question about the outputs, however many digits it has.
    for (const index of ['12345', '99999999999999999999', '9'.repeat(400)]) {
      assertProblem(await stack.app.inject({ url: `/tasks/task_ct0006/content?output=${index}` }), 404, 'output_not_found');
    }
    assert.equal((await stack.app.inject({ method: 'HEAD', url: '/tasks/task_ct0006/content?output=00' })).statusCode, 200);
    for (const junk of ['x', '-1', '1.5', '']) assertProblem(await stack.app.inject({ url: `/tasks/task_ct0006/content?output=${junk}` }), 400, 'invalid_request');
  });

  it('an expired link is 410 content_expired, unless a fresh status answer signs it anew', async () => {
    const start = cdnClock;
    stack.vtrix.setTask('task_ct0007', succeededAt(cdn.signedUrl('sample.webm', 2000)));
    stack.vtrix.setTask('task_ct0008', succeededAt(cdn.signedUrl('sample.webm', 2000)));
    // Both tasks are now cached as terminal with links that expire in 2 s.
    for (const id of ['task_ct0007', 'task_ct0008']) assert.equal(json(await stack.app.inject({ url: `/tasks/${id}` })).status, 'succeeded');
    cdnClock = start + 10_000;
    try {
      assertProblem(await stack.app.inject({ url: '/tasks/task_ct0007/content' }), 410, 'content_expired', 'vtrix');
      const hitsBefore = stack.vtrix.hits('task_ct0008');
      stack.vtrix.setTask('task_ct0008', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
      const refreshed = await request(`${stack.base}/tasks/task_ct0008/content`);
      assert.equal(refreshed.statusCode, 200);
      assert.equal((await refreshed.body.arrayBuffer()).byteLength, VIDEO.size);
      assert.equal(stack.vtrix.hits('task_ct0008'), hitsBefore + 1, 'the provider was asked once more');
    } finally {
      cdnClock = start;
    }
  });

  it('a client that goes away stops the upstream transfer', async () => {
    stack.vtrix.setTask('task_ct0009', succeededAt(cdn.signedUrl('synthetic-64m.bin', 60_000)));
    const response = await request(`${stack.base}/tasks/task_ct0009/content`);
    assert.equal(response.statusCode, 200);
    let received = 0;
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length;
      if (received > 1024 * 1024) break;
    }
    response.body.destroy();
    const deadline = Date.now() + 5000;
    while (cdn.activeTransfers() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(cdn.activeTransfers(), 0);
    const transfer = cdn.requests('synthetic-64m.bin').at(-1);
    assert.ok(transfer !== undefined && transfer.bytesSent < 64 * 1024 * 1024, `sent ${transfer?.bytesSent}`);
  });

  it('streams bytes unchanged at any offset of a large file', async () => {
    stack.vtrix.setTask('task_ct0010', succeededAt(cdn.signedUrl('synthetic-8m.bin', 60_000)));
    const start = 5 * 1024 * 1024 + 17;
    const response = await request(`${stack.base}/tasks/task_ct0010/content`, { headers: { range: `bytes=${start}-${start + 99_999}` } });
    assert.equal(response.statusCode, 206);
    assert.deepEqual(Buffer.from(await response.body.arrayBuffer()), syntheticBytes(start, start + 100_000));
    assert.equal(response.headers['content-disposition'], 'attachment; filename="task_ct0010.mp4"', 'not a media type: never inline');
  });
});

describe('a result file that stopped being served', () => {
  it('is refreshed from the provider at most once per cache.notFoundMs per task, however many requests ask', async (t) => {
    const windowMs = 1500;
    const cdnPort = Number(new URL(cdn.url).port);
    const stack = await startStack(t, {
      configure: (config) => ({ ...config, cache: { ...config.cache, notFoundMs: windowMs }, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } }),
    });
    const start = cdnClock;
    t.after(() => {
      cdnClock = start;
    });
    stack.vtrix.setTask('task_ct0101', succeededAt(cdn.signedUrl('sample.webm', 2000)));
    assert.equal(json(await stack.app.inject({ url: '/tasks/task_ct0101' })).status, 'succeeded');
    const hits = () => stack.vtrix.hits('task_ct0101');
    const before = hits();
    cdnClock = start + 10_000;
    // 300 requests at once (HEAD and GET, from 150 clients), then 50 one after another: one refresh between them.
    const burst = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        stack.app.inject({ method: index % 2 === 0 ? 'HEAD' : 'GET', url: '/tasks/task_ct0101/content', remoteAddress: `198.51.100.${index % 150}` }),
      ),
    );
    for (const response of burst) assert.equal(response.statusCode, 410);
    for (let index = 0; index < 50; index++) assertProblem(await stack.app.inject({ url: '/tasks/task_ct0101/content' }), 410, 'content_expired', 'vtrix');
    assert.equal(hits(), before + 1, 'one provider call for 350 requests');
    // Once the window has passed, the next request asks again, and a fresh link is served.
    stack.vtrix.setTask('task_ct0101', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    await new Promise((resolve) => setTimeout(resolve, windowMs + 100));
    const served = await stack.app.inject({ url: '/tasks/task_ct0101/content' });
    assert.equal(served.statusCode, 200, served.body.slice(0, 200));
    assert.equal(hits(), before + 2);
  });
});

describe('result streams held at once', () => {
  /** A GET of the task's file whose body is not read: it holds its stream (and an upstream connection) until closed. */
  async function slowReader(agent: Agent, url: string, headers: Record<string, string> = {}) {
    const response = await request(url, { dispatcher: agent, headers });
    return response;
  }

  it('one client holds at most content.maxStreamsPerClient streams: 429 quota_exceeded naming the cap; others are not held back', async (t) => {
    const stack = await stackWithCdn(t, { TASKGATE_API_KEYS: 'reader-key-one-0123456789,reader-key-two-0123456789' });
    const agent = new Agent({ connections: 64 });
    t.after(() => agent.destroy());
    stack.vtrix.setTask('task_ct0301', succeededAt(cdn.signedUrl('synthetic-64m.bin', 60_000)));
    const url = `${stack.base}/tasks/task_ct0301/content`;
    const one = { authorization: 'Bearer reader-key-one-0123456789' };
    const two = { authorization: 'Bearer reader-key-two-0123456789' };
    const held = [];
    for (let index = 0; index < 16; index++) {
      const response = await slowReader(agent, url, one);
      assert.equal(response.statusCode, 200);
      held.push(response);
    }
    const refused = await request(url, { dispatcher: agent, headers: one });
    const problem = assertProblem({ statusCode: refused.statusCode, headers: refused.headers, body: await refused.body.text() }, 429, 'quota_exceeded');
    assert.match(problem.detail, /16 \/content streams.*content\.maxStreamsPerClient/);
    assert.equal(refused.headers['retry-after'], undefined, 'a stream has no known end');
    const other = await request(url, { dispatcher: agent, headers: two, method: 'HEAD' });
    assert.equal(other.statusCode, 200, 'another client is not held back');
    await other.body.dump();
    // Closing one stream gives its place back.
    held.pop()!.body.destroy();
    let again: Awaited<ReturnType<typeof request>> | undefined;
    for (let attempt = 0; attempt < 50 && again?.statusCode !== 200; attempt++) {
      await again?.body.dump();
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await request(url, { dispatcher: agent, headers: one, method: 'HEAD' });
    }
    assert.equal(again?.statusCode, 200);
    await again?.body.dump();
    for (const response of held) response.body.destroy();
  });

  it('slow readers pin the content pool: another /content on that origin is a 504 within UPSTREAM_TIMEOUT_MS, not a hang', { timeout: 60_000 }, async (t) => {
    // The pool holds 256 connections per origin by default; 4 here pin it the same way, sooner.
    const pool = 4;
    const cdnPort = Number(new URL(cdn.url).port);
    const stack = await startStack(t, {
      env: { UPSTREAM_TIMEOUT_MS: '1500' },
      configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }], connections: pool } }),
    });
    const base = await listen(stack.app);
    const agent = new Agent({ connections: 16 });
    stack.vtrix.setTask('task_ct0302', succeededAt(cdn.signedUrl('synthetic-64m.bin', 60_000)));
    stack.vtrix.setTask('task_ct0303', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    const activeBefore = cdn.activeTransfers();
    const readers = await Promise.all(Array.from({ length: pool }, () => slowReader(agent, `${base}/tasks/task_ct0302/content`)));
    try {
      for (const reader of readers) assert.equal(reader.statusCode, 200);
      assert.equal(cdn.activeTransfers() - activeBefore, pool, 'every connection of the pool is held by a slow reader');
      // The client gives up long after the gateway should have answered: a hang fails here, not the whole file.
      const waiting = await request(`${base}/tasks/task_ct0303/content`, { dispatcher: agent, headersTimeout: 15_000 });
      assertProblem({ statusCode: waiting.statusCode, headers: waiting.headers, body: await waiting.body.text() }, 504, 'upstream_timeout', 'vtrix');
    } finally {
      for (const reader of readers) reader.body.destroy();
    }
    // Once the readers leave, the pool serves again.
    let served: Awaited<ReturnType<typeof request>> | undefined;
    for (let attempt = 0; attempt < 50 && served?.statusCode !== 200; attempt++) {
      await served?.body.dump();
      served = await request(`${base}/tasks/task_ct0303/content`, { dispatcher: agent });
    }
    assert.equal(served?.statusCode, 200);
    assert.equal((await served.body.arrayBuffer()).byteLength, VIDEO.size);
    await agent.close();
  });
});

describe('timeouts of a result transfer', () => {
  it('no headers within UPSTREAM_TIMEOUT_MS is a 504; a stall after the first bytes cuts the stream', async (t) => {
    const stack = await stackWithCdn(t, { UPSTREAM_TIMEOUT_MS: '400' });
    stack.vtrix.setTask('task_ct0101', succeededAt(cdn.signedUrl('sample.webm', 60_000, { headersDelayMs: 3000 })));
    const started = Date.now();
    assertProblem(await stack.app.inject({ url: '/tasks/task_ct0101/content' }), 504, 'upstream_timeout', 'vtrix');
    assert.ok(Date.now() - started < 2500, 'cut near the budget, not at the delay');
    stack.vtrix.setTask('task_ct0102', succeededAt(cdn.signedUrl('sample.webm', 60_000, { stallAfterBytes: 4096 })));
    const response = await request(`${stack.base}/tasks/task_ct0102/content`);
    assert.equal(response.statusCode, 200);
    let received = 0;
    await assert.rejects(async () => {
      for await (const chunk of response.body) received += (chunk as Buffer).length;
    });
    assert.ok(received >= 4096 && received < VIDEO.size, `received ${received} of ${VIDEO.size}`);
  });
});

/** A loopback server that records what it received and answers as `answer` says. */
async function recorder(answer: (path: string) => { status: number; headers?: Record<string, string>; body?: Buffer | string }) {
  const seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
  const server: Server = createServer((incoming, outgoing) => {
    seen.push({ path: incoming.url ?? '/', headers: incoming.headers });
    const { status, headers = {}, body = '' } = answer(incoming.url ?? '/');
    outgoing.writeHead(status, headers).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('a result URL fetched as the provider wrote it', () => {
  it('sends the path and query byte for byte (a signed query may spell a file name with quotes), and the parser\'s form otherwise', async (t) => {
    const target = await recorder(() => ({ status: 200, headers: { 'content-type': 'video/webm', 'content-length': '4' }, body: 'webm' }));
    t.after(target.close);
    const stack = await startStack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: Number(new URL(target.url).port) }] } }) });
    const signed = "/v.mp4?X-Tos-Expires=86400&response-content-disposition=attachment%3B%20filename*%3DUTF-8''%E5%A5%BD.mp4&X-Tos-Signature=abc";
    stack.vtrix.setTask('task_exact01', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }], resultUrl: `${target.url}${signed}` });
    const task = await stack.app.inject({ url: '/tasks/task_exact01' });
    assert.equal(json(task).url, `${target.url}${signed}`, 'handed out as written');
    const content = await stack.app.inject({ url: '/tasks/task_exact01/content' });
    assert.equal(content.statusCode, 200);
    assert.equal(target.seen.at(-1)?.path, signed, 'fetched as written: no quote rewritten as %27');
    const { pathAsWritten } = await import('../../src/uri.js');
    // Text a URI cannot hold as it is (a raw space, non-ASCII): the parser's encoding is sent.
    assert.equal(pathAsWritten('https://cdn.example/a b.mp4?x=é', new URL('https://cdn.example/a b.mp4?x=é')), '/a%20b.mp4?x=%C3%A9');
    assert.equal(pathAsWritten('https://CDN.example:443/v.mp4', new URL('https://CDN.example:443/v.mp4')), '/v.mp4');
    assert.equal(pathAsWritten("https://cdn.example/v.mp4?f=''#frag", new URL("https://cdn.example/v.mp4?f=''#frag")), "/v.mp4?f=''");
    assert.equal(pathAsWritten('https://cdn.example?f=1', new URL('https://cdn.example?f=1')), '/?f=1');
  });
});

describe('what the gateway refuses to fetch', () => {
  it('refuses internal addresses that are not allowed: literals, names resolving to them, redirects to them', async (t) => {
    const target = await recorder(() => ({ status: 200, headers: { 'content-type': 'video/webm' }, body: 'x' }));
    t.after(target.close);
    const port = new URL(target.url).port;
    const stack = await startStack(t, {});
    // A resolver of the test's own: names never reach real DNS.
    const { buildApp } = await import('../../src/app.js');
    const app = await buildApp(stack.config, { logger: false, resolveHostname: async () => [{ address: '127.0.0.1', family: 4 }] });
    t.after(() => app.close());
    const cases: Array<[string, string]> = [
      ['task_ssrf01', `${target.url}/file.webm`],
      ['task_ssrf02', `http://localhost:${port}/file.webm`],
      ['task_ssrf03', `http://2130706433:${port}/file.webm`],
      ['task_ssrf04', `http://[::ffff:127.0.0.1]:${port}/file.webm`],
      ['task_ssrf05', `http://media.rebind.test:${port}/file.webm`],
      ['task_ssrf06', `http://user:pass@media.example:${port}/file.webm`],
    ];
    for (const [id, url] of cases) {
      stack.vtrix.setTask(id, succeededAt(url));
      assertProblem(await app.inject({ url: `/tasks/${id}/content` }), 502, 'content_blocked', 'vtrix');
    }
    assert.equal(target.seen.length, 0, 'not one request reached the internal server');
  });

  it('follows up to 3 redirects, checks every hop, and sends the key to the provider\'s origin only', async (t) => {
    const file = await recorder(() => ({ status: 200, headers: { 'content-type': 'video/webm', 'content-length': '5' }, body: 'video' }));
    t.after(file.close);
    const hops = await recorder((path) => {
      const count = Number(/\/hop(\d+)/.exec(path)?.[1] ?? 0);
      if (path.startsWith('/blocked')) return { status: 302, headers: { location: 'http://10.0.0.1/secret' } };
      if (count < 5) return { status: 302, headers: { location: count === 2 && path.includes('end') ? `${file.url}/video.webm` : `/hop${count + 1}${path.includes('end') ? '-end' : ''}` } };
      return { status: 200, body: 'too far' };
    });
    t.after(hops.close);
    const allowHosts = [file.url, hops.url].map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) }));
    const stack = await startStack(t, { configure: (config) => ({ ...config, content: { ...config.content, allowHosts } }) });
    stack.vtrix.setTask('task_redir1', succeededAt(`${hops.url}/hop0-end`));
    const followed = await stack.app.inject({ url: '/tasks/task_redir1/content' });
    assert.equal(followed.statusCode, 200, followed.body);
    assert.equal(followed.body, 'video');
    stack.vtrix.setTask('task_redir2', succeededAt(`${hops.url}/hop0`));
    assertProblem(await stack.app.inject({ url: '/tasks/task_redir2/content' }), 502, 'upstream_error', 'vtrix');
    stack.vtrix.setTask('task_redir3', succeededAt(`${hops.url}/blocked`));
    assertProblem(await stack.app.inject({ url: '/tasks/task_redir3/content' }), 502, 'content_blocked', 'vtrix');
    for (const { headers } of [...hops.seen, ...file.seen]) assert.equal(headers.authorization, undefined, 'no key off the provider origin');
  });

  it('a file on the provider\'s own origin is handed out as the gateway URL and fetched with the key', async (t) => {
    const stack = await startStack(t);
    const id = 'video_se1fc0ntent00000000000000000000';
    const selfUrl = `${stack.gravitex.url}/v1/videos/${id}/content`;
    stack.gravitex.setTask(id, { raw: { status: 200, body: { task_id: id, status: 'succeeded', url: selfUrl } } });
    const task = json<{ url: string; outputs: Array<{ url: string }>; content_url: string }>(await stack.app.inject({ url: `/tasks/${id}` }));
    assert.equal(task.url, `http://localhost:80/tasks/${id}/content?output=0`);
    assert.equal(task.outputs[0]?.url, task.url);
    assert.equal(task.content_url, `http://localhost:80/tasks/${id}/content`);
    const direct = await request(selfUrl, { headers: { authorization: `Bearer ${stack.config.providers.gravitex!.credentials?.['apiKey']}` } });
    const expected = Buffer.from(await direct.body.arrayBuffer());
    assert.equal(direct.statusCode, 200, 'the simulator wants the key');
    const through = await stack.app.inject({ url: `/tasks/${id}/content?output=0` });
    assert.equal(through.statusCode, 200, through.body);
    assert.deepEqual(through.rawPayload, expected);
  });
});

describe('content metrics', () => {
  it('counts requests by outcome and bytes by provider', async (t) => {
    const stack = await stackWithCdn(t);
    stack.vtrix.setTask('task_cm0001', succeededAt(cdn.signedUrl('sample.webm', 60_000)));
    await (await request(`${stack.base}/tasks/task_cm0001/content`)).body.dump();
    await (await request(`${stack.base}/tasks/task_cm0001/content`, { headers: { range: 'bytes=0-9' } })).body.dump();
    await stack.app.inject({ url: '/tasks/task_cm0001/content?output=3' });
    const text = (await stack.app.inject({ url: '/metrics' })).body;
    assert.match(text, /taskgate_content_requests_total\{provider="vtrix",outcome="200"\} 1/);
    assert.match(text, /taskgate_content_requests_total\{provider="vtrix",outcome="206"\} 1/);
    assert.match(text, new RegExp(`taskgate_content_bytes_total\\{provider="vtrix"\\} ${VIDEO.size + 10}\\b`));
  });
});
