import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { openrouter } from '../../src/providers/openrouter/index.js';
import { EXAMPLE_ID, FAILED_EXAMPLE_ID, OPENROUTER_VARIANTS, profile } from '../../src/providers/openrouter/simulator.js';
import { describeTask, type Phase } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { useClockedSimulator } from '../helpers/clocked-simulator.js';

const KEY = 'sk-or-v1-test-simulator';
const START = Date.parse('2026-04-10T14:32:05Z');
const JOB_ID = 'job-t3st01';
const LIFE: Phase[] = [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress', progress: 40 },
  { atMs: 3000, status: 'succeeded' },
];

interface ErrorBody {
  error: { code: number; message: string };
}
interface JobBody {
  id: string;
  polling_url: string;
  status: string;
  generation_id?: string;
  unsigned_urls?: string[];
  usage?: { cost: number; is_byok: boolean };
  error?: unknown;
}

describe('openrouter simulator', () => {
  const clocked = useClockedSimulator('openrouter', KEY, START);
  const { poll, pollAt } = clocked;
  const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }, method: 'GET' | 'HEAD' = 'GET') =>
    request(`${clocked.simulator.url}${path}`, { method, headers });
  const content = (id: string, index: number) => `${clocked.simulator.url}/api/v1/videos/${id}/content?index=${index}`;

  it("refuses a missing key with OpenRouter's 401 'No auth credentials found', any other with 'User not found.'", async () => {
    clocked.simulator.setTask(JOB_ID, { timeline: LIFE });
    const missing = await poll<ErrorBody>(JOB_ID, null);
    assert.deepEqual([missing.status, missing.body], [401, { error: { code: 401, message: 'No auth credentials found' } }]);
    for (const headers of [{ authorization: 'Bearer sk-or-v1-other' }, { authorization: `Basic ${KEY}` }, { authorization: KEY }, { 'x-api-key': KEY }] as Array<Record<string, string>>) {
      const response = await get(`/api/v1/videos/${JOB_ID}`, headers);
      const body = (await response.body.json()) as ErrorBody;
      const expected = headers.authorization === undefined ? 'No auth credentials found' : 'User not found.';
      assert.deepEqual([response.statusCode, body.error.code, body.error.message], [401, 401, expected], JSON.stringify(headers));
    }
    assert.equal(clocked.simulator.hits(JOB_ID), 5, 'refused status calls count');
  });

  it('renders a job pending, in_progress, then completed with its one unsigned URL on its own origin, a generation id and usage', async () => {
    clocked.simulator.setTask(JOB_ID, { variant: 'one_url', timeline: LIFE });
    const [queued, running, done] = await pollAt<JobBody>(JOB_ID, [0, 1000, 3000]);
    const head = { id: JOB_ID, polling_url: `/api/v1/videos/${JOB_ID}` };
    assert.deepEqual(queued, { ...head, status: 'pending' });
    assert.deepEqual(running, { ...head, status: 'in_progress' });
    assert.equal(done?.status, 'completed');
    assert.deepEqual(done?.unsigned_urls, [content(JOB_ID, 0)]);
    assert.match(done?.generation_id ?? '', /^gen-\d+-[A-Za-z0-9]{20}$/);
    assert.equal(done?.usage?.is_byok, false);
    assert.ok([0.05, 0.25, 0.5, 1.2, 3.2].includes(done?.usage?.cost ?? -1));
    assert.equal(done?.error, undefined);
  });

  it('renders two unsigned URLs for the two_urls variant', async () => {
    clocked.simulator.setTask(JOB_ID, { variant: 'two_urls', timeline: [{ atMs: 0, status: 'succeeded' }] });
    assert.deepEqual((await poll<JobBody>(JOB_ID)).body.unsigned_urls, [content(JOB_ID, 0), content(JOB_ID, 1)]);
  });

  it('renders failures: error a string, error an object, expired without one; cancelled', async () => {
    const failed: Phase[] = [{ atMs: 0, status: 'failed' }];
    clocked.simulator.setTask(JOB_ID, { variant: 'error_string', timeline: failed });
    const text = (await poll<JobBody>(JOB_ID)).body;
    assert.equal(text.status, 'failed');
    assert.equal(typeof text.error, 'string');
    assert.match(text.generation_id ?? '', /^gen-/);
    clocked.simulator.setTask(JOB_ID, { variant: 'error_object', timeline: failed });
    const object = (await poll<JobBody>(JOB_ID)).body;
    assert.equal(object.status, 'failed');
    const error = object.error as { code: string; message: string };
    assert.ok(['content_policy_violation', 'provider_error'].includes(error.code), error.code);
    assert.equal(typeof error.message, 'string');
    clocked.simulator.setTask(JOB_ID, { variant: 'expired', timeline: failed });
    assert.deepEqual((await poll<JobBody>(JOB_ID)).body, { id: JOB_ID, polling_url: `/api/v1/videos/${JOB_ID}`, status: 'expired' });
    clocked.simulator.setTask(JOB_ID, { variant: 'error_string', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'expired' }] });
    assert.deepEqual((await poll<JobBody>(JOB_ID)).body.status, 'expired', 'a pinned phase names the expired shape');
    clocked.simulator.setTask(JOB_ID, { timeline: [{ atMs: 0, status: 'canceled' }] });
    assert.deepEqual((await poll<JobBody>(JOB_ID)).body, { id: JOB_ID, polling_url: `/api/v1/videos/${JOB_ID}`, status: 'cancelled' });
  });

  it("tells the documented example's story: pending, in_progress from 5 s, completed at 20 s with gen-xyz789 and cost 0.5", async () => {
    const bodies = await pollAt<JobBody>(EXAMPLE_ID, [0, 5000, 20_000]);
    assert.deepEqual(bodies.map((body) => body.status), ['pending', 'in_progress', 'completed']);
    assert.deepEqual(bodies[2], {
      id: EXAMPLE_ID,
      polling_url: `/api/v1/videos/${EXAMPLE_ID}`,
      status: 'completed',
      generation_id: 'gen-xyz789',
      unsigned_urls: [content(EXAMPLE_ID, 0)],
      usage: { cost: 0.5, is_byok: false },
    });
    const [running, failed] = await pollAt<JobBody>(FAILED_EXAMPLE_ID, [0, 8000]);
    assert.equal(running?.status, 'in_progress');
    assert.deepEqual([failed?.status, failed?.error], ['failed', 'The video provider rejected the request: the prompt was flagged by its content policy.']);
  });

  it("answers an unknown job, a faulted call and an unknown path in OpenRouter's {error: {code, message}} envelope", async () => {
    const missing = await poll<ErrorBody>('job-missing1');
    assert.deepEqual([missing.status, missing.body], [404, { error: { code: 404, message: 'Video generation job not found' } }]);
    clocked.simulator.setTask(JOB_ID, { timeline: LIFE });
    clocked.simulator.injectFault(JOB_ID, { kind: 'rate_limit', retryAfter: 3, times: 1 });
    clocked.simulator.injectFault(JOB_ID, { kind: 'status', status: 500, times: 1 });
    const limited = await get(`/api/v1/videos/${JOB_ID}`);
    assert.deepEqual([limited.statusCode, limited.headers['retry-after'], ((await limited.body.json()) as ErrorBody).error.code], [429, '3', 429]);
    const broken = await get(`/api/v1/videos/${JOB_ID}`);
    assert.deepEqual([broken.statusCode, ((await broken.body.json()) as ErrorBody).error], [500, { code: 500, message: 'Internal Server Error' }]);
    assert.equal((await poll<JobBody>(JOB_ID)).body.status, 'pending');
    const unknown = await get('/api/v1/images/x');
    assert.deepEqual([unknown.statusCode, await unknown.body.json()], [404, { error: { code: 404, message: 'Not Found' } }]);
  });

  describe('the key-gated /api/v1/videos/{id}/content?index=N', () => {
    it('refuses a request without the key, or with another, as its status call does', async () => {
      clocked.simulator.setTask(JOB_ID, { timeline: [{ atMs: 0, status: 'succeeded' }] });
      const none = await get(`/api/v1/videos/${JOB_ID}/content?index=0`, {});
      assert.deepEqual([none.statusCode, await none.body.json()], [401, { error: { code: 401, message: 'No auth credentials found' } }]);
      const wrong = await get(`/api/v1/videos/${JOB_ID}/content?index=0`, { authorization: 'Bearer sk-or-v1-other' });
      assert.equal(wrong.statusCode, 401);
      await wrong.body.dump();
      assert.equal(clocked.simulator.hits(JOB_ID), 0, 'downloads are no status calls');
    });

    it('serves the WebM for index 0 (the default) and the MP4 for index 1, byte for byte', async () => {
      clocked.simulator.setTask(JOB_ID, { variant: 'two_urls', timeline: [{ atMs: 0, status: 'succeeded' }] });
      for (const [query, name] of [['?index=0', 'sample.webm'], ['', 'sample.webm'], ['?index=1', 'sample.mp4']] as const) {
        const asset = loadAsset(name);
        const response = await get(`/api/v1/videos/${JOB_ID}/content${query}`);
        assert.equal(response.statusCode, 200, query);
        assert.equal(response.headers['content-type'], asset.contentType, query);
        assert.deepEqual(Buffer.from(await response.body.arrayBuffer()), asset.bytes, query);
      }
    });

    it('answers ranges and HEAD', async () => {
      const video = loadAsset('sample.webm');
      const part = await get(`/api/v1/videos/${JOB_ID}/content?index=0`, { authorization: `Bearer ${KEY}`, range: 'bytes=100-1099' });
      assert.equal(part.statusCode, 206);
      assert.equal(part.headers['content-range'], `bytes 100-1099/${video.size}`);
      assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), video.bytes?.subarray(100, 1100));
      const head = await get(`/api/v1/videos/${JOB_ID}/content?index=1`, { authorization: `Bearer ${KEY}` }, 'HEAD');
      assert.deepEqual([head.statusCode, head.headers['content-length']], [200, String(loadAsset('sample.mp4').size)]);
      await head.body.dump();
    });

    it('answers an index past the files with 404, one that is no integer with 400, an unknown job with its 404', async () => {
      const past = await get(`/api/v1/videos/${JOB_ID}/content?index=2`);
      assert.deepEqual([past.statusCode, ((await past.body.json()) as ErrorBody).error.code], [404, 404]);
      for (const index of ['-1', 'x', '1.5', '']) {
        const bad = await get(`/api/v1/videos/${JOB_ID}/content?index=${index}`);
        assert.deepEqual([bad.statusCode, ((await bad.body.json()) as ErrorBody).error.code], [400, 400], index);
      }
      const missing = await get('/api/v1/videos/job-missing2/content?index=0');
      assert.deepEqual([missing.statusCode, await missing.body.json()], [404, { error: { code: 404, message: 'Video generation job not found' } }]);
    });
  });

  it('makes sample ids of the job form, distinct per seed, readable, owned; a seed saying fail tells a failure', async () => {
    const sampleId = profile.sampleId!;
    const seeds = [...Array.from({ length: 500 }, (_, index) => `seed-${index}`), '', ' ', '_', '_5f', 'a/b', 'é', 'x'.repeat(600), 'y'.repeat(600)];
    const ids = seeds.map((seed) => sampleId(seed));
    assert.equal(new Set(ids).size, seeds.length);
    for (const id of ids) assert.ok(openrouter.nativeIds.pattern.test(id) && profile.owns(id), id);
    assert.equal(sampleId('seed-7'), 'job-seed-7');
    assert.deepEqual([sampleId(''), sampleId(' '), sampleId('a/b'), sampleId('é')], ['job-', 'job-_20', 'job-a_2fb', 'job-_c3_a9']);
    assert.equal((await describeTask('openrouter', sampleId('bench-fail-7')))?.timeline.at(-1)?.status, 'failed');
    assert.ok((await describeTask('openrouter', sampleId('bench-1'))) !== undefined, 'the simulator has the tasks of its sample ids');
  });

  it('is deterministic per id; its ids show every shape, failing ids a failure shape', async () => {
    const variants = new Set<string>();
    for (let index = 0; index < 80; index++) {
      const id = profile.sampleId!(`shape-${index}`);
      const first = await describeTask('openrouter', id);
      assert.deepEqual(await describeTask('openrouter', id), first);
      const outcome = first?.timeline.at(-1)?.status;
      const failureShapes = ['error_string', 'error_object', 'expired'];
      assert.ok(outcome === 'failed' ? failureShapes.includes(first?.variant ?? '') : !failureShapes.includes(first?.variant ?? ''), `${id} ${outcome} ${first?.variant}`);
      variants.add(first?.variant ?? '');
    }
    assert.deepEqual([...variants].sort(), [...OPENROUTER_VARIANTS].sort());
    assert.equal(await describeTask('openrouter', 'a/b'), undefined, 'not one path segment: not its job');
  });

  it('sends a client the Bearer key and names OPENROUTER_API_KEY and OPENROUTER_BASE_URL', () => {
    assert.deepEqual(clocked.simulator.clientHeaders, { authorization: `Bearer ${KEY}` });
    assert.deepEqual(clocked.simulator.env, { OPENROUTER_API_KEY: KEY, OPENROUTER_BASE_URL: clocked.simulator.url });
  });
});
