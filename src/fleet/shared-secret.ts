/**
 * A random secret the whole fleet shares, made by whichever replica asks first: SET NX
 * of 32 random bytes, so every later ask (any replica, any restart) reads the same one.
 * Like every key it expires, but each replica renews it when it reads it, and at least
 * hourly while it runs: it outlives any link signed with it while a replica is up.
 */
import { randomBytes } from 'node:crypto';
import { UNAVAILABLE, type FleetRedis } from './redis.js';

/** Far longer than the longest link (24 h): only a fleet stopped for this long makes a new secret. */
export const SHARED_SECRET_TTL_MS = 30 * 24 * 60 * 60 * 1000;
const SECRET_BYTES = 32;

// Creates the secret unless it exists, renews its life, answers the one that is kept.
const GET_OR_CREATE = `
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('GET', KEYS[1])`;

/** The fleet's secret called `name`; undefined while Redis is unavailable. */
export async function fleetSecret(redis: FleetRedis, name: string, timeoutMs: number): Promise<Buffer | undefined> {
  const candidate = randomBytes(SECRET_BYTES).toString('base64');
  const reply = await redis.run((client) => client.eval(GET_OR_CREATE, 1, redis.key('secret', name), candidate, SHARED_SECRET_TTL_MS), { timeoutMs });
  if (reply === UNAVAILABLE || typeof reply !== 'string') return undefined;
  const secret = Buffer.from(reply, 'base64');
  return secret.length === SECRET_BYTES ? secret : undefined;
}
