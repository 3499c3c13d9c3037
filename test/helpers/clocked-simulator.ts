/**
 * A simulator on a test-controlled clock, started and reset around each test of the
 * `describe` that calls `useClockedSimulator`, with helpers to poll a task's status path.
 */
import { after, before, beforeEach } from 'node:test';
import { request } from 'undici';
import type { ProviderName } from '../../src/providers/index.js';
import { loadProfile, startSimulator, type Simulator } from '../../src/simulators/index.js';

export interface ClockedSimulator {
  readonly simulator: Simulator;
  /** The simulator's "now", in epoch milliseconds; tests move it. */
  now: number;
  /** One status request; `key: null` sends no Authorization header at all. */
  poll: <Body>(id: string, key?: string | null) => Promise<{ status: number; body: Body }>;
  /** Polls once at each offset (ms after `start`) and returns the bodies. */
  pollAt: <Body>(id: string, offsets: number[]) => Promise<Body[]>;
}

export function useClockedSimulator(provider: ProviderName, apiKey: string, start: number): ClockedSimulator {
  let running: Simulator | undefined;
  let statusPath = '';
  const clocked: ClockedSimulator = {
    get simulator() {
      if (running === undefined) throw new Error('the simulator starts in before()');
      return running;
    },
    now: start,
    async poll<Body>(id: string, key: string | null = apiKey) {
      const headers = key === null ? {} : { authorization: `Bearer ${key}` };
      const response = await request(`${clocked.simulator.url}${statusPath}${encodeURIComponent(id)}`, { headers });
      return { status: response.statusCode, body: (await response.body.json()) as Body };
    },
    async pollAt<Body>(id: string, offsets: number[]) {
      const bodies: Body[] = [];
      for (const offset of offsets) {
        clocked.now = start + offset;
        bodies.push((await clocked.poll<Body>(id)).body);
      }
      return bodies;
    },
  };
  before(async () => {
    statusPath = (await loadProfile(provider)).taskPathPrefix;
    running = await startSimulator({ provider, credentials: { apiKey }, now: () => clocked.now });
  });
  after(() => running?.close());
  beforeEach(() => {
    clocked.simulator.reset();
    clocked.now = start;
  });
  return clocked;
}
