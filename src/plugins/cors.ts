/**
 * CORS for browser apps on other origins (TASKGATE_CORS_ORIGINS); nothing when unset.
 */
import type { FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import fastifyCors from '@fastify/cors';
import { GatewayError } from '../errors.js';
import { allowedMethods } from './problems.js';

export interface CorsOptions {
  origins: string[] | '*' | null;
}

const cors: FastifyPluginAsync<CorsOptions> = async (app, { origins }) => {
  if (origins === null) return;
  // A plain OPTIONS (no Origin, or no method asked for) asks what the path allows (RFC 9110
  // §9.3.7): `Allow` says it; an unknown path is a 404 like any other method's. Added before
  // the plugin, whose own hook answers every OPTIONS.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method !== 'OPTIONS' || (request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined)) {
      done();
      return;
    }
    const allowed = allowedMethods(request.server, request.url.split('?')[0] ?? '/').filter((method) => method !== 'OPTIONS');
    if (allowed.length === 0) {
      done(new GatewayError('not_found', { detail: 'No route matches this path; see /docs.' }));
      return;
    }
    void reply.code(204).header('allow', [...allowed, 'OPTIONS'].join(', ')).send();
  });
  await app.register(fastifyCors, {
    origin: origins,
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Prefer', 'If-None-Match', 'X-Request-Id', 'Last-Event-ID'],
    exposedHeaders: ['ETag', 'Retry-After', 'Preference-Applied', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    maxAge: 600,
    // A preflight without Access-Control-Request-Method is answered as one (the hook above
    // takes plain OPTIONS), rather than with the plugin's 400 text/plain.
    strictPreflight: false,
  });
};

export default fastifyPlugin(cors, { name: 'taskgate-cors' });
