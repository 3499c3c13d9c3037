import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { startSimulator, type Simulator } from '../../src/simulators/index.js';

const KEY = 'test-key';
let simulator: Simulator;

async function poll(id: string, key = KEY): Promise<{ status: number; body: unknown }> {
  const response = await request(`${simulator.url}/v1/video/generations/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: response.statusCode, body: await response.body.json() };
}

async function control(method: 'GET' | 'POST' | 'DELETE', path: string, body?: string): Promise<{ status: number; body: unknown }> {
  const response = await request(`${simulator.url}/__sim/${path}`, {
    method,
    body,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  return { status: response.statusCode, body: await response.body.json() };
}

describe('hit counters and the /__sim/ control API', () => {
  before(async () => {
    simulator = await startSimulator({ provider: 'gravitex', credentials: { apiKey: KEY } });
  });
  after(() => simulator.close());
  beforeEach(() => simulator.reset());

  it('counts task-status requests per id and in total, faulted and rejected ones included', async () => {
    simulator.injectFault('video_a', { kind: 'status', status: 500, times: 1 });
    await poll('video_a');
    await poll('video_a');
    await poll('video_b', 'wrong-key');
    await poll('video_missing');
    await request(`${simulator.url}/files/video_a.mp4`).then((response) => response.body.dump());
    assert.equal(simulator.hits('video_a'), 2);
    assert.equal(simulator.hits('video_b'), 1);
    assert.equal(simulator.hits('video_never'), 0);
    assert.equal(simulator.hits(), 4);
    assert.deepEqual(await control('GET', 'hits'), {
      status: 200,
      body: { total: 4, byId: { video_a: 2, video_b: 1, video_missing: 1 } },
    });
  });

  it('keeps when each status request for a pinned id arrived, and only for pinned ids', async () => {
    await control('POST', 'tasks/video_timed', JSON.stringify({ timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] }));
    const before = Date.now();
    await poll('video_timed');
    await poll('video_timed');
    await poll('video_unpinned');
    const after = Date.now();
    const { status, body } = await control('GET', 'hits/video_timed');
    assert.equal(status, 200);
    const { id, times } = body as { id: string; times: number[] };
    assert.equal(id, 'video_timed');
    assert.equal(times.length, 2);
    assert.ok(times.every((time) => time >= before && time <= after), `${times.join(', ')} within ${before}-${after}`);
    assert.ok(times[0]! <= times[1]!);
    assert.deepEqual((await control('GET', 'hits/video_unpinned')).body, { id: 'video_unpinned', times: [] });
    simulator.reset();
    assert.deepEqual((await control('GET', 'hits/video_timed')).body, { id: 'video_timed', times: [] });
  });

  it('pins a task over HTTP', async () => {
    const script = { variant: 'documented', timeline: [{ atMs: 0, status: 'failed' }] };
    assert.deepEqual(await control('POST', 'tasks/video_pinned', JSON.stringify(script)), { status: 200, body: { ok: true } });
    const { body } = await poll('video_pinned');
    assert.equal((body as { status: string }).status, 'failed');
  });

  it('pins a story for every id with "*", below the ids pinned on their own, and a result URL', async () => {
    const everyId = { variant: 'documented', timeline: [{ atMs: 0, status: 'succeeded' }], resultUrl: 'https://files.example/every.mp4' };
    await control('POST', 'tasks/any-shape.1', JSON.stringify({ variant: 'documented', timeline: [{ atMs: 0, status: 'failed' }] }));
    assert.deepEqual(await control('POST', `tasks/${encodeURIComponent('*')}`, JSON.stringify(everyId)), { status: 200, body: { ok: true } });
    for (const id of ['no-provider-shape', 'task_missing_too']) {
      const { status, body } = await poll(id);
      assert.equal(status, 200, id);
      assert.deepEqual([(body as { status: string }).status, (body as { url: string }).url], ['succeeded', 'https://files.example/every.mp4'], id);
    }
    assert.equal(((await poll('any-shape.1')).body as { status: string }).status, 'failed', 'its own pin wins');
    assert.equal((await control('POST', 'tasks/x', JSON.stringify({ resultUrl: 'ftp://files.example/x' }))).status, 400);
  });

  it('pins a raw answer and a missing task over HTTP', async () => {
    const raw = { raw: { status: 200, body: { code: 'success', data: { status: 'weird' } }, headers: { 'x-extra': 'yes' } } };
    await control('POST', 'tasks/video_raw', JSON.stringify(raw));
    assert.deepEqual(await poll('video_raw'), { status: 200, body: { code: 'success', data: { status: 'weird' } } });
    await control('POST', 'tasks/video_gone', JSON.stringify({ missing: true }));
    assert.equal((await poll('video_gone')).status, 400);
  });

  it('injects faults over HTTP (per id and for "*") and clears them', async () => {
    await control('POST', 'faults/video_f', JSON.stringify({ kind: 'status', status: 503, times: 1 }));
    assert.equal((await poll('video_f')).status, 503);
    assert.equal((await poll('video_f')).status, 200);
    await control('POST', `faults/${encodeURIComponent('*')}`, JSON.stringify({ kind: 'rate_limit', retryAfter: 2 }));
    assert.equal((await poll('video_g')).status, 429);
    assert.deepEqual(await control('DELETE', 'faults'), { status: 200, body: { ok: true } });
    assert.equal((await poll('video_g')).status, 200);
    await control('POST', 'faults/video_h', JSON.stringify({ kind: 'status', status: 500 }));
    await control('POST', 'faults/video_i', JSON.stringify({ kind: 'status', status: 500 }));
    assert.deepEqual(await control('DELETE', 'faults/video_h'), { status: 200, body: { ok: true } });
    assert.equal((await poll('video_h')).status, 200, 'its fault is gone');
    assert.equal((await poll('video_i')).status, 500, 'the other id keeps its fault');
  });

  it('reset over HTTP forgets hits, pinned tasks and faults', async () => {
    simulator.setTask('video_r', { missing: true });
    simulator.injectFault('*', { kind: 'status', status: 500 });
    await poll('video_r');
    assert.deepEqual(await control('POST', 'reset'), { status: 200, body: { ok: true } });
    assert.equal(simulator.hits(), 0);
    assert.equal((await poll('video_r')).status, 200);
  });

  it('answers 400 to a bad control body', async () => {
    const bad = [
      ['faults/video_x', '{"kind":"explode"}'],
      ['faults/video_x', '{"kind":"latency"}'],
      ['faults/video_x', 'not json'],
      ['tasks/video_x', '{"timeline":[]}'],
      ['tasks/video_x', '{"timeline":[{"atMs":0,"status":"done"}]}'],
      ['tasks/video_x', '{"variant":"cli"}'],
    ] as const;
    for (const [path, body] of bad) {
      const answer = await control('POST', path, body);
      assert.equal(answer.status, 400, `${path} ${body}`);
      assert.equal((answer.body as { error: string }).error, 'invalid_body');
    }
    assert.equal(simulator.hits(), 0);
    assert.equal((await poll('video_x')).status, 200, 'nothing was applied');
  });

  it('answers 404 to an unknown control route', async () => {
    assert.equal((await control('GET', 'nothing')).status, 404);
    assert.equal((await control('GET', 'tasks/video_x')).status, 404);
  });

  it('lets a constructor option decide which ids exist', async () => {
    const custom = await startSimulator({ provider: 'vtrix', credentials: { apiKey: KEY }, owns: (id) => id.startsWith('mine-') });
    try {
      const statusOf = async (id: string): Promise<number> => {
        const response = await request(`${custom.url}/model/v1/generation/task/${id}`, { headers: { authorization: `Bearer ${KEY}` } });
        await response.body.dump();
        return response.statusCode;
      };
      assert.equal(await statusOf('mine-1'), 200);
      assert.equal(await statusOf('task_abc001'), 404);
      assert.equal(await statusOf('mine-missing'), 404, 'the "missing" naming rule still applies');
    } finally {
      await custom.close();
    }
  });
});
