/**
 * Memory returns to its baseline once streams, waits and watches end: every structure a
 * held wait or stream uses is emptied as it ends (poll loops, listeners, per-client
 * places, the budget's queue), and once the burst is over the gateway makes V8 give the
 * memory back (src/memory.ts). Measured in this process, gateway and clients together,
 * after a collection: live heap and resident memory against the baseline before the burst.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { collectAndShrink, MemoryReclaim } from '../../src/memory.js';
import { eventually, listen } from '../helpers/http.js';
import { startStack, withPollInterval } from '../helpers/stack.js';
import { metricValue } from './support.js';

const STREAMS = 800;
const WAITS = 200;
const MB = 1024 * 1024;

test('memory returns to its baseline once 1,000 streams and waits end', { timeout: 180_000 }, async (t) => {
  const { app, vtrix } = await startStack(t, {
    // One test process stands for a thousand clients: no per-minute limit in the way.
    env: { TASKGATE_RATE_LIMIT: '0' },
    configure: (config) => ({ ...withPollInterval(config, 1000), limits: { watchesPerClient: 5000 } }),
    deps: { reclaim: { minimumPeak: 500, settleMs: 500, sampleMs: 100 } },
  });
  vtrix.setTask('*', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  const base = await listen(app);
  const agent = new Agent({ connections: STREAMS + WAITS + 10 });
  t.after(() => (agent.destroyed ? undefined : agent.destroy()));
  const reclaims = async () => metricValue(await app.metrics.text(), 'taskgate_memory_reclaims_total') ?? 0;
  // Warm-up: one of each, so what is compiled or loaded once is part of the baseline.
  const warm = await request(`${base}/tasks/vtrix:task_memwarm/events`, { dispatcher: agent });
  warm.body.on('data', () => {});
  await app.inject({ url: '/tasks/vtrix:task_memwarm2?wait=1' });
  warm.body.destroy();
  assert.ok(await eventually(() => app.taskService.watcher.waiters === 0));
  assert.ok(collectAndShrink(), 'the runtime exposes the collector');
  const before = process.memoryUsage();

  const streams = [];
  for (let index = 0; index < STREAMS; index += 100) {
    streams.push(
      ...(await Promise.all(
        Array.from({ length: 100 }, async (_, offset) => {
          const response = await request(`${base}/tasks/vtrix:task_mem${String(index + offset).padStart(5, '0')}/events`, { dispatcher: agent });
          response.body.on('data', () => {});
          return response;
        }),
      )),
    );
  }
  const leaving = new AbortController();
  const waits = Array.from({ length: WAITS }, (_, index) =>
    request(`${base}/tasks/vtrix:task_memwait${String(index).padStart(4, '0')}?wait=60`, { dispatcher: agent, signal: leaving.signal }).catch(() => undefined),
  );
  assert.ok(await eventually(() => app.taskService.watcher.waiters === STREAMS + WAITS, 30_000), `held ${app.taskService.watcher.waiters}`);
  const heldHeap = process.memoryUsage().heapUsed;

  for (const stream of streams) stream.body.destroy();
  leaving.abort();
  await Promise.all(waits);
  // The test's own side goes too: its responses and its connection pool.
  streams.length = 0;
  await agent.destroy();
  // Every structure is emptied as its wait or stream ends.
  const service = app.taskService;
  assert.ok(await eventually(() => service.watcher.waiters === 0 && service.watcher.pollLoops === 0, 10_000), `waiters ${service.watcher.waiters}, loops ${service.watcher.pollLoops}`);
  assert.equal(service.watches.total, 0);
  assert.equal(service.watches.clients, 0, 'no per-client entry is kept for a client holding nothing');
  assert.equal(service.lookup.client('vtrix').budget.waiting, 0);
  assert.equal(service.lookup.sizes.inFlight, 0);
  // The simulator (in this process too) forgets the 1,000 tasks it was asked about.
  vtrix.reset();
  // Then the memory goes back: the gateway reclaims it once the burst is over.
  let reclaimed = 0;
  for (let attempt = 0; attempt < 100 && reclaimed === 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    reclaimed = await reclaims();
  }
  assert.equal(reclaimed, 1, 'one reclaim after the burst');
  const after = process.memoryUsage();
  const grew = (now: number, then: number) => `${((now - then) / MB).toFixed(1)} MB`;
  const report = `heap ${grew(after.heapUsed, before.heapUsed)} (held: ${grew(heldHeap, before.heapUsed)}), rss ${grew(after.rss, before.rss)}`;
  // The control: holding them took memory. What stays is the runtime's own (code compiled
  // meanwhile, Node's free list of HTTP parsers) and this test's client side: a few MB.
  assert.ok(heldHeap - before.heapUsed > 30 * MB, report);
  assert.ok(after.heapUsed - before.heapUsed < 12 * MB, report);
  assert.ok(after.rss - before.rss < 64 * MB, report);
});

test('the reclaim comes once after a burst has fallen to a tenth of its peak and stayed there, never after a small one', () => {
  let held = 0;
  let collections = 0;
  const reclaim = new MemoryReclaim({ held: () => held, minimumPeak: 1000, settleMs: 5000, sampleMs: 60_000, collect: () => (collections++, true) });
  try {
    const at = (seconds: number) => reclaim.sample(seconds * 1000);
    held = 900;
    at(0);
    held = 0;
    at(1);
    at(10);
    assert.equal(collections, 0, 'a burst below the minimum is not worth it');
    held = 4000;
    at(20);
    held = 300;
    at(21);
    at(25);
    assert.equal(collections, 0, 'not before it stayed low for settleMs');
    held = 500;
    at(26);
    held = 100;
    at(27);
    at(31);
    assert.equal(collections, 0, 'a rise above a tenth starts the wait again');
    at(32);
    assert.equal(collections, 1);
    at(60);
    at(120);
    assert.equal(collections, 1, 'once per burst');
  } finally {
    reclaim.stop();
  }
});
