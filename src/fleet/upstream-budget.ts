/**
 * A provider's upstream budget counted for the whole fleet (src/upstream/budget.ts): one
 * Redis counter per provider and second, so N replicas together stay within
 * `providers.<name>.maxRequestsPerSecond`. While Redis is unavailable each replica counts
 * on its own, as a single gateway would.
 */
import { background } from '../background.js';
import { LocalBudgetCounter, type BudgetCounter } from '../upstream/budget.js';
import { UNAVAILABLE, type FleetRedis } from './redis.js';

/** A second's counter outlives its second a little, for the replicas whose clocks run late. */
const COUNTER_TTL_MS = 3000;

// Counts one request unless the second already holds `ceiling`: 1 when counted, else 0.
const TAKE = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

const ADD = `
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

export class FleetBudgetCounter implements BudgetCounter {
  /** This replica's own count: what decides while Redis is unavailable. */
  private readonly local: LocalBudgetCounter;

  constructor(
    private readonly redis: FleetRedis,
    private readonly provider: string,
    private readonly now: () => number = Date.now,
  ) {
    this.local = new LocalBudgetCounter(now);
  }

  add(count: number): void {
    this.local.add(count);
    // Not awaited: a client's lookup never waits on the count.
    if (this.redis.up) background(this.redis.run((client) => client.eval(ADD, 1, this.key(), count, COUNTER_TTL_MS)), this.redis.log, 'fleet: counting upstream calls failed', { provider: this.provider });
  }

  async take(ceiling: number): Promise<boolean> {
    if (!this.redis.up) return this.local.take(ceiling);
    const reply = await this.redis.run((client) => client.eval(TAKE, 1, this.key(), ceiling, COUNTER_TTL_MS));
    if (reply === UNAVAILABLE) return this.local.take(ceiling);
    if (reply === 1) this.local.add(1);
    return reply === 1;
  }

  private key() {
    return this.redis.key('budget', this.provider, String(Math.floor(this.now() / 1000)));
  }
}
