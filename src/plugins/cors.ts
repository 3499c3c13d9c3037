/**
 * CORS for browser apps on other origins (TASKGATE_CORS_ORIGINS); nothing when unset.
 */
import type { FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import fastifyCors from '@fastify/cors';

export interface CorsOptions {
  origins: string[] | '*' | null;
}

const cors: FastifyPluginAsync<CorsOptions> = async (app, { origins }) => {
  if (origins === null) return;
  await app.register(fastifyCors, {
    origin: origins,
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Prefer', 'If-None-Match', 'X-Request-Id', 'Last-Event-ID'],
    exposedHeaders: ['ETag', 'Retry-After', 'Preference-Applied', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    maxAge: 600,
    // An OPTIONS that is not a preflight (no Origin or no Access-Control-Request-Method) is
    // a plain 204 too, rather than the plugin's 400 text/plain: every error here is a problem.
    strictPreflight: false,
  });
};

export default fastifyPlugin(cors, { name: 'taskgate-cors' });
