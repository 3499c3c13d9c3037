/**
 * Webhooks as a plugin: with TASKGATE_WEBHOOK_SECRET set, a store (Redis in fleet mode,
 * else this process, which the boot log says), a sender and the dispatcher, started once
 * the app is ready and stopped (its leases handed back) when it closes. In fleet mode it
 * also watches that Redis keeps what it is given (src/fleet/persistence.ts). Decorates
 * `app.webhooks`: undefined when webhooks are off.
 */
import { background } from '../background.js';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Config } from '../settings/schema.js';
import type { ResolveHostname } from '../content/address-guard.js';
import { DataMarker, readPersistence, type Persistence } from '../fleet/persistence.js';
import type { FleetRedis } from '../fleet/redis.js';
import { RedisTaskStore } from '../fleet/redis-store.js';
import type { TaskStore } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import type { TaskService } from '../tasks/service.js';
import { WebhookDispatcher } from './dispatcher.js';
import { InProcessWebhookStore } from './in-process-store.js';
import { RETENTION_MS } from './model.js';
import { RedisWebhookStore } from './redis-store.js';
import { WebhookSender, WebhookSigner } from './sender.js';
import type { WebhookStore } from './store.js';

export interface Webhooks {
  dispatcher: WebhookDispatcher;
  store: WebhookStore;
}

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: Webhooks | undefined;
  }
}

export interface WebhookPluginOptions {
  config: Config;
  service: TaskService;
  metrics: Metrics;
  taskStore: TaskStore;
  resolveHostname?: ResolveHostname;
  userAgent: string;
}

/** How often the marker of Redis's data is looked at while Redis is up. */
const MARKER_INTERVAL_MS = 10_000;

const PERSISTENCE_ADVICE = 'run it with --appendonly yes (the compose file does), or webhooks and their pending deliveries die with a restart of Redis';

function logPersistence(app: FastifyInstance, persistence: Persistence): void {
  switch (persistence.kind) {
    case 'append-only':
      app.log.info('webhooks: Redis persists them (appendonly yes)');
      return;
    case 'snapshots':
      app.log.warn({ save: persistence.save }, `webhooks: Redis persists only by snapshots (appendonly no): what was written since the last one is lost if it restarts; ${PERSISTENCE_ADVICE}`);
      return;
    case 'none':
      app.log.warn(`webhooks: Redis does not persist (appendonly no, no snapshots): a restart of Redis loses every webhook; ${PERSISTENCE_ADVICE}`);
      return;
    case 'unknown':
      app.log.info('webhooks: Redis does not let its persistence be read (CONFIG GET): make sure it persists with AOF, or webhooks die with a restart of Redis');
  }
}

/**
 * Durable webhooks need a Redis that persists: its settings are read once it answers (a
 * warning when it does not persist), and a marker of its data tells when it lost it anyway.
 */
function watchDurability(app: FastifyInstance, redis: FleetRedis, metrics: Metrics): void {
  const marker = new DataMarker(redis, {
    intervalMs: MARKER_INTERVAL_MS,
    ttlMs: RETENTION_MS,
    onLost: () => {
      metrics.redisDataLost.inc();
      app.log.error('Redis has lost its data (it restarted without persistence, was flushed, or evicted keys): webhooks registered before and their pending deliveries are gone');
    },
  });
  let checked = false;
  const checkOnce = () => {
    if (checked) return;
    checked = true;
    background(readPersistence(redis).then((persistence) => logPersistence(app, persistence)), app.log, 'webhooks: reading Redis persistence failed');
  };
  const stopListening = redis.addHealthListener((up) => {
    if (up) checkOnce();
  });
  app.addHook('onReady', async () => {
    if (redis.up) checkOnce();
    marker.start();
  });
  app.addHook('onClose', async () => {
    stopListening();
    marker.stop();
  });
}

const webhooks: FastifyPluginAsync<WebhookPluginOptions> = async (app, options) => {
  const { config, service, metrics, taskStore } = options;
  if (config.webhookSecret === undefined) {
    app.decorate('webhooks', undefined);
    return;
  }
  let store: WebhookStore;
  if (taskStore instanceof RedisTaskStore) {
    let warnedAt = Number.NEGATIVE_INFINITY;
    store = new RedisWebhookStore(taskStore.redis, (reason) => {
      // Once a minute at most: every registration is refused while it lasts.
      if (Date.now() - warnedAt < 60_000) return;
      warnedAt = Date.now();
      app.log.warn({ reason }, 'webhooks: Redis refuses writes, so registrations answer 503 (raise its maxmemory, or point REDIS_URL at the primary)');
    });
    app.log.info('webhooks: subscriptions and pending deliveries are kept in Redis');
    watchDurability(app, taskStore.redis, metrics);
  } else {
    store = new InProcessWebhookStore();
    app.log.warn('webhooks: subscriptions and pending deliveries are kept in this process only and die with it (set REDIS_URL to keep them)');
  }
  const { retryDelaysMs, timeoutMs, allowHosts, maxSubscriptions, maxPerClient, concurrency, perTargetConcurrency } = config.webhooks;
  const sender = new WebhookSender({ signer: new WebhookSigner(config.webhookSecret), timeoutMs, allowHosts, resolveHostname: options.resolveHostname, userAgent: options.userAgent, connections: perTargetConcurrency });
  const dispatcher = new WebhookDispatcher({ service, store, sender, metrics, retryDelaysMs, timeoutMs, concurrency, perTargetConcurrency, maxSubscriptions, maxPerClient, log: app.log });
  // Active webhooks count toward limits.watchesPerClient with the client's waits and streams.
  // Redis unreachable: the waits and streams here are still counted, webhooks not.
  service.watchQuota.addSource({ heldBy: (client) => store.activeCount(client).catch(() => 0) });
  metrics.trackWebhookQueue(() => store.queueStats());
  app.decorate('webhooks', { dispatcher, store });
  app.addHook('onReady', async () => dispatcher.start());
  app.addHook('onClose', () => dispatcher.close());
};

export default fastifyPlugin(webhooks, { name: 'taskgate-webhooks', dependencies: ['taskgate-fleet'] });
