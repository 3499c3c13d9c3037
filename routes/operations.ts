/**
 * Operational endpoints: liveness, readiness and Prometheus metrics.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GatewayError } from '../src/errors.js';
import type { Metrics } from '../src/metrics.js';
import type { ProviderClient } from '../src/providers/client.js';
import { getProvider, PROVIDER_NAMES } from '../src/providers/index.js';
import { jsonResponse, NO_AUTH } from './documentation.js';
import { problemResponses } from './problem-responses.js';

export interface OperationRoutesOptions {
  clients: ReadonlyMap<string, ProviderClient>;
  metrics: Metrics;
}

const HealthSchema = z.object({ status: z.literal('ok') });
const ReadinessSchema = z.object({
  status: z.literal('ready'),
  providers: z.record(
    z.string(),
    z.object({ configured: z.boolean(), circuit: z.enum(['closed', 'open', 'half_open']) }),
  ),
});

const operationRoutes: FastifyPluginAsyncZod<OperationRoutesOptions> = async (app, options) => {
  const { clients, metrics } = options;

  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['operations'],
        summary: 'Liveness',
        description: 'Answers 200 while the process is up.',
        security: NO_AUTH,
        response: { 200: jsonResponse(HealthSchema, 'The process is up') },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: 'Readiness',
        description: 'Answers 200 while the gateway takes traffic; 503 once it is shutting down, and when no provider at all is configured (every task would fail). Lists each provider and its circuit.',
        security: NO_AUTH,
        response: {
          200: jsonResponse(ReadinessSchema, 'The gateway takes traffic; each provider with its circuit state', {
            examples: {
              ready: {
                summary: 'Every provider configured, all circuits closed',
                value: {
                  status: 'ready',
                  providers: Object.fromEntries(PROVIDER_NAMES.map((name) => [name, { configured: true, circuit: 'closed' }])),
                },
              },
            },
          }),
          ...problemResponses(['service_unavailable']),
        },
      },
    },
    async () => {
      if (!app.lifecycle.ready) {
        throw new GatewayError('service_unavailable', { retryAfter: 5, detail: 'The gateway is shutting down.' });
      }
      // Every task would answer 503 provider_not_configured: not a gateway to send traffic to.
      if (![...clients.values()].some((client) => client.configured)) {
        throw new GatewayError('service_unavailable', {
          detail: `No provider is configured: set the credentials of at least one (${[...clients.keys()].map((name) => `${name}: ${getProvider(name)?.credentials.map((spec) => spec.env).join(' + ') ?? '?'}`).join('; ')}).`,
        });
      }
      const providers: Record<string, { configured: boolean; circuit: 'closed' | 'open' | 'half_open' }> = {};
      for (const [name, client] of clients) providers[name] = { configured: client.configured, circuit: client.circuitState };
      return { status: 'ready' as const, providers };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description: 'Metrics in the Prometheus text exposition format.',
        security: NO_AUTH,
        response: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          } as never,
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.text();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};

export default operationRoutes;
