/**
 * The task API: client authentication (a client key, or a browser link token where a
 * route accepts one; failed attempts throttled per address) and rate limiting apply here,
 * and only here (not to health, metrics or docs), then the `/tasks` routes and `/mcp`
 * (the same API as MCP tools, for AI agents). Both run
 * before a request body is read, so a request they refuse is answered (and its connection
 * closed) at once, however slowly its body would come.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import { ClientKeys, FailedAuthThrottle } from '../auth.js';
import type { Config } from '../settings/schema.js';
import type { ContentService } from '../content/service.js';
import { GatewayError } from '../errors.js';
import type { TaskStore } from '../fleet/store.js';
import { startLinkSigner } from '../links.js';
import type { Metrics } from '../metrics.js';
import { MemoryReclaim, type MemoryReclaimOptions } from '../memory.js';
import { ClientQuota } from '../quota.js';
import type { TaskService } from '../tasks/service.js';
import type { Webhooks } from '../webhooks/index.js';
import batchRoutes from '../../routes/batch.js';
import contentRoutes from '../../routes/content.js';
import eventRoutes from '../../routes/events.js';
import linkRoutes from '../../routes/links.js';
import mcpRoutes from '../../routes/mcp.js';
import taskRoutes from '../../routes/tasks.js';
import webhookRoutes from '../../routes/webhooks.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What one request to this route costs against the rate limit (default 1): a batch of N ids costs N. */
    rateLimitWeight?: (request: FastifyRequest) => number;
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
  content: ContentService;
  metrics: Metrics;
  /** Decides where rate-limit counts live: this process, or the fleet. */
  store: TaskStore;
  /** Undefined: webhooks are off (their routes answer 503). */
  webhooks: Webhooks | undefined;
  /** The gateway's version, as its MCP server reports it. */
  version: string;
  /** When memory is given back after a burst (tests make the burst small and the wait short). */
  reclaim?: Pick<MemoryReclaimOptions, 'minimumPeak' | 'settleMs' | 'sampleMs'>;
}

const INVALID_LINK =
  'The link token is not valid for this task: it expired, belongs to another task, was minted with a key that is no longer configured, or was signed with another link secret (a gateway restarted without TASKGATE_LINK_SECRET, or replicas set to different ones).';

function rateLimited(max: number, retryAfterSeconds: number): GatewayError {
  return new GatewayError('rate_limited', {
    retryAfter: Math.max(1, retryAfterSeconds),
    detail: `More than ${max} requests per minute; retry in ${Math.max(1, retryAfterSeconds)} s.`,
  });
}

/**
 * The rate limit (@fastify/rate-limit, whatever its store): 1 per request before the body
 * is read, and for a weighted route the rest of its weight once the body says what it is.
 */
async function registerRateLimit(api: FastifyInstance, perMinute: number, store: TaskStore): Promise<void> {
  await api.register(fastifyRateLimit, {
    max: perMinute,
    timeWindow: 60_000,
    // A route hook, so after the authentication hook: the bucket is the client's key (or its IP when open).
    hook: 'onRequest',
    keyGenerator: (request) => request.clientKeyId ?? request.ip,
    // In fleet mode the counts live in Redis (@fastify/rate-limit's own store), so the limit is fleet-wide.
    ...store.rateLimitOptions(),
    // Belt and braces: a store failure lets the request through rather than failing it.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => rateLimited(context.max, Math.ceil(context.ttl / 1000)),
  });
  // The same store and key as the hook above: every charge lands in the client's one bucket.
  const charge = api.createRateLimit();
  const chargeRest = async (request: FastifyRequest, reply: FastifyReply, weight: number) => {
    let outcome: Awaited<ReturnType<typeof charge>> | undefined;
    for (let paid = 1; paid < weight; paid++) outcome = await charge(request);
    if (outcome === undefined || outcome.isAllowed) return;
    reply.header('x-ratelimit-remaining', outcome.remaining);
    if (outcome.isExceeded) {
      reply.header('x-ratelimit-reset', outcome.ttlInSeconds);
      throw rateLimited(outcome.max, outcome.ttlInSeconds);
    }
  };
  api.addHook('preHandler', (request, reply, done) => {
    const weight = request.routeOptions.config.rateLimitWeight?.(request) ?? 1;
    if (weight <= 1) {
      done();
      return;
    }
    chargeRest(request, reply, weight).then(() => done(), done);
  });
}

const taskApi: FastifyPluginAsync<TaskApiOptions> = async (api, { config, service, content, metrics, store, webhooks, version, reclaim }) => {
  const clientKeys = new ClientKeys(config.apiKeys);
  const { signer: links, stop: stopLinkSigner } = await startLinkSigner({ secret: config.linkSecret, clientKeys: config.apiKeys, store, log: api.log });
  api.addHook('onClose', (_instance, done) => {
    stopLinkSigner();
    done();
  });
  const throttle = new FailedAuthThrottle(config.authFailuresPerMinute);

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
      if (throttle.enabled) throttle.check(request.ip);
      try {
        if (request.headers.authorization !== undefined || !authorizedByLink(request)) clientKeys.authenticate(request);
      } catch (error) {
        if (throttle.enabled) throttle.recordFailure(request.ip);
        throw error;
      }
      done();
    });
  } else {
    // Open: no hook on every request, only on the routes that take a token (a bad one is still a 401).
    const checkLink: onRequestHookHandler = (request, _reply, done) => {
      // Most requests carry no token: nothing to check (and no route options to read).
      if ((request.query as { token?: unknown } | undefined)?.token !== undefined) authorizedByLink(request);
      done();
    };
    api.addHook('onRoute', (route) => {
      if (route.config?.linkToken !== true) return;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...existing, checkLink];
    });
  }
  if (config.rateLimitPerMinute > 0) await registerRateLimit(api, config.rateLimitPerMinute, store);
  const views = { publicUrl: config.publicUrl };
  await api.register(taskRoutes, { service, views, terminalMaxAgeSeconds: config.terminalMaxAgeSeconds });
  await api.register(batchRoutes, { service, views, maxConcurrentLookups: config.batch.maxConcurrentLookups, budgetMs: config.upstreamTimeoutMs });
  await api.register(eventRoutes, { service, views, keepAliveMs: config.waiters.keepAliveMs });
  const streams = new ClientQuota({ perClient: config.content.maxStreamsPerClient, what: '/content streams', setting: 'content.maxStreamsPerClient' });
  // Once a burst of waits and streams is over, the memory it took goes back to the system.
  const memory = new MemoryReclaim({
    held: () => service.watches.total + streams.total,
    beforeCollect: () => service.lookup.purgeStale(),
    onReclaim: () => metrics.memoryReclaims.inc(),
    ...reclaim,
  });
  api.addHook('onClose', (_instance, done) => {
    memory.stop();
    done();
  });
  await api.register(contentRoutes, { content, streams });
  await api.register(linkRoutes, { service, views, links });
  await api.register(webhookRoutes, { service, views, webhooks });
  await api.register(mcpRoutes, { service, views, links, version });
};

export default taskApi;
