/**
 * The replicate simulator: `GET /v1/predictions/{id}` with a Bearer (or the older Token)
 * token and Replicate's 401 bodies, every output shape and terminal word, removed data,
 * the docs/providers/replicate.md stories, and ids made for tools.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { replicate } from '../../src/providers/replicate/index.js';
import { DATA_REMOVED, profile } from '../../src/providers/replicate/simulator.js';
import { describeTask, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const TOKEN = 'r8_test-replicate-simulator';
const START = Date.parse('2026-05-01T10:00:00.123Z');
const ID = 'k3v8xq2mdz7wpc5tnhr9bfya4e';
const EXAMPLE_ID = 'qz7mfxlkw3vdpygt1o8hbnsuae';
const FAILED_ID = 'gm3qorzdhgbfurvjtvhg6dckhu';
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];

interface Prediction {
  id: string;
  model: string;
  version: string;
  status: string;
  input: Record<string, unknown>;
  output: unknown;
  error: string | null;
  logs: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  data_removed: boolean;
  source: string;
  metrics?: { predict_time: number };
  urls: { get: string; cancel: string; web: string };
}

describe('replicate simulator', () => {
  let simulator: Simulator;
  let now = START;
  before(async () => {
    simulator = await startSimulator({ provider: 'replicate', credentials: { apiKey: TOKEN }, now: () => now });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    now = START;
  });

  const get = async <Body = Prediction>(path: string, authorization: string | null = `Bearer ${TOKEN}`, method: 'GET' | 'POST' = 'GET') => {
    const response = await request(`${simulator.url}${path}`, { method, headers: authorization === null ? {} : { authorization } });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Body };
  };
  const poll = <Body = Prediction>(id: string, authorization?: string | null) => get<Body>(`/v1/predictions/${id}`, authorization);

  it('takes REPLICATE_API_TOKEN and REPLICATE_BASE_URL, and is called with a Bearer token', () => {
    assert.deepEqual(simulator.env, { REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: simulator.url });
    assert.deepEqual(simulator.clientHeaders, { authorization: `Bearer ${TOKEN}` });
  });

  it("takes Bearer and the older Token scheme; refuses anything else with Replicate's 401", async () => {
    simulator.setTask(ID, { timeline: DONE });
    assert.equal((await poll(ID)).status, 200);
    assert.equal((await poll(ID, `Token ${TOKEN}`)).status, 200);
    for (const authorization of ['Bearer wrong', `bearer ${TOKEN}`, `Key ${TOKEN}`, TOKEN, `Bearer  ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const answer = await poll(ID, authorization);
      assert.deepEqual([answer.status, answer.body], [401, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 }], authorization);
    }
    const none = await poll(ID, null);
    assert.deepEqual([none.status, none.body], [401, { title: 'Unauthenticated', detail: 'You did not pass an authentication token', status: 401 }]);
    assert.equal(simulator.hits(ID), 9, 'refused polls count');
  });

  it('answers GET /v1/predictions/{id} only: another path or method is a 404, an unknown prediction too', async () => {
    for (const [path, method] of [
      [`/v1/predictions/${ID}/cancel`, 'POST'],
      [`/v1/predictions/${ID}`, 'POST'],
      [`/v1/prediction/${ID}`, 'GET'],
      [`/v1/predictions/${ID}/extra`, 'GET'],
    ] as const) {
      const answer = await get(path, `Bearer ${TOKEN}`, method);
      assert.deepEqual([answer.status, answer.body], [404, { detail: 'Not found.' }], `${method} ${path}`);
    }
    for (const id of ['nopenopenope', `${ID}x`, 'missingmissingmissing00000']) {
      assert.deepEqual([(await poll(id)).status, (await poll(id)).body], [404, { detail: 'Not found.' }], id);
    }
  });

  it('tells a life: starting, processing with growing logs, succeeded; times ISO with milliseconds', async () => {
    simulator.setTask(ID, {
      variant: 'string',
      model: 'minimax/video-01',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 1000, status: 'in_progress', progress: 20 },
        { atMs: 2000, status: 'in_progress', progress: 60 },
        { atMs: 3500, status: 'succeeded' },
      ],
    });
    const starting = (await poll(ID)).body;
    const getUrl = `${simulator.url}/v1/predictions/${ID}`;
    assert.deepEqual(starting, {
      id: ID,
      model: 'minimax/video-01',
      version: starting.version,
      status: 'starting',
      input: starting.input,
      output: null,
      error: null,
      logs: '',
      created_at: '2026-05-01T10:00:00.123Z',
      started_at: null,
      completed_at: null,
      data_removed: false,
      source: 'api',
      urls: { get: getUrl, cancel: `${getUrl}/cancel`, web: `https://replicate.com/p/${ID}` },
    });
    assert.match(starting.version, /^[0-9a-f]{64}$/);
    assert.equal(typeof starting.input['prompt'], 'string');
    now = START + 1000;
    const early = (await poll(ID)).body;
    assert.deepEqual([early.status, early.logs, early.started_at], ['processing', 'loading weights\nstep 10/50', '2026-05-01T10:00:01.123Z']);
    now = START + 2000;
    assert.equal((await poll(ID)).body.logs, 'loading weights\nstep 30/50');
    now = START + 3500;
    const done = (await poll(ID)).body;
    assert.deepEqual(
      [done.status, done.output, done.error, done.completed_at, done.metrics, done.data_removed],
      ['succeeded', `${simulator.url}/files/${ID}.webm`, null, '2026-05-01T10:00:03.623Z', { predict_time: 2.5 }, false],
    );
  });

  it('renders each output shape: a URL, a list of URLs, an object of URLs with extensions that say their type', async () => {
    const video = `${simulator.url}/files/${ID}.webm`;
    const expected: Record<string, unknown> = {
      string: video,
      array: [video],
      object: { video, thumbnail: `${simulator.url}/files/${ID}.webp` },
    };
    for (const variant of profile.variants) {
      simulator.setTask(ID, { variant, timeline: DONE });
      assert.deepEqual((await poll(ID)).body.output, expected[variant], variant);
    }
    assert.deepEqual([...profile.variants], ['string', 'array', 'object']);
    for (const [path, asset] of [
      [`/files/${ID}.webm`, 'sample.webm'],
      [`/files/${ID}.webp`, 'thumbnail.webp'],
    ] as const) {
      const file = await request(`${simulator.url}${path}`);
      assert.equal(file.statusCode, 200, 'a public file: no token needed');
      assert.deepEqual(Buffer.from(await file.body.arrayBuffer()), loadAsset(asset).bytes);
    }
  });

  it('a pinned result URL (a CDN link) is the output', async () => {
    const link = 'http://127.0.0.1:9/sample.webm?expires=1&sig=x';
    simulator.setTask(ID, { variant: 'object', timeline: DONE, resultUrl: link });
    assert.deepEqual((await poll(ID)).body.output, { video: link, thumbnail: `${simulator.url}/files/${ID}.webp` });
  });

  it('failed carries a string error; canceled after it ran, aborted when it never started', async () => {
    simulator.setTask(ID, { timeline: [{ atMs: 0, status: 'failed' }] });
    const failed = (await poll(ID)).body;
    assert.equal(failed.status, 'failed');
    assert.ok(typeof failed.error === 'string' && failed.error !== '');
    assert.deepEqual([failed.output, failed.logs], [null, `loading weights\n${failed.error}`]);

    simulator.setTask(ID, { timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 1000, status: 'canceled' }] });
    await poll(ID);
    now = START + 1000;
    const canceled = (await poll(ID)).body;
    assert.deepEqual([canceled.status, canceled.error, canceled.output, canceled.started_at !== null], ['canceled', null, null, true]);

    simulator.setTask(ID, { timeline: [{ atMs: 0, status: 'queued' }, { atMs: 1000, status: 'canceled' }] });
    now = START;
    await poll(ID);
    now = START + 1000;
    const aborted = (await poll(ID)).body;
    assert.deepEqual([aborted.status, aborted.started_at, aborted.logs, aborted.completed_at], ['aborted', null, '', '2026-05-01T10:00:01.123Z']);

    simulator.setTask(ID, { timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 0, status: 'canceled', providerStatus: 'aborted' }] });
    assert.equal((await poll(ID)).body.status, 'aborted', 'a pinned word wins');
  });

  it(`a succeeded phase pinned as ${DATA_REMOVED}: still succeeded, its output, input and logs gone`, async () => {
    simulator.setTask(ID, {
      variant: 'array',
      timeline: [
        { atMs: 0, status: 'succeeded' },
        { atMs: 3_600_000, status: 'succeeded', providerStatus: DATA_REMOVED },
      ],
    });
    const fresh = (await poll(ID)).body;
    assert.deepEqual([fresh.status, fresh.output, fresh.data_removed], ['succeeded', [`${simulator.url}/files/${ID}.webm`], false]);
    now = START + 3_600_000;
    const removed = (await poll(ID)).body;
    assert.deepEqual([removed.status, removed.output, removed.data_removed, removed.input, removed.logs, removed.error], ['succeeded', null, true, {}, '', null]);
  });

  it("tells docs/providers/replicate.md's stories: the fox video at 20 s, the NSFW failure at 6 s", async () => {
    const seen: Prediction[] = [];
    for (const offset of [0, 5000, 20_000]) {
      now = START + offset;
      seen.push((await poll(EXAMPLE_ID)).body);
    }
    const [starting, processing, succeeded] = seen;
    assert.deepEqual([starting?.status, starting?.model, starting?.input], ['starting', 'minimax/video-01', { prompt: 'a fox' }]);
    assert.deepEqual([processing?.status, processing?.logs], ['processing', 'loading weights\nstep 12/50']);
    assert.deepEqual([succeeded?.status, succeeded?.output, succeeded?.metrics], ['succeeded', 'https://replicate.delivery/xezq/Xb3kQm9TfWp2LzR7vN5cHd/output.mp4', { predict_time: 15 }]);
    now = START;
    assert.equal((await poll(FAILED_ID)).body.status, 'processing');
    now = START + 6000;
    const failed = (await poll(FAILED_ID)).body;
    assert.deepEqual([failed.status, failed.error, failed.output], ['failed', 'NSFW content detected', null]);
  });

  it('unpinned stories are deterministic and show every output shape; only ids of its form are its own', async () => {
    const variants = new Set<string | undefined>();
    for (let index = 0; index < 40; index++) {
      const id = `det${index.toString().padStart(23, '0')}`;
      const first = await describeTask('replicate', id);
      assert.deepEqual(await describeTask('replicate', id), first);
      variants.add(first?.variant);
    }
    assert.deepEqual([...variants].sort(), ['array', 'object', 'string']);
    assert.equal((await describeTask('replicate', `fail${'0'.repeat(22)}`))?.timeline.at(-1)?.status, 'failed');
    for (const id of ['task_abc001', ID.toUpperCase(), `${ID}0`]) assert.equal(await describeTask('replicate', id), undefined, id);
  });

  it('makes prediction ids for tools, distinct per seed, and answers a story pinned under one', async () => {
    const ids = Array.from({ length: 300 }, (_, index) => profile.sampleId!(`seed-${index}`));
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(profile.sampleId!('seed-7'), ids[7]);
    for (const id of [...ids, profile.sampleId!(''), profile.sampleId!('é')]) {
      assert.match(id, /^[a-z2-7]{26}$/);
      assert.ok(replicate.nativeIds.pattern.test(id) && profile.owns(id), id);
    }
    const sampled = ids[3]!;
    simulator.setTask(sampled, { timeline: [{ atMs: 0, status: 'in_progress' }] });
    assert.equal((await poll(sampled)).body.status, 'processing');
    assert.equal(simulator.hits(sampled), 1);
  });

  it("applies injected faults with Replicate's bodies: a 429 names its delay, Retry-After when given", async () => {
    simulator.setTask(ID, { timeline: DONE });
    simulator.injectFault(ID, { kind: 'rate_limit', times: 1 });
    const limited = await poll<{ detail: string }>(ID);
    assert.deepEqual([limited.status, limited.body, limited.headers['retry-after']], [429, { detail: 'Request was throttled. Expected available in 1 second.' }, undefined]);
    simulator.injectFault(ID, { kind: 'rate_limit', retryAfter: 4, times: 1 });
    assert.equal((await poll(ID)).headers['retry-after'], '4');
    simulator.injectFault(ID, { kind: 'status', status: 503, times: 1 });
    const unavailable = await poll<{ detail: string }>(ID);
    assert.deepEqual([unavailable.status, unavailable.body], [503, { detail: 'Service Unavailable' }]);
    assert.equal((await poll(ID)).status, 200);
  });
});
