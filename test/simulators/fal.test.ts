/**
 * The fal simulator: its two calls per request on the queue path, `Authorization: Key`,
 * every result and failure shape, the docs/providers/fal.md stories, and ids made for tools.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { FAL_NATIVE_IDS } from '../../src/providers/fal/index.js';
import { defaultOutcome, describeTask, loadProfile, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';

const KEY = 'k-id-3f9a:k-secret-77';
const START = Date.parse('2026-05-01T10:00:00Z');
const KLING = 'fal-ai/kling-video/v2.5-turbo/pro/image-to-video';
const EXAMPLE_UUID = '6f1c2b7e-3d4a-4b8e-9c2f-5a1d7e0b4c93';
const REFUSED_UUID = '80e732af-660e-45cd-bd63-580e4f2a94cc';
const UUID = '1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const ID = `${KLING}/${UUID}`;
const KLING_REQUESTS = '/fal-ai/kling-video/requests';

interface StatusBody {
  status: string;
  request_id: string;
  queue_position?: number;
  response_url: string;
  status_url: string;
  cancel_url: string;
  logs?: null;
  metrics?: { inference_time: number | null };
  error?: string;
  error_type?: string;
}
interface FileBody {
  url: string;
  content_type: string;
  file_name?: string;
  file_size?: number;
}
interface Answer<Body> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Body;
}

const FAILURE_SHAPES = ['detail_list', 'detail_string', 'request_error', 'status_error', 'status_failed'];
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
const FAILED: Phase[] = [{ atMs: 0, status: 'failed' }];

describe('fal simulator', () => {
  let now = START;
  let simulator: Simulator;

  async function get<Body>(path: string, authorization: string | null = `Key ${KEY}`, method: 'GET' | 'POST' = 'GET'): Promise<Answer<Body>> {
    const response = await request(`${simulator.url}${path}`, { method, headers: authorization === null ? {} : { authorization } });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Body };
  }
  const status = <Body = StatusBody>(uuid: string, app = 'fal-ai/kling-video') => get<Body>(`/${app}/requests/${uuid}/status`);
  const result = <Body = Record<string, unknown>>(uuid: string, app = 'fal-ai/kling-video') => get<Body>(`/${app}/requests/${uuid}`);

  before(async () => {
    simulator = await startSimulator({ provider: 'fal', credentials: { apiKey: KEY }, now: () => now });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    now = START;
  });

  it('takes FAL_KEY and FAL_BASE_URL, and is called with Authorization: Key', () => {
    assert.deepEqual(simulator.env, { FAL_BASE_URL: simulator.url, FAL_KEY: KEY });
    assert.deepEqual(simulator.clientHeaders, { authorization: `Key ${KEY}` });
  });

  it("refuses a Bearer key, a wrong key or none with fal's 401 on both calls", async () => {
    simulator.setTask(ID, { variant: 'video', timeline: DONE });
    for (const authorization of [`Bearer ${KEY}`, 'Key wrong', `key ${KEY}`, KEY, null]) {
      for (const path of [`${KLING_REQUESTS}/${UUID}/status`, `${KLING_REQUESTS}/${UUID}`]) {
        const answer = await get(path, authorization);
        assert.deepEqual([answer.status, answer.body], [401, { detail: 'No user found for Key ID and Secret' }], `${authorization} ${path}`);
      }
    }
    assert.equal((await status(UUID)).status, 200);
  });

  it('answers the queue path only: two segments, three under workflows/ and comfy/; a subpath is no path', async () => {
    for (const [app, id] of [
      ['fal-ai/veo3', `fal-ai/veo3/fast/${UUID}`],
      ['acme/upscaler', `acme/upscaler/${UUID}`],
      ['workflows/acme/my-flow', `workflows/acme/my-flow/${UUID}`],
      ['comfy/acme/txt2vid', `comfy/acme/txt2vid/${UUID}`],
    ] as const) {
      simulator.setTask(id, { variant: 'video', timeline: DONE });
      assert.equal((await status(UUID, app)).status, 200, app);
      assert.equal((await result(UUID, app)).status, 200, app);
      assert.equal(simulator.hits(id), 2, id);
    }
    const before = simulator.hits();
    for (const path of [
      `/fal-ai/kling-video/v2.5-turbo/pro/image-to-video/requests/${UUID}/status`,
      `/fal-ai/kling-video/v2.5-turbo/requests/${UUID}`,
      `/workflows/acme/requests/${UUID}/status`,
      `/fal-ai/requests/${UUID}/status`,
      `${KLING_REQUESTS}/not-a-uuid/status`,
      `${KLING_REQUESTS}/${UUID}/cancel`,
    ]) {
      const answer = await get(path);
      assert.deepEqual([answer.status, answer.body], [404, { detail: 'Not Found' }], path);
    }
    assert.equal((await get(`${KLING_REQUESTS}/${UUID}/status`, `Key ${KEY}`, 'POST')).status, 404);
    assert.equal(simulator.hits(), before, 'no task was asked');
  });

  it("keys a request by its app's endpoint and request id, whatever subpath it was submitted to", async () => {
    simulator.setTask(ID, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }] });
    assert.equal((await status(UUID)).body.status, 'IN_PROGRESS');
    assert.equal(simulator.hits(ID), 1);
    // An app the simulator does not list is its own endpoint.
    simulator.setTask(`acme/model/${UUID}`, { timeline: [{ atMs: 0, status: 'queued' }] });
    assert.equal((await status(UUID, 'acme/model')).body.status, 'IN_QUEUE');
  });

  it('says 202 while queued or running, 200 once done, with the request URLs; the result call says 400 until then', async () => {
    simulator.setTask(ID, {
      variant: 'video',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 1000, status: 'in_progress' },
        { atMs: 3500, status: 'succeeded' },
      ],
    });
    const queued = await status(UUID);
    const urls = `${simulator.url}${KLING_REQUESTS}/${UUID}`;
    assert.equal(queued.status, 202);
    assert.deepEqual(queued.body, {
      status: 'IN_QUEUE',
      request_id: UUID,
      queue_position: queued.body.queue_position,
      response_url: urls,
      status_url: `${urls}/status`,
      cancel_url: `${urls}/cancel`,
    });
    assert.ok([0, 1, 2, 4, 7].includes(queued.body.queue_position ?? -1));
    assert.deepEqual([(await result(UUID)).status, (await result(UUID)).body], [400, { detail: 'Request is still in progress' }]);
    now = START + 1000;
    const running = await status(UUID);
    assert.deepEqual([running.status, running.body.status, running.body.logs], [202, 'IN_PROGRESS', null]);
    now = START + 3500;
    const done = await status(UUID);
    assert.deepEqual([done.status, done.body.status, done.body.metrics, done.body.error], [200, 'COMPLETED', { inference_time: 2.5 }, undefined]);
  });

  it('renders each result shape, its files public, typed by content_type', async () => {
    const shapes: Record<string, (body: Record<string, unknown>) => void> = {
      video: (body) => {
        const video = body['video'] as FileBody;
        assert.deepEqual(video, { url: `${simulator.url}/files/${encodeURIComponent(ID)}.webm`, content_type: 'video/webm', file_name: `${UUID}.webm` });
        assert.equal(typeof body['seed'], 'number');
      },
      videos: (body) => assert.deepEqual(body['videos'], [{ url: `${simulator.url}/files/${encodeURIComponent(ID)}.webm`, content_type: 'video/webm', file_name: `${UUID}.webm` }]),
      images: (body) => assert.deepEqual(body['images'], [{ url: `${simulator.url}/files/${encodeURIComponent(ID)}.webp`, content_type: 'image/webp', width: 320, height: 180 }]),
      audio: (body) => {
        const [key, ...others] = Object.keys(body);
        assert.ok(key === 'audio' || key === 'audio_file', key);
        assert.deepEqual(others, []);
        assert.equal((body[key] as FileBody).content_type, 'audio/webm');
      },
    };
    for (const [variant, check] of Object.entries(shapes)) {
      simulator.setTask(ID, { variant, timeline: DONE });
      const answer = await result(UUID);
      assert.equal(answer.status, 200, variant);
      check(answer.body);
    }
  });

  it('a pinned result URL (a CDN link) is the file URL', async () => {
    simulator.setTask(ID, { variant: 'videos', timeline: DONE, resultUrl: 'http://127.0.0.1:9/sample.webm?expires=1&sig=x' });
    const answer = await result<{ videos: FileBody[] }>(UUID);
    assert.deepEqual(answer.body.videos, [{ url: 'http://127.0.0.1:9/sample.webm?expires=1&sig=x', content_type: 'video/webm', file_name: 'sample.webm' }]);
  });

  it('renders each failure shape on the call fal puts it on', async () => {
    simulator.setTask(ID, { variant: 'status_error', timeline: FAILED });
    const statusError = await status(UUID);
    assert.deepEqual([statusError.status, statusError.body.status], [200, 'COMPLETED']);
    assert.ok(typeof statusError.body.error === 'string' && statusError.body.error !== '');
    assert.match(statusError.body.error_type ?? '', /^(request_timeout|runner_scheduling_failure|runner_disconnected|runner_server_error)$/);

    simulator.setTask(ID, { variant: 'status_failed', timeline: FAILED });
    const failedWord = await status(UUID);
    assert.deepEqual([failedWord.status, failedWord.body.status, typeof failedWord.body.error], [200, 'FAILED', 'string']);

    simulator.setTask(ID, { variant: 'detail_list', timeline: FAILED });
    assert.equal((await status(UUID)).body.status, 'COMPLETED');
    const list = await result<{ detail: Array<{ loc: string[]; msg: string; type: string }> }>(UUID);
    assert.equal(list.status, 422);
    assert.equal(list.body.detail.length, 1);
    assert.deepEqual(list.body.detail[0]?.loc[0], 'body');
    assert.match(list.body.detail[0]?.type ?? '', /^(content_policy_violation|image_load_error|literal_error)$/);

    simulator.setTask(ID, { variant: 'detail_string', timeline: FAILED });
    const text = await result<{ detail: string }>(UUID);
    assert.deepEqual([text.status, typeof text.body.detail, text.headers['x-fal-error-type']], [422, 'string', undefined]);

    simulator.setTask(ID, { variant: 'request_error', timeline: FAILED });
    assert.equal((await status(UUID)).body.error, undefined);
    const typed = await result<{ detail: string; error_type: string }>(UUID);
    assert.equal(typed.headers['x-fal-error-type'], typed.body.error_type);
    const statusByType: Record<string, number> = { request_timeout: 504, runner_scheduling_failure: 503, runner_disconnected: 503, runner_server_error: 500 };
    assert.equal(typed.status, statusByType[typed.body.error_type]);
  });

  it('a pinned outcome wins over its variant: a result shape fails with a failure shape, a failure shape succeeds with a video', async () => {
    simulator.setTask(ID, { variant: 'images', timeline: FAILED });
    const statusAnswer = await status(UUID);
    const resultAnswer = await result<{ detail?: unknown; images?: unknown }>(UUID);
    assert.notEqual(resultAnswer.status, 200);
    assert.equal(resultAnswer.body.images, undefined);
    assert.ok(typeof statusAnswer.body.error === 'string' || resultAnswer.body.detail !== undefined, 'the request\'s error is on one of the calls');
    simulator.setTask(ID, { variant: 'detail_list', timeline: DONE });
    assert.equal(((await result<{ video: FileBody }>(UUID)).body.video).content_type, 'video/webm');
  });

  it('says CANCELLED or CANCELED for a canceled request, by id', async () => {
    const words = new Set<string>();
    for (let index = 0; index < 12; index++) {
      const uuid = `${index.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
      simulator.setTask(`${KLING}/${uuid}`, { timeline: [{ atMs: 0, status: 'canceled' }] });
      const answer = await status(uuid);
      assert.equal(answer.status, 200);
      words.add(answer.body.status);
    }
    assert.deepEqual([...words].sort(), ['CANCELED', 'CANCELLED']);
  });

  it("tells docs/providers/fal.md's stories: the Kling request queued 3 ahead, running at 3 s, its video at 10 s; the refused one a 422", async () => {
    const [queued, running, done] = await (async () => {
      const seen: Array<Answer<StatusBody>> = [];
      for (const offset of [0, 3000, 10_000]) {
        now = START + offset;
        seen.push(await status(EXAMPLE_UUID));
      }
      return seen;
    })();
    assert.deepEqual([queued?.status, queued?.body.status, queued?.body.queue_position], [202, 'IN_QUEUE', 3]);
    assert.deepEqual([running?.status, running?.body.status], [202, 'IN_PROGRESS']);
    assert.deepEqual([done?.status, done?.body.status, done?.body.metrics], [200, 'COMPLETED', { inference_time: 7 }]);
    assert.deepEqual((await result(EXAMPLE_UUID)).body, {
      video: { url: 'https://v3.fal.media/files/rabbit/Xq1u7Yp2Lk9dVb3N_out.mp4', content_type: 'video/mp4', file_name: 'Xq1u7Yp2Lk9dVb3N_out.mp4', file_size: 4123456 },
    });
    now = START;
    await status(REFUSED_UUID);
    now = START + 4000;
    assert.equal((await status(REFUSED_UUID)).body.status, 'COMPLETED');
    const refused = await result(REFUSED_UUID);
    assert.deepEqual([refused.status, refused.body], [422, { detail: [{ loc: ['body', 'prompt'], msg: 'content flagged', type: 'content_policy_violation' }] }]);
  });

  it('unpinned stories are deterministic: failing ids show failure shapes, image and audio apps their shapes', async () => {
    const plan = async (id: string) => (await describeTask('fal', id))?.variant;
    const failureShapes = new Set<string | undefined>();
    const resultShapes = new Set<string | undefined>();
    for (let index = 0; index < 40; index++) {
      const uuid = `${index.toString(16).padStart(8, 'a')}-1111-4222-8333-444455556666`;
      assert.equal(await plan(`fal-ai/fail-model/${uuid}`), await plan(`fal-ai/fail-model/${uuid}`));
      failureShapes.add(await plan(`fal-ai/fail-model/${uuid}`));
      resultShapes.add(await plan(`acme/happy/${uuid}`));
      for (const [id, shapes] of [
        [`fal-ai/flux/dev/${uuid}`, ['images']],
        [`fal-ai/stable-audio/${uuid}`, ['audio']],
        [`${KLING}/${uuid}`, ['video', 'videos']],
      ] as const) {
        // About one id in seven fails by its hash: it shows a failure shape instead.
        const expected: readonly string[] = defaultOutcome(id) === 'failed' ? FAILURE_SHAPES : shapes;
        assert.ok(expected.includes((await plan(id)) ?? ''), id);
      }
    }
    assert.deepEqual([...failureShapes].sort(), FAILURE_SHAPES);
    assert.ok(resultShapes.size >= 3, [...resultShapes].join());
    assert.equal(await describeTask('fal', `fal-ai/missing/${UUID}`), undefined);
  });

  it('makes ids of its form for tools, distinct per seed, and answers a story pinned under one at its queue path', async () => {
    const { sampleId } = await loadProfile('fal');
    assert.ok(sampleId !== undefined);
    const ids = Array.from({ length: 200 }, (_, index) => sampleId(`seed-${index}`));
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(sampleId('seed-7'), ids[7]);
    for (const id of ids) assert.match(id, new RegExp(`^${KLING}/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`));
    assert.ok(ids.every((id) => FAL_NATIVE_IDS.pattern.test(id)));
    const sampled = ids[3]!;
    simulator.setTask(sampled, { variant: 'videos', timeline: [{ atMs: 0, status: 'in_progress' }] });
    assert.equal((await status(sampled.slice(sampled.lastIndexOf('/') + 1))).body.status, 'IN_PROGRESS');
    assert.equal(simulator.hits(sampled), 1);
  });

  it('applies injected faults to both calls, untyped: fal itself failing, not the request', async () => {
    simulator.setTask(ID, { variant: 'video', timeline: DONE });
    simulator.injectFault(ID, { kind: 'status', status: 503, times: 2 });
    const first = await status(UUID);
    const second = await result(UUID);
    for (const answer of [first, second]) {
      assert.deepEqual([answer.status, answer.body, answer.headers['x-fal-error-type']], [503, { detail: 'Service Unavailable' }, undefined]);
    }
    assert.equal((await result(UUID)).status, 200);
    simulator.injectFault(ID, { kind: 'rate_limit', retryAfter: 4, times: 1 });
    const limited = await status(UUID);
    assert.deepEqual([limited.status, limited.headers['retry-after']], [429, '4']);
  });
});
