/**
 * The task API: client authentication (a client key, or a browser link token where a
 * route accepts one) and rate limiting apply here, and only here (not to health, metrics
 * or docs), then the `/tasks` routes.
 */
import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import { ClientKeys } from '../auth.js';
import type { Config } from '../config.js';
import type { ContentProxy } from '../content/proxy.js';
import { GatewayError } from '../errors.js';
import { LinkSigner } from '../links.js';
import type { Metrics } from '../metrics.js';
import type { TaskService } from '../tasks/service.js';
import batchRoutes from '../../routes/batch.js';
import contentRoutes from '../../routes/content.js';
import eventRoutes from '../../routes/events.js';
import linkRoutes from '../../routes/links.js';
import taskRoutes from '../../routes/tasks.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route accepts a browser link token (`?token=`) for its `:id` in place of a client key. */
    linkToken?: boolean;
  }
  interface FastifyRequest {
    /** The link token that authorized this request; repeated on the URLs it hands out. */
    linkToken?: string;
  }
}

export interface TaskApiOptions {
  config: Config;
  service: TaskService;
  content: ContentProxy;
  metrics: Metrics;
}

const INVALID_LINK = 'The link token is not valid for this task: it expired, belongs to another task, or its key was removed.';

const taskApi: FastifyPluginAsync<TaskApiOptions> = async (api, { config, service, content, metrics }) => {
  const clientKeys = new ClientKeys(config.apiKeys);
  const links = new LinkSigner(config.linkSecret, clientKeys);

  /** True when the request carries a link token this route accepts, and it is valid; throws when it is not. */
  const authorizedByLink = (request: FastifyRequest): boolean => {
    if (request.routeOptions.config.linkToken !== true) return false;
    const token = (request.query as { token?: unknown } | undefined)?.token;
    if (token === undefined) return false;
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof token !== 'string' || typeof id !== 'string' || !links.verify(token, id)) {
      throw new GatewayError('unauthorized', { detail: INVALID_LINK });
    }
    request.linkToken = token;
    return true;
  };

  if (clientKeys.enabled) {
    api.addHook('onRequest', (request, reply, done) => {
      // Answers depend on the key: a browser must not serve one from its cache to a request with another or none.
      const vary = reply.getHeader('vary');
      reply.header('vary', vary === undefined ? 'Authorization' : `${String(vary)}, Authorization`);
      if (request.headers.authorization !== undefined || !authorizedByLink(request)) clientKeys.authenticate(request);
      done();
    });
  } else {
    // Open: no hook on every request, only on the routes that take a token (a bad one is still a 401).
    const checkLink: onRequestHookHandler = (request, _reply, done) => {
      authorizedByLink(request);
      done();
    };
    api.addHook('onRoute', (route) => {
      if (route.config?.linkToken !== true) return;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...existing, checkLink];
    });
  }
  if (config.rateLimitPerMinute > 0) {
    await api.register(fastifyRateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      // After authentication, so the bucket is the client's key (or its IP when open or on a link).
      hook: 'preHandler',
      keyGenerator: (request) => request.clientKeyId ?? request.ip,
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
  await api.register(contentRoutes, { service, content, metrics });
  await api.register(linkRoutes, { service, views, links });
};

export default taskApi;
