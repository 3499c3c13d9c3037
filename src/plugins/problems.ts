/**
 * Every error answer is problem+json (docs/errors.md): the one error handler, the
 * not-found and method-not-allowed answers, and the router's own errors (bad
 * percent-encoding, over-long parameters). Rendering is src/errors.ts's.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { GatewayError, sendProblem, toGatewayError, type ProblemCode } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The problem code of a request to this route whose URL the router cannot parse. */
    badUrlCode?: ProblemCode;
  }
}

interface KnownPath {
  pattern: RegExp;
  methods: Set<string>;
  badUrlCode: ProblemCode | undefined;
}

/** Path patterns of the registered routes, so an unknown method on a known path is a 405. */
class RouteTable {
  private readonly paths = new Map<string, KnownPath>();

  add(url: string, methods: string | string[], badUrlCode: ProblemCode | undefined): void {
    // @fastify/cors adds `OPTIONS *` for preflights: it must not make every path "known".
    if (url === '*' || url === '/*') return;
    let entry = this.paths.get(url);
    if (entry === undefined) {
      const source = url
        .split('/')
        .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      entry = { pattern: new RegExp(`^${source}$`), methods: new Set(), badUrlCode };
      this.paths.set(url, entry);
    }
    entry.badUrlCode ??= badUrlCode;
    for (const method of Array.isArray(methods) ? methods : [methods]) entry.methods.add(method);
  }

  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const { pattern, methods: known } of this.paths.values()) {
      if (pattern.test(path)) for (const method of known) methods.add(method);
    }
    return [...methods];
  }

  badUrlCode(path: string): ProblemCode | undefined {
    for (const { pattern, badUrlCode } of this.paths.values()) if (badUrlCode !== undefined && pattern.test(path)) return badUrlCode;
    return undefined;
  }
}

const tables = new WeakMap<FastifyInstance, RouteTable>();

/**
 * Fastify's `frameworkErrors` (a server option, so not part of the plugin): a URL the
 * router rejects is a 400 whose code the matching route chose (`invalid_task_id` for a
 * task route), else `invalid_request`.
 */
export function routerErrorHandler(error: Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Undecodable escapes would keep the path from matching any route pattern.
  const path = (request.url.split('?')[0] ?? '/').replace(/%(?![0-9A-Fa-f]{2})/g, '%25');
  const code = tables.get(request.server)?.badUrlCode(path) ?? 'invalid_request';
  return sendProblem(
    request,
    reply,
    new GatewayError(code, {
      detail: code === 'invalid_task_id' ? 'The task id in the path is not valid.' : 'The request URL is not valid.',
      cause: error,
    }),
  );
}

/** The methods the routes of this path serve (an `Allow` header's list); empty for an unknown path. */
export function allowedMethods(server: FastifyInstance, path: string): string[] {
  return tables.get(server)?.allowed(path) ?? [];
}

const problems: FastifyPluginCallback = (app, _options, done) => {
  const table = new RouteTable();
  tables.set(app, table);
  app.addHook('onRoute', (route) => table.add(route.url, route.method, route.config?.badUrlCode));

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
    const allowed = table.allowed(path);
    // A route that serves this method and found nothing (a missing file under /docs/static/*) is a 404.
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(
        request,
        reply,
        new GatewayError('method_not_allowed', { detail: `${request.method} is not allowed here; use ${allowed.join(', ')}.` }),
      );
    }
    return sendProblem(request, reply, new GatewayError('not_found', { detail: 'No route matches this path; see /docs.' }));
  });
  done();
};

export default fastifyPlugin(problems, { name: 'taskgate-problems' });
