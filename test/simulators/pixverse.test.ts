/**
 * The pixverse simulator: `GET /openapi/v2/video/result/{id}` with `API-KEY` and an
 * `Ai-trace-id` UUID it has never been sent (a missing key is PixVerse's 401, a bad trace
 * id a 400, a repeated one an API error); the envelope on every answer; the integer
 * statuses (5 with an empty url, 1 with it, 7, 8); the rate limit and an unknown video as
 * ErrCodes in an HTTP 200; the documented stories; only some numeric ids its own; ids
 * made for tools.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { pixverse } from '../../src/providers/pixverse/index.js';
import { profile, RATE_LIMITED_BODY, REMEMBERED_TRACE_IDS } from '../../src/providers/pixverse/simulator.js';
import { describeTask, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';
import type { SimRequest } from '../../src/simulators/profile.js';

const KEY = 'pv-test-simulator-key';
const START = Date.parse('2026-05-01T10:00:00Z');
const EXAMPLE_ID = '315468294118400';
const MODERATED_ID = '315468294118407';
const ID = '315400000000042';
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Envelope<Resp = VideoResult | null> {
  ErrCode: number;
  ErrMsg: string;
  Resp: Resp;
}
interface VideoResult {
  id: number;
  status: number;
  url: string;
  [field: string]: unknown;
}

/** Numeric ids that it has, or has not, by its own rule. */
function numericIds(owned: boolean, count: number, digits = 15): string[] {
  const found: string[] = [];
  for (let index = 0; found.length < count; index++) {
    const id = `31${index.toString().padStart(digits - 2, '0')}`;
    if (profile.owns(id) === owned) found.push(id);
  }
  return found;
}

