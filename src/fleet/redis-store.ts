/**
 * The TaskStore of fleet mode (REDIS_URL set): every cache is a SharedCache (a local LRU
 * in front of Redis), upstream calls go through FleetSingleFlight, poll loops through
 * LeaderLoop, and the rate limit through @fastify/rate-limit's Redis store. Whenever
 * Redis is down or slow each of these answers from this process alone (FleetRedis says
 * UNAVAILABLE at once), so a request never waits on Redis for more than its command
 * timeout and never fails because of it.
 */
import type { BackgroundLog } from '../background.js';
import { z } from 'zod';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import LocalStore from '@fastify/rate-limit/store/LocalStore.js';
import RedisStore from '@fastify/rate-limit/store/RedisStore.js';
import type { Config } from '../settings/schema.js';
import { LeaderLoop } from './leader-loop.js';
import { LuaScript } from './lua.js';
import { FleetRedis, UNAVAILABLE } from './redis.js';
import { findFirst, SharedCache, type RemoteLayer } from './shared-cache.js';
import { fleetSecret } from './shared-secret.js';
import { FleetBudgetCounter } from './upstream-budget.js';
import type { BudgetCounter } from '../upstream/budget.js';
import { FleetSingleFlight, SharedErrorSchema, type SharedError } from './single-flight.js';
import type { Observation, PollJoinOptions, PollMembership, SharedHit, StoreStats, TaskStore } from './store.js';
import { OBSERVATION_FLIGHT_CODEC, ObservationSchema, POLL_MESSAGE_CODEC } from './task-codec.js';

/** Bounds how long a replica that died mid-call blocks the others (the holder renews it while the call runs). */
const FLIGHT_LEASE_MS = 2000;
const SHARED_HITS: readonly SharedHit[] = ['terminal', 'fresh', 'notFound'];

type Callback = (error: Error | null, result?: unknown) => void;

/**
 * The client @fastify/rate-limit's RedisStore expects (ioredis's `defineCommand`), with
 * every command sent through FleetRedis: the same timeouts and health as the rest.
 */
