/**
 * buildApp(config): the gateway as a Fastify instance, with no side effects (no listening,
 * no signals, no environment): the services it needs, then one plugin per concern.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Dispatcher } from 'undici';
import type { BudgetCounter } from './upstream/budget.js';
import type { Config } from './settings/schema.js';
import { createArchive, type Archive } from './archive/index.js';
import type { ResolveHostname } from './content/address-guard.js';
import { ContentProxy } from './content/proxy.js';
import { ContentService } from './content/service.js';
import { Metrics } from './metrics.js';
import connections, { clientErrorHandler, nodeServerOptions } from './plugins/connections.js';
import cors from './plugins/cors.js';
import docs from './plugins/docs.js';
import fleet from './plugins/fleet.js';
import lifecycle from './plugins/lifecycle.js';
import observability from './plugins/observability.js';
import problems, { routerErrorHandler } from './plugins/problems.js';
import requestId, { requestIdOf } from './plugins/request-id.js';
import taskApi, { type TaskApiOptions } from './plugins/task-api.js';
import tracingPlugin from './plugins/tracing.js';
import { lazyRequestLogger } from './request-logger.js';
import { ProviderClient, type ProviderClientObserver } from './providers/client.js';
import { PROVIDERS } from './providers/index.js';
import { SecretRedactor } from './redact.js';
import type { ProviderDefinition } from './providers/types.js';
import { TaskService } from './tasks/service.js';
import webhooks from './webhooks/index.js';
import type { Tracer } from './tracing/api.js';
import { startTracing } from './tracing/tracer.js';
import { validatorCompiler } from './fast/validation.js';
import { VERSION } from './version.js';
import operationRoutes from '../routes/operations.js';
import problemRoutes from '../routes/problems.js';


type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
/** Fastify's compiler factories, typed for Ajv's schemas; ours take zod's (the same call shape). */
const ZOD_COMPILERS = { buildValidator: () => validatorCompiler, buildSerializer: () => serializerCompiler } as unknown as CompilersFactory;

export interface AppDeps {
  logger?: FastifyServerOptions['logger'];
  providers?: readonly ProviderDefinition[];
  /** One dispatcher for every provider (tests); by default each provider gets its own pool. */
  dispatcher?: Dispatcher;
  metrics?: Metrics;
  /** How result-file hosts are resolved (tests answer names themselves; default: the system resolver). */
  resolveHostname?: ResolveHostname;
  /** The result archive's wall clock (tests move it past a retention); default Date.now. */
  archiveClock?: () => number;
  /** When memory is given back after a burst of waits and streams (default: after 1,000 or more, 5 s after they end). */
  reclaim?: TaskApiOptions['reclaim'];
}

declare module 'fastify' {
  interface FastifyInstance {
    taskService: TaskService;
    metrics: Metrics;
    /** Undefined when TASKGATE_ARCHIVE is unset. */
    archive: Archive | undefined;
  }
}

export function buildClients(
  config: Config,
  providers: readonly ProviderDefinition[],
  observer: ProviderClientObserver,
  dispatcher: Dispatcher | undefined,
  tracer: Tracer,
  /** Where each provider's upstream budget is counted (the fleet's, in fleet mode). */
  budgetCounter?: (provider: string) => BudgetCounter,
): Map<string, ProviderClient> {
  const clients = new Map<string, ProviderClient>();
  // One redactor for all: a token one provider mints is cut out of every provider's answers.
  const redactor = SecretRedactor.fromConfig(config, providers);
  for (const definition of providers) {
    const settings = config.providers[definition.name];
    if (settings === undefined) continue;
    const counter = budgetCounter?.(definition.name);
    clients.set(definition.name, new ProviderClient({ definition, settings, config, redactor, observer, dispatcher, tracer, budgetCounter: counter }));
  }
  return clients;
}

