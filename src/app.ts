/**
 * buildApp(config, deps): the whole HTTP surface as a Fastify instance, with no side
 * effects (no listening, no env, no signals); src/server.ts runs it, tests inject into it.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import fastifyCors from '@fastify/cors';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Dispatcher } from 'undici';
import { ClientKeys } from './auth.js';
import type { Config } from './config.js';
import { GatewayError, isGatewayError, toProblem } from './errors.js';
import { Metrics } from './metrics.js';
import { swaggerOptions } from './openapi.js';
import { PROVIDERS } from './providers/index.js';
import type { ProviderDefinition } from './providers/types.js';
import { TaskService } from './tasks/service.js';
import { ProviderClient, type ProviderClientObserver } from './upstream/provider-client.js';
import taskRoutes from '../routes/tasks.js';
import batchRoutes from '../routes/batch.js';
import eventRoutes from '../routes/events.js';
import operationRoutes from '../routes/operations.js';

export const VERSION = '0.1.0';

export interface AppDeps {
  logger?: FastifyServerOptions['logger'];
  providers?: readonly ProviderDefinition[];
  /** One dispatcher for every provider (tests); by default each provider gets its own pool. */
  dispatcher?: Dispatcher;
  metrics?: Metrics;
}

export interface GatewayState {
  shuttingDown: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    taskService: TaskService;
    metrics: Metrics;
    gatewayState: GatewayState;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
/** Logger levels at which the per-request `info` line is written. */
const LOGS_INFO: ReadonlySet<string> = new Set(['trace', 'debug', 'info']);

/** Any thrown value as the one error type the error handler renders. */
function toGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const fields = error.validation.map((issue) => `${issue.instancePath.replace(/^\//, '') || error.validationContext}: ${issue.message}`);
    const context = error.validationContext;
    // The contract gives a bad path id its own code; everything else is invalid_request.
    return new GatewayError(context === 'params' ? 'invalid_task_id' : 'invalid_request', {
      detail: `Invalid ${context ?? 'request'}: ${fields.join('; ')}`,
      cause: error,
    });
  }
  const statusCode = (error as FastifyError | undefined)?.statusCode;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    if (statusCode === 429) return new GatewayError('rate_limited', { cause: error });
    return new GatewayError('invalid_request', {
      status: statusCode,
      detail: (error as FastifyError).message,
      cause: error,
    });
  }
  return new GatewayError('internal_error', { detail: 'The gateway failed unexpectedly.', cause: error });
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
  if (error.code === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="taskgate"');
  return reply
    .code(error.status)
    .type('application/problem+json; charset=utf-8')
    .send(JSON.stringify(toProblem(error, request.id)));
}

export function buildClients(
  config: Config,
  providers: readonly ProviderDefinition[],
  observer: ProviderClientObserver,
  dispatcher?: Dispatcher,
): Map<string, ProviderClient> {
  const clients = new Map<string, ProviderClient>();
  for (const definition of providers) {
    const settings = config.providers[definition.name];
    if (settings === undefined) continue;
    clients.set(definition.name, new ProviderClient(definition, settings, config, observer, dispatcher));
  }
  return clients;
}

