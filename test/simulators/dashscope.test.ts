/**
 * The dashscope simulator: its Bearer key checked the DashScope way, a task's life in
 * `output` (video and image tasks, failures, a cancel), China-time timestamps, OSS-style
 * signed links, UNKNOWN for the UUIDs it does not have, and ids made for tools.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { chinaTime, profile, UNKNOWN_BODY } from '../../src/providers/dashscope/simulator.js';
import { describeTask, type Phase } from '../../src/simulators/index.js';
import { useClockedSimulator } from '../helpers/clocked-simulator.js';

const KEY = 'sk-ds-test-3f9a';
const START = Date.parse('2026-04-10T14:32:05Z');
const START_SECONDS = START / 1000;
const DAY_SECONDS = 24 * 60 * 60;
const EXAMPLE_ID = '966cebcd-dedc-4962-af88-0e2b1a7c3f11';
const FAILED_EXAMPLE_ID = 'd5c00002-3e1a-4f6b-9c2d-7a8e0b1c2d3e';
/** In the simulator's share of UUIDs, and not. */
const OWNED_ID = 'd5c00006-3e1a-4f6b-9c2d-7a8e0b1c2d3e';
const FOREIGN_ID = 'd5c00000-3e1a-4f6b-9c2d-7a8e0b1c2d3e';

interface Output {
  task_id?: string;
  task_status: string;
  submit_time?: string;
  scheduled_time?: string;
  end_time?: string;
  video_url?: string;
  orig_prompt?: string;
  actual_prompt?: string;
  results?: Array<{ url: string }>;
  task_metrics?: { TOTAL: number; SUCCEEDED: number; FAILED: number };
  code?: string;
  message?: string;
}
interface TaskBody {
  request_id: string;
  output: Output;
  usage?: Record<string, number>;
}
interface ErrorBody {
  request_id: string;
  code: string;
  message: string;
}

const LIFE: Phase[] = [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress' },
  { atMs: 3000, status: 'succeeded' },
];
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function expiresOf(url: string | undefined): string | null {
  return url === undefined ? null : new URL(url).searchParams.get('Expires');
}

