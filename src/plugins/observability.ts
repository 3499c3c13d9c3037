/**
 * One log line and the HTTP metrics of every answered request. A route whose requests
 * are held open (SSE, long-poll) says so in its config, so their durations stay out of
 * the latency histogram of ordinary answers.
 */
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Metrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Requests to this route may be held open: always, or when the predicate says so. */
    held?: boolean | ((request: FastifyRequest) => boolean);
  }
}

export interface ObservabilityOptions {
  metrics: Metrics;
}

/** Logger levels at which the per-request `info` line is written. */
const LOGS_INFO: ReadonlySet<string> = new Set(['trace', 'debug', 'info']);

/** A link token in a URL is a credential: it never reaches a log. */
export function redactUrl(url: string): string {
  return url.includes('token=') ? url.replace(/([?&]token=)[^&#]*/g, '$1[redacted]') : url;
}

function isHeld(request: FastifyRequest, held: boolean | ((request: FastifyRequest) => boolean) | undefined): boolean {
  return typeof held === 'function' ? held(request) : held === true;
}

const observability: FastifyPluginCallback<ObservabilityOptions> = (app, { metrics }, done) => {
  app.addHook('onResponse', (request, reply, next) => {
    // One read: Fastify builds a new object for every `routeOptions`.
    const { url, config } = request.routeOptions;
    const route = url ?? 'unmatched';
    metrics.onHttpResponse(request.method, route, reply.statusCode, isHeld(request, config?.held) ? undefined : reply.elapsedTime / 1000);
    // Built only when it will be written (LOG_LEVEL=info or lower).
    if (LOGS_INFO.has(request.log.level)) {
      request.log.info(
        { method: request.method, url: redactUrl(request.url), statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request completed',
      );
    }
    next();
  });
  done();
};

export default fastifyPlugin(observability, { name: 'taskgate-observability' });
