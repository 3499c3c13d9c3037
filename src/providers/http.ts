/**
 * What a finished upstream HTTP answer means before any provider-specific mapping: a
 * non-2xx answer becomes the right GatewayError, a 2xx body is parsed as JSON and checked
 * against the provider's schema. Every `detail` here is a fixed sentence: never a raw
 * upstream body, a key or a stack; the raw material goes to `cause` for logs.
 */
import type { z } from 'zod';
import { GatewayError } from '../errors.js';
import { parseRetryAfter } from '../upstream/retry-after.js';
import type { UpstreamResponse } from '../upstream/types.js';

/** Provider-specific: does this non-2xx answer mean "no such task"? Must not throw. */
export type NotFoundPredicate = (response: UpstreamResponse) => boolean;

export interface HttpErrorOptions {
  provider: string;
  isNotFound: NotFoundPredicate;
}

export interface TaskBodyOptions<Body> extends HttpErrorOptions {
  schema: z.ZodType<Body>;
}

/** Seconds a client is told to wait after a provider 429 that named no usable delay. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;
const CAUSE_BODY_EXCERPT_CHARS = 500;

/** A header's value whatever the case of its name; the first one when it was repeated. */
export function getHeader(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const wanted = name.toLowerCase();
  // undici gives lower-case names: the direct lookup is the usual path.
  let value = headers[wanted];
  if (value === undefined) {
    for (const [key, candidate] of Object.entries(headers)) if (key.toLowerCase() === wanted) value ??= candidate;
  }
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The `Retry-After` a client is told after a provider 429: the provider's, at least 1 s,
 * or DEFAULT_RETRY_AFTER_SECONDS when it sent none that parses.
 */
export function retryAfterSeconds(value: string | undefined, nowMs: number = Date.now()): number {
  return Math.max(1, parseRetryAfter(value, nowMs) ?? DEFAULT_RETRY_AFTER_SECONDS);
}

export function isSuccessStatus(statusCode: number): boolean {
  return statusCode >= 200 && statusCode <= 299;
}

/** JSON text as a value, or undefined when it is not JSON (for not-found predicates). */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(stripByteOrderMark(text)) as unknown;
  } catch {
    return undefined;
  }
}

function stripByteOrderMark(text: string): string {
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/**
 * The strings an upstream error body uses to say what went wrong, from the shapes both
 * providers send: `{message}`, `{error: "..."}`, `{error: {code, message|error_message}}`,
 * `{code: "task_not_exist", message}`.
 */
export function errorTexts(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const fields = body as Record<string, unknown>;
  const nested: Record<string, unknown> =
    typeof fields.error === 'object' && fields.error !== null ? (fields.error as Record<string, unknown>) : {};
  const candidates = [fields.code, fields.message, fields.error, nested.code, nested.message, nested.error_message];
  return candidates.filter((value): value is string => typeof value === 'string' && value !== '');
}

function httpCause(response: UpstreamResponse): { statusCode: number; bodyExcerpt: string } {
  return { statusCode: response.statusCode, bodyExcerpt: response.body.slice(0, CAUSE_BODY_EXCERPT_CHARS) };
}

/** The GatewayError for a non-2xx upstream answer (docs/errors.md). */
export function classifyHttpError(response: UpstreamResponse, options: HttpErrorOptions): GatewayError {
  const { provider } = options;
  const { statusCode } = response;
  const cause = httpCause(response);
  if (statusCode === 401 || statusCode === 403) {
    return new GatewayError('upstream_auth_failed', {
      provider,
      cause,
      detail: `${provider} rejected the gateway's credentials (HTTP ${statusCode})`,
    });
  }
  if (statusCode === 429) {
    return new GatewayError('upstream_rate_limited', {
      provider,
      cause,
      retryAfter: retryAfterSeconds(getHeader(response.headers, 'retry-after')),
      detail: `${provider} is rate limiting the gateway (HTTP 429)`,
    });
  }
  if (options.isNotFound(response)) {
    return new GatewayError('task_not_found', { provider, cause, detail: `${provider} has no task with this id` });
  }
  // 5xx, and every 4xx not covered above ("A provider 4xx not covered above → 502").
  return new GatewayError('upstream_error', { provider, cause, detail: `${provider} answered HTTP ${statusCode}` });
}

/** The body as JSON; an empty, truncated or HTML body is `upstream_invalid_response`. */
export function parseJsonBody(response: UpstreamResponse, provider: string): unknown {
  try {
    return JSON.parse(stripByteOrderMark(response.body)) as unknown;
  } catch (error) {
    throw new GatewayError('upstream_invalid_response', {
      provider,
      cause: error,
      detail: `${provider} returned a body that is not valid JSON`,
    });
  }
}

/**
 * The common front half of every adapter's `interpret`: a non-2xx answer throws its
 * classification, a 2xx body must be JSON that matches the provider's schema.
 */
export function readTaskBody<Body>(response: UpstreamResponse, options: TaskBodyOptions<Body>): Body {
  if (!isSuccessStatus(response.statusCode)) throw classifyHttpError(response, options);
  const json = parseJsonBody(response, options.provider);
  const parsed = options.schema.safeParse(json);
  if (!parsed.success) {
    throw new GatewayError('upstream_invalid_response', {
      provider: options.provider,
      cause: parsed.error,
      detail: `${options.provider} returned a task in an unexpected shape`,
    });
  }
  return parsed.data;
}
