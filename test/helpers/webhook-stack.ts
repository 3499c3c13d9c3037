/**
 * A gateway with webhooks on, against the simulators, for the webhook tests: short
 * cadences, retry delays and timeouts (TASKGATE_CONFIG's `webhooks.*`), loopback receivers
 * allowed as targets, and the host resolver a test may replace.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { type Config } from '../../src/settings/schema.js';
import { parseAllowHosts, type ResolveHostname } from '../../src/content/address-guard.js';
import { startSimulators, withPollInterval, type Simulators } from './stack.js';

/** `whsec_` + base64 of 32 random bytes, as an operator would make one. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface WebhookStackOptions {
  /** Null: TASKGATE_WEBHOOK_SECRET unset. */
  secret?: string | null;
  cadenceMs?: number;
  retryDelaysMs?: number[];
  timeoutMs?: number;
  allowHosts?: string[];
  maxSubscriptions?: number;
  maxPerClient?: number;
  /** limits.watchesPerClient: waits, streams and active webhooks of one client together. */
  watchesPerClient?: number;
  concurrency?: number;
  perTargetConcurrency?: number;
  resolveHostname?: ResolveHostname;
  env?: Record<string, string>;
  logger?: AppDeps['logger'];
}

export interface WebhookStack {
  app: FastifyInstance;
  config: Config;
  simulators: Simulators;
  secret: string;
}

type Closable = { after(fn: () => Promise<void> | void): void };

export async function startWebhookStack(t: Closable, options: WebhookStackOptions = {}): Promise<WebhookStack> {
  const { simulators, env } = await startSimulators(t);
  const secret = options.secret === undefined ? newWebhookSecret() : options.secret;
  const parsed = loadConfig({ ...env, ...(secret === null ? {} : { TASKGATE_WEBHOOK_SECRET: secret }), ...options.env });
  const config = withPollInterval(
    {
      ...parsed,
      limits: { ...parsed.limits, watchesPerClient: options.watchesPerClient ?? parsed.limits.watchesPerClient },
      webhooks: {
        ...parsed.webhooks,
        retryDelaysMs: options.retryDelaysMs ?? [200],
        timeoutMs: options.timeoutMs ?? 2000,
        allowHosts: parseAllowHosts(options.allowHosts ?? ['127.0.0.1']),
        maxSubscriptions: options.maxSubscriptions ?? parsed.webhooks.maxSubscriptions,
        maxPerClient: options.maxPerClient ?? parsed.webhooks.maxPerClient,
        concurrency: options.concurrency ?? parsed.webhooks.concurrency,
        perTargetConcurrency: options.perTargetConcurrency ?? parsed.webhooks.perTargetConcurrency,
      },
    },
    options.cadenceMs ?? 200,
  );
  const app = await buildApp(config, { logger: options.logger ?? false, resolveHostname: options.resolveHostname });
  t.after(() => app.close());
  await app.ready();
  return { app, config, simulators, secret: secret ?? '' };
}

/** POST /tasks/{id}/webhooks with a JSON body. */
export function registerWebhook(app: FastifyInstance, taskId: string, body: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: `/tasks/${encodeURIComponent(taskId)}/webhooks`, payload: body });
}
