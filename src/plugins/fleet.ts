/**
 * Where the gateway keeps what outlives a request (caches, single flight, poll loops,
 * rate-limit counts): in this process, or, with REDIS_URL, in Redis shared by every
 * replica (docs/fleet.md). Decorates `app.taskStore`; in fleet mode also logs
 * each change of Redis health once and exposes it, with the leases held, as metrics.
 */
import { background } from '../background.js';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Config } from '../settings/schema.js';
import { InProcessTaskStore } from '../fleet/in-process-store.js';
import { RedisTaskStore } from '../fleet/redis-store.js';
import type { TaskStore } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import { majorVersion } from '../fleet/redis.js';

declare module 'fastify' {
  interface FastifyInstance {
    taskStore: TaskStore;
  }
}

export interface FleetOptions {
  config: Config;
  metrics: Metrics;
}

/** host:port only: a REDIS_URL may carry a password. */
function redisAddress(url: string): string {
  return new URL(url).host;
}

async function connectFleet(app: FastifyInstance, config: Config, metrics: Metrics): Promise<TaskStore> {
  const redis = { address: redisAddress(config.redis.url!), prefix: config.redis.prefix };
  let known: boolean | undefined;
  const store = await RedisTaskStore.create(config, {
    log: app.log,
    onHealthChange: (up) => {
      if (up) app.log.info({ redis }, known === undefined ? 'fleet mode: state shared through Redis' : 'Redis is back: fleet mode again');
      else app.log.warn({ redis }, 'Redis is unavailable: this replica answers on its own until it is back');
      known = up;
    },
  });
  metrics.trackFleet(() => store.stats());
  // Redis 6.2 runs the scripts without their Redis 7 flags: say what that costs.
  let versionChecked = false;
  const checkVersion = () => {
    if (versionChecked) return;
    versionChecked = true;
    const warned = store.redis.serverVersion().then((version) => {
      if (version !== undefined && majorVersion(version) < 7) {
        app.log.warn(
          { redis, version },
          'Redis is older than 7.0: the fleet\'s scripts run without Redis 7 flags, so a webhook registration may write past maxmemory before Redis refuses it; Redis 7 or Valkey 7.2 keeps every write under the limit',
        );
      }
    });
    background(warned, app.log, 'fleet: reading the Redis version failed', { redis });
  };
  if (store.redis.up) checkVersion();
  else store.redis.addHealthListener((up) => up && checkVersion());
  return store;
}

const fleet: FastifyPluginAsync<FleetOptions> = async (app, { config, metrics }) => {
  const store = config.redis.url === undefined ? new InProcessTaskStore(config) : await connectFleet(app, config, metrics);
  app.decorate('taskStore', store);
  app.addHook('onClose', () => store.close());
};

export default fastifyPlugin(fleet, { name: 'taskgate-fleet' });