/** Path patterns and their methods, so an unknown method on a known path is a 405. */
class MethodTable {
  private readonly paths = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  add(url: string, methods: string | string[]): void {
    // @fastify/cors adds `OPTIONS *` for preflights: it must not make every path "known".
    if (url === '*' || url === '/*') return;
    let entry = this.paths.get(url);
    if (entry === undefined) {
      const source = url
        .split('/')
        .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      entry = { pattern: new RegExp(`^${source}$`), methods: new Set() };
      this.paths.set(url, entry);
    }
    for (const method of Array.isArray(methods) ? methods : [methods]) entry.methods.add(method);
  }

  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const { pattern, methods: known } of this.paths.values()) {
      if (pattern.test(path)) for (const method of known) methods.add(method);
    }
    return [...methods];
  }
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? { level: config.logLevel },
    // One log line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Ids are up to 200 characters; longer ones must still reach the validator (400, not 404).
    routerOptions: { maxParamLength: 1024 },
    bodyLimit: 64 * 1024,
    trustProxy: config.trustProxy,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: false,
    // URLs the router itself rejects (bad percent-encoding, over-long ids) are problems too.
    frameworkErrors: (error, request, reply) => {
      const onTasks = request.url.startsWith('/tasks/');
      return sendProblem(
        request,
        reply,
        new GatewayError(onTasks ? 'invalid_task_id' : 'invalid_request', {
          detail: onTasks ? 'The task id in the path is not valid.' : 'The request URL is not valid.',
          cause: error,
        }),
      );
    },
  }).withTypeProvider<ZodTypeProvider>();

  const metrics = deps.metrics ?? new Metrics();
  // Upstream events go to the metrics, and the ones an operator must hear about to the log.
  const observer: ProviderClientObserver = {
    onAttempt: (provider, outcome, seconds) => metrics.onAttempt(provider, outcome, seconds),
    onRetry: (provider, reason) => metrics.onRetry(provider, reason),
    onCircuitState: (provider, state) => {
      metrics.onCircuitState(provider, state);
      if (state === 'closed') app.log.info({ provider, circuit: state }, `${provider} circuit closed`);
      else app.log.warn({ provider, circuit: state }, `${provider} circuit ${state.replace('_', '-')}`);
    },
    onUnknownStatus: (provider, word) => {
      metrics.onUnknownStatus(provider, word);
      app.log.warn({ provider, providerStatus: word.slice(0, 64) }, 'unknown upstream status served as in_progress');
    },
  };
  const clients = buildClients(config, deps.providers ?? PROVIDERS, observer, deps.dispatcher);
  const service = new TaskService(config, clients, metrics);
  app.decorate('taskService', service);
  app.decorate('metrics', metrics);
  app.decorate('gatewayState', { shuttingDown: false } satisfies GatewayState);

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const methods = new MethodTable();
  app.addHook('onRoute', (route) => methods.add(route.url, route.method));

  // Callback-style hooks: these run on every request, and an async hook costs a promise each.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    // Held requests (SSE, long-poll) would drown the latency of ordinary answers.
    const held = route === '/tasks/:id/events' || (request.query as { wait?: unknown } | undefined)?.wait !== undefined || request.headers.prefer !== undefined;
    metrics.onHttpResponse(request.method, route, reply.statusCode, held ? undefined : reply.elapsedTime / 1000);
    // Built only when it will be written (LOG_LEVEL=info or lower).
    if (LOGS_INFO.has(request.log.level)) {
      request.log.info(
        { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request completed',
      );
    }
    done();
  });

  app.setErrorHandler((error, request, reply) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === 'internal_error') {
      request.log.error({ err: error }, 'request failed unexpectedly');
    } else if (gatewayError.status >= 500) {
      // Expected upstream trouble: the code says what happened; no stack needed.
      const cause = gatewayError.cause as { code?: unknown } | undefined;
      request.log.warn({ code: gatewayError.code, provider: gatewayError.provider, cause: cause?.code }, gatewayError.detail);
    }
    return sendProblem(request, reply, gatewayError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = methods.allowed(path);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(request, reply, new GatewayError('method_not_allowed', {
        detail: `${request.method} is not allowed here; use ${allowed.join(', ')}.`,
      }));
    }
    return sendProblem(request, reply, new GatewayError('not_found', { detail: 'No route matches this path; see /docs.' }));
  });

  await app.register(fastifySwagger, swaggerOptions(VERSION));
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  if (config.corsOrigins !== null) {
    await app.register(fastifyCors, {
      origin: config.corsOrigins === '*' ? '*' : config.corsOrigins,
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Prefer', 'If-None-Match', 'X-Request-Id', 'Last-Event-ID'],
      exposedHeaders: [
        'ETag',
        'Retry-After',
        'Preference-Applied',
        'X-Request-Id',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ],
      maxAge: 600,
    });
  }

  // The task API: client auth and rate limiting apply here, not to health, metrics or docs.
  const clientKeys = new ClientKeys(config.apiKeys);
  await app.register(async (api) => {
    // No hook at all when the API is open: it runs on every request.
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
        errorResponseBuilder: (_request, context) =>
          new GatewayError('rate_limited', {
            retryAfter: Math.max(1, Math.ceil(context.ttl / 1000)),
            detail: `More than ${context.max} requests per minute; retry in ${context.after}.`,
          }),
      });
    }
    await api.register(taskRoutes, { service, terminalMaxAgeSeconds: config.terminalMaxAgeSeconds });
    await api.register(batchRoutes, { service });
    await api.register(eventRoutes, { service, keepAliveMs: config.waiters.keepAliveMs });
  });
  await app.register(operationRoutes, { config, clients });

  app.addHook('onClose', async () => {
    service.drain();
    await Promise.all([...clients.values()].map((client) => client.close()));
  });

  return app;
}
