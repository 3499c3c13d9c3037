/**
 * The vidu simulator: `GET /ent/v2/tasks/{id}/creations` with `Authorization: Token <key>`
 * (Bearer refused with Vidu's 401), its `{code, reason, message}` error bodies, every state
 * word (`created` first for default stories), both answer variants with a video and its
 * cover, every failure code, the documented stories, only its share of numeric ids, and
 * ids made for tools.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { vidu } from '../../src/providers/vidu/index.js';
import { CREATED, FAILURE_CODES, profile, USER_CANCELLED } from '../../src/providers/vidu/simulator.js';
import { describeTask, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { holdsShare } from '../../src/simulators/timeline.js';

const KEY = 'vda_test-vidu-simulator';
const START = Date.parse('2026-05-01T10:00:00.448Z');
const EXAMPLE_ID = '812345678901234567';
const FAILED_ID = '812345678901234568';
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];

interface Creation {
  id: string;
  url: string;
  cover_url: string;
  watermarked_url?: string;
  moderation_url?: string[];
}

interface ViduTask {
  id?: string;
  state: string;
  err_code: string;
  credits: number;
  payload: string;
  bgm?: boolean;
  off_peak?: boolean;
  created_at?: string;
  creations: Creation[];
}

/** 18-digit ids that the simulator has, or has not, by its own rule. */
function numericIds(owned: boolean, count: number): string[] {
  const found: string[] = [];
  for (let index = 0; found.length < count; index++) {
    const id = `7${String(index).padStart(17, '0')}`;
    if (profile.owns(id) === owned) found.push(id);
  }
  return found;
}