function rateLimitClient(redis: FleetRedis): Record<string, unknown> {
  const client: Record<string, unknown> = {
    defineCommand: (name: string, definition: { numberOfKeys: number; lua: string }) => {
      // The library's own script, registered on the connection like ours (EVALSHA after the first call).
      const script = new LuaScript(`rate-limit.${name}`, { text: definition.lua });
      client[name] = (...args: unknown[]) => {
        const callback = args.pop() as Callback;
        const values = args.map(String);
        redis.evalScript(script, values.slice(0, definition.numberOfKeys), values.slice(definition.numberOfKeys)).then(
          (reply) => {
            if (reply === UNAVAILABLE) callback(new Error('Redis is unavailable'));
            else callback(null, reply);
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      };
    },
  };
  return client;
}

/** The fleet-wide count while Redis is up; this replica's own count (as a single gateway) while it is not. */
function fleetRateLimitStore(redis: FleetRedis): FastifyRateLimitStoreCtor {
  const client = rateLimitClient(redis);
  const namespace = redis.key('rate-limit', '');
  const combine = (shared: FastifyRateLimitStore, local: FastifyRateLimitStore): FastifyRateLimitStore => ({
    incr(key, callback, timeWindow, max) {
      if (!redis.up) return local.incr(key, callback, timeWindow, max);
      shared.incr(
        key,
        (error, result) => (error === null ? callback(null, result) : local.incr(key, callback, timeWindow, max)),
        timeWindow,
        max,
      );
    },
    child: (routeOptions) => combine(shared.child(routeOptions), local.child(routeOptions)),
  });
  return class FleetRateLimitStore {
    constructor(options: { continueExceeding?: boolean; exponentialBackoff?: boolean }) {
      const continueExceeding = options.continueExceeding ?? false;
      const exponentialBackoff = options.exponentialBackoff ?? false;
      return combine(new RedisStore(continueExceeding, exponentialBackoff, client, namespace), new LocalStore(continueExceeding, exponentialBackoff));
    }
  } as unknown as FastifyRateLimitStoreCtor;
}

export interface RedisStoreOptions {
  /** Called with the first known state of Redis, then once per transition. */
  onHealthChange: (up: boolean) => void;
  /** Where the fleet's background work reports a failure. */
  log?: BackgroundLog;
}

export class RedisTaskStore implements TaskStore {
  readonly shared = true;
  readonly terminal: SharedCache<Observation>;
  readonly fresh: SharedCache<Observation>;
  readonly notFound: SharedCache<SharedError>;
  readonly routes: SharedCache<string>;
  private readonly flights: FleetSingleFlight<Observation>;
  private readonly loops: LeaderLoop;
  private readonly taskCaches: readonly RemoteLayer[];
  private readonly secretTimeoutMs: number;

  static async create(config: Config, options: RedisStoreOptions): Promise<RedisTaskStore> {
    const { url, prefix, commandTimeoutMs, connectTimeoutMs } = config.redis;
    if (url === undefined) throw new Error('RedisTaskStore needs config.redis.url');
    const redis = await FleetRedis.create({ url, prefix, commandTimeoutMs, connectTimeoutMs, onHealthChange: options.onHealthChange, log: options.log });
    return new RedisTaskStore(config, redis);
  }

  private constructor(
    config: Config,
    /** The fleet's connection, for the other state kept in Redis (webhooks). */
    readonly redis: FleetRedis,
  ) {
    const { terminalMaxEntries, routeMemoMaxEntries } = config.cache;
    this.terminal = new SharedCache({ redis, namespace: 'terminal', maxEntries: terminalMaxEntries, schema: ObservationSchema });
    this.fresh = new SharedCache({ redis, namespace: 'fresh', maxEntries: terminalMaxEntries, schema: ObservationSchema });
    this.notFound = new SharedCache({ redis, namespace: 'not-found', maxEntries: terminalMaxEntries, schema: SharedErrorSchema });
    this.routes = new SharedCache({ redis, namespace: 'route', maxEntries: routeMemoMaxEntries, schema: z.string() });
    this.taskCaches = [this.terminal, this.fresh, this.notFound];
    this.flights = new FleetSingleFlight({ redis, namespace: 'task', codec: OBSERVATION_FLIGHT_CODEC });
    this.loops = new LeaderLoop(redis);
    this.secretTimeoutMs = config.redis.connectTimeoutMs;
  }

  async findShared(key: string): Promise<SharedHit | undefined> {
    return SHARED_HITS[await findFirst(this.taskCaches, key)];
  }

  singleFlight(key: string, budgetMs: number, run: () => Promise<Observation>): Promise<Observation> {
    return this.flights.execute(key, { budgetMs, leaseMs: FLIGHT_LEASE_MS, run });
  }

  join(key: string, options: PollJoinOptions): PollMembership {
    const membership = this.loops.join(key, { ...options, codec: POLL_MESSAGE_CODEC });
    return {
      get polls() {
        return membership.role === 'leader' || membership.role === 'local';
      },
      publish: (message) => membership.publish(message),
      leave: () => membership.leave(),
    };
  }

  budgetCounter(provider: string): BudgetCounter {
    return new FleetBudgetCounter(this.redis, provider);
  }

  sharedSecret(name: string): Promise<Buffer | undefined> {
    // Not on a request's path (boot, then a retry now and then): the connect timeout, not the command one.
    return fleetSecret(this.redis, name, this.secretTimeoutMs);
  }

  rateLimitOptions() {
    return { store: fleetRateLimitStore(this.redis) };
  }

  stats(): StoreStats {
    return {
      redisUp: this.redis.up,
      pollLeases: this.loops.leasesHeld,
      flightLeases: this.flights.leading,
      subscriptions: this.redis.subscriptionCount,
    };
  }

  /** Releases the leases held (so others take over within an interval, not two), then disconnects. */
  async close(): Promise<void> {
    this.loops.close();
    // Commands run in order: once this answers (or times out), the releases were sent before it.
    await this.redis.run((connection) => connection.ping());
    this.redis.close();
  }
}
