/**
 * Traces, when they are on (src/tracing/): whatever the app's tracing adds to its requests
 * (src/tracing/requests.ts). Registered before every other plugin so the server span covers
 * their hooks too. Off, it adds nothing: no hook, no decoration.
 */
import type { FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Tracing } from '../tracing/api.js';

export interface TracingOptions {
  tracing: Tracing;
}

const tracingPlugin: FastifyPluginAsync<TracingOptions> = async (app, { tracing }) => {
  await tracing.instrument(app);
};

export default fastifyPlugin(tracingPlugin, { name: 'taskgate-tracing' });