describe('vidu simulator', () => {
  let simulator: Simulator;
  let now = START;
  before(async () => {
    simulator = await startSimulator({ provider: 'vidu', credentials: { apiKey: KEY }, now: () => now });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    now = START;
  });

  /** `authorization: null` sends no Authorization header at all. */
  const get = async <Body = ViduTask>(path: string, authorization: string | null = `Token ${KEY}`, method: 'GET' | 'POST' | 'DELETE' = 'GET') => {
    const response = await request(`${simulator.url}${path}`, { method, headers: authorization === null ? {} : { authorization } });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Body };
  };
  const poll = <Body = ViduTask>(id: string, authorization?: string | null) => get<Body>(`/ent/v2/tasks/${encodeURIComponent(id)}/creations`, authorization);

  it('takes VIDU_API_KEY and VIDU_BASE_URL, and is called with Authorization: Token <key>', () => {
    assert.deepEqual(simulator.env, { VIDU_API_KEY: KEY, VIDU_BASE_URL: simulator.url });
    assert.deepEqual(simulator.clientHeaders, { authorization: `Token ${KEY}` });
  });

  it("refuses a Bearer key, any other scheme or a wrong key with Vidu's 401", async () => {
    simulator.setTask(EXAMPLE_ID, { timeline: DONE });
    assert.equal((await poll(EXAMPLE_ID)).status, 200);
    for (const authorization of [`Bearer ${KEY}`, `token ${KEY}`, `Token  ${KEY}`, `Token ${KEY}x`, 'Token wrong', KEY, `Key ${KEY}`, 'Token ', null]) {
      const answer = await poll<object>(EXAMPLE_ID, authorization);
      assert.deepEqual([answer.status, answer.body], [401, { code: 401, reason: 'Unauthorized', message: 'unauthorized', metadata: {} }], String(authorization));
    }
    assert.equal(simulator.hits(EXAMPLE_ID), 10, 'refused polls count');
  });

  it('answers GET /ent/v2/tasks/{id}/creations only: another method or path, or an unknown task, is a 404', async () => {
    for (const method of ['POST', 'DELETE'] as const) {
      const answer = await get<object>(`/ent/v2/tasks/${EXAMPLE_ID}/creations`, `Token ${KEY}`, method);
      assert.deepEqual([answer.status, answer.body], [404, { code: 404, reason: 'NotFound', message: 'not found', metadata: {} }], method);
    }
    for (const path of [`/ent/v2/tasks/${EXAMPLE_ID}`, `/ent/v1/tasks/${EXAMPLE_ID}/creations`, `/ent/v2/tasks/${EXAMPLE_ID}/creations/x`, '/ent/v2/tasks//creations']) {
      const answer = await get<object>(path);
      assert.deepEqual([answer.status, answer.body], [404, { code: 404, reason: 'NotFound', message: 'not found', metadata: {} }], path);
    }
    for (const id of [...numericIds(false, 2), 'task_abc001', '6928de47-2e53-4ee6-901b-be05a8bf7669', 'missing']) {
      const answer = await poll<object>(id);
      assert.deepEqual([answer.status, answer.body], [404, { code: 404, reason: 'TaskNotFound', message: 'task not found', metadata: {} }], id);
    }
  });

  it('tells a life in the documented shape: created, queueing, processing, success with the video and its cover', async () => {
    const [id] = numericIds(true, 1);
    simulator.setTask(id!, {
      variant: 'documented',
      timeline: [
        { atMs: 0, status: 'queued', providerStatus: CREATED },
        { atMs: 2000, status: 'queued' },
        { atMs: 5000, status: 'in_progress', progress: 40 },
        { atMs: 20_000, status: 'succeeded' },
      ],
    });
    const states: string[] = [];
    for (const offset of [0, 2000, 5000]) {
      now = START + offset;
      const body = (await poll(id!)).body;
      assert.deepEqual([body.err_code, body.credits, body.payload, body.creations], ['', 0, '', []]);
      assert.deepEqual(Object.keys(body).sort(), ['bgm', 'creations', 'credits', 'err_code', 'off_peak', 'payload', 'state']);
      states.push(body.state);
    }
    assert.deepEqual(states, ['created', 'queueing', 'processing']);
    now = START + 20_000;
    const done = (await poll(id!)).body;
    assert.equal(done.state, 'success');
    assert.ok(done.credits >= 4);
    assert.equal(done.creations.length, 1);
    const [creation] = done.creations;
    assert.match(creation!.id, /^\d{18}$/);
    assert.deepEqual([creation!.url, creation!.cover_url], [`${simulator.url}/files/${id}.webm`, `${simulator.url}/files/${id}.jpg`]);
    for (const [url, type, asset] of [
      [creation!.url, 'video/webm', 'sample.webm'],
      [creation!.cover_url, 'image/jpeg', 'thumbnail.jpg'],
    ] as const) {
      const file = await request(url);
      assert.deepEqual([file.statusCode, file.headers['content-type']], [200, type], 'a public file: no key needed');
      assert.deepEqual(Buffer.from(await file.body.arrayBuffer()), loadAsset(asset).bytes);
    }
  });

  it("a relay's copy adds the task id, created_at, watermarked_url and moderation_url; a pinned result URL (a CDN link) is the video", async () => {
    const [id] = numericIds(true, 1);
    const cdnLink = 'http://127.0.0.1:9/sample.webm?expires=1&sig=x';
    simulator.setTask(id!, { variant: 'relay', timeline: DONE, resultUrl: cdnLink });
    const body = (await poll(id!)).body;
    assert.deepEqual([body.id, body.state, body.created_at, body.bgm], [id, 'success', '2026-05-01T10:00:00Z', undefined]);
    assert.deepEqual(body.creations[0], {
      id: body.creations[0]!.id,
      url: cdnLink,
      cover_url: `${simulator.url}/files/${id}.jpg`,
      watermarked_url: `${simulator.url}/files/${id}-watermarked.webm`,
      moderation_url: [],
    });
  });

  it('failed with an err_code of its list; a canceled story is failed with UserCancelled', async () => {
    simulator.setTask(EXAMPLE_ID, { timeline: [{ atMs: 0, status: 'canceled' }] });
    const canceled = (await poll(EXAMPLE_ID)).body;
    assert.deepEqual([canceled.state, canceled.err_code, canceled.creations], ['failed', USER_CANCELLED, []]);
    const codes = new Set<string>();
    for (const id of numericIds(true, 60)) {
      simulator.setTask(id, { timeline: [{ atMs: 0, status: 'failed' }] });
      const failed = (await poll(id)).body;
      assert.deepEqual([failed.state, failed.credits, failed.creations], ['failed', 0, []], id);
      codes.add(failed.err_code);
    }
    assert.deepEqual([...codes].sort(), [...FAILURE_CODES].sort());
  });

  it('tells the documented stories: the example processing, then its video and cover at 8 s; its neighbour fails at 5 s', async () => {
    const example = (await poll(EXAMPLE_ID)).body;
    assert.deepEqual(example, { state: 'processing', err_code: '', credits: 0, payload: '', creations: [] });
    now = START + 8000;
    const done = (await poll(EXAMPLE_ID)).body;
    const files = `https://files.vidu.example/infer/tasks/${EXAMPLE_ID}`;
    assert.deepEqual(
      { ...done, creations: done.creations.map(({ url, cover_url }) => ({ url, cover_url })) },
      {
        state: 'success',
        err_code: '',
        credits: 4,
        payload: '',
        creations: [{ url: `${files}/video.mp4?auth_key=example-signed-link`, cover_url: `${files}/cover.jpeg?auth_key=example-signed-link` }],
      },
    );
    now = START;
    assert.equal((await poll(FAILED_ID)).body.state, 'processing');
    now = START + 5000;
    assert.deepEqual((await poll(FAILED_ID)).body, { state: 'failed', err_code: 'CreationPolicyViolation', credits: 0, payload: '', creations: [] });
  });

  it("a seed whose video is replaced (the demo's CDN link) gets the simulator's own cover", async () => {
    const cdnLink = 'http://127.0.0.1:9/sample.webm?expires=1&sig=x';
    simulator.setTask(EXAMPLE_ID, { resultUrl: cdnLink });
    now = START;
    await poll(EXAMPLE_ID);
    now = START + 8000;
    const [creation] = (await poll(EXAMPLE_ID)).body.creations;
    assert.deepEqual([creation?.url, creation?.cover_url], [cdnLink, `${simulator.url}/files/${EXAMPLE_ID}.jpg`]);
  });

  it('has its share of 10-19 digit ids (the other digit-id providers hold the rest), and the seeds; nothing else', async () => {
    const candidates = Array.from({ length: 400 }, (_, index) => `${1_000_000_000 + index * 7919}`);
    const owned = candidates.filter((id) => profile.owns(id));
    assert.deepEqual(owned, candidates.filter((id) => holdsShare('digits', 'vidu', id)));
    assert.ok(owned.length > 60 && owned.length < 140, `${owned.length} of 400`);
    for (const id of [EXAMPLE_ID, FAILED_ID]) assert.ok(profile.owns(id), id);
    const longest = numericIds(true, 1)[0]!;
    assert.ok(profile.owns(longest));
    for (const id of ['123456789', '12345678901234567890', 'task_abc001', '6928de47-2e53-4ee6-901b-be05a8bf7669', `${EXAMPLE_ID}0`]) assert.equal(profile.owns(id), false, id);
    const [mine] = numericIds(true, 1);
    const [other] = numericIds(false, 1);
    assert.deepEqual([(await poll(mine!)).status, (await poll(other!)).status], [200, 404]);
    // Pinned, an id it would not have is its own (a relay's UUID too).
    simulator.setTask(other!, { timeline: DONE });
    simulator.setTask('6928de47-2e53-4ee6-901b-be05a8bf7669', { timeline: DONE });
    assert.deepEqual([(await poll(other!)).status, (await poll('6928de47-2e53-4ee6-901b-be05a8bf7669')).status], [200, 200]);
  });

  it('unpinned stories are deterministic, show both variants, and start created, then queueing', async () => {
    const variants = new Set<string | undefined>();
    for (const id of numericIds(true, 40)) {
      const plan = await describeTask('vidu', id);
      assert.deepEqual(await describeTask('vidu', id), plan);
      variants.add(plan?.variant);
      const timeline = plan?.timeline ?? [];
      assert.deepEqual([timeline[0]?.status, timeline[0]?.providerStatus, timeline[1]?.status, timeline[1]?.providerStatus, timeline[2]?.status], ['queued', CREATED, 'queued', undefined, 'in_progress'], id);
      assert.ok((timeline[1]?.atMs ?? 0) > 0 && (timeline[1]?.atMs ?? 0) < (timeline[2]?.atMs ?? 0), id);
    }
    assert.deepEqual([...variants].sort(), ['documented', 'relay']);
    const [id] = numericIds(true, 1);
    assert.equal((await poll(id!)).body.state, 'created');
  });

  it('makes task ids for tools: 18 digits it has, distinct per seed, and answers a story pinned under one', async () => {
    const ids = Array.from({ length: 300 }, (_, index) => profile.sampleId!(`seed-${index}`));
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(profile.sampleId!('seed-7'), ids[7]);
    for (const id of [...ids, profile.sampleId!(''), profile.sampleId!('é'), profile.sampleId!('1\u0000x')]) {
      assert.match(id, /^8\d{17}$/);
      assert.ok(vidu.nativeIds.pattern.test(id) && profile.owns(id) && id !== EXAMPLE_ID && id !== FAILED_ID, id);
    }
    const sampled = ids[3]!;
    simulator.setTask(sampled, { timeline: [{ atMs: 0, status: 'in_progress', progress: 50 }] });
    assert.deepEqual([(await poll(sampled)).body.state, (await poll(sampled)).body.state], ['processing', 'processing']);
    assert.equal(simulator.hits(sampled), 2);
  });

  it("applies injected faults with Vidu's bodies, Retry-After when given", async () => {
    simulator.setTask(EXAMPLE_ID, { timeline: DONE });
    simulator.injectFault(EXAMPLE_ID, { kind: 'rate_limit', times: 1 });
    const limited = await poll<object>(EXAMPLE_ID);
    assert.deepEqual([limited.status, limited.body, limited.headers['retry-after']], [429, { code: 429, reason: 'TooManyRequests', message: 'too many requests', metadata: {} }, undefined]);
    simulator.injectFault(EXAMPLE_ID, { kind: 'rate_limit', retryAfter: 4, times: 1 });
    assert.equal((await poll(EXAMPLE_ID)).headers['retry-after'], '4');
    for (const [status, reason] of [
      [500, 'InternalServiceFailure'],
      [502, 'BadGateway'],
      [503, 'ServiceUnavailable'],
      [403, 'Forbidden'],
    ] as const) {
      simulator.injectFault(EXAMPLE_ID, { kind: 'status', status, times: 1 });
      const failing = await poll<{ code: number; reason: string }>(EXAMPLE_ID);
      assert.deepEqual([failing.status, failing.body.code, failing.body.reason], [status, status, reason]);
    }
    assert.equal((await poll(EXAMPLE_ID)).status, 200);
  });
});
