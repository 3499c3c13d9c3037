import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { startSimulator, type Simulator } from '../../src/simulators/index.js';

const KEY = 'test-key';
const ID = 'task_faulty';

let vtrix: Simulator;
let gravitex: Simulator;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
}

async function poll(simulator: Simulator, id = ID, options: { signal?: AbortSignal } = {}): Promise<Answer> {
  const path = simulator.provider === 'vtrix' ? '/model/v1/generation/task/' : '/v1/video/generations/';
  const started = performance.now();
  const response = await request(`${simulator.url}${path}${id}`, { headers: { authorization: `Bearer ${KEY}` }, ...options });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, ms: performance.now() - started };
}

describe('fault injection', () => {
  before(async () => {
    vtrix = await startSimulator({ provider: 'vtrix', credentials: { apiKey: KEY } });
    gravitex = await startSimulator({ provider: 'gravitex', credentials: { apiKey: KEY } });
  });
  after(() => Promise.all([vtrix.close(), gravitex.close()]));
  beforeEach(() => {
    vtrix.reset();
    gravitex.reset();
  });

  it('latency delays the normal answer', async () => {
    vtrix.injectFault(ID, { kind: 'latency', ms: 150 });
    const answer = await poll(vtrix);
    assert.equal(answer.status, 200);
    assert.ok(answer.ms >= 140, `took ${answer.ms} ms`);
    assert.ok(JSON.parse(answer.text));
  });

  it('status answers with the provider-shaped error body', async () => {
    for (const status of [500, 502, 503, 403, 401, 418]) {
      vtrix.injectFault(ID, { kind: 'status', status, times: 1 });
      gravitex.injectFault(ID, { kind: 'status', status, times: 1 });
      const fromVtrix = await poll(vtrix);
      const fromGravitex = await poll(gravitex);
      assert.equal(fromVtrix.status, status);
      assert.equal(fromGravitex.status, status);
      const vtrixBody = JSON.parse(fromVtrix.text) as { message?: string; error?: unknown };
      assert.ok(vtrixBody.message !== undefined || vtrixBody.error !== undefined);
      const gravitexBody = JSON.parse(fromGravitex.text) as { error: { message: string; type: string } };
      assert.match(gravitexBody.error.message, /\(request id: \d+\)$/);
    }
  });

  it('rate_limit answers 429 with Retry-After only when given', async () => {
    vtrix.injectFault(ID, { kind: 'rate_limit', retryAfter: 7, times: 1 });
    const withHeader = await poll(vtrix);
    assert.equal(withHeader.status, 429);
    assert.equal(withHeader.headers['retry-after'], '7');
    assert.deepEqual(JSON.parse(withHeader.text), { error: { code: 1002, message: 'rate limited' } });
    gravitex.injectFault(ID, { kind: 'rate_limit', times: 1 });
    const without = await poll(gravitex);
    assert.equal(without.status, 429);
    assert.equal(without.headers['retry-after'], undefined);
    assert.match(without.text, /请稍后再试/);
  });

  it('reset destroys the connection without an answer', async () => {
    vtrix.injectFault(ID, { kind: 'reset', times: 1 });
    await assert.rejects(poll(vtrix), (error: Error & { code?: string }) => {
      assert.match(String(error.code), /ECONNRESET|UND_ERR_SOCKET/);
      return true;
    });
    assert.equal((await poll(vtrix)).status, 200, 'the next request is answered');
  });

  it('malformed answers 200 with truncated JSON', async () => {
    vtrix.injectFault(ID, { kind: 'malformed', times: 1 });
    const answer = await poll(vtrix);
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /application\/json/);
    assert.ok(answer.text.startsWith('{'));
    assert.throws(() => JSON.parse(answer.text), SyntaxError);
  });

  it('html answers an HTML page, 502 by default or 200 when asked', async () => {
    vtrix.injectFault(ID, { kind: 'html', times: 1 });
    vtrix.injectFault(ID, { kind: 'html', status: 200, times: 1 });
    const badGateway = await poll(vtrix);
    const challenge = await poll(vtrix);
    assert.equal(badGateway.status, 502);
    assert.equal(challenge.status, 200);
    for (const answer of [badGateway, challenge]) {
      assert.match(String(answer.headers['content-type']), /^text\/html/);
      assert.match(answer.text, /<html/i);
    }
  });

  it('huge answers a valid JSON body of exactly the asked size', async () => {
    gravitex.injectFault('video_big', { kind: 'huge', bytes: 3_000_000, times: 1 });
    const answer = await poll(gravitex, 'video_big');
    assert.equal(answer.status, 200);
    assert.equal(Buffer.byteLength(answer.text), 3_000_000);
    assert.equal(answer.headers['content-length'], '3000000');
    const body = JSON.parse(answer.text) as { code: string; padding: string };
    assert.equal(body.code, 'success', 'the task fields are still there');
  });

  it('slow_drip sends headers at once and trickles the body over the given time', async () => {
    vtrix.injectFault(ID, { kind: 'slow_drip', ms: 1200, times: 1 });
    const started = performance.now();
    const response = await request(`${vtrix.url}/model/v1/generation/task/${ID}`, { headers: { authorization: `Bearer ${KEY}` } });
    const headersAfter = performance.now() - started;
    const text = await response.body.text();
    const bodyAfter = performance.now() - started;
    // The body cannot come sooner than the drip; the headers come well before it (coarse: a loaded machine).
    assert.ok(bodyAfter >= 1100, `body after ${bodyAfter} ms`);
    assert.ok(headersAfter < bodyAfter / 2, `headers after ${headersAfter} ms, body after ${bodyAfter} ms`);
    assert.ok(JSON.parse(text));
  });

  it('hang never answers: the client deadline cuts it, and close() still returns promptly', async () => {
    const doomed = await startSimulator({ provider: 'vtrix', credentials: { apiKey: KEY } });
    doomed.injectFault('*', { kind: 'hang' });
    await assert.rejects(poll(doomed, ID, { signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
    const pending = poll(doomed, 'task_other');
    while (doomed.hits('task_other') === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = performance.now();
    await doomed.close();
    assert.ok(performance.now() - started < 1000, 'close() is not held by the hanging request');
    await assert.rejects(pending);
  });

  it('times: 2 fails twice, then answers normally', async () => {
    vtrix.injectFault(ID, { kind: 'status', status: 503, times: 2 });
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt++) statuses.push((await poll(vtrix)).status);
    assert.deepEqual(statuses, [503, 503, 200, 200]);
  });

  it('applies the faults of one id in injection order, then the "*" faults', async () => {
    vtrix.injectFault('*', { kind: 'status', status: 500, times: 1 });
    vtrix.injectFault(ID, { kind: 'rate_limit', times: 1 });
    vtrix.injectFault(ID, { kind: 'status', status: 502, times: 1 });
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt++) statuses.push((await poll(vtrix)).status);
    assert.deepEqual(statuses, [429, 502, 500, 200]);
  });

  it('a fault without times stays until cleared', async () => {
    vtrix.injectFault('*', { kind: 'status', status: 500 });
    assert.equal((await poll(vtrix)).status, 500);
    assert.equal((await poll(vtrix, 'task_another')).status, 500);
    vtrix.clearFaults('*');
    assert.equal((await poll(vtrix)).status, 200);
    vtrix.injectFault(ID, { kind: 'status', status: 500 });
    vtrix.clearFaults();
    assert.equal((await poll(vtrix)).status, 200);
  });

  it('rejects an invalid fault', () => {
    assert.throws(() => vtrix.injectFault(ID, { kind: 'huge', bytes: -1 }));
    assert.throws(() => vtrix.injectFault(ID, JSON.parse('{"kind":"explode"}') as { kind: 'reset' }));
  });
});
