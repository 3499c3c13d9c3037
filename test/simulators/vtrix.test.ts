import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { useClockedSimulator } from '../helpers/clocked-simulator.js';
import type { Phase } from '../../src/simulators/index.js';
import { loadAsset } from '../../src/simulators/media/assets.js';

const KEY = 'test-vtrix-key';
const START = Date.parse('2026-04-10T14:32:05Z');

interface Content {
  type: string;
  url: string;
  duration?: string;
  jobId?: string;
}
interface ModelBody {
  id: string;
  model: string;
  status: string;
  progress?: number;
  created_at: number;
  output?: Array<{ content: Content[] }>;
  error?: unknown;
}
interface CliBody {
  task_id: string;
  status: string;
  model: string;
  created_at: string;
  completed_at?: string;
  output?: Array<{ content: Content[] }>;
  error?: unknown;
}
interface LegacyBody {
  data: { id: string; status: string; progress: number; created_at: number; output?: Array<{ content: Content[] }>; error?: unknown };
  status: { code: number; message: string };
}


const RUN_THEN: (outcome: Phase['status']) => Phase[] = (outcome) => [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress', progress: 42 },
  { atMs: 2000, status: outcome },
];

describe('vtrix simulator', () => {
  const clocked = useClockedSimulator('vtrix', KEY, START);
  const { poll, pollAt } = clocked;

  it('rejects a missing or wrong key with 401 {"message"}', async () => {
    for (const key of [null, 'wrong-key']) {
      const { status, body } = await poll<{ message: string }>('task_abc001', key);
      assert.equal(status, 401);
      assert.deepEqual(body, { message: 'Unauthorized' });
    }
  });

  it('renders the model variant: in_progress with a fraction, completed with output, no progress when done', async () => {
    clocked.simulator.setTask('task_model1', { variant: 'model', model: 'spark_dance_v2_0', timeline: RUN_THEN('succeeded') });
    const [queued, running, done] = await pollAt<ModelBody>('task_model1', [0, 1000, 2000]);
    assert.deepEqual(queued, { id: 'task_model1', model: 'spark_dance_v2_0', status: 'in_progress', progress: 0, created_at: START / 1000 });
    assert.equal(running?.progress, 0.42);
    assert.equal(done?.status, 'completed');
    assert.equal(done?.progress, undefined);
    const video = done?.output?.[0]?.content.find((item) => item.type === 'video');
    assert.equal(video?.url, `${clocked.simulator.url}/files/task_model1.webm`);
    assert.match(video?.duration ?? '', /^\d+$/);
    assert.ok(video?.jobId);
  });

  it('renders a model-variant failure as a string or an {code, message|error_message} object', async () => {
    const shapes = new Set<string>();
    for (let index = 0; index < 40; index++) {
      const id = `task_failure_${index}`;
      clocked.simulator.setTask(id, { variant: 'model', timeline: [{ atMs: 0, status: 'failed' }] });
      const { body } = await poll<ModelBody>(id);
      assert.equal(body.status, 'failed');
      const error = body.error as string | { code: number | string; message?: string; error_message?: string };
      if (typeof error === 'string') shapes.add('string');
      else shapes.add(`${typeof error.code}:${error.message === undefined ? 'error_message' : 'message'}`);
    }
    assert.deepEqual([...shapes].sort(), ['number:message', 'string', 'string:error_message']);
  });

  it('renders the cli variant with task_id, pending/processing/completed, ISO times and video_url content', async () => {
    clocked.simulator.setTask('task_cli1', { variant: 'cli', model: 'm1', timeline: RUN_THEN('succeeded') });
    const [queued, running, done] = await pollAt<CliBody>('task_cli1', [0, 1000, 2000]);
    assert.deepEqual(queued, { task_id: 'task_cli1', status: 'pending', model: 'm1', created_at: '2026-04-10T14:32:05Z' });
    assert.equal(running?.status, 'processing');
    assert.equal(done?.status, 'completed');
    assert.equal(done?.completed_at, '2026-04-10T14:32:07Z');
    assert.deepEqual(done?.output, [{ content: [{ type: 'video_url', url: `${clocked.simulator.url}/files/task_cli1.webm` }] }]);
  });

  it('renders the legacy wrapped variant with integer progress, ms times and the status envelope', async () => {
    clocked.simulator.setTask('task_legacy1', { variant: 'legacy', timeline: RUN_THEN('failed') });
    const [queued, running, failed] = await pollAt<LegacyBody>('task_legacy1', [0, 1000, 2000]);
    assert.deepEqual(queued?.status, { code: 200, message: 'success' });
    assert.deepEqual(queued?.data, { id: 'task_legacy1', status: 'in_queue', progress: 0, created_at: START });
    assert.equal(running?.data.status, 'processing');
    assert.equal(running?.data.progress, 42);
    assert.equal(failed?.data.status, 'failed');
    assert.ok(failed?.data.error);
    clocked.simulator.setTask('task_legacy2', { variant: 'legacy', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const done = (await poll<LegacyBody>('task_legacy2')).body;
    assert.equal(done.data.status, 'success');
    assert.equal(done.data.progress, 100);
    assert.equal(done.data.output?.[0]?.content[0]?.type, 'video');
  });

  it('keeps a provider status override and words cancellation', async () => {
    clocked.simulator.setTask('task_odd', { variant: 'cli', timeline: [{ atMs: 0, status: 'in_progress', providerStatus: 'running' }] });
    assert.equal((await poll<CliBody>('task_odd')).body.status, 'running');
    clocked.simulator.setTask('task_stop', { variant: 'legacy', timeline: [{ atMs: 0, status: 'canceled' }] });
    assert.equal((await poll<LegacyBody>('task_stop')).body.data.status, 'cancelled');
  });

  it('seed task_abc001 is the CLI doc: processing, then completed ~20 s after its first poll with the doc URL', async () => {
    const bodies = await pollAt<CliBody>('task_abc001', [0, 5000, 19_000, 20_000]);
    assert.deepEqual(bodies.map((body) => body.status), ['pending', 'processing', 'processing', 'completed']);
    const done = bodies[3];
    assert.equal(done?.model, 'spark_dance_v2_0');
    assert.equal(done?.output?.[0]?.content[0]?.url, 'https://cdn.vtrix.ai/outputs/task_abc001/output.mp4');
    assert.equal(done?.output?.[0]?.content[0]?.type, 'video_url');
  });

  it('seed d758n65e878c73cmdg20 runs through 0.42 on the model API and completes', async () => {
    const bodies = await pollAt<ModelBody>('d758n65e878c73cmdg20', [0, 5000, 9000, 14_000]);
    assert.deepEqual(bodies.map((body) => body.status), ['in_progress', 'in_progress', 'in_progress', 'completed']);
    assert.equal(bodies[1]?.progress, 0.42);
    assert.equal(bodies[0]?.model, 'spark_dance_v2_0');
  });

  it('seed d5u5obte8783ap44qtj0 is legacy wrapped: in_queue at 10, then processing, then success', async () => {
    const bodies = await pollAt<LegacyBody>('d5u5obte8783ap44qtj0', [0, 3000, 15_000]);
    assert.deepEqual(bodies.map((body) => [body.data.status, body.data.progress]), [['in_queue', 10], ['processing', 35], ['success', 100]]);
  });

  it('answers 404 {"message":"task not found"} for ids containing "missing" or registered missing', async () => {
    clocked.simulator.setTask('d758n65e878c73cmdg21', { missing: true });
    for (const id of ['task_missing_1', 'd758n65e878c73cmdg21']) {
      const { status, body } = await poll<{ message: string }>(id);
      assert.equal(status, 404);
      assert.deepEqual(body, { message: 'task not found' });
    }
  });

  it('owns 20-char [0-9a-v] ids and task_ ids other than task_ + 32 alphanumerics', async () => {
    const owned = ['abcdefghij0123456789', 'task_x', 'task_abc_123', 'task_0123456789abcdef0123456789abcde'];
    const notOwned = ['abcdefghij012345678w', 'video_69095b4ce0048190893a01510c0c98b0', 'task_0123456789abcdef0123456789abcdef', 'other'];
    for (const id of owned) assert.equal((await poll(id)).status, 200, id);
    for (const id of notOwned) assert.equal((await poll(id)).status, 404, id);
  });

  it('percent-decodes the id before the lookup', async () => {
    clocked.simulator.setTask('task a/b', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 50 }] });
    const { status, body } = await poll<ModelBody>('task a/b');
    assert.equal(status, 200);
    assert.equal(body.id, 'task a/b');
  });

  it('answers 404 for an unknown path and serves result files without a key', async () => {
    const unknown = await request(`${clocked.simulator.url}/model/v2/whatever`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(unknown.statusCode, 404);
    await unknown.body.dump();
    const file = await request(`${clocked.simulator.url}/files/task_model1.webm`);
    assert.equal(file.statusCode, 200);
    assert.equal(file.headers['content-type'], 'video/webm');
    assert.deepEqual(Buffer.from(await file.body.arrayBuffer()), loadAsset('sample.webm').bytes);
  });

  it('rejects a gravitex variant when pinning a task', () => {
    assert.throws(() => clocked.simulator.setTask('task_x', { variant: 'wrapped' }), /vtrix has no "wrapped" variant/);
  });
});