describe('pixverse simulator', () => {
  let simulator: Simulator;
  let now = START;
  before(async () => {
    simulator = await startSimulator({ provider: 'pixverse', credentials: { apiKey: KEY }, now: () => now });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    now = START;
  });

  /** The headers of a good call (a new trace id each time), with some replaced or (undefined) left out. */
  const headers = (overrides: Record<string, string | undefined> = {}) => {
    const all: Record<string, string | undefined> = { 'api-key': KEY, 'ai-trace-id': randomUUID(), ...overrides };
    return Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
  };
  const get = async <Body = Envelope>(path: string, sent = headers(), method: 'GET' | 'POST' = 'GET') => {
    const response = await request(`${simulator.url}${path}`, { method, headers: sent });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Body };
  };
  const poll = <Body = Envelope>(id: string, sent?: Record<string, string>) => get<Body>(`/openapi/v2/video/result/${id}`, sent);
  const resp = async (id: string) => {
    const answer = await poll(id);
    assert.deepEqual([answer.status, answer.body.ErrCode, answer.body.ErrMsg], [200, 0, 'success'], id);
    assert.ok(answer.body.Resp !== null);
    return answer.body.Resp;
  };

  it('takes PIXVERSE_API_KEY and PIXVERSE_BASE_URL; its direct-client headers carry the key and a new trace id at every read', async () => {
    assert.deepEqual(simulator.env, { PIXVERSE_API_KEY: KEY, PIXVERSE_BASE_URL: simulator.url });
    const reads = [simulator.clientHeaders, simulator.clientHeaders, simulator.clientHeaders];
    for (const read of reads) {
      assert.deepEqual(Object.keys(read).sort(), ['ai-trace-id', 'api-key']);
      assert.equal(read['api-key'], KEY);
      assert.match(read['ai-trace-id'] ?? '', UUID);
    }
    assert.equal(new Set(reads.map((read) => read['ai-trace-id'])).size, 3);
    simulator.setTask(ID, { timeline: DONE });
    for (let index = 0; index < 2; index++) assert.equal((await poll(ID, { ...simulator.clientHeaders })).body.ErrCode, 0);
  });

  it("refuses a missing or wrong API-KEY with PixVerse's 401 envelope; the key as a Bearer token is no key", async () => {
    simulator.setTask(ID, { timeline: DONE });
    const refusal = { status: 401, body: { ErrCode: 400012, ErrMsg: 'Invalid API-KEY', Resp: null } };
    for (const sent of [
      headers({ 'api-key': undefined }),
      headers({ 'api-key': 'pv-other-key' }),
      headers({ 'api-key': `${KEY}x` }),
      headers({ 'api-key': undefined, authorization: `Bearer ${KEY}` }),
    ]) {
      const answer = await poll(ID, sent);
      assert.deepEqual({ status: answer.status, body: answer.body }, refusal, JSON.stringify(sent));
    }
    assert.equal((await poll(ID)).status, 200);
    assert.equal(simulator.hits(ID), 5, 'refused polls count');
  });

  it('refuses a missing trace id, or one that is not a UUID, with a 400 envelope', async () => {
    simulator.setTask(ID, { timeline: DONE });
    const refusal = { status: 400, body: { ErrCode: 400017, ErrMsg: 'Invalid parameter: Ai-trace-id must be a UUID', Resp: null } };
    for (const traceId of [undefined, '', 'trace-1', randomUUID().replaceAll('-', ''), `${randomUUID()}x`, `{${randomUUID()}}`]) {
      const answer = await poll(ID, headers({ 'ai-trace-id': traceId }));
      assert.deepEqual({ status: answer.status, body: answer.body }, refusal, String(traceId));
    }
  });

  it('refuses a trace id it has seen, in any case and on any video, with an API error in an HTTP 200; a new one is answered', async () => {
    simulator.setTask(ID, { timeline: DONE });
    simulator.setTask(EXAMPLE_ID, { timeline: DONE });
    const traceId = randomUUID();
    assert.equal((await poll(ID, headers({ 'ai-trace-id': traceId }))).body.ErrCode, 0);
    const reused = { status: 200, body: { ErrCode: 400099, ErrMsg: 'Ai-trace-id has already been used: send a new one with every request', Resp: null } };
    for (const [id, again] of [
      [ID, traceId],
      [ID, traceId.toUpperCase()],
      [EXAMPLE_ID, traceId],
    ] as const) {
      const answer = await poll(id, headers({ 'ai-trace-id': again }));
      assert.deepEqual({ status: answer.status, body: answer.body }, reused, `${id} ${again}`);
    }
    // A trace id sent with a wrong key was never taken: the right key may use it once.
    const spare = randomUUID();
    assert.equal((await poll(ID, headers({ 'api-key': 'wrong', 'ai-trace-id': spare }))).status, 401);
    assert.equal((await poll(ID, headers({ 'ai-trace-id': spare }))).body.ErrCode, 0);
    assert.equal((await poll(ID, headers({ 'ai-trace-id': spare }))).body.ErrCode, 400099);
    // reset() forgets tasks and hits, not the trace ids: those are PixVerse's, for good.
    simulator.reset();
    simulator.setTask(ID, { timeline: DONE });
    assert.equal((await poll(ID, headers({ 'ai-trace-id': traceId }))).body.ErrCode, 400099);
  });

  it(`remembers the last ${REMEMBERED_TRACE_IDS} trace ids of each simulator`, async () => {
    const credentials = (await profile.credentials!({ apiKey: KEY }, 'http://127.0.0.1:9'));
    const other = (await profile.credentials!({ apiKey: KEY }, 'http://127.0.0.1:9'));
    const call = (traceId: string): SimRequest => ({ method: 'GET', path: `/openapi/v2/video/result/${ID}`, query: new URLSearchParams(), headers: { 'api-key': KEY, 'ai-trace-id': traceId }, body: '' });
    const first = randomUUID();
    const second = randomUUID();
    assert.equal(profile.authorize!(call(first), credentials), undefined);
    assert.equal(profile.authorize!(call(second), credentials), undefined);
    assert.equal(profile.authorize!(call(first), other), undefined, 'another simulator has not seen it');
    assert.equal(profile.authorize!(call(first), credentials)?.status, 200);
    for (let index = 0; index < REMEMBERED_TRACE_IDS - 1; index++) profile.authorize!(call(randomUUID()), credentials);
    assert.equal(profile.authorize!(call(second), credentials)?.status, 200, 'still remembered');
    assert.equal(profile.authorize!(call(first), credentials), undefined, 'the oldest was forgotten');
  });

  it('answers the status call only: an id that is not an integer is a binding error, an unknown path or method a 404', async () => {
    const binding = { ErrCode: 400013, ErrMsg: 'Invalid binding request: incorrect parameter type or value', Resp: null };
    for (const id of ['abc', `${ID}x`, '-1', '1'.repeat(20)]) {
      const answer = await poll(id);
      assert.deepEqual([answer.status, answer.body], [200, binding], id);
    }
    // The credentials are checked first, as for any call.
    assert.equal((await poll('abc', headers({ 'api-key': undefined }))).status, 401);
    const unknown = { ErrCode: 99999, ErrMsg: '404 page not found', Resp: null };
    for (const [path, method] of [
      [`/openapi/v2/video/result/${ID}`, 'POST'],
      [`/openapi/v2/video/results/${ID}`, 'GET'],
      [`/openapi/v2/video/result/${ID}/x`, 'GET'],
      ['/openapi/v2/video/result/', 'GET'],
    ] as const) {
      const answer = await get(path, headers(), method);
      assert.deepEqual([answer.status, answer.body], [404, unknown], `${method} ${path}`);
    }
  });

  it('tells a life in the documented shape: status 5 with url "", then 1 with the url, size and dimensions', async () => {
    simulator.setTask(ID, {
      variant: 'documented',
      timeline: [
        { atMs: 0, status: 'queued' },
        { atMs: 3000, status: 'in_progress', progress: 40 },
        { atMs: 41_000, status: 'succeeded' },
      ],
    });
    const waiting = await resp(ID);
    const fields = ['create_time', 'id', 'modify_time', 'negative_prompt', 'outputHeight', 'outputWidth', 'prompt', 'resolution_ratio', 'seed', 'size', 'status', 'style', 'url'];
    assert.deepEqual(Object.keys(waiting), fields);
    assert.deepEqual([waiting.id, waiting.status, waiting.url, waiting['size'], waiting['outputWidth']], [Number(ID), 5, '', 0, 0]);
    assert.deepEqual([waiting['create_time'], waiting['modify_time']], ['2026-05-01T10:00:00Z', '2026-05-01T10:00:00Z']);
    now = START + 3000;
    const generating = await resp(ID);
    assert.deepEqual([generating.status, generating.url, generating['modify_time']], [5, '', '2026-05-01T10:00:03Z']);
    now = START + 41_000;
    const done = await resp(ID);
    assert.deepEqual(Object.keys(done), fields);
    assert.deepEqual([done.status, done.url, done['modify_time']], [1, `${simulator.url}/files/${ID}.webm`, '2026-05-01T10:00:41Z']);
    assert.ok((done['size'] as number) > 0 && (done['outputWidth'] as number) > 0 && (done['outputHeight'] as number) > 0);
    const file = await request(done.url);
    assert.equal(file.statusCode, 200, 'a public file: no key needed');
    await file.body.dump();
  });

  it('the brief shape: id, status and url, with dimensions and seed once done; a pinned CDN link is the url, as given', async () => {
    simulator.setTask(ID, { variant: 'brief', timeline: [{ atMs: 0, status: 'in_progress' }] });
    assert.deepEqual(await resp(ID), { id: Number(ID), status: 5, url: '' });
    const link = 'http://127.0.0.1:9/sample.webm?expires=1&sig=x';
    simulator.setTask(ID, { variant: 'brief', timeline: DONE, resultUrl: link });
    const done = await resp(ID);
    assert.deepEqual(Object.keys(done), ['id', 'status', 'url', 'outputWidth', 'outputHeight', 'seed']);
    assert.deepEqual([done.status, done.url], [1, link]);
  });

  it('a failed story is 7 or 8 (both occur), a canceled one 8, a pinned word that word; never a url', async () => {
    const statuses = new Set<number>();
    for (const id of numericIds(true, 24)) {
      simulator.setTask(id, { variant: 'brief', timeline: [{ atMs: 0, status: 'failed' }] });
      const failed = await resp(id);
      assert.equal(failed.url, '');
      statuses.add(failed.status);
    }
    assert.deepEqual([...statuses].sort(), [7, 8]);
    simulator.setTask(ID, { variant: 'brief', timeline: [{ atMs: 0, status: 'canceled' }] });
    assert.deepEqual(await resp(ID), { id: Number(ID), status: 8, url: '' });
    simulator.setTask(ID, { variant: 'documented', timeline: [{ atMs: 0, status: 'failed', providerStatus: '7' }] });
    assert.equal((await resp(ID)).status, 7);
    simulator.setTask(ID, { variant: 'brief', timeline: [{ atMs: 0, status: 'in_progress', providerStatus: '6' }] });
    assert.equal((await resp(ID)).status, 6);
  });

  it("tells the documented stories: the example 5, then 1 at 8 s with providers' example body; its twin 7 at 5 s", async () => {
    assert.deepEqual(await resp(EXAMPLE_ID), { id: Number(EXAMPLE_ID), status: 5, url: '' });
    now = START + 8000;
    assert.deepEqual(await resp(EXAMPLE_ID), {
      id: Number(EXAMPLE_ID),
      status: 1,
      url: `https://media.pixverse.ai/openapi/output/${EXAMPLE_ID}/video.mp4`,
      outputWidth: 1280,
      outputHeight: 720,
      seed: 1234,
    });
    now = START;
    assert.equal((await resp(MODERATED_ID)).status, 5);
    now = START + 5000;
    assert.deepEqual(await resp(MODERATED_ID), { id: Number(MODERATED_ID), status: 7, url: '' });
  });

  it('has its share of the 15- and 16-digit ids a JavaScript number holds, and the seeds; an unknown video is ErrCode 500008 in an HTTP 200', async () => {
    for (const id of [EXAMPLE_ID, MODERATED_ID]) assert.ok(profile.owns(id), id);
    // Kling, MiniMax, Vidu and PixVerse share the digit ids out: about a quarter are PixVerse's.
    for (const digits of [15, 16]) {
      const owned = Array.from({ length: 400 }, (_, index) => `31${index.toString().padStart(digits - 2, '0')}`).filter((id) => profile.owns(id));
      assert.ok(owned.length > 60 && owned.length < 140, `${owned.length} of 400 with ${digits} digits`);
    }
    const candidates = Array.from({ length: 200 }, (_, index) => index.toString().padStart(3, '0'));
    for (const id of [
      ...candidates.map((tail) => `3154682941${tail}`),
      ...candidates.map((tail) => `31546829411840${tail}`),
      ...candidates.map((tail) => `90071992547409${tail}`).filter((id) => id.length === 17),
      '9007199254740993',
      '9007199254740995',
      'task_abc001',
    ]) {
      assert.equal(profile.owns(id), false, id);
    }
    const [other] = numericIds(false, 1, 14);
    const answer = await poll(other!);
    assert.deepEqual([answer.status, answer.body], [200, { ErrCode: 500008, ErrMsg: 'Requested data not found', Resp: null }]);
    simulator.setTask(ID, { missing: true });
    assert.equal((await poll(ID)).body.ErrCode, 500008);
    // Pinned, an id it would not have is its own.
    simulator.setTask(other!, { timeline: DONE });
    assert.equal((await resp(other!)).status, 1);
  });

  it('unpinned stories are deterministic and show both shapes; every phase before the end is 5', async () => {
    const variants = new Set<string | undefined>();
    for (const id of numericIds(true, 40)) {
      const plan = await describeTask('pixverse', id);
      assert.deepEqual(await describeTask('pixverse', id), plan);
      variants.add(plan?.variant);
    }
    assert.deepEqual([...variants].sort(), ['brief', 'documented']);
    const [id] = numericIds(true, 1);
    const plan = await describeTask('pixverse', id!);
    const statuses: number[] = [];
    for (const phase of plan?.timeline ?? []) {
      now = START + phase.atMs;
      statuses.push((await resp(id!)).status);
    }
    assert.ok(statuses.slice(0, -1).every((status) => status === 5), statuses.join());
    assert.ok([1, 7, 8].includes(statuses.at(-1)!), statuses.join());
  });

  it('makes video ids for tools: 15 digits after a 3, distinct per seed, of its form and its own, answered when pinned', async () => {
    const ids = Array.from({ length: 300 }, (_, index) => profile.sampleId!(`seed-${index}`));
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(profile.sampleId!('seed-7'), ids[7]);
    for (const id of [...ids, profile.sampleId!(''), profile.sampleId!('é')]) {
      assert.match(id, /^3\d{14}$/);
      assert.ok(pixverse.nativeIds.pattern.test(id) && profile.owns(id) && Number.isSafeInteger(Number(id)), id);
    }
    const sampled = ids[3]!;
    simulator.setTask(sampled, { variant: 'brief', timeline: [{ atMs: 0, status: 'in_progress' }] });
    assert.deepEqual(await resp(sampled), { id: Number(sampled), status: 5, url: '' });
    assert.equal(simulator.hits(sampled), 1);
  });

  it("applies injected faults with PixVerse's envelopes: a rate limit is ErrCode 500044 in an HTTP 200", async () => {
    simulator.setTask(ID, { timeline: DONE });
    simulator.injectFault(ID, { kind: 'rate_limit', times: 1 });
    const limited = await poll(ID);
    assert.deepEqual([limited.status, limited.body, limited.headers['retry-after']], [200, RATE_LIMITED_BODY, undefined]);
    assert.deepEqual(RATE_LIMITED_BODY, { ErrCode: 500044, ErrMsg: 'Reached the limit for concurrent generations.', Resp: null });
    simulator.injectFault(ID, { kind: 'rate_limit', retryAfter: 4, times: 1 });
    assert.equal((await poll(ID)).headers['retry-after'], '4');
    for (const status of [500, 503]) {
      simulator.injectFault(ID, { kind: 'status', status, times: 1 });
      const failing = await poll(ID);
      assert.deepEqual([failing.status, failing.body.ErrCode, failing.body.Resp], [status, 99999, null]);
    }
    simulator.injectFault(ID, { kind: 'status', status: 429, times: 1 });
    const tooMany = await poll(ID);
    assert.deepEqual([tooMany.status, tooMany.body.ErrCode], [429, 500044]);
    simulator.injectFault(ID, { kind: 'status', status: 403, times: 1 });
    const forbidden = await poll(ID);
    assert.deepEqual([forbidden.status, forbidden.body.ErrCode], [403, 400012]);
    assert.equal((await resp(ID)).status, 1);
  });
});
