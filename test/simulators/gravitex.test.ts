import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { useClockedSimulator } from '../helpers/clocked-simulator.js';
import { describeTask, type Phase } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const KEY = 'sk-test-gravitex';
const START = Date.parse('2026-04-10T14:32:05Z');
const START_SECONDS = START / 1000;
const CURRENT_ID = 'task_AbCdEfGhIjKlMnOpQrStUvWxYz012345';
const SEED_ID = 'video_69095b4ce0048190893a01510c0c98b0';

interface DocumentedBody {
  task_id: string;
  status: string;
  format: string;
  url?: string;
  metadata?: Record<string, number>;
  error?: { code: number; message: string };
}
interface WrappedData {
  id: string;
  task_id: string;
  object: string;
  model: string;
  status: string;
  progress: number;
  created_at: number;
  completed_at: number;
  seconds: string;
  url?: string;
  video_url?: string;
  metadata?: Record<string, number>;
  error?: { message: string; code: string };
}
interface LegacyData {
  task_id: string;
  status: string;
  progress: string;
  fail_reason: string;
  result_url?: string;
  finish_time: number;
}
interface Wrapper<Data> {
  code: string;
  message: string;
  data: Data;
}


const LIFE: (outcome: Phase['status']) => Phase[] = (outcome) => [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress', progress: 30 },
  { atMs: 2000, status: outcome },
];