function serverOptions(config: Config, deps: AppDeps): FastifyServerOptions {
  return {
    logger: deps.logger ?? { level: config.logLevel },
    // One log line per request (the observability plugin) instead of Fastify's two; the request
    // id logged as `request_id`, the problem body's name for it (beside a traced request's trace_id).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    childLoggerFactory: lazyRequestLogger,
    // Ids are up to 200 characters; longer ones must still reach the validator (400, not 404).
    routerOptions: { maxParamLength: 1024 },
    bodyLimit: 64 * 1024,
    trustProxy: config.trustProxy,
    genReqId: requestIdOf,
    // Every route is validated and serialized through zod: handing Fastify the compilers up
    // front keeps it from loading Ajv and fast-json-stringify at start-up (BENCHMARKS.md, "Start-up").
    schemaController: { compilersFactory: ZOD_COMPILERS },
    return503OnClosing: false,
    frameworkErrors: routerErrorHandler,
    ...nodeServerOptions(config.http),
    clientErrorHandler,
  };
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, deps)).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const metrics = deps.metrics ?? new Metrics();
  // The no-op tracer unless OTEL_* turn tracing on; then the spans below are exported.
  const tracing = await startTracing(config.tracing, { serviceVersion: VERSION, log: app.log });
  const { tracer } = tracing;
  await app.register(fleet, { config, metrics });
  const clients = buildClients(config, deps.providers ?? PROVIDERS, upstreamObserver(app, metrics), deps.dispatcher, tracer, (provider) =>
    app.taskStore.budgetCounter(provider),
  );
  const content = new ContentProxy({
    timeoutMs: config.upstreamTimeoutMs,
    allowHosts: config.content.allowHosts,
    providerOrigins: [...clients.values()].flatMap((client) => client.origins),
    resolveHostname: deps.resolveHostname,
    connections: config.content.connections,
    metrics,
    tracer,
  });
  const archive = await createArchive(config, { content, clients, taskStore: app.taskStore, registry: metrics.registry, log: app.log, now: deps.archiveClock });
  const service = new TaskService(config, clients, metrics, app.taskStore, tracer, app.log, archive);
  archive?.attach({
    fetch: (client, nativeId) => service.lookup.fetch(client, nativeId),
    refresh: async (client, nativeId) => {
      await service.lookup.forget(client, nativeId);
      return service.lookup.fetch(client, nativeId);
    },
  });
  await app.register(webhooks, { config, service, metrics, taskStore: app.taskStore, resolveHostname: deps.resolveHostname, userAgent: `taskgate/${VERSION}` });
  app.decorate('taskService', service);
  app.decorate('metrics', metrics);
  app.decorate('archive', archive);
  if (archive !== undefined) app.addHook('onReady', async () => archive.start());
  for (const [name, client] of clients) {
    metrics.watchCircuit(name, () => client.circuitState);
    metrics.watchBudget(name, () => client.budget.waiting);
  }
  metrics.waitersMax.set(config.waiters.max);

  await app.register(tracingPlugin, { tracing });
  await app.register(requestId);
  await app.register(problems);
  await app.register(observability, { metrics });
  await app.register(connections, { http: config.http, metrics });
  await app.register(lifecycle, {
    shutdownDelayMs: config.shutdownDelayMs,
    shutdownGraceMs: config.shutdownGraceMs,
    drain: () => service.drain(),
    release: async () => {
      // Copies in progress stop first: they use the content pools.
      await archive?.close();
      await Promise.all([...[...clients.values()].map((client) => client.close()), content.close()]);
    },
  });
  await app.register(docs, { version: VERSION });
  await app.register(cors, { origins: config.corsOrigins });
  const results = new ContentService({ tasks: service, proxy: content, archive, metrics });
  await app.register(taskApi, { config, service, content: results, metrics, store: app.taskStore, webhooks: app.webhooks, version: VERSION, reclaim: deps.reclaim });
  await app.register(operationRoutes, { clients, metrics });
  await app.register(problemRoutes);
  return app;
}

/** Upstream events go to the metrics, and the ones an operator must hear about to the log. */
function upstreamObserver(app: FastifyInstance, metrics: Metrics): ProviderClientObserver {
  return {
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
}
