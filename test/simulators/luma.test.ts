/**
 * The luma simulator: `GET /dream-machine/v1/generations/{id}` with a Bearer key and a
 * Luma-style 401; a generation's life in Dream Machine's words (video and image) and in
 * the Agents API's; the documented failure reasons; the documented stories; only some
 * UUIDs held (so ambiguous UUIDs can be probed); ids made for tools; faults.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { luma } from '../../src/providers/luma/index.js';
import {
  AGENTS_FAILURES,
  EXAMPLE_ID,
  EXAMPLE_VIDEO_URL,
  FAILED_EXAMPLE_ID,
  FAILURE_REASONS,
  ownsGeneration,
  profile,
} from '../../src/providers/luma/simulator.js';
import { describeTask, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const KEY = 'luma-test-key-7c1d';
const START = Date.parse('2026-05-01T10:00:00.123Z');
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];

/** UUIDs of the v4 form, one per index. */
const uuid = (index: number) => `${index.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
/** The first UUIDs of that series Luma holds, and the first it does not. */
const OWNED = Array.from({ length: 64 }, (_, index) => uuid(index)).filter(ownsGeneration);
const FOREIGN = Array.from({ length: 64 }, (_, index) => uuid(index)).filter((id) => !ownsGeneration(id));
const ID = OWNED[0]!;

interface Generation {
  id: string;
  generation_type?: string;
  type?: string;
  state: string;
  failure_reason?: string | null;
  failure_code?: string;
  created_at: string;
  model: string;
  assets?: Record<string, string> | null;
  output?: Array<{ type: string; url: string }>;
  request?: Record<string, unknown>;
}

describe('luma simulator', () => {
  let simulator: Simulator;
  let now = START;
  before(async () => {
    simulator = await startSimulator({ provider: 'luma', credentials: { apiKey: KEY }, now: () => now });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    now = START;
  });

  const get = async <Body = Generation>(path: string, authorization: string | null = `Bearer ${KEY}`, method: 'GET' | 'POST' | 'DELETE' = 'GET') => {
    const response = await request(`${simulator.url}${path}`, { method, headers: authorization === null ? {} : { authorization } });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Body };
  };
  const poll = <Body = Generation>(id: string, authorization?: string | null) => get<Body>(`/dream-machine/v1/generations/${id}`, authorization);

  it('takes LUMAAI_API_KEY and LUMA_BASE_URL, and is called with a Bearer key', () => {
    assert.deepEqual(simulator.env, { LUMAAI_API_KEY: KEY, LUMA_BASE_URL: simulator.url });
    assert.deepEqual(simulator.clientHeaders, { authorization: `Bearer ${KEY}` });
  });

  it('refuses anything but Authorization: Bearer <key> with a 401 {"detail": "Invalid API key"}', async () => {
    simulator.setTask(ID, { timeline: DONE });
    assert.equal((await poll(ID)).status, 200);
    for (const authorization of [null, 'Bearer wrong', `bearer ${KEY}`, `Token ${KEY}`, KEY, `Bearer  ${KEY}`, `Bearer ${KEY}x`]) {
      const answer = await poll(ID, authorization);
      assert.deepEqual([answer.status, answer.body], [401, { detail: 'Invalid API key' }], String(authorization));
    }
    assert.equal(simulator.hits(ID), 8, 'refused polls count');
  });

  it('answers GET /dream-machine/v1/generations/{id} only; a generation it does not hold is a 404', async () => {
    simulator.setTask(ID, { timeline: DONE });
    for (const [path, method] of [
      [`/dream-machine/v1/generations/${ID}`, 'POST'],
      [`/dream-machine/v1/generations/${ID}`, 'DELETE'],
      [`/dream-machine/v1/generation/${ID}`, 'GET'],
      [`/dream-machine/v1/generations/${ID}/extra`, 'GET'],
      [`/v1/generations/${ID}`, 'GET'],
    ] as const) {
      const answer = await get(path, `Bearer ${KEY}`, method);
      assert.deepEqual([answer.status, answer.body], [404, { detail: 'Not Found' }], `${method} ${path}`);
    }
    for (const id of [FOREIGN[0]!, 'task_abc001', `${ID}0`, `missing-${ID}`]) {
      const answer = await poll(id);
      assert.deepEqual([answer.status, answer.body], [404, { detail: 'Generation not found' }], id);
    }
  });

  it('tells a video life: queued, dreaming (a preview video once it has progress), completed with its video; ISO times', async () => {
    simulator.setTask(ID, {
      variant: 'video',
      model: 'ray-flash-2',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 1000, status: 'in_progress' },
        { atMs: 2000, status: 'in_progress', progress: 50 },
        { atMs: 3000, status: 'succeeded' },
      ],
    });
    const queued = (await poll(ID)).body;
    assert.deepEqual(queued, {
      id: ID,
      generation_type: 'video',
      state: 'queued',
      failure_reason: null,
      created_at: '2026-05-01T10:00:00.123Z',
      model: 'ray-flash-2',
      assets: null,
      request: queued.request,
    });
    assert.deepEqual(Object.keys(queued.request ?? {}).sort(), ['aspect_ratio', 'duration', 'generation_type', 'model', 'prompt', 'resolution']);
    assert.equal(queued.request?.['model'], 'ray-flash-2');
    now = START + 1000;
    assert.deepEqual([(await poll(ID)).body.state, (await poll(ID)).body.assets], ['dreaming', null]);
    now = START + 2000;
    const previewing = (await poll(ID)).body;
    assert.deepEqual([previewing.state, previewing.assets], ['dreaming', { progress_video: `${simulator.url}/files/${ID}-progress.mp4` }]);
    now = START + 3000;
    const completed = (await poll(ID)).body;
    assert.deepEqual(
      [completed.state, completed.assets, completed.failure_reason, completed.created_at],
      ['completed', { video: `${simulator.url}/files/${ID}.webm` }, null, '2026-05-01T10:00:00.123Z'],
    );
    const file = await request(`${simulator.url}/files/${ID}.webm`);
    assert.equal(file.statusCode, 200, 'a public file: no key needed');
    assert.deepEqual(Buffer.from(await file.body.arrayBuffer()), loadAsset('sample.webm').bytes);
  });

  it('a pinned result URL (a CDN link) is the video', async () => {
    const link = 'http://127.0.0.1:9/sample.webm?expires=1&sig=x';
    simulator.setTask(ID, { variant: 'video', timeline: DONE, resultUrl: link });
    assert.deepEqual((await poll(ID)).body.assets, { video: link });
  });

  it('an image generation: a Photon model, generation_type image, its picture in assets.image', async () => {
    simulator.setTask(ID, { variant: 'image', model: 'ray-2', timeline: [{ atMs: 0, status: 'in_progress', progress: 40 }, { atMs: 1000, status: 'succeeded' }] });
    const dreaming = (await poll(ID)).body;
    assert.deepEqual([dreaming.generation_type, dreaming.state, dreaming.assets, dreaming.request?.['generation_type']], ['image', 'dreaming', null, 'image']);
    assert.ok(['photon-1', 'photon-flash-1'].includes(dreaming.model), 'a ray model is no image model');
    now = START + 1000;
    const completed = (await poll(ID)).body;
    assert.deepEqual([completed.state, completed.assets], ['completed', { image: `${simulator.url}/files/${ID}.jpg` }]);
    simulator.setTask(ID, { variant: 'image', model: 'photon-flash-1', timeline: DONE });
    assert.equal((await poll(ID)).body.model, 'photon-flash-1', 'an image model is kept');
    const file = await request(`${simulator.url}/files/${ID}.jpg`);
    assert.deepEqual([file.statusCode, Buffer.from(await file.body.arrayBuffer())], [200, loadAsset('thumbnail.jpg').bytes]);
  });

  it("the Agents API's shape: processing, then an output list; a failure with failure_code and failure_reason", async () => {
    simulator.setTask(ID, { variant: 'agents', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 1000, status: 'succeeded' }] });
    const processing = (await poll(ID)).body;
    assert.deepEqual(processing, { id: ID, created_at: '2026-05-01T10:00:00.123Z', model: processing.model, state: 'processing', type: 'image' });
    assert.ok(['uni-1', 'uni-1-max'].includes(processing.model));
    now = START + 1000;
    const completed = (await poll(ID)).body;
    assert.deepEqual([completed.state, completed.output, completed.failure_code], ['completed', [{ type: 'image', url: `${simulator.url}/files/${ID}.jpg` }], undefined]);

    simulator.setTask(ID, { variant: 'agents', timeline: [{ atMs: 0, status: 'failed' }] });
    const failed = (await poll(ID)).body;
    assert.equal(failed.state, 'failed');
    assert.ok(
      AGENTS_FAILURES.some((failure) => failure.code === failed.failure_code && failure.reason === failed.failure_reason),
      JSON.stringify(failed),
    );
    assert.equal(failed.output, undefined);
  });

  it('failed with one of the documented reasons; a canceled story reads as failed; a pinned word wins', async () => {
    const reasons = new Set<string>();
    for (const id of OWNED.slice(0, 24)) {
      simulator.setTask(id, { variant: 'video', timeline: [{ atMs: 0, status: 'failed' }] });
      const failed = (await poll(id)).body;
      assert.deepEqual([failed.state, failed.assets], ['failed', null]);
      reasons.add(failed.failure_reason ?? '');
    }
    assert.deepEqual([...reasons].sort(), [...FAILURE_REASONS].sort(), 'every documented reason shows up');
    simulator.setTask(ID, { variant: 'image', timeline: [{ atMs: 0, status: 'canceled' }] });
    const canceled = (await poll(ID)).body;
    assert.equal(canceled.state, 'failed');
    assert.ok((FAILURE_REASONS as readonly string[]).includes(canceled.failure_reason ?? ''));
    simulator.setTask(ID, { timeline: [{ atMs: 0, status: 'in_progress', providerStatus: 'processing' }] });
    assert.equal((await poll(ID)).body.state, 'processing');
  });

  it("tells the documented stories: the fox dreaming, then its video at 24 s; the moderation failure at 5 s", async () => {
    const dreaming = (await poll(EXAMPLE_ID)).body;
    assert.deepEqual(dreaming, {
      id: EXAMPLE_ID,
      generation_type: 'video',
      state: 'dreaming',
      failure_reason: null,
      created_at: '2026-05-01T10:00:00.123Z',
      model: 'ray-2',
      assets: null,
      request: { prompt: 'a fox', aspect_ratio: '16:9', duration: '5s' },
    });
    now = START + 24_000;
    const completed = (await poll(EXAMPLE_ID)).body;
    assert.deepEqual([completed.state, completed.assets], ['completed', { video: EXAMPLE_VIDEO_URL }]);
    assert.match(EXAMPLE_VIDEO_URL, /^https:\/\/storage\.cdn-luma\.com\/dream-machine\//);

    now = START;
    assert.equal((await poll(FAILED_EXAMPLE_ID)).body.state, 'queued');
    now = START + 2000;
    assert.equal((await poll(FAILED_EXAMPLE_ID)).body.state, 'dreaming');
    now = START + 5000;
    const failed = (await poll(FAILED_EXAMPLE_ID)).body;
    assert.deepEqual([failed.state, failed.failure_reason, failed.assets], ['failed', 'Advanced prompt moderation failed', null]);
  });

  it('holds about half of all UUIDs, whatever their case, and its seeds; stories are deterministic and show every shape', async () => {
    assert.ok(OWNED.length >= 16 && FOREIGN.length >= 16, `${OWNED.length} held of 64`);
    for (const id of OWNED) assert.ok(ownsGeneration(id.toUpperCase()), id);
    for (const id of FOREIGN) assert.equal(await describeTask('luma', id), undefined, id);
    assert.ok(ownsGeneration(EXAMPLE_ID) && ownsGeneration(FAILED_EXAMPLE_ID));
    for (const id of ['task_abc001', 'not-a-uuid', `${ID}-0`]) assert.ok(!ownsGeneration(id), id);
    const variants = new Set<string | undefined>();
    for (const id of OWNED) {
      const story = await describeTask('luma', id);
      assert.deepEqual(await describeTask('luma', id), story);
      variants.add(story?.variant);
    }
    assert.deepEqual([...variants].sort(), ['agents', 'image', 'video']);
  });

  it('makes generation ids for tools: distinct UUIDs of the v4 form it holds, and answers a story pinned under one', async () => {
    const ids = Array.from({ length: 300 }, (_, index) => profile.sampleId!(`seed-${index}`));
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(profile.sampleId!('seed-7'), ids[7]);
    for (const id of [...ids, profile.sampleId!(''), profile.sampleId!('é')]) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(luma.nativeIds.pattern.test(id) && ownsGeneration(id), id);
    }
    const sampled = ids[3]!;
    simulator.setTask(sampled, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }] });
    assert.equal((await poll(sampled)).body.state, 'dreaming');
    assert.equal(simulator.hits(sampled), 1);
  });

  it('applies injected faults with Luma-style bodies: a 429 with Retry-After when given, a 5xx', async () => {
    simulator.setTask(ID, { timeline: DONE });
    simulator.injectFault(ID, { kind: 'rate_limit', retryAfter: 4, times: 1 });
    const limited = await poll<{ detail: string }>(ID);
    assert.deepEqual([limited.status, limited.body, limited.headers['retry-after']], [429, { detail: 'Rate limit exceeded' }, '4']);
    simulator.injectFault(ID, { kind: 'status', status: 503, times: 1 });
    const unavailable = await poll<{ detail: string }>(ID);
    assert.deepEqual([unavailable.status, unavailable.body], [503, { detail: 'Service Unavailable' }]);
    assert.equal((await poll(ID)).status, 200);
    assert.equal(simulator.hits(ID), 3);
  });
});
