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

/**
 * Whether the router's match for a path is the route `url`: its parameters, written into
 * `url`, give the path back (the router says whether a route serves a path; this says which).
 */
function isMatchOf(url: string, params: Record<string, string | undefined>, segments: readonly string[]): boolean {
  const parts = url.split('/');
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index]!;
    if (part === '*') return params['*'] === segments.slice(index).join('/');
    const expected = part.startsWith(':') ? params[part.slice(1).replace(/\(.*$/, '')] : part;
    if (expected !== segments[index]) return false;
  }
  return parts.length === segments.length;
}

function decodedSegments(path: string): string[] {
  return path.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
}

/** The registered routes, for an `Allow` list; which of them serve a path is the router's answer (`findRoute`). */
class RouteTable {
  /** Each route path with its methods, in registration order (the order of an `Allow` list). */
  private readonly routes = new Map<string, string[]>();
  /** Routes that choose the problem code of a URL the router rejects, as path patterns. */
  private readonly badUrlPatterns: Array<{ pattern: RegExp; code: ProblemCode }> = [];

  constructor(private readonly app: FastifyInstance) {}

  add(url: string, methods: string | string[], badUrlCode: ProblemCode | undefined): void {
    // @fastify/cors adds `OPTIONS *` for preflights: it must not make every path "known".
    if (url === '*' || url === '/*') return;
    const known = this.routes.get(url) ?? [];
    this.routes.set(url, known);
    for (const method of Array.isArray(methods) ? methods : [methods]) if (!known.includes(method)) known.push(method);
    if (badUrlCode === undefined) return;
    const source = url
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    this.badUrlPatterns.push({ pattern: new RegExp(`^${source}$`), code: badUrlCode });
  }

  allowed(path: string): string[] {
    const segments = decodedSegments(path);
    const allowed: string[] = [];
    for (const [url, methods] of this.routes) {
      for (const method of methods) {
        if (allowed.includes(method)) continue;
        const match = this.app.findRoute({ method, url: path });
        if (match !== null && isMatchOf(url, match.params, segments)) allowed.push(method);
      }
    }
    return allowed;
  }

  /**
   * The router cannot name the route of a URL it rejects (its `findRoute` answers an
   * undecodable or over-long one with its own error handler): the patterns of the routes
   * that chose a code do.
   */
  badUrlCode(path: string): ProblemCode | undefined {
    return this.badUrlPatterns.find(({ pattern }) => pattern.test(path))?.code;
  }
}

const tables = new WeakMap<FastifyInstance, RouteTable>();

/**
 * Fastify's `frameworkErrors` (a server option, so not part of the plugin): a URL the
 * router rejects is a 400 whose code the matching route chose (`invalid_task_id` for a
 * task route), else `invalid_request`.
 */
export function routerErrorHandler(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  // Undecodable escapes would keep the path from matching any route pattern.
  const path = (request.url.split('?')[0] ?? '/').replace(/%(?![0-9A-Fa-f]{2})/g, '%25');
  const code = tables.get(request.server)?.badUrlCode(path) ?? 'invalid_request';
  // Fastify's frameworkErrors expects nothing back: the reply is sent, not returned.
  sendProblem(
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
  const table = new RouteTable(app);
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
