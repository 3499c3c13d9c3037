import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { useClockedSimulator } from '../helpers/clocked-simulator.js';
import { describeTask, type Phase } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const KEY = 'sk-test-openai';
const START = Date.parse('2026-04-10T14:32:05Z');
const START_SECONDS = START / 1000;
const EXAMPLE_ID = 'video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5';
const VIDEO_ID = `video_${'0123456789abcdef'.repeat(3)}`;

interface VideoBody {
  id: string;
  object: string;
  model: string;
  status: string;
  progress: number;
  created_at: number;
  completed_at: number | null;
  expires_at: number | null;
  prompt: string;
  seconds: string;
  size: string;
  remixed_from_video_id: null;
  error: { code: string; message: string } | null;
  outputs?: { video_url: string; cost: number };
}
interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const LIFE: Phase[] = [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress', progress: 40 },
  { atMs: 2000, status: 'succeeded' },
];

describe('openai simulator', () => {
  const clocked = useClockedSimulator('openai', KEY, START);
  const { poll, pollAt } = clocked;
  const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }, method: 'GET' | 'HEAD' = 'GET') =>
    request(`${clocked.simulator.url}${path}`, { method, headers });

  it('rejects a missing or wrong key with its 401 invalid_api_key envelope', async () => {
    for (const key of [null, 'sk-wrong']) {
      const { status, body } = await poll<ErrorBody>(EXAMPLE_ID, key);
      assert.equal(status, 401);
      assert.equal(body.error.code, 'invalid_api_key');
      assert.equal(body.error.type, 'invalid_request_error');
      assert.match(body.error.message, /^Incorrect API key provided/);
    }
  });

  it('renders the OpenAI variant: integer progress, Unix seconds, expires_at once completed', async () => {
    clocked.simulator.setTask(VIDEO_ID, { variant: 'openai', model: 'sora-2', timeline: LIFE });
    const [queued, running, done] = await pollAt<VideoBody>(VIDEO_ID, [0, 1000, 2000]);
    assert.deepEqual(
      [queued, running, done].map((body) => [body?.status, body?.progress, body?.completed_at, body?.expires_at]),
      [
        ['queued', 0, null, null],
        ['in_progress', 40, null, null],
        ['completed', 100, START_SECONDS + 2, START_SECONDS + 2 + 3600],
      ],
    );
    assert.deepEqual(
      { id: done?.id, object: done?.object, model: done?.model, created_at: done?.created_at, error: done?.error, outputs: done?.outputs },
      { id: VIDEO_ID, object: 'video', model: 'sora-2', created_at: START_SECONDS, error: null, outputs: undefined },
    );
    assert.ok(['4', '8', '12'].includes(done?.seconds ?? ''));
  });

  it('sends openai-poll-after-ms while an OpenAI video runs, and not once it is done', async () => {
    clocked.simulator.setTask(VIDEO_ID, { variant: 'openai', timeline: LIFE });
    const hints: (string | string[] | undefined)[] = [];
    for (const offset of [0, 1000, 2000]) {
      clocked.now = START + offset;
      const response = await get(`/v1/videos/${VIDEO_ID}`);
      hints.push(response.headers['openai-poll-after-ms']);
      await response.body.dump();
    }
    assert.deepEqual(hints, ['2000', '2000', undefined]);
  });

  it('renders a failure as error {code, message}, both strings', async () => {
    clocked.simulator.setTask(VIDEO_ID, { variant: 'openai', timeline: [{ atMs: 0, status: 'failed' }] });
    const { body } = await poll<VideoBody>(VIDEO_ID);
    assert.equal(body.status, 'failed');
    assert.ok(
      ['moderation_blocked', 'video_generation_failed'].includes(body.error?.code ?? ''),
      `code ${body.error?.code}`,
    );
    assert.equal(typeof body.error?.message, 'string');
    assert.equal(body.expires_at, null);
  });

  it('renders the hosted variant with a public outputs.video_url, and no poll hint', async () => {
    clocked.simulator.setTask(VIDEO_ID, { variant: 'hosted', timeline: LIFE });
    clocked.now = START;
    const running = await get(`/v1/videos/${VIDEO_ID}`);
    assert.equal(running.headers['openai-poll-after-ms'], undefined);
    assert.equal(((await running.body.json()) as VideoBody).outputs, undefined);
    clocked.now = START + 2000;
    const done = (await poll<VideoBody>(VIDEO_ID)).body;
    assert.deepEqual(done.outputs, { video_url: `${clocked.simulator.url}/files/${VIDEO_ID}.webm`, cost: 0.4 });
  });

  it('renders the relay variant with created_at in milliseconds', async () => {
    clocked.simulator.setTask('sora-2-relay1', { variant: 'relay', timeline: LIFE });
    const [queued, done] = await pollAt<VideoBody>('sora-2-relay1', [0, 2000]);
    assert.equal(queued?.created_at, START);
    assert.equal(done?.completed_at, START_SECONDS + 2);
    assert.equal(done?.outputs, undefined);
  });

  it('the docs/providers/openai.md example id runs at 33 % when first asked and completes 8 s later', async () => {
    const bodies = await pollAt<VideoBody>(EXAMPLE_ID, [0, 4000, 8000]);
    assert.deepEqual(bodies.map((body) => [body.status, body.progress]), [['in_progress', 33], ['in_progress', 67], ['completed', 100]]);
    assert.equal(bodies[2]?.model, 'sora-2');
  });

  it('owns video_ + 48 hex and the relay forms; answers 404 in its envelope for the rest', async () => {
    for (const id of [EXAMPLE_ID, VIDEO_ID, 'sora-2-abc', 'task_relay01']) assert.equal((await poll(id)).status, 200, id);
    for (const id of ['video_69095b4ce0048190893a01510c0c98b0', 'video_1', 'd758n65e878c73cmdg20']) {
      const { status, body } = await poll<ErrorBody>(id);
      assert.equal(status, 404, id);
      assert.deepEqual(body, { error: { message: 'No video found with that id.', type: 'invalid_request_error', param: 'video_id', code: null } });
    }
  });

  it('gives relay ids the relay shape and OpenAI ids the OpenAI or hosted shape', async () => {
    for (const id of ['sora-2-x1', 'sora-2-x2', 'task_x3']) assert.equal((await describeTask('openai', id))?.variant, 'relay', id);
    const variants = new Set<string | undefined>();
    for (let index = 0; index < 40; index++) variants.add((await describeTask('openai', `video_${index.toString(16).padStart(48, '0')}`))?.variant);
    assert.deepEqual([...variants].sort(), ['hosted', 'openai']);
  });

  describe('the key-gated /v1/videos/{id}/content', () => {
    const content = `/v1/videos/${EXAMPLE_ID}/content`;

    it('refuses a request without the key with its 401', async () => {
      const response = await get(`${content}?variant=video`, {});
      assert.equal(response.statusCode, 401);
      assert.equal(((await response.body.json()) as ErrorBody).error.code, 'invalid_api_key');
    });

    it('serves the real WebM for variant=video (the default), WebP for thumbnail, JPEG for spritesheet', async () => {
      for (const [query, name] of [['?variant=video', 'sample.webm'], ['', 'sample.webm'], ['?variant=thumbnail', 'thumbnail.webp'], ['?variant=spritesheet', 'thumbnail.jpg']] as const) {
        const asset = loadAsset(name);
        const response = await get(`${content}${query}`);
        assert.equal(response.statusCode, 200, query);
        assert.equal(response.headers['content-type'], asset.contentType, query);
        assert.equal(response.headers.etag, asset.etag);
        assert.deepEqual(Buffer.from(await response.body.arrayBuffer()), asset.bytes, query);
      }
    });

    it('answers ranges, If-Range and HEAD', async () => {
      const video = loadAsset('sample.webm');
      const part = await get(`${content}?variant=video`, { authorization: `Bearer ${KEY}`, range: 'bytes=1000-1999', 'if-range': video.etag });
      assert.equal(part.statusCode, 206);
      assert.equal(part.headers['content-range'], `bytes 1000-1999/${video.size}`);
      assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), video.bytes?.subarray(1000, 2000));
      const stale = await get(`${content}?variant=video`, { authorization: `Bearer ${KEY}`, range: 'bytes=1000-1999', 'if-range': '"other"' });
      assert.equal(stale.statusCode, 200);
      await stale.body.dump();
      const head = await get(`${content}?variant=thumbnail`, { authorization: `Bearer ${KEY}` }, 'HEAD');
      assert.deepEqual([head.statusCode, head.headers['content-length'], head.headers['last-modified']], [200, String(loadAsset('thumbnail.webp').size), video.lastModified.toUTCString()]);
      await head.body.dump();
    });

    it('answers an unknown variant with 400 invalid_value, an unknown video with its 404', async () => {
      const bad = await get(`${content}?variant=poster`);
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(((await bad.body.json()) as ErrorBody).error.param, 'variant');
      const missing = await get('/v1/videos/video_1/content?variant=video');
      assert.equal(missing.statusCode, 404);
      assert.equal(((await missing.body.json()) as ErrorBody).error.param, 'video_id');
    });
  });

  it('answers an unknown path with 404 "Invalid URL"', async () => {
    const response = await get('/v1/files');
    assert.equal(response.statusCode, 404);
    assert.equal(((await response.body.json()) as ErrorBody).error.message, 'Invalid URL (GET /v1/files)');
  });
});
