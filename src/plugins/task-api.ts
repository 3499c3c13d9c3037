/**
 * The task API: client authentication and rate limiting apply here, and only here (not to
 * health, metrics or docs), then the `/tasks` routes.
 */
import type { FastifyPluginAsync } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import { ClientKeys } from '../auth.js';
import type { Config } from '../config.js';
import { GatewayError } from '../errors.js';
import type { TaskStore } from '../fleet/store.js';
import type { TaskService } from '../tasks/service.js';
import batchRoutes from '../../routes/batch.js';
import eventRoutes from '../../routes/events.js';
import taskRoutes from '../../routes/tasks.js';

export interface TaskApiOptions {
  config: Config;
  service: TaskService;
  /** Decides where rate-limit counts live: this process, or the fleet. */
  store: TaskStore;
}

const taskApi: FastifyPluginAsync<TaskApiOptions> = async (api, { config, service, store }) => {
  const clientKeys = new ClientKeys(config.apiKeys);
  // No hook at all when the API is open: it would run on every request.
  if (clientKeys.enabled) {
    api.addHook('onRequest', (request, _reply, done) => {
      clientKeys.authenticate(request);
      done();
    });
  }
  if (config.rateLimitPerMinute > 0) {
    await api.register(fastifyRateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      // After authentication, so the bucket is the client's key (or its IP when open).
      hook: 'preHandler',
      keyGenerator: (request) => request.clientKeyId ?? request.ip,
      ...store.rateLimitOptions(),
      // Belt and braces: a store failure lets the request through rather than failing it.
      skipOnError: true,
      errorResponseBuilder: (_request, context) =>
        new GatewayError('rate_limited', {
          retryAfter: Math.max(1, Math.ceil(context.ttl / 1000)),
          detail: `More than ${context.max} requests per minute; retry in ${context.after}.`,
        }),
    });
  }
  const views = { publicUrl: config.publicUrl };
  await api.register(taskRoutes, { service, views, terminalMaxAgeSeconds: config.terminalMaxAgeSeconds });
  await api.register(batchRoutes, { service, views });
  await api.register(eventRoutes, { service, views, keepAliveMs: config.waiters.keepAliveMs });
};

export default taskApi;
