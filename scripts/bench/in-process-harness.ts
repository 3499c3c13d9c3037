/**
 * What scripts/bench/in-process.ts runs against one checkout (bundled with that
 * checkout's src/): the gateway and its client in one process on loopback, the provider
 * answered in-process by a dispatcher that replies on the next turn of the event loop.
 * No simulator or load generator shares the two cores: its rounds agree within a few
 * percent where compare.ts's legs move by 10% or more, though its medians still drift by
 * a few percent from one run to the next (an A/A run is the check). Only the gateway's own
 * JavaScript differs between two builds measured this way.
 *
 * Environment: HARNESS_PATH `passthrough` (a new id of a running task per request) or
 * `cached` (one succeeded task, from the terminal cache). Run alone (HARNESS_ALONE=1) it
 * prints one JSON line of its rounds; the paired mode imports `setUpHarness` instead.
 */
import { Pool, type Dispatcher } from 'undici';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

const PATH = process.env['HARNESS_PATH'] === 'cached' ? 'cached' : 'passthrough';
const ROUNDS = 7;
const PER_ROUND = 16_000;
const CONNECTIONS = 8;

const task =
  PATH === 'cached'
    ? { id: 'x', status: 'succeeded', output: [{ content: [{ type: 'video', url: 'https://cdn.example.com/v.mp4' }] }], created_at: 1765100000, model: 'v1' }
    : { id: 'x', status: 'processing', progress: 40, created_at: 1765100000, model: 'v1' };
const body = Buffer.from(JSON.stringify(task));

/** Answers every request with the task, on the next turn of the event loop (as a socket's data would). */
const provider = {
  dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    setImmediate(() => {
      const controller = { abort() {}, pause() {}, resume() {}, paused: false, aborted: false, reason: null } as unknown as Dispatcher.DispatchController;
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, { 'content-type': 'application/json' }, 'OK');
      handler.onResponseData?.(controller, body);
      handler.onResponseEnd?.(controller, {});
    });
    return true;
  },
  close: () => Promise.resolve(),
  destroy: () => Promise.resolve(),
  on() {
    return this;
  },
  once() {
    return this;
  },
  off() {
    return this;
  },
} as unknown as Dispatcher;

/** A gateway and its client, ready to be driven in rounds (the paired mode runs two in one process). */
export async function setUpHarness(): Promise<{ round(requests: number): Promise<number>; close(): Promise<void> }> {
  const config = loadConfig({ VTRIX_API_KEY: 'bench-key', VTRIX_BASE_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'warn', TASKGATE_RATE_LIMIT: '0' });
  const app = await buildApp(config, { dispatcher: provider, logger: false });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = new Pool(address, { connections: CONNECTIONS });
  let next = 0;

  async function worker(count: number): Promise<void> {
    for (let index = 0; index < count; index++) {
      const path = PATH === 'cached' ? '/tasks/vtrix:bench-done' : `/tasks/vtrix:bench-${(next++).toString(36)}`;
      const { statusCode, body: answer } = await client.request({ path, method: 'GET' });
      await answer.dump();
      if (statusCode !== 200) throw new Error(`GET ${path}: ${statusCode}`);
    }
  }

  return {
    /** CPU µs per request of one round. */
    async round(requests) {
      const before = process.cpuUsage();
      await Promise.all(Array.from({ length: CONNECTIONS }, () => worker(requests / CONNECTIONS)));
      const used = process.cpuUsage(before);
      return (used.user + used.system) / requests;
    },
    async close() {
      await client.close();
      await app.close();
    },
  };
}

if (process.env['HARNESS_ALONE'] === '1') {
  const harness = await setUpHarness();
  // One round more than recorded: it warms the JIT up.
  await harness.round(PER_ROUND);
  const cpuUs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) cpuUs.push(await harness.round(PER_ROUND));
  await harness.close();
  console.log(JSON.stringify({ path: PATH, cpuUs }));
}
