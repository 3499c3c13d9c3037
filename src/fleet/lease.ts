/**
 * Named leases on Redis: at most one holder at a time across the fleet, for a bounded
 * time. Acquiring is SET NX PX; renewing and releasing compare the holder's token inside
 * a Lua script (src/fleet/scripts/lease-*.lua), so a replica whose lease expired (and went to another) cannot extend or
 * delete the new holder's.
 */
import { randomUUID } from 'node:crypto';
import { luaScript } from './lua.js';
import { toPx, UNAVAILABLE, type FleetRedis, type RedisKey, type Unavailable } from './redis.js';

/**
 * `ttlMs` of a lease held by another: how long until it expires unless renewed (0: within
 * the millisecond; null: unknown, the key has no expiry).
 */
export type LeaseAttempt = { acquired: true; token: string } | { acquired: false; holder: string | null; ttlMs: number | null };

const ACQUIRE = luaScript<{ token: string; ttlMs: number }>('fleet', 'lease-acquire');
const RENEW = luaScript<{ token: string; ttlMs: number }>('fleet', 'lease-renew');
const RELEASE = luaScript<{ token: string }>('fleet', 'lease-release');

export class Lease {
  constructor(private readonly redis: FleetRedis) {}

  key(name: string): RedisKey {
    return this.redis.key('lease', name);
  }

  /** Takes the lease if it is free; otherwise says who holds it and for how long. */
  async attempt(name: string, ttlMs: number): Promise<LeaseAttempt | Unavailable> {
    const token = randomUUID();
    const reply = await this.redis.runScript(ACQUIRE, [this.key(name)], { token, ttlMs: toPx(ttlMs) });
    if (reply === UNAVAILABLE || !Array.isArray(reply)) return UNAVAILABLE;
    const [acquired, holder, ttl] = reply as unknown[];
    if (acquired === 1) return { acquired: true, token };
    return {
      acquired: false,
      holder: typeof holder === 'string' && holder !== '' ? holder : null,
      ttlMs: typeof ttl === 'number' && ttl >= 0 ? ttl : null,
    };
  }

  /** The token to renew and release with, null when another replica holds the lease. */
  async tryAcquire(name: string, ttlMs: number): Promise<string | null | Unavailable> {
    const attempt = await this.attempt(name, ttlMs);
    if (attempt === UNAVAILABLE) return UNAVAILABLE;
    return attempt.acquired ? attempt.token : null;
  }

  /** False when the lease is no longer ours (expired, or taken by another since). */
  async renew(name: string, token: string, ttlMs: number): Promise<boolean | Unavailable> {
    const reply = await this.redis.runScript(RENEW, [this.key(name)], { token, ttlMs: toPx(ttlMs) });
    return reply === UNAVAILABLE ? UNAVAILABLE : reply === 1;
  }

  /** Deletes the lease only if `token` still holds it. */
  async release(name: string, token: string): Promise<boolean | Unavailable> {
    const reply = await this.redis.runScript(RELEASE, [this.key(name)], { token });
    return reply === UNAVAILABLE ? UNAVAILABLE : reply === 1;
  }
}
