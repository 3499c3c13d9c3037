import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import {
  defaultOutcome,
  defaultTimeline,
  describeTask,
  loadProfile,
  startSimulator,
  type Simulator,
} from '../../src/simulators/index.js';

const KEY = 'test-key';
const START = Date.parse('2026-04-10T14:32:05Z');
const xidLike = (index: number): string => `c${index.toString(32).padStart(19, '0')}`;

interface WrappedBody {
  data: { status: string; progress: number };
}

describe('default timelines', () => {
  it('are deterministic per id', () => {
    assert.deepEqual(defaultTimeline('task_same'), defaultTimeline('task_same'));
    assert.notDeepEqual(defaultTimeline('task_one'), defaultTimeline('task_two'));
  });

  it('queue for 1-3 s, run 8-20 s through at least 3 rising progress values, then end', () => {
    for (let index = 0; index < 300; index++) {
      const timeline = defaultTimeline(xidLike(index));
      const [queued, firstRunning] = timeline;
      const last = timeline.at(-1);
      assert.equal(queued?.status, 'queued');
      assert.equal(queued?.atMs, 0);
      assert.ok(firstRunning !== undefined && firstRunning.atMs >= 1000 && firstRunning.atMs <= 3000);
      const runningMs = (last?.atMs ?? 0) - firstRunning.atMs;
      assert.ok(runningMs >= 8000 && runningMs <= 20_000, `ran ${runningMs} ms`);
      const progress = timeline.filter((phase) => phase.status === 'in_progress').map((phase) => phase.progress ?? -1);
      assert.ok(progress.length >= 3);
      assert.ok(progress.every((value, at) => value > 0 && value < 100 && (at === 0 || value > (progress[at - 1] ?? 0))));
      assert.ok(['succeeded', 'failed'].includes(last?.status ?? ''));
    }
  });

  it('fail on "fail" in the id, cancel on "cancel", else succeed ~85% of the time', () => {
    assert.equal(defaultOutcome('task_will_fail'), 'failed');
    assert.equal(defaultOutcome('task_cancel_me'), 'canceled');
    assert.equal(defaultTimeline('video_cancel').at(-1)?.status, 'canceled');
    const outcomes = Array.from({ length: 2000 }, (_, index) => defaultOutcome(xidLike(index)));
    const successRate = outcomes.filter((outcome) => outcome === 'succeeded').length / outcomes.length;
    assert.ok(successRate > 0.8 && successRate < 0.9, `success rate ${successRate}`);
  });

  it('spread the variants of each provider over ids', async () => {
    const variantsOf = async (provider: string, ids: string[]) =>
      new Set((await Promise.all(ids.map((id) => describeTask(provider, id)))).map((plan) => plan?.variant));
    const ids = (make: (index: number) => string) => Array.from({ length: 60 }, (_, index) => make(index));
    const vtrix = await variantsOf('vtrix', ids(xidLike));
    const gravitex = await variantsOf('gravitex', ids((index) => `video_${index}`));
    assert.deepEqual([...vtrix].sort(), [...(await loadProfile('vtrix')).variants].sort());
    assert.deepEqual([...gravitex].sort(), [...(await loadProfile('gravitex')).variants].sort());
    assert.deepEqual([...vtrix].sort(), ['cli', 'legacy', 'model']);
    assert.deepEqual([...gravitex].sort(), ['documented', 'legacy', 'wrapped', 'wrapped_alt']);
  });
});

describe('task clocks', () => {
  let clock = START;
  let simulator: Simulator;

  async function poll(id: string): Promise<WrappedBody['data']> {
    const response = await request(`${simulator.url}/v1/video/generations/${id}`, { headers: { authorization: `Bearer ${KEY}` } });
    return ((await response.body.json()) as WrappedBody).data;
  }

  before(async () => {
    simulator = await startSimulator({ provider: 'gravitex', credentials: { apiKey: KEY }, now: () => clock });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    clock = START;
  });

  it('advance queued → in_progress with rising progress → succeeded as the clock moves', async () => {
    simulator.setTask('video_clock', { variant: 'wrapped_alt' });
    const timeline = defaultTimeline('video_clock');
    const seen: Array<[string, number]> = [];
    for (const phase of timeline) {
      clock = START + phase.atMs;
      const data = await poll('video_clock');
      seen.push([data.status, data.progress]);
    }
    const outcome = timeline.at(-1)?.status === 'succeeded' ? 'succeeded' : 'failed';
    assert.equal(seen[0]?.[0], 'queued');
    assert.equal(seen.at(-1)?.[0], outcome);
    const running = seen.filter(([status]) => status === 'processing').map(([, progress]) => progress);
    assert.ok(running.length >= 3);
    assert.ok(running.every((value, at) => at === 0 || value > (running[at - 1] ?? 0)));
  });

  it('start at the first poll, not at startup or at pinning', async () => {
    simulator.setTask('video_late', { variant: 'wrapped', timeline: [{ atMs: 0, status: 'queued' }, { atMs: 5000, status: 'succeeded' }] });
    clock = START + 60_000;
    assert.equal((await poll('video_late')).status, 'queued');
    clock = START + 64_999;
    assert.equal((await poll('video_late')).status, 'queued');
    clock = START + 65_000;
    assert.equal((await poll('video_late')).status, 'completed');
  });

  it('start at pinning with startClock, so a tool knows when the story ends without polling it', async () => {
    simulator.setTask('video_now', { variant: 'wrapped', startClock: true, timeline: [{ atMs: 0, status: 'queued' }, { atMs: 5000, status: 'succeeded' }] });
    clock = START + 4999;
    assert.equal((await poll('video_now')).status, 'queued');
    clock = START + 5000;
    assert.equal((await poll('video_now')).status, 'completed');
  });

  it('restart when the task is pinned again, and reset() forgets every clock', async () => {
    const script = { variant: 'wrapped' as const, timeline: [{ atMs: 0, status: 'queued' as const }, { atMs: 1000, status: 'succeeded' as const }] };
    simulator.setTask('video_again', script);
    await poll('video_again');
    clock += 1000;
    assert.equal((await poll('video_again')).status, 'completed');
    simulator.setTask('video_again', script);
    assert.equal((await poll('video_again')).status, 'queued');
    simulator.reset();
    clock += 5000;
    assert.equal((await poll('video_again')).status, 'queued', 'default timeline starts queued again');
  });

  it('run timeScale times faster with a scaled simulator', async () => {
    const fast = await startSimulator({ provider: 'gravitex', credentials: { apiKey: KEY }, now: () => clock, timeScale: 0.01 });
    try {
      fast.setTask('video_fast', { variant: 'wrapped', timeline: [{ atMs: 0, status: 'queued' }, { atMs: 20_000, status: 'succeeded' }] });
      const url = `${fast.url}/v1/video/generations/video_fast`;
      const statusAt = async (offset: number): Promise<string> => {
        clock = START + offset;
        const response = await request(url, { headers: { authorization: `Bearer ${KEY}` } });
        return ((await response.body.json()) as WrappedBody).data.status;
      };
      assert.equal(await statusAt(0), 'queued');
      assert.equal(await statusAt(199), 'queued');
      assert.equal(await statusAt(200), 'completed');
    } finally {
      await fast.close();
    }
  });
});
