/**
 * The TaskStore of a single gateway (REDIS_URL unset): bounded LRUs with a TTL per entry,
 * single flight left to the lookup's own in-process map, and poll loops that are always
 * this process's to run.
 */
import type { LRUCache } from 'lru-cache';
import { expiringCache } from '../expiring-cache.js';
import type { Config } from '../settings/schema.js';
import { LocalBudgetCounter, type BudgetCounter } from '../upstream/budget.js';
import type { SharedError } from './single-flight.js';
import type { AnswerCache, Observation, PollJoinOptions, PollMembership, SharedHit, StoreStats, TaskStore } from './store.js';

export class LocalCache<V extends NonNullable<unknown>> implements AnswerCache<V> {
  private readonly entries: LRUCache<string, V>;

  constructor(maxEntries: number) {
    // ttlAutopurge off: an expired entry is dropped when it is next read or evicted, with no timer per entry.
    this.entries = expiringCache({ max: maxEntries, ttl: 1, ttlAutopurge: false });
  }

  get localSize(): number {
    return this.entries.size;
  }

  peekLocal(key: string): V | undefined {
    return this.entries.get(key);
  }

  get(key: string): Promise<V | undefined> {
    return Promise.resolve(this.entries.get(key));
  }

  set(key: string, value: V, ttlMs: number): Promise<void> {
    this.hold(key, value, ttlMs);
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.entries.delete(key);
    return Promise.resolve();
  }

  purgeStale(): void {
    this.entries.purgeStale();
  }

  hold(key: string, value: V, ttlMs: number): void {
    if (ttlMs > 0) this.entries.set(key, value, { ttl: ttlMs });
    else this.entries.delete(key);
  }
}

class LocalMembership implements PollMembership {
  readonly polls = true;
  private left = false;

  constructor(private readonly onMessage: PollJoinOptions['onMessage']) {}

  publish(message: Parameters<PollJoinOptions['onMessage']>[0]): void {
    if (!this.left) this.onMessage(message);
  }

  leave(): void {
    this.left = true;
  }
}

export class InProcessTaskStore implements TaskStore {
  readonly shared = false;
  readonly terminal: LocalCache<Observation>;
  readonly fresh: LocalCache<Observation>;
  readonly notFound: LocalCache<SharedError>;
  readonly routes: LocalCache<string>;

  constructor(config: Config) {
    this.terminal = new LocalCache(config.cache.terminalMaxEntries);
    this.fresh = new LocalCache(config.cache.terminalMaxEntries);
    // Unknown ids are cheap to invent: their own LRU, so they never evict terminal tasks.
    this.notFound = new LocalCache(config.cache.terminalMaxEntries);
    this.routes = new LocalCache(config.cache.routeMemoMaxEntries);
  }

  findShared(): Promise<SharedHit | undefined> {
    return Promise.resolve(undefined);
  }

  singleFlight(_key: string, _budgetMs: number, run: () => Promise<Observation>): Promise<Observation> {
    return run();
  }

  join(_key: string, options: PollJoinOptions): PollMembership {
    return new LocalMembership(options.onMessage);
  }

  budgetCounter(): BudgetCounter {
    return new LocalBudgetCounter();
  }

  sharedSecret(): Promise<Buffer | undefined> {
    return Promise.resolve(undefined);
  }

  rateLimitOptions() {
    return {};
  }

  stats(): StoreStats {
    return { redisUp: undefined, pollLeases: 0, flightLeases: 0, subscriptions: 0 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
