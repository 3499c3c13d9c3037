/**
 * The runway simulator: `GET /v1/tasks/{id}` with a Bearer key and `X-Runway-Version`
 * (a missing or other version is Runway's 400), its `{"error"}` bodies, every status word
 * (THROTTLED first for some stories), fractional progress, video and image outputs,
 * failures with and without a code, the documented stories, only some UUIDs its own,
 * and ids made for tools.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { runway } from '../../src/providers/runway/index.js';
import { profile, THROTTLED } from '../../src/providers/runway/simulator.js';
import { describeTask, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const KEY = 'key_test-runway-simulator';
const VERSION = '2024-11-06';
const START = Date.parse('2026-05-01T10:00:00.448Z');
const EXAMPLE_ID = '63fd0f13-f29d-4e58-99d3-1cb9efa14a5b';
const FAILED_ID = '9b2e7c41-5d3a-4f8e-b6c2-0a7d1e4f3c85';
const ID = 'd4c1e7a2-3b5f-4e69-8a0c-1f2e3d4c5b6a';
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface RunwayTask {
  id: string;
  status: string;
  createdAt: string;
  progress?: number;
  output?: string[];
  failure?: string;
  failureCode?: string;
}

/** UUIDs (in the simulator's v4 form) that it has, or has not, by its own rule. */
function uuids(owned: boolean, count: number): string[] {
  const found: string[] = [];
  for (let index = 0; found.length < count; index++) {
    const id = `5e1a0c2d-7b3f-4c8e-9d6a-${index.toString(16).padStart(12, '0')}`;
    if (profile.owns(id) === owned) found.push(id);
  }
  return found;
}

