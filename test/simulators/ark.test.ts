import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { ark } from '../../src/providers/ark/index.js';
import { ARK_VARIANTS, EXAMPLE_ID, EXAMPLE_VIDEO_URL, FAILED_EXAMPLE_ID, profile, TASKS_PREFIX } from '../../src/providers/ark/simulator.js';
import { describeTask, startSimulator, type Phase } from '../../src/simulators/index.js';
import { startCdn } from '../../src/simulators/media/cdn.js';
import { useClockedSimulator } from '../helpers/clocked-simulator.js';

const KEY = 'ark-test-simulator-key';
const START = Date.parse('2026-04-10T14:32:05Z');
const START_SECONDS = START / 1000;
const TASK_ID = 'cgt-20260410143205-t3st1';
const LIFE: Phase[] = [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress', progress: 40 },
  { atMs: 3000, status: 'succeeded' },
];

interface ArkErrorBody {
  error: { code: string; message: string; param: string; type: string };
}
type TaskBody = Record<string, unknown> & { status: string; content?: Record<string, string>; error?: { code: string; message: string } };

describe('ark simulator', () => {
  const clocked = useClockedSimulator('ark', KEY, START);
  const { poll, pollAt } = clocked;
  const get = async (path: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) => {
    const response = await request(`${clocked.simulator.url}${path}`, { headers });
    return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) };
  };

  it("refuses a missing, wrong or non-Bearer key with Ark's 401 AuthenticationError", async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'video', timeline: LIFE });
    const path = `${TASKS_PREFIX}${TASK_ID}`;
    for (const headers of [{}, { authorization: 'Bearer ark-other-key' }, { authorization: `Basic ${KEY}` }, { authorization: KEY }, { 'x-api-key': KEY }] as Array<Record<string, string>>) {
      const { status, body } = await get(path, headers);
      assert.equal(status, 401, JSON.stringify(headers));
      const { error } = body as ArkErrorBody;
      assert.deepEqual([error.code, error.type, error.param], ['AuthenticationError', 'Unauthorized', '']);
      assert.match(error.message, /^The API key or AK\/SK in the request is missing or invalid\. Request id: \w+$/);
    }
    assert.equal(clocked.simulator.hits(TASK_ID), 5, 'refused calls count');
    assert.equal((await get(path)).status, 200);
  });

  it("answers a task's life in Ark's words and Unix seconds: queued, running, succeeded with content.video_url", async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'video', model: 'seedance-1-0-pro-250528', timeline: LIFE });
    const [queued, running, done] = await pollAt<TaskBody>(TASK_ID, [0, 1000, 3000]);
    const fields = { seed: queued?.seed, resolution: queued?.resolution, ratio: queued?.ratio, duration: queued?.duration, framespersecond: 24, service_tier: 'default' };
    assert.deepEqual(queued, { id: TASK_ID, model: 'seedance-1-0-pro-250528', status: 'queued', ...fields, created_at: START_SECONDS, updated_at: START_SECONDS });
    assert.deepEqual(running, { ...queued, status: 'running', updated_at: START_SECONDS + 1 });
    assert.ok(Number.isInteger(queued?.seed) && ['480p', '720p', '1080p'].includes(String(queued?.resolution)) && [5, 10].includes(Number(queued?.duration)));
    const tokens = (done?.usage as { total_tokens: number }).total_tokens;
    assert.deepEqual(done, {
      ...queued,
      status: 'succeeded',
      content: { video_url: `${clocked.simulator.url}/files/${TASK_ID}.webm` },
      usage: { completion_tokens: tokens, total_tokens: tokens },
      updated_at: START_SECONDS + 3,
    });
  });

  it('adds content.last_frame_url in the last_frame shape: a file of its own', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'last_frame', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const { content } = (await poll<TaskBody>(TASK_ID)).body;
    assert.deepEqual(content, { video_url: `${clocked.simulator.url}/files/${TASK_ID}.webm`, last_frame_url: `${clocked.simulator.url}/files/${TASK_ID}.jpg` });
    const frame = await request(content?.last_frame_url ?? '');
    assert.deepEqual([frame.statusCode, frame.headers['content-type']], [200, 'image/jpeg']);
    await frame.body.dump();
  });

  it('fails with an error {code, message}, expires without one, and is cancelled', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'error', timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 2000, status: 'failed' }] });
    const [, failed] = await pollAt<TaskBody>(TASK_ID, [0, 2000]);
    assert.equal(failed?.status, 'failed');
    assert.ok(['OutputVideoSensitiveContentDetected', 'InputTextSensitiveContentDetected', 'InternalServiceError'].includes(failed?.error?.code ?? ''));
    assert.ok((failed?.error?.message ?? '').length > 10);
    assert.equal(failed?.updated_at, START_SECONDS + 2);

    clocked.simulator.setTask(TASK_ID, { variant: 'expired', timeline: [{ atMs: 0, status: 'failed' }] });
    const expired = (await poll<TaskBody>(TASK_ID)).body;
    assert.equal(expired.status, 'expired');
    assert.ok(!('error' in expired) && !('content' in expired));

    clocked.simulator.setTask(TASK_ID, { variant: 'video', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'expired' }] });
    assert.equal((await poll<TaskBody>(TASK_ID)).body.status, 'expired', 'a pinned phase names the expired shape under any variant');
    clocked.simulator.setTask(TASK_ID, { variant: 'expired', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'failed' }] });
    assert.equal(typeof (await poll<TaskBody>(TASK_ID)).body.error?.code, 'string', 'and the error shape under any variant');

    clocked.simulator.setTask(TASK_ID, { timeline: [{ atMs: 0, status: 'canceled' }] });
    const cancelled = (await poll<TaskBody>(TASK_ID)).body;
    assert.deepEqual([cancelled.status, cancelled.error, cancelled.content], ['cancelled', undefined, undefined]);
  });

  it("says the words a phase names instead (new-api's pending and processing, the canceled spelling)", async () => {
    clocked.simulator.setTask(TASK_ID, {
      timeline: [
        { atMs: 0, status: 'queued', providerStatus: 'pending' },
        { atMs: 1000, status: 'in_progress', providerStatus: 'processing' },
        { atMs: 2000, status: 'canceled', providerStatus: 'canceled' },
      ],
    });
    const bodies = await pollAt<TaskBody>(TASK_ID, [0, 1000, 2000]);
    assert.deepEqual(bodies.map((body) => body.status), ['pending', 'processing', 'canceled']);
  });

  it("the documented example: running when first asked, succeeded 15 s later with the documented fields and signed link", async () => {
    const [running, stillRunning, done] = await pollAt<TaskBody>(EXAMPLE_ID, [0, 14_999, 15_000]);
    assert.deepEqual(running, { id: EXAMPLE_ID, model: 'seedance-1-5-pro-251215', status: 'running', created_at: START_SECONDS, updated_at: START_SECONDS });
    assert.deepEqual(stillRunning, running);
    assert.deepEqual(done, {
      id: EXAMPLE_ID,
      model: 'seedance-1-5-pro-251215',
      status: 'succeeded',
      content: { video_url: EXAMPLE_VIDEO_URL },
      seed: 58123,
      resolution: '720p',
      ratio: '16:9',
      duration: 5,
      framespersecond: 24,
      usage: { completion_tokens: 108900, total_tokens: 108900 },
      created_at: START_SECONDS,
      updated_at: START_SECONDS + 15,
    });
    assert.match(EXAMPLE_VIDEO_URL, /[?&]response-content-disposition=attachment%3B%20filename%2A%3DUTF-8%27%27%E8%A7%86%E9%A2%91\.mp4&/);
  });

  it('the failed example: failed 6 s in with OutputVideoSensitiveContentDetected', async () => {
    const [, failed] = await pollAt<TaskBody>(FAILED_EXAMPLE_ID, [0, 6000]);
    assert.deepEqual(failed, {
      id: FAILED_EXAMPLE_ID,
      model: 'seedance-1-5-pro-251215',
      status: 'failed',
      error: { code: 'OutputVideoSensitiveContentDetected', message: 'The generated video may contain sensitive content.' },
      created_at: START_SECONDS,
      updated_at: START_SECONDS + 6,
    });
  });

  it("answers an unknown task with Ark's 404 ResourceNotFound, and a path it does not serve with a 404 of its own", async () => {
    clocked.simulator.setTask('cgt-20260410143205-gone1', { missing: true });
    for (const id of ['cgt-20260410143205-gone1', 'cgt-20260410143205-ABCDE', 'cgt-abc', 'task_abc001']) {
      const { status, body } = await poll<ArkErrorBody>(id);
      assert.equal(status, 404, id);
      assert.deepEqual([body.error.code, body.error.type, body.error.param], ['ResourceNotFound', 'NotFound', 'id'], id);
    }
    for (const path of ['/api/v3/contents/generations/tasks', '/api/v3/contents/generations/tasks/', '/api/v1/contents/generations/tasks/cgt-x']) {
      const { status, body } = await get(path);
      assert.equal(status, 404, path);
      assert.equal((body as ArkErrorBody).error.code, 'NotFound', path);
    }
  });

  it("answers faults in Ark's envelope: 429 RateLimitExceeded with its Retry-After, 500 InternalServiceError", async () => {
    clocked.simulator.setTask(TASK_ID, { timeline: LIFE });
    clocked.simulator.injectFault(TASK_ID, { kind: 'rate_limit', retryAfter: 3, times: 1 });
    clocked.simulator.injectFault(TASK_ID, { kind: 'status', status: 500, times: 1 });
    const limited = await get(`${TASKS_PREFIX}${TASK_ID}`);
    assert.deepEqual([limited.status, limited.headers['retry-after'], (limited.body as ArkErrorBody).error.code], [429, '3', 'RateLimitExceeded.EndpointRPMExceeded']);
    const broken = await get(`${TASKS_PREFIX}${TASK_ID}`);
    assert.deepEqual([broken.status, (broken.body as ArkErrorBody).error.type], [500, 'InternalServerError']);
    assert.equal((await poll<TaskBody>(TASK_ID)).body.status, 'queued');
  });

  it('makes sample ids of the cgt- form, distinct per seed, the same every time, and owned', async () => {
    const sampleId = profile.sampleId!;
    const ids = new Set<string>();
    for (let index = 0; index < 2000; index++) {
      const id = sampleId(`seed-${index}`);
      assert.match(id, /^cgt-20(2[5-8])(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])[0-5]\d[0-5]\d-[a-z0-9]{5}$/);
      assert.ok(profile.owns(id) && ark.nativeIds.pattern.test(id), id);
      ids.add(id);
    }
    assert.equal(ids.size, 2000);
    assert.equal(sampleId('seed-7'), sampleId('seed-7'));
    assert.notEqual(sampleId(''), sampleId(' '));
    const story = await describeTask('ark', sampleId('bench-1'));
    assert.ok(story !== undefined, 'the simulator has the tasks of its sample ids');
  });

  it('is deterministic per id; its ids show every shape, failing ids a failure shape', async () => {
    const variants = new Set<string>();
    for (let index = 0; index < 60; index++) {
      const id = profile.sampleId!(`shape-${index}`);
      const first = await describeTask('ark', id);
      assert.deepEqual(await describeTask('ark', id), first);
      const outcome = first?.timeline.at(-1)?.status;
      assert.ok(outcome === 'failed' ? ['error', 'expired'].includes(first?.variant ?? '') : ['video', 'last_frame'].includes(first?.variant ?? ''), `${id} ${outcome} ${first?.variant}`);
      variants.add(first?.variant ?? '');
    }
    assert.deepEqual([...variants].sort(), [...ARK_VARIANTS].sort());
    assert.equal(await describeTask('ark', 'cgt-abc'), undefined, 'not of Ark\'s form: not its task');
  });

  it('sends a client the Bearer key and names ARK_API_KEY and ARK_BASE_URL', () => {
    assert.deepEqual(clocked.simulator.clientHeaders, { authorization: `Bearer ${KEY}` });
    assert.deepEqual(clocked.simulator.env, { ARK_API_KEY: KEY, ARK_BASE_URL: clocked.simulator.url });
  });
});

describe('ark simulator with a CDN', () => {
  it('hands out the public file link on the CDN origin, as Ark hands out signed storage links', async () => {
    const cdn = await startCdn();
    after(() => cdn.close());
    const link = cdn.signedUrl('sample.webm', 60_000);
    const simulator = await startSimulator({ provider: 'ark', credentials: { apiKey: KEY }, publicFileUrl: () => link });
    after(() => simulator.close());
    simulator.setTask(TASK_ID, { variant: 'video', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const response = await request(`${simulator.url}${TASKS_PREFIX}${TASK_ID}`, { headers: { authorization: `Bearer ${KEY}` } });
    const body = (await response.body.json()) as TaskBody;
    assert.deepEqual(body.content, { video_url: link });
    const file = await request(link);
    assert.equal(file.statusCode, 200);
    await file.body.dump();
  });
});