describe('gravitex simulator', () => {
  const clocked = useClockedSimulator('gravitex', KEY, START);
  const { poll, pollAt } = clocked;

  it('rejects a missing or wrong key with its 401 error envelope and a request id', async () => {
    for (const key of [null, 'sk-wrong']) {
      const { status, body } = await poll<{ error: { message: string; type: string; code: string } }>(SEED_ID, key);
      assert.equal(status, 401);
      assert.match(body.error.message, /^invalid token \(request id: \d+\)$/);
      assert.equal(body.error.type, 'api_error');
      assert.equal(body.error.code, '');
    }
  });

  it('renders the documented flat variant: queued, in_progress, succeeded with url and metadata', async () => {
    clocked.simulator.setTask('video_doc1', { variant: 'documented', timeline: LIFE('succeeded') });
    const [queued, running, done] = await pollAt<DocumentedBody>('video_doc1', [0, 1000, 2000]);
    assert.deepEqual(queued, { task_id: 'video_doc1', status: 'queued', format: 'mp4' });
    assert.deepEqual(running, { task_id: 'video_doc1', status: 'in_progress', format: 'mp4' });
    assert.equal(done?.status, 'succeeded');
    assert.equal(done?.url, `${clocked.simulator.url}/files/video_doc1.webm`);
    assert.deepEqual(Object.keys(done?.metadata ?? {}).sort(), ['duration', 'fps', 'height', 'seed', 'width']);
  });

  it('renders a documented failure as error {code: number, message}', async () => {
    clocked.simulator.setTask('video_doc2', { variant: 'documented', timeline: [{ atMs: 0, status: 'failed' }] });
    const { body } = await poll<DocumentedBody>('video_doc2');
    assert.equal(body.status, 'failed');
    assert.equal(typeof body.error?.code, 'number');
    assert.ok(body.error?.message);
  });

  it('renders the wrapped variant: {code:"success"} around integer progress, seconds and completed', async () => {
    clocked.simulator.setTask(CURRENT_ID, { variant: 'wrapped', model: 'sora-2', timeline: LIFE('succeeded') });
    const [queued, running, done] = await pollAt<Wrapper<WrappedData>>(CURRENT_ID, [0, 1000, 2000]);
    assert.equal(queued?.code, 'success');
    assert.equal(queued?.message, '');
    assert.equal(queued?.data.status, 'queued');
    assert.equal(queued?.data.completed_at, 0);
    assert.equal(queued?.data.object, 'video');
    assert.equal(queued?.data.model, 'sora-2');
    assert.equal(queued?.data.created_at, START_SECONDS);
    assert.deepEqual([running?.data.status, running?.data.progress], ['in_progress', 30]);
    assert.deepEqual([done?.data.status, done?.data.progress], ['completed', 100]);
    assert.equal(done?.data.completed_at, START_SECONDS + 2);
    assert.equal(done?.data.id, CURRENT_ID);
    assert.equal(done?.data.task_id, CURRENT_ID);
    assert.ok(done?.data.url);
    assert.equal(done?.data.video_url, done?.data.url);
  });

  it('renders a wrapped failure as error {message:"task failed", code:"failed"}', async () => {
    clocked.simulator.setTask(CURRENT_ID, { variant: 'wrapped', timeline: [{ atMs: 0, status: 'failed' }] });
    const { body } = await poll<Wrapper<WrappedData>>(CURRENT_ID);
    assert.equal(body.data.status, 'failed');
    assert.deepEqual(body.data.error, { message: 'task failed', code: 'failed' });
  });

  it('renders wrapped_alt with succeeded/processing words', async () => {
    clocked.simulator.setTask('video_alt', { variant: 'wrapped_alt', timeline: LIFE('succeeded') });
    const bodies = await pollAt<Wrapper<WrappedData>>('video_alt', [0, 1000, 2000]);
    assert.deepEqual(bodies.map((body) => body.data.status), ['queued', 'processing', 'succeeded']);
  });

  it('renders the legacy DTO: upper-case words, "30%" progress, fail_reason and result_url', async () => {
    clocked.simulator.setTask('video_old', { variant: 'legacy', timeline: LIFE('succeeded') });
    const bodies = await pollAt<Wrapper<LegacyData>>('video_old', [0, 1000, 2000]);
    assert.deepEqual(bodies.map((body) => [body.data.status, body.data.progress]), [['QUEUED', '0%'], ['IN_PROGRESS', '30%'], ['SUCCESS', '100%']]);
    assert.equal(bodies[2]?.data.result_url, `${clocked.simulator.url}/files/video_old.webm`);
    assert.ok((bodies[2]?.data.finish_time ?? 0) > 0);
    clocked.simulator.setTask('video_old_failed', { variant: 'legacy', timeline: [{ atMs: 0, status: 'failed' }] });
    const failed = (await poll<Wrapper<LegacyData>>('video_old_failed')).body;
    assert.equal(failed.data.status, 'FAILURE');
    assert.ok(failed.data.fail_reason.length > 0);
  });

  it('the seed video_… id has already succeeded in the documented shape with the doc URL', async () => {
    const { status, body } = await poll<DocumentedBody>(SEED_ID);
    assert.equal(status, 200);
    assert.deepEqual(body, {
      task_id: SEED_ID,
      status: 'succeeded',
      format: 'mp4',
      url: 'https://gravitex-ads.oss-cn-guangzhou.aliyuncs.com/2025/11/18/abc123/video.mp4',
    });
  });

  it('answers HTTP 400 task_not_exist for an unknown task', async () => {
    clocked.simulator.setTask('video_gone', { missing: true });
    for (const id of ['video_missing_1', 'video_gone', 'task_short', 'abcdefghij0123456789']) {
      const { status, body } = await poll(id);
      assert.equal(status, 400, id);
      assert.deepEqual(body, { code: 'task_not_exist', message: 'task_not_exist', data: null });
    }
  });

  it('owns video_ ids (but not video_ + 48 hex, the relayed API\'s form) and task_ + exactly 32 alphanumerics', async () => {
    for (const id of ['video_1', SEED_ID, CURRENT_ID, `video_${'ab'.repeat(25)}`]) assert.equal((await poll(id)).status, 200, id);
    for (const id of [`${CURRENT_ID}6`, 'task_abc001', `video_${'ab'.repeat(24)}`]) assert.equal((await poll(id)).status, 400, id);
  });

  it('a default wrapped task may say "unknown" for one running phase, never at the start or end', async () => {
    const plans = await Promise.all(Array.from({ length: 200 }, (_, index) => describeTask('gravitex', `video_odd_${index}`)));
    const index = plans.findIndex((candidate) => candidate?.timeline.some((phase) => phase.providerStatus === 'unknown'));
    assert.ok(index !== -1, 'some default wrapped task says unknown');
    const id = `video_odd_${index}`;
    const plan = plans[index];
    assert.equal(plan?.variant, 'wrapped');
    const words = await pollAt<Wrapper<WrappedData>>(id, (plan?.timeline ?? []).map((phase) => phase.atMs));
    const statuses = words.map((body) => body.data.status);
    assert.equal(statuses.filter((status) => status === 'unknown').length, 1);
    assert.equal(statuses[0], 'queued');
    assert.notEqual(statuses.at(-1), 'unknown');
  });

  it('a wrapped result URL is usually absolute, sometimes relative or the self-referencing content URL', async () => {
    const styles = new Set<string>();
    for (let index = 0; index < 60; index++) {
      const id = `video_url_${index}`;
      clocked.simulator.setTask(id, { variant: 'wrapped', timeline: [{ atMs: 0, status: 'succeeded' }] });
      const url = (await poll<Wrapper<WrappedData>>(id)).body.data.url ?? '';
      if (url === `${clocked.simulator.url}/files/${id}.webm`) styles.add('absolute');
      else if (url === `/files/${id}.webm`) styles.add('relative');
      else if (url === `${clocked.simulator.url}/v1/videos/${id}/content`) styles.add('content');
      else assert.fail(`unexpected url ${url}`);
    }
    assert.deepEqual([...styles].sort(), ['absolute', 'content', 'relative']);
  });

  it('serves the self-referencing content URL only with the key: the real WebM, ranges and HEAD included', async () => {
    const path = `${clocked.simulator.url}/v1/videos/${CURRENT_ID}/content`;
    const video = loadAsset('sample.webm');
    const anonymous = await request(path);
    assert.equal(anonymous.statusCode, 401);
    assert.match(((await anonymous.body.json()) as { error: { message: string } }).error.message, /^invalid token/);
    const authorization = `Bearer ${KEY}`;
    const whole = await request(path, { headers: { authorization } });
    assert.equal(whole.statusCode, 200);
    assert.equal(whole.headers['content-type'], 'video/webm');
    assert.equal(whole.headers.etag, video.etag);
    assert.equal(whole.headers['last-modified'], video.lastModified.toUTCString());
    assert.deepEqual(Buffer.from(await whole.body.arrayBuffer()), video.bytes);
    const part = await request(path, { headers: { authorization, range: 'bytes=100-199' } });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${video.size}`);
    assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), video.bytes?.subarray(100, 200));
    const head = await request(path, { method: 'HEAD', headers: { authorization } });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], String(video.size));
    await head.body.dump();
  });

  it('answers its 400 task_not_exist for the content of an unknown task', async () => {
    const response = await request(`${clocked.simulator.url}/v1/videos/video_missing_1/content`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(await response.body.json(), { code: 'task_not_exist', message: 'task_not_exist', data: null });
  });

  it('answers an unknown path with 404 "Invalid URL"', async () => {
    const response = await request(`${clocked.simulator.url}/v1/other`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(response.statusCode, 404);
    assert.match(((await response.body.json()) as { error: { message: string } }).error.message, /^Invalid URL \(GET \/v1\/other\)$/);
  });
});
