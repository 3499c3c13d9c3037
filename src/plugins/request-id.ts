/**
 * Request ids: the client's `X-Request-Id` when it is safe to echo, else a new one; sent
 * back on every answer and carried by every problem and log line.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginCallback, RawRequestDefaultExpression } from 'fastify';
import fastifyPlugin from 'fastify-plugin';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Fastify's `genReqId`. */
export function requestIdOf(request: RawRequestDefaultExpression): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

const requestId: FastifyPluginCallback = (app, _options, done) => {
  // A callback hook: it runs on every request, and an async one costs a promise each.
  app.addHook('onRequest', (request, reply, next) => {
    reply.header('x-request-id', request.id);
    next();
  });
  done();
};

export default fastifyPlugin(requestId, { name: 'taskgate-request-id' });
