import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { gemini } from '../../src/providers/gemini/index.js';
import { fileIdOf, profile, redirectsDownload } from '../../src/providers/gemini/simulator.js';
import { describeTask, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const KEY = 'AIzaSy-test-gemini-simulator';
const START = Date.parse('2026-04-10T14:32:05Z');
const EXAMPLE_ID = 'models/veo-3.1-generate-preview/operations/mg3pt9cbmvr1';
const RESPONSE_TYPE = 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse';
const LIFE: Phase[] = [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress', progress: 40 },
  { atMs: 2000, status: 'succeeded' },
];

interface GoogleError {
  error: { code: number; message: string; status: string; details?: Array<{ reason?: string }> };
}

/** Operation names whose download this simulator redirects (or serves itself). */
function namesWhoseDownload(redirects: boolean, count = 1): string[] {
  const names: string[] = [];
  for (let index = 0; names.length < count; index++) {
    const name = `models/veo-3.1-generate-preview/operations/sim${index}`;
    if (redirectsDownload(name) === redirects) names.push(name);
  }
  return names;
}

describe('gemini simulator', () => {
  let simulator: Simulator;
  let now = START;
  before(async () => {
    simulator = await startSimulator({ provider: 'gemini', credentials: { apiKey: KEY }, now: () => now });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    now = START;
  });

  const get = async (path: string, headers: Record<string, string> = { 'x-goog-api-key': KEY }, method: 'GET' | 'HEAD' = 'GET') =>
    request(`${simulator.url}${path}`, { method, headers });
  /** The status call as the gateway makes it: the name's slashes as path separators. */
  const poll = async <Body>(name: string, headers?: Record<string, string>): Promise<{ status: number; body: Body }> => {
    const response = await get(`/v1beta/${name}`, headers);
    return { status: response.statusCode, body: (await response.body.json()) as Body };
  };
  const pollAt = async <Body>(name: string, offsets: number[]): Promise<Body[]> => {
    const bodies: Body[] = [];
    for (const offset of offsets) {
      now = START + offset;
      bodies.push((await poll<Body>(name)).body);
    }
    return bodies;
  };

  it("refuses requests the way Google does: no key 403, a wrong key 400 API_KEY_INVALID, a Bearer token 401", async () => {
    const missing = await poll<GoogleError>(EXAMPLE_ID, {});
    assert.equal(missing.status, 403);
    assert.equal(missing.body.error.status, 'PERMISSION_DENIED');
    const wrong = await poll<GoogleError>(EXAMPLE_ID, { 'x-goog-api-key': 'AIzaSy-wrong' });
    assert.equal(wrong.status, 400);
    assert.deepEqual([wrong.body.error.code, wrong.body.error.status, wrong.body.error.details?.[0]?.reason], [400, 'INVALID_ARGUMENT', 'API_KEY_INVALID']);
    const bearer = await poll<GoogleError>(EXAMPLE_ID, { authorization: `Bearer ${KEY}` });
    assert.equal(bearer.status, 401);
    assert.equal(bearer.body.error.status, 'UNAUTHENTICATED');
    assert.equal(simulator.hits(EXAMPLE_ID), 3, 'refused calls count');
  });

  it('takes the key from ?key= too, as Google does', async () => {
    const response = await get(`/v1beta/${EXAMPLE_ID}?key=${KEY}`, {});
    assert.equal(response.statusCode, 200);
    assert.equal(((await response.body.json()) as { name: string }).name, EXAMPLE_ID);
    const wrong = await get(`/v1beta/${EXAMPLE_ID}?key=nope`, {});
    assert.equal(wrong.statusCode, 400);
    await wrong.body.dump();
  });

  it("renders Google's shape: no done while running, then done with @type and a sample on its own origin", async () => {
    const name = 'models/veo-3.0-generate-001/operations/googleshape1';
    simulator.setTask(name, { variant: 'google', timeline: LIFE });
    const [queued, running, done] = await pollAt<Record<string, unknown>>(name, [0, 1000, 2000]);
    assert.deepEqual(queued, { name });
    assert.deepEqual(running, { name });
    assert.deepEqual(done, {
      name,
      done: true,
      response: {
        '@type': RESPONSE_TYPE,
        generateVideoResponse: { generatedSamples: [{ video: { uri: `${simulator.url}/v1beta/files/${fileIdOf(name)}:download?alt=media` } }] },
      },
    });
  });

  it("renders a relay's shape: done: false with progressPercent, then done without @type", async () => {
    const name = 'models/veo-3.1-fast-generate-preview/operations/relayshape1';
    simulator.setTask(name, { variant: 'relay', timeline: LIFE });
    const [queued, running, done] = await pollAt<Record<string, unknown>>(name, [0, 1000, 2000]);
    assert.deepEqual(queued, { name, done: false, metadata: { progressPercent: 0 } });
    assert.deepEqual(running, { name, done: false, metadata: { progressPercent: 40 } });
    assert.deepEqual(done, {
      name,
      done: true,
      response: { generateVideoResponse: { generatedSamples: [{ video: { uri: `${simulator.url}/v1beta/files/${fileIdOf(name)}:download?alt=media` } }] } },
    });
  });

  it('renders a failure as done with error {code, message, status}, the one a phase names', async () => {
    const name = 'models/veo-3.1-generate-preview/operations/failedone1';
    simulator.setTask(name, { variant: 'google', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'INVALID_ARGUMENT' }] });
    assert.deepEqual((await poll(name)).body, { name, done: true, error: { code: 3, message: 'Unsupported aspect ratio', status: 'INVALID_ARGUMENT' } });
    simulator.setTask(name, { variant: 'relay', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'DEADLINE_EXCEEDED' }] });
    assert.deepEqual((await poll(name)).body, { name, done: true, error: { message: 'The operation failed.', status: 'DEADLINE_EXCEEDED' } }, 'an unlisted name: a status without a code');
    simulator.setTask(name, { variant: 'google', timeline: [{ atMs: 0, status: 'canceled' }] });
    assert.deepEqual((await poll(name)).body, { name, done: true, error: { code: 1, message: 'Operation was cancelled.', status: 'CANCELLED' } });
  });

  it('renders the safety filter: done with no sample, the reasons inside generateVideoResponse (Google) or on response (relays)', async () => {
    const name = 'models/veo-3.1-generate-preview/operations/blocked1';
    simulator.setTask(name, { variant: 'google', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'filtered' }] });
    const google = (await poll<{ done: boolean; response: { '@type': string; generateVideoResponse: { raiMediaFilteredCount: number; raiMediaFilteredReasons: string[] } } }>(name)).body;
    assert.equal(google.done, true);
    assert.equal(google.response['@type'], RESPONSE_TYPE);
    assert.equal(google.response.generateVideoResponse.raiMediaFilteredCount, 1);
    assert.match(google.response.generateVideoResponse.raiMediaFilteredReasons[0] ?? '', /You have not been charged for this attempt\.$/);
    simulator.setTask(name, { variant: 'relay', timeline: [{ atMs: 0, status: 'failed', providerStatus: 'filtered' }] });
    const relay = (await poll<{ response: Record<string, unknown> }>(name)).body;
    assert.deepEqual(Object.keys(relay.response).sort(), ['raiMediaFilteredCount', 'raiMediaFilteredReasons']);
  });

  it('an unpinned failing id containing "filter" is filtered; other failures are drawn between both kinds', async () => {
    const name = 'models/veo-3.1-generate-preview/operations/failfilter1';
    await poll(name); // starts its clock
    now = START + 60_000;
    const later = (await poll<{ done: boolean; error?: unknown; response?: unknown }>(name)).body;
    assert.deepEqual([later.done, later.error, JSON.stringify(later.response).includes('"raiMediaFilteredReasons":["')], [true, undefined, true]);
    const kinds = new Set<string>();
    for (let index = 0; index < 30; index++) {
      const name = `models/veo-3.1-generate-preview/operations/fail${index}`;
      simulator.setTask(name, { timeline: [{ atMs: 0, status: 'failed' }] });
      const body = (await poll<{ error?: { status: string } }>(name)).body;
      kinds.add(body.error?.status ?? 'filtered');
    }
    assert.deepEqual([...kinds].sort(), ['INTERNAL', 'INVALID_ARGUMENT', 'filtered']);
  });

  it("the docs/providers/gemini.md example: a relay's operation, done: false when first asked, done 20 s later with files/abc123", async () => {
    const [running, stillRunning, done] = await pollAt<Record<string, unknown>>(EXAMPLE_ID, [0, 19_000, 20_000]);
    assert.deepEqual(running, { name: EXAMPLE_ID, done: false });
    assert.deepEqual(stillRunning, running);
    assert.deepEqual(done, {
      name: EXAMPLE_ID,
      done: true,
      response: { generateVideoResponse: { generatedSamples: [{ video: { uri: `${simulator.url}/v1beta/files/abc123:download?alt=media` } }] } },
    });
  });

  it('answers the name sent as one percent-encoded segment as well', async () => {
    const response = await get(`/v1beta/${encodeURIComponent(EXAMPLE_ID)}`);
    assert.equal(response.statusCode, 200);
    assert.equal(((await response.body.json()) as { name: string }).name, EXAMPLE_ID);
    assert.equal(simulator.hits(EXAMPLE_ID), 1);
  });

  it('answers unknown operations with its 404 NOT_FOUND, and names it cannot have as an unknown method', async () => {
    simulator.setTask('models/veo-3.1-generate-preview/operations/gone1', { missing: true });
    for (const name of ['models/veo-3.1-generate-preview/operations/gone1', 'models/veo-3.1-generate-preview/operations/missing2']) {
      const { status, body } = await poll<GoogleError>(name);
      assert.equal(status, 404, name);
      assert.deepEqual(body, { error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } });
    }
    for (const path of ['/v1beta/models/veo/operations', '/v1beta/models/veo%40x/operations/y', '/v1/models/veo/operations/y']) {
      const response = await get(path);
      assert.equal(response.statusCode, 404, path);
      assert.equal(((await response.body.json()) as GoogleError).error.message, 'Method not found.');
    }
  });

  describe('the key-gated downloads, /v1beta/files/{id}:download', () => {
    const [direct] = namesWhoseDownload(false);
    const [redirected] = namesWhoseDownload(true);
    const download = (name: string) => `/v1beta/files/${fileIdOf(name)}:download?alt=media`;

    it('serve some videos here: the real WebM, with ranges and HEAD, the key required', async () => {
      simulator.setTask(direct!, { timeline: [{ atMs: 0, status: 'succeeded' }] });
      const video = loadAsset('sample.webm');
      const whole = await get(download(direct!));
      assert.equal(whole.statusCode, 200);
      assert.equal(whole.headers['content-type'], video.contentType);
      assert.deepEqual(Buffer.from(await whole.body.arrayBuffer()), video.bytes);
      const part = await get(download(direct!), { 'x-goog-api-key': KEY, range: 'bytes=100-199' });
      assert.equal(part.statusCode, 206);
      assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), video.bytes?.subarray(100, 200));
      const head = await get(download(direct!), { 'x-goog-api-key': KEY }, 'HEAD');
      assert.deepEqual([head.statusCode, head.headers['content-length']], [200, String(video.size)]);
      await head.body.dump();
      const keyless = await get(download(direct!), {});
      assert.equal(keyless.statusCode, 403);
      assert.equal(((await keyless.body.json()) as GoogleError).error.status, 'PERMISSION_DENIED');
      assert.equal(simulator.hits(direct), 0, 'a download served here is no status call');
    });

    it("redirect the others to the task's public file, once it is done; the key still required", async () => {
      const publicFile = 'http://127.0.0.1:9/sample.webm?expires=1&sig=x';
      simulator.setTask(redirected!, { timeline: [{ atMs: 0, status: 'in_progress' }, { atMs: 1000, status: 'succeeded' }], resultUrl: publicFile });
      const early = await get(download(redirected!));
      assert.equal(early.statusCode, 404, 'no file before the video exists');
      await early.body.dump();
      now = START + 1000;
      const response = await get(download(redirected!));
      assert.equal(response.statusCode, 302);
      assert.equal(response.headers.location, publicFile);
      await response.body.dump();
      const keyless = await get(download(redirected!), {});
      assert.equal(keyless.statusCode, 403);
      await keyless.body.dump();
    });

    it("answer 404 for a file of no task, and the example's own file id finds its task", async () => {
      for (const fileId of ['zzz', 'abcd', fileIdOf('models/veo/operations/missing1')]) {
        const response = await get(`/v1beta/files/${fileId}:download?alt=media`);
        assert.equal(response.statusCode, 404, fileId);
        assert.equal(((await response.body.json()) as GoogleError).error.status, 'NOT_FOUND');
      }
      assert.equal(fileIdOf(EXAMPLE_ID), 'abc123');
      assert.equal(redirectsDownload(EXAMPLE_ID), true);
      await poll(EXAMPLE_ID);
      now = START + 20_000;
      const example = await get('/v1beta/files/abc123:download?alt=media');
      assert.equal(example.statusCode, 302);
      assert.equal(example.headers.location, `${simulator.url}/files/${encodeURIComponent(EXAMPLE_ID)}.webm`, "without a CDN, the simulator's own public file");
      await example.body.dump();
    });
  });

  it('sampleId makes distinct operation names of the id form, which it owns; words such as fail stay readable', async () => {
    const seeds = ['', 'a', 'A', 'z', 'za', 'bench-1', 'bench_1', 'bench-fail-7', 'x'.repeat(40), 'é'];
    const ids = seeds.map((seed) => profile.sampleId!(seed));
    assert.equal(new Set(ids).size, seeds.length);
    for (const id of ids) {
      assert.match(id, /^models\/veo-3\.1-generate-preview\/operations\/[a-z0-9]+$/);
      assert.ok(gemini.nativeIds.pattern.test(id) && profile.owns(id), id);
    }
    assert.equal(profile.sampleId!('bench-fail-7'), 'models/veo-3.1-generate-preview/operations/benchz2dfailz2d7');
    assert.equal((await describeTask('gemini', profile.sampleId!('bench-fail-7')))?.timeline.at(-1)?.status, 'failed');
  });

  it('is deterministic per id, and its ids show both shapes and both download kinds', async () => {
    const variants = new Set<string | undefined>();
    const downloads = new Set<boolean>();
    for (let index = 0; index < 40; index++) {
      const name = `models/veo-3.1-generate-preview/operations/det${index}`;
      const first = await describeTask('gemini', name);
      assert.deepEqual(await describeTask('gemini', name), first);
      variants.add(first?.variant);
      downloads.add(redirectsDownload(name));
    }
    assert.deepEqual([...variants].sort(), ['google', 'relay']);
    assert.deepEqual([...downloads].sort(), [false, true]);
    assert.equal(await describeTask('gemini', 'task_abc001'), undefined, 'not an operation name: not its task');
  });

  it('sends a client the key the way Google wants it', () => {
    assert.deepEqual(simulator.clientHeaders, { 'x-goog-api-key': KEY });
    assert.deepEqual(simulator.env, { GEMINI_API_KEY: KEY, GEMINI_BASE_URL: simulator.url });
  });
});
