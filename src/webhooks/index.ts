/**
 * Webhooks as a plugin: with TASKGATE_WEBHOOK_SECRET set, a store (Redis in fleet mode,
 * else this process, which the boot log says), a sender and the dispatcher, started once
 * the app is ready and stopped (its leases handed back) when it closes. Decorates
 * `app.webhooks`: undefined when webhooks are off.
 */
import type { FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Config } from '../settings/schema.js';
import type { ResolveHostname } from '../content/address-guard.js';
import { RedisTaskStore } from '../fleet/redis-store.js';
import type { TaskStore } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import type { TaskService } from '../tasks/service.js';
import { WebhookDispatcher } from './dispatcher.js';
import { InProcessWebhookStore } from './in-process-store.js';
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
  } else {
    store = new InProcessWebhookStore();
    app.log.warn('webhooks: subscriptions and pending deliveries are kept in this process only and die with it (set REDIS_URL to keep them)');
  }
  const { retryDelaysMs, timeoutMs, allowHosts, maxSubscriptions, maxPerClient, concurrency } = config.webhooks;
  const sender = new WebhookSender({ signer: new WebhookSigner(config.webhookSecret), timeoutMs, allowHosts, resolveHostname: options.resolveHostname, userAgent: options.userAgent, connections: concurrency });
  const dispatcher = new WebhookDispatcher({ service, store, sender, metrics, retryDelaysMs, timeoutMs, concurrency, maxSubscriptions, maxPerClient, log: app.log });
  metrics.trackWebhookQueue(() => store.queueStats());
  app.decorate('webhooks', { dispatcher, store });
  app.addHook('onReady', async () => dispatcher.start());
  app.addHook('onClose', () => dispatcher.close());
};

export default fastifyPlugin(webhooks, { name: 'taskgate-webhooks', dependencies: ['taskgate-fleet'] });
