/**
 * A cache shared by the fleet: a bounded in-process LRU in front of Redis. A value in the
 * local layer is answered synchronously (`peekLocal`) with no Redis round trip; a local
 * miss asks Redis, and a Redis hit is kept locally for the key's remaining TTL. Local
 * entries are not invalidated when another replica overwrites a key, so this suits values
 * that never change once written (terminal tasks, routing memos) or that live briefly.
 */
import type { LRUCache } from 'lru-cache';
import { expiringCache } from '../expiring-cache.js';
import type { z } from 'zod';
import { luaScript } from './lua.js';
import { toPx, UNAVAILABLE, type FleetRedis, type RedisKey } from './redis.js';

export interface SharedCacheOptions<V> {
  redis: FleetRedis;
  /** Keeps caches apart under the prefix: keys are `<prefix>cache:<namespace>:<key>`. */
  namespace: string;
  maxEntries: number;
  /** Validates what comes back from Redis (another replica, maybe another version, wrote it). */
  schema: z.ZodType<V>;
}

// The value and its remaining lifetime in one round trip, so the local copy expires with it.
const GET_WITH_TTL = luaScript('fleet', 'cache-get');
// The first of several keys that holds a value, which one, and its remaining lifetime.
const FIRST_WITH_TTL = luaScript('fleet', 'cache-find-first');

/** What findFirst needs of each cache, whatever its value type. */
export interface RemoteLayer {
  readonly redis: FleetRedis;
  redisKey(key: string): RedisKey;
  accept(key: string, text: string, ttlMs: number): boolean;
}

/**
 * Looks `key` up in several caches of one FleetRedis at once (one round trip; their local
 * layers are not consulted): the index of the first cache that has it, which now holds it
 * locally too, or -1 on a miss, a bad entry, or Redis unavailable.
 */
export async function findFirst(caches: readonly RemoteLayer[], key: string): Promise<number> {
  const first = caches[0];
  if (first === undefined) return -1;
  const keys = caches.map((cache) => cache.redisKey(key));
  const reply = await first.redis.runScript(FIRST_WITH_TTL, keys, undefined);
  if (reply === UNAVAILABLE || !Array.isArray(reply)) return -1;
  const [position, text, ttl] = reply as unknown[];
  const index = typeof position === 'number' ? position - 1 : -1;
  const cache = caches[index];
  if (cache === undefined || typeof text !== 'string' || typeof ttl !== 'number') return -1;
  return cache.accept(key, text, ttl) ? index : -1;
}

export class SharedCache<V extends NonNullable<unknown>> implements RemoteLayer {
  readonly redis: FleetRedis;
  private readonly namespace: string;
  private readonly schema: z.ZodType<V>;
  private readonly local: LRUCache<string, V>;

  constructor(options: SharedCacheOptions<V>) {
    this.redis = options.redis;
    this.namespace = options.namespace;
    this.schema = options.schema;
    this.local = expiringCache({ max: options.maxEntries });
  }

  get localSize(): number {
    return this.local.size;
  }

  redisKey(key: string): RedisKey {
    return this.redis.key('cache', this.namespace, key);
  }

  /** The value when this process already has it; never touches Redis. */
  peekLocal(key: string): V | undefined {
    return this.local.get(key);
  }

  /** Local layer first, then Redis; undefined on a miss, a bad entry, or Redis unavailable. */
  async get(key: string): Promise<V | undefined> {
    const local = this.local.get(key);
    if (local !== undefined) return local;
    const reply = await this.redis.runScript(GET_WITH_TTL, [this.redisKey(key)], undefined);
    if (reply === UNAVAILABLE || !Array.isArray(reply)) return undefined;
    const [text, ttl] = reply as unknown[];
    if (typeof text !== 'string') return undefined;
    const value = this.decode(text);
    if (value === undefined) return undefined;
    if (typeof ttl === 'number' && ttl > 0) this.local.set(key, value, { ttl });
    return value;
  }

  /** Keeps `value` in this process only, e.g. one another replica stored and told us about. */
  hold(key: string, value: V, ttlMs: number): void {
    if (ttlMs > 0) this.local.set(key, value, { ttl: toPx(ttlMs) });
  }

  /** Holds a value read from Redis with `ttlMs` left; false when it does not decode or has no time left. */
  accept(key: string, text: string, ttlMs: number): boolean {
    const value = this.decode(text);
    if (value === undefined || ttlMs <= 0) return false;
    this.local.set(key, value, { ttl: ttlMs });
    return true;
  }

  /** Stores locally at once and in Redis (best effort); both copies expire after `ttlMs`. */
  async set(key: string, value: V, ttlMs: number): Promise<void> {
    const ttl = toPx(ttlMs);
    this.local.set(key, value, { ttl });
    const text = JSON.stringify(value);
    await this.redis.run((client) => client.set(this.redisKey(key), text, 'PX', ttl));
  }

  purgeStale(): void {
    this.local.purgeStale();
  }

  async delete(key: string): Promise<void> {
    this.local.delete(key);
    await this.redis.run((client) => client.del(this.redisKey(key)));
  }

  private decode(text: string): V | undefined {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = this.schema.safeParse(data);
    return parsed.success ? parsed.data : undefined;
  }
}
