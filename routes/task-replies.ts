/**
 * What the task routes share: where the URLs they hand out point (the public origin),
 * a Task answer with its ETag and caching headers, and the signal of a client that left.
 */
import type { FastifyContextConfig, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../src/errors.js';
import { Memo } from '../src/memo.js';
import type { RenderedTask, TaskSnapshot, ViewContext } from '../src/tasks/render.js';
import { isTerminal } from '../schemas/task.js';

export interface ViewSettings {
  /** TASKGATE_PUBLIC_URL; unset: the origin of each request. */
  publicUrl: string | undefined;
}

/** Route config of every `/tasks/:id…` route: a URL the router cannot parse has a bad id. */
export const TASK_ROUTE_CONFIG: FastifyContextConfig = { badUrlCode: 'invalid_task_id' };

/** …and of those a browser link token may authorize (status, events, content). */
export const LINKED_TASK_ROUTE_CONFIG: FastifyContextConfig = { ...TASK_ROUTE_CONFIG, linkToken: true };

// A host name, an IPv4 address or a bracketed IPv6 address, with an optional port.
const SAFE_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The gateway's public origin for this request: TASKGATE_PUBLIC_URL, else the request's
 * own (`Host`, and `X-Forwarded-Proto`/`-Host` only from trusted proxies, which Fastify's
 * trustProxy decides). A Host that is not a host name is refused rather than echoed.
 */
export function publicOrigin(request: FastifyRequest, settings: ViewSettings): string {
  if (settings.publicUrl !== undefined) return settings.publicUrl;
  const host = request.host;
  if (!safeHosts.get(host, isSafeHost)) throw new GatewayError('invalid_request', { detail: 'The Host header is not a valid host name.' });
  return `${request.protocol}://${host}`;
}

/** The few Hosts a gateway is asked by come back on every request: each is checked once. */
const safeHosts = new Memo<string, boolean>(256);

function isSafeHost(host: string): boolean {
  return SAFE_HOST.test(host);
}

/** Where this answer's URLs point, carrying the link token that authorized it (if one did). */
export function viewContext(request: FastifyRequest, settings: ViewSettings): ViewContext {
  return { origin: publicOrigin(request, settings), token: request.linkToken };
}

/** RFC 9110's weak comparison, which If-None-Match uses: `W/` prefixes do not matter. */
function matchesIfNoneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}

/**
 * `Age` of a running task's answer that was fetched before this request asked (a reused
 * one), in whole seconds; undefined otherwise. Terminal answers carry none: with their
 * `max-age` it would only make browsers drop them sooner, and they never change.
 */
export function ageOf(snapshot: TaskSnapshot, askedAt: number): number | undefined {
  if (snapshot.fetchedAt >= askedAt || isTerminal(snapshot.state.status)) return undefined;
  return Math.floor((Date.now() - snapshot.fetchedAt) / 1000);
}

/** Sends a rendered Task with its ETag and caching headers, or a 304 when the client has this version. */
export function sendTask(
  request: FastifyRequest,
  reply: FastifyReply,
  rendered: RenderedTask,
  terminalMaxAgeSeconds: number,
  ageSeconds?: number,
): FastifyReply {
  // Terminal tasks never change again; others must be revalidated (the ETag makes that cheap).
  reply.header('cache-control', isTerminal(rendered.task.status) ? `private, max-age=${terminalMaxAgeSeconds}` : 'no-cache');
  if (ageSeconds !== undefined) reply.header('age', String(Math.max(0, ageSeconds)));
  reply.header('etag', rendered.etag);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && matchesIfNoneMatch(ifNoneMatch, rendered.etag)) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(rendered.json);
}

/**
 * Who a request counts against for per-client caps: its client key, or its address on an
 * open gateway and for a browser link (as for the rate limit).
 */
export function clientOf(request: FastifyRequest): string {
  return request.clientKeyId ?? request.ip;
}

/** An AbortSignal that fires when the client hangs up before we answer. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