describe('runway simulator', () => {
  let simulator: Simulator;
  let now = START;
  before(async () => {
    simulator = await startSimulator({ provider: 'runway', credentials: { apiKey: KEY }, now: () => now });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    now = START;
  });

  const headers = (overrides: Record<string, string | undefined> = {}) => {
    const all: Record<string, string | undefined> = { authorization: `Bearer ${KEY}`, 'x-runway-version': VERSION, ...overrides };
    return Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
  };
  const get = async <Body = RunwayTask>(path: string, sent = headers(), method: 'GET' | 'POST' | 'DELETE' = 'GET') => {
    const response = await request(`${simulator.url}${path}`, { method, headers: sent });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Body };
  };
  const poll = <Body = RunwayTask>(id: string, sent?: Record<string, string>) => get<Body>(`/v1/tasks/${id}`, sent);

  it('takes RUNWAYML_API_SECRET and RUNWAY_BASE_URL, and is called with the key and the version header', () => {
    assert.deepEqual(simulator.env, { RUNWAYML_API_SECRET: KEY, RUNWAY_BASE_URL: simulator.url });
    assert.deepEqual(simulator.clientHeaders, { authorization: `Bearer ${KEY}`, 'x-runway-version': VERSION });
  });

  it('refuses a wrong or missing key with a 401, and a missing or other X-Runway-Version with a 400', async () => {
    simulator.setTask(ID, { timeline: DONE });
    assert.equal((await poll(ID)).status, 200);
    for (const authorization of ['Bearer wrong', `bearer ${KEY}`, KEY, `Token ${KEY}`, `Bearer  ${KEY}`, `Bearer ${KEY}x`, undefined]) {
      const answer = await poll<{ error: string }>(ID, headers({ authorization }));
      assert.deepEqual([answer.status, answer.body], [401, { error: 'Invalid API key' }], String(authorization));
    }
    const missing = await poll<{ error: string }>(ID, headers({ 'x-runway-version': undefined }));
    assert.deepEqual([missing.status, missing.body], [400, { error: 'The X-Runway-Version header is required.' }]);
    for (const version of ['2024-09-13', '2024-11-6', ' 2024-11-06x', 'latest']) {
      const other = await poll<{ error: string }>(ID, headers({ 'x-runway-version': version }));
      assert.deepEqual([other.status, other.body], [400, { error: 'Invalid X-Runway-Version header. Supported versions: 2024-11-06' }], version);
    }
    // The key is checked first: a request with neither is a 401.
    assert.equal((await poll(ID, {})).status, 401);
    assert.equal(simulator.hits(ID), 14, 'refused polls count');
  });

  it('answers GET /v1/tasks/{id} only: another method is a 405, another path or an unknown task a 404', async () => {
    for (const method of ['POST', 'DELETE'] as const) {
      const answer = await get(`/v1/tasks/${ID}`, headers(), method);
      assert.deepEqual([answer.status, answer.body], [405, { error: 'Method not allowed' }], method);
    }
    for (const path of [`/v1/task/${ID}`, `/v1/tasks/${ID}/extra`, `/v2/tasks/${ID}`]) {
      const answer = await get(path);
      assert.deepEqual([answer.status, answer.body], [404, { error: 'Not found' }], path);
    }
    for (const id of [...uuids(false, 2), 'task_abc001', ID.replaceAll('-', '')]) {
      const answer = await poll(id);
      assert.deepEqual([answer.status, answer.body], [404, { error: 'Task not found' }], id);
    }
  });

  it('tells a life: PENDING, RUNNING with progress as a fraction of one, SUCCEEDED with its output list', async () => {
    simulator.setTask(ID, {
      variant: 'video',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 5000, status: 'in_progress', progress: 8 },
        { atMs: 10_000, status: 'in_progress', progress: 42.5 },
        { atMs: 20_000, status: 'succeeded' },
      ],
    });
    const createdAt = '2026-05-01T10:00:00.448Z';
    assert.deepEqual((await poll(ID)).body, { id: ID, status: 'PENDING', createdAt });
    now = START + 5000;
    assert.deepEqual((await poll(ID)).body, { id: ID, status: 'RUNNING', createdAt, progress: 0.08 });
    now = START + 10_000;
    assert.equal((await poll(ID)).body.progress, 0.425);
    now = START + 20_000;
    const done = (await poll(ID)).body;
    assert.equal(done.status, 'SUCCEEDED');
    assert.deepEqual(Object.keys(done).sort(), ['createdAt', 'id', 'output', 'status']);
    assert.equal(done.output?.length, 1);
    const link = new URL(done.output[0]!);
    assert.equal(`${link.origin}${link.pathname}`, `${simulator.url}/files/${ID}.webm`);
    assert.match(link.searchParams.get('_jwt') ?? '', /^[A-Za-z0-9_-]{43}$/, 'a signed query, as Runway links carry');
    const file = await request(link.href);
    assert.equal(file.statusCode, 200, 'a public file: no key needed');
    assert.deepEqual(Buffer.from(await file.body.arrayBuffer()), loadAsset('sample.webm').bytes);
  });

  it('an image task succeeds with a JPEG; a pinned result URL (a CDN link) is the video, as given', async () => {
    simulator.setTask(ID, { variant: 'image', timeline: DONE });
    const image = (await poll(ID)).body.output?.[0] ?? '';
    assert.equal(image.slice(0, image.indexOf('?')), `${simulator.url}/files/${ID}.jpg`);
    const file = await request(image);
    assert.deepEqual([file.statusCode, file.headers['content-type']], [200, 'image/jpeg']);
    await file.body.dump();
    const cdnLink = 'http://127.0.0.1:9/sample.webm?expires=1&sig=x';
    simulator.setTask(ID, { variant: 'video', timeline: DONE, resultUrl: cdnLink });
    assert.deepEqual((await poll(ID)).body.output, [cdnLink]);
  });

  it('THROTTLED when pinned so; failed with failure and failureCode (or no code); CANCELLED', async () => {
    simulator.setTask(ID, { timeline: [{ atMs: 0, status: 'queued', providerStatus: THROTTLED }] });
    assert.deepEqual((await poll(ID)).body, { id: ID, status: 'THROTTLED', createdAt: '2026-05-01T10:00:00.448Z' });
    simulator.setTask(ID, { timeline: [{ atMs: 0, status: 'canceled' }] });
    assert.deepEqual((await poll(ID)).body, { id: ID, status: 'CANCELLED', createdAt: '2026-05-01T10:00:00.448Z' });

    const codes = new Set<string | undefined>();
    for (const id of uuids(true, 40)) {
      simulator.setTask(id, { timeline: [{ atMs: 0, status: 'failed' }] });
      const failed = (await poll(id)).body;
      assert.equal(failed.status, 'FAILED');
      assert.ok(typeof failed.failure === 'string' && failed.failure !== '', id);
      assert.deepEqual([failed.output, failed.progress], [undefined, undefined]);
      if (failed.failureCode !== undefined) assert.match(failed.failureCode, /^[A-Z_]+(\.[A-Z_]+)*$/);
      codes.add(failed.failureCode);
    }
    assert.ok(codes.has(undefined), 'some failures carry no code');
    assert.ok(codes.has('SAFETY.INPUT.TEXT'), [...codes].join());
  });

  it("tells the documented stories: the example RUNNING at 0.42 then its video at 25 s; the moderation failure at 6 s", async () => {
    const seen: RunwayTask[] = [];
    for (const offset of [0, 5000, 25_000]) {
      now = START + offset;
      seen.push((await poll(EXAMPLE_ID)).body);
    }
    assert.deepEqual(
      seen.map((task) => [task.status, task.progress, task.output]),
      [
        ['PENDING', undefined, undefined],
        ['RUNNING', 0.42, undefined],
        ['SUCCEEDED', undefined, ['https://dnznrvs05pmza.cloudfront.net/7d1c2e9a-4b3f-4a8e-9c21-5e6f7a8b9c0d/video.mp4?_jwt=example-signed-link']],
      ],
    );
    now = START;
    assert.equal((await poll(FAILED_ID)).body.status, 'RUNNING');
    now = START + 6000;
    const failed = (await poll(FAILED_ID)).body;
    assert.deepEqual([failed.status, failed.failure, failed.failureCode], ['FAILED', 'Your prompt was flagged by our content moderation.', 'SAFETY.INPUT.TEXT']);
  });

  it('has about half of all UUIDs, in any case, and the seeds; nothing else', async () => {
    const owned = Array.from({ length: 400 }, (_, index) => `0a1b2c3d-4e5f-4a6b-8c7d-${index.toString(16).padStart(12, '0')}`).filter((id) => profile.owns(id));
    assert.ok(owned.length > 140 && owned.length < 260, `${owned.length} of 400`);
    for (const id of owned.slice(0, 20)) assert.ok(profile.owns(id.toUpperCase()), id);
    for (const id of [EXAMPLE_ID, FAILED_ID]) assert.ok(profile.owns(id), id);
    for (const id of ['task_abc001', 'qz7mfxlkw3vdpygt1o8hbnsuae', `${EXAMPLE_ID}0`]) assert.equal(profile.owns(id), false, id);
    const [mine] = uuids(true, 1);
    const [other] = uuids(false, 1);
    assert.deepEqual([(await poll(mine!)).status, (await poll(other!)).status], [200, 404]);
    // Pinned, an id it would not have is its own.
    simulator.setTask(other!, { timeline: DONE });
    assert.equal((await poll(other!)).status, 200);
  });

  it('unpinned stories are deterministic, show both variants, and some wait THROTTLED before PENDING', async () => {
    const variants = new Set<string | undefined>();
    let throttled = 0;
    for (const id of uuids(true, 60)) {
      const first = await describeTask('runway', id);
      assert.deepEqual(await describeTask('runway', id), first);
      variants.add(first?.variant);
      const timeline = first?.timeline ?? [];
      if (timeline[0]?.providerStatus === THROTTLED) {
        throttled++;
        assert.deepEqual([timeline[1]?.status, timeline[1]?.providerStatus, timeline[2]?.status], ['queued', undefined, 'in_progress'], id);
        assert.ok((timeline[1]?.atMs ?? 0) > 0 && (timeline[1]?.atMs ?? 0) < (timeline[2]?.atMs ?? 0), id);
      }
    }
    assert.deepEqual([...variants].sort(), ['image', 'video']);
    assert.ok(throttled > 5 && throttled < 40, `${throttled} of 60 throttled`);
    const [throttledId] = (await Promise.all(uuids(true, 60).map(async (id) => [id, await describeTask('runway', id)] as const))).filter(
      ([, plan]) => plan?.timeline[0]?.providerStatus === THROTTLED,
    );
    assert.equal((await poll(throttledId![0])).body.status, 'THROTTLED');
  });

  it('makes task ids for tools: UUIDs it has, distinct per seed, and answers a story pinned under one', async () => {
    const ids = Array.from({ length: 300 }, (_, index) => profile.sampleId!(`seed-${index}`));
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(profile.sampleId!('seed-7'), ids[7]);
    for (const id of [...ids, profile.sampleId!(''), profile.sampleId!('é'), profile.sampleId!('1\u0000x')]) {
      assert.match(id, UUID);
      assert.ok(runway.nativeIds.pattern.test(id) && profile.owns(id), id);
    }
    const sampled = ids[3]!;
    simulator.setTask(sampled, { timeline: [{ atMs: 0, status: 'in_progress', progress: 50 }] });
    assert.deepEqual([(await poll(sampled)).body.status, (await poll(sampled)).body.progress], ['RUNNING', 0.5]);
    assert.equal(simulator.hits(sampled), 2);
  });

  it("applies injected faults with Runway's bodies, Retry-After when given", async () => {
    simulator.setTask(ID, { timeline: DONE });
    simulator.injectFault(ID, { kind: 'rate_limit', times: 1 });
    const limited = await poll<{ error: string }>(ID);
    assert.deepEqual([limited.status, limited.body, limited.headers['retry-after']], [429, { error: 'You have reached the daily task limit of your organization.' }, undefined]);
    simulator.injectFault(ID, { kind: 'rate_limit', retryAfter: 4, times: 1 });
    assert.equal((await poll(ID)).headers['retry-after'], '4');
    for (const status of [502, 503, 504]) {
      simulator.injectFault(ID, { kind: 'status', status, times: 1 });
      const shedding = await poll<{ error: string }>(ID);
      assert.equal(shedding.status, status);
      assert.equal(typeof shedding.body.error, 'string');
    }
    assert.equal((await poll(ID)).status, 200);
  });
});