describe('dashscope simulator', () => {
  const clocked = useClockedSimulator('dashscope', KEY, START);
  const { poll, pollAt } = clocked;
  async function get<Body>(path: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) {
    const response = await request(`${clocked.simulator.url}${path}`, { headers });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as Body };
  }

  it('refuses no key and a wrong key with 401 InvalidApiKey, worded as DashScope does', async () => {
    clocked.simulator.setTask(OWNED_ID, { variant: 'video', timeline: DONE });
    for (const headers of [{}, { authorization: 'Bearer ' }] as Array<Record<string, string>>) {
      const { status, body } = await get<ErrorBody>(`/api/v1/tasks/${OWNED_ID}`, headers);
      assert.deepEqual([status, body.code, body.message], [401, 'InvalidApiKey', 'No API-key provided.']);
      assert.match(body.request_id, UUID);
    }
    for (const headers of [{ authorization: `Basic ${KEY}` }, { authorization: 'Bearer sk-other' }, { authorization: `bearer ${KEY}` }]) {
      const { status, body } = await get<ErrorBody>(`/api/v1/tasks/${OWNED_ID}`, headers);
      assert.deepEqual([status, body.code, body.message], [401, 'InvalidApiKey', 'Invalid API-key provided.'], headers.authorization);
    }
    assert.equal((await poll<TaskBody>(OWNED_ID)).status, 200, 'control: the right key is answered');
    assert.equal(clocked.simulator.hits(OWNED_ID), 6, 'refused calls count');
  });

  it("tells a video task's life: PENDING, RUNNING (scheduled), SUCCEEDED with a signed video_url valid 24 h, in China time", async () => {
    clocked.simulator.setTask(OWNED_ID, { variant: 'video', timeline: LIFE });
    const [pending, running, done] = await pollAt<TaskBody>(OWNED_ID, [0, 1000, 3000]);
    assert.deepEqual(pending?.output, { task_id: OWNED_ID, task_status: 'PENDING', submit_time: '2026-04-10 22:32:05.000' });
    assert.deepEqual(running?.output, {
      task_id: OWNED_ID,
      task_status: 'RUNNING',
      submit_time: '2026-04-10 22:32:05.000',
      scheduled_time: '2026-04-10 22:32:06.000',
    });
    assert.equal(done?.output.task_status, 'SUCCEEDED');
    assert.equal(done?.output.end_time, '2026-04-10 22:32:08.000');
    const videoUrl = new URL(done?.output.video_url ?? '');
    assert.equal(`${videoUrl.origin}${videoUrl.pathname}`, `${clocked.simulator.url}/files/${OWNED_ID}.webm`);
    assert.deepEqual([...videoUrl.searchParams.keys()], ['Expires', 'OSSAccessKeyId', 'Signature']);
    assert.equal(videoUrl.searchParams.get('Expires'), String(START_SECONDS + 3 + DAY_SECONDS));
    assert.ok((done?.output.orig_prompt ?? '') !== '' && (done?.output.actual_prompt ?? '') !== '');
    assert.equal(done?.usage?.['video_count'], 1);
    for (const body of [pending, running, done]) assert.match(body?.request_id ?? '', UUID);
    assert.notEqual(pending?.request_id, running?.request_id, 'each answer its own request id');
  });

  it('serves the signed file of its own, whatever the signature parameters', async () => {
    clocked.simulator.setTask(OWNED_ID, { variant: 'video', timeline: DONE });
    const { body } = await poll<TaskBody>(OWNED_ID);
    const file = await request(body.output.video_url ?? '');
    await file.body.dump();
    assert.deepEqual([file.statusCode, file.headers['content-type']], [200, 'video/webm']);
  });

  it('an image task: results[] of signed webp files, task_metrics, usage.image_count', async () => {
    clocked.simulator.setTask(OWNED_ID, { variant: 'image', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 2000, status: 'succeeded' }] });
    const [running, done] = await pollAt<TaskBody>(OWNED_ID, [0, 2000]);
    assert.equal(running?.output.results, undefined);
    const total = running?.output.task_metrics?.TOTAL ?? 0;
    assert.ok(total === 1 || total === 2, `TOTAL ${total}`);
    assert.deepEqual(running?.output.task_metrics, { TOTAL: total, SUCCEEDED: 0, FAILED: 0 });
    const results = done?.output.results ?? [];
    assert.equal(results.length, total);
    assert.deepEqual(done?.output.task_metrics, { TOTAL: total, SUCCEEDED: total, FAILED: 0 });
    assert.deepEqual(done?.usage, { image_count: total });
    assert.equal(done?.output.video_url, undefined);
    for (const [index, { url }] of results.entries()) {
      assert.ok(url.startsWith(`${clocked.simulator.url}/files/${OWNED_ID}-${index}.webp?`), url);
      assert.equal(expiresOf(url), String(START_SECONDS + 2 + DAY_SECONDS));
      const file = await request(url);
      await file.body.dump();
      assert.deepEqual([file.statusCode, file.headers['content-type']], [200, 'image/webp']);
    }
  });

  it('a result link given from outside (a CDN link) is a video task\'s video_url as it is; an image task keeps its own images', async () => {
    const link = 'http://127.0.0.1:9/sample.webm?expires=1776000000&sig=abc';
    clocked.simulator.setTask(OWNED_ID, { variant: 'video', timeline: DONE, resultUrl: link });
    assert.equal((await poll<TaskBody>(OWNED_ID)).body.output.video_url, link);
    clocked.simulator.setTask(OWNED_ID, { variant: 'image', timeline: DONE, resultUrl: link });
    const results = (await poll<TaskBody>(OWNED_ID)).body.output.results ?? [];
    assert.ok(results.length > 0 && results.every(({ url }) => url.startsWith(`${clocked.simulator.url}/files/${OWNED_ID}-`)), JSON.stringify(results));
  });

  it('a failed task: FAILED with output.code and output.message, no file', async () => {
    const failures = new Set<string>();
    for (let index = 0; index < 12; index++) {
      const id = `d5c1${String(index).padStart(4, '0')}-3e1a-4f6b-9c2d-7a8e0b1c2d3e`;
      clocked.simulator.setTask(id, { variant: 'video', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 500, status: 'failed' }] });
      const [, failed] = await pollAt<TaskBody>(id, [0, 500]);
      assert.equal(failed?.output.task_status, 'FAILED');
      assert.equal(failed?.output.video_url, undefined);
      assert.equal(failed?.output.end_time, chinaTime(START + 500));
      failures.add(`${failed?.output.code}: ${failed?.output.message}`);
    }
    assert.deepEqual([...failures].map((failure) => failure.split(':')[0]).sort(), ['DataInspectionFailed', 'InternalError', 'InternalError.Timeout']);
  });

  it('a canceled task: CANCELED with an end_time and no scheduled_time (it never ran)', async () => {
    clocked.simulator.setTask(OWNED_ID, { variant: 'image', timeline: [{ atMs: 0, status: 'queued' }, { atMs: 1000, status: 'canceled' }] });
    const [, canceled] = await pollAt<TaskBody>(OWNED_ID, [0, 1000]);
    assert.deepEqual(canceled?.output, {
      task_id: OWNED_ID,
      task_status: 'CANCELED',
      submit_time: '2026-04-10 22:32:05.000',
      end_time: '2026-04-10 22:32:06.000',
      task_metrics: canceled?.output.task_metrics,
    });
    assert.equal(canceled?.output.task_metrics?.SUCCEEDED, 0);
  });

  it('answers UNKNOWN in an HTTP 200 for a UUID outside its share, a missing task and a malformed id, and counts the calls', async () => {
    clocked.simulator.setTask(OWNED_ID, { missing: true });
    for (const id of [FOREIGN_ID, OWNED_ID, 'not-a-uuid']) assert.deepEqual(await poll(id), { status: 200, body: UNKNOWN_BODY }, id);
    assert.deepEqual(UNKNOWN_BODY.output, { task_status: 'UNKNOWN' });
    assert.deepEqual([clocked.simulator.hits(FOREIGN_ID), clocked.simulator.hits(OWNED_ID)], [1, 1]);
  });

  it('owns about a third of UUIDs, by a hash of the id in lower case, and its seeds', () => {
    let owned = 0;
    for (let index = 0; index < 900; index++) {
      const id = `${index.toString(16).padStart(8, '0')}-3e1a-4f6b-9c2d-7a8e0b1c2d3e`;
      if (profile.owns(id)) owned++;
      assert.equal(profile.owns(id.toUpperCase()), profile.owns(id), id);
    }
    assert.ok(owned > 240 && owned < 360, `owned ${owned} of 900`);
    assert.deepEqual([profile.owns(OWNED_ID), profile.owns(FOREIGN_ID), profile.owns(EXAMPLE_ID), profile.owns(FAILED_EXAMPLE_ID)], [true, false, true, true]);
    assert.equal(profile.owns('d5c00006-3e1a-4f6b-9c2d-7a8e0b1c2d3'), false, 'not a UUID');
  });

  it('tells the documented example: RUNNING when first asked, SUCCEEDED 8 s later with its prompts', async () => {
    const [running, done] = await pollAt<TaskBody>(EXAMPLE_ID, [0, 8000]);
    assert.equal(running?.output.task_status, 'RUNNING');
    assert.deepEqual(
      [done?.output.task_status, done?.output.orig_prompt, done?.output.actual_prompt, expiresOf(done?.output.video_url)],
      ['SUCCEEDED', 'a cat running', 'A white cat runs across the grass …', String(START_SECONDS + 8 + DAY_SECONDS)],
    );
  });

  it('tells the failed example: the content review, 5 s in', async () => {
    const [, failed] = await pollAt<TaskBody>(FAILED_EXAMPLE_ID, [0, 5000]);
    assert.deepEqual([failed?.output.task_status, failed?.output.code, failed?.output.message], ['FAILED', 'DataInspectionFailed', 'Output data may contain inappropriate content.']);
  });

  it('tells the same default story every time, video or image by the id', async () => {
    const plan = await describeTask('dashscope', OWNED_ID);
    assert.deepEqual(plan, await describeTask('dashscope', OWNED_ID));
    assert.equal(await describeTask('dashscope', FOREIGN_ID), undefined);
    const variants = new Set<string | undefined>();
    for (let index = 0; index < 60; index++) variants.add((await describeTask('dashscope', profile.sampleId!(`variant-${index}`)))?.variant);
    assert.deepEqual([...variants].sort(), ['image', 'video']);
    const [first, again] = [await poll<TaskBody>(OWNED_ID), await poll<TaskBody>(OWNED_ID)];
    assert.deepEqual(first, again);
  });

  it('answers an injected rate limit with 429 Throttling.RateQuota and its Retry-After, a 5xx with InternalError, then recovers', async () => {
    clocked.simulator.setTask(OWNED_ID, { variant: 'video', timeline: DONE });
    clocked.simulator.injectFault(OWNED_ID, { kind: 'rate_limit', retryAfter: 4, times: 1 });
    clocked.simulator.injectFault(OWNED_ID, { kind: 'status', status: 500, times: 1 });
    const limited = await get<ErrorBody>(`/api/v1/tasks/${OWNED_ID}`);
    assert.deepEqual([limited.status, limited.headers['retry-after'], limited.body.code], [429, '4', 'Throttling.RateQuota']);
    const failing = await get<ErrorBody>(`/api/v1/tasks/${OWNED_ID}`);
    assert.deepEqual([failing.status, failing.body.code], [500, 'InternalError']);
    assert.equal((await poll<TaskBody>(OWNED_ID)).body.output.task_status, 'SUCCEEDED');
  });

  it('answers an unknown path with a 404 NotFound body', async () => {
    const { status, body } = await get<ErrorBody>('/api/v1/services/aigc/video-generation/video-synthesis');
    assert.deepEqual([status, body.code], [404, 'NotFound']);
  });
});

describe('dashscope simulator ids and times', () => {
  it('makes sample ids that are UUIDs in its share, distinct per seed and the same every time', () => {
    const sampleId = profile.sampleId!;
    const ids = new Set<string>();
    for (let index = 0; index < 2000; index++) {
      const id = sampleId(`seed-${index}`);
      assert.match(id, UUID);
      assert.ok(profile.owns(id), id);
      ids.add(id);
    }
    assert.equal(ids.size, 2000);
    assert.equal(sampleId('seed-7'), sampleId('seed-7'));
  });

  it("writes times as DashScope does: China's wall clock with milliseconds, no zone", () => {
    assert.equal(chinaTime(Date.parse('2026-05-01T10:05:15.212Z')), '2026-05-01 18:05:15.212');
    assert.equal(chinaTime(Date.parse('2026-12-31T20:00:00Z')), '2027-01-01 04:00:00.000');
  });

  it('demo ids are its own: qualified, or a bare UUID in its share', () => {
    for (const { id } of profile.demo) {
      const nativeId = id.startsWith('dashscope:') ? id.slice('dashscope:'.length) : id;
      assert.ok(profile.owns(nativeId), id);
    }
  });
});
