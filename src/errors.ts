/**
 * Typed gateway errors, the one converter from anything thrown to them, and their
 * rendering as RFC 9457 problem+json. The codes, statuses and titles are the contract's
 * (schemas/problem.ts); nothing else decides a status code or writes an error body.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { PROBLEM_CATALOG, problemType, type Problem, type ProblemCode } from '../schemas/problem.js';

export { PROBLEM_CATALOG, problemType, type Problem, type ProblemCode };

export interface GatewayErrorOptions {
  detail?: string;
  provider?: string;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** Overrides the catalog's status, for framework 4xx errors (413, 415…) shown as invalid_request. */
  status?: number;
  /** Response headers the answer needs (e.g. `Content-Range` of a 416). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly provider: string | undefined;
  readonly retryAfter: number | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ProblemCode, options: GatewayErrorOptions = {}) {
    const entry = PROBLEM_CATALOG[code];
    super(options.detail ?? entry.title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? entry.status;
    this.title = entry.title;
    this.detail = options.detail ?? entry.title;
    this.provider = options.provider;
    this.retryAfter = options.retryAfter;
    this.headers = options.headers;
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

/** Which codes an HTTP status can carry (for the spec's response descriptions). */
export function codesForStatus(status: number): ProblemCode[] {
  return (Object.keys(PROBLEM_CATALOG) as ProblemCode[]).filter((code) => PROBLEM_CATALOG[code].status === status);
}

/** The message of a validation issue as a sentence that names its field once ("id: A task id is …" says it twice). */
function describeIssue(field: string, message: string): string {
  const words = message.toLowerCase();
  return words.startsWith(field.toLowerCase()) || words.includes(` ${field.toLowerCase()} `) ? message : `${field}: ${message}`;
}

/**
 * Anything thrown, as the one error type that is rendered. A GatewayError is itself; a
 * schema validation error is invalid_task_id (path) or invalid_request; a framework 4xx
 * keeps its status as invalid_request; anything else is a bug: internal_error.
 */
export function toGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = error.validationContext ?? 'request';
    // The library's declaration of these issues reaches a fastify path its exports hide: typed here.
    const issues: readonly FastifySchemaValidationError[] = error.validation;
    const details = issues.map((issue) => describeIssue(issue.instancePath.replace(/^\//, '') || context, issue.message ?? 'is not valid'));
    // The contract gives a bad path id its own code; everything else is invalid_request.
    return new GatewayError(context === 'params' ? 'invalid_task_id' : 'invalid_request', {
      detail: `${details.join('; ')}.`.replace(/\.\.$/, '.'),
      cause: error,
    });
  }
  const statusCode = (error as FastifyError | undefined)?.statusCode;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    if (statusCode === 429) return new GatewayError('rate_limited', { cause: error });
    if (statusCode === 415) {
      // Fastify's message echoes the Content-Type; the detail says what is accepted instead.
      return new GatewayError('unsupported_media_type', { detail: 'The body must be JSON: `Content-Type: application/json`, UTF-8, not compressed.', cause: error });
    }
    return new GatewayError('invalid_request', { status: statusCode, detail: (error as FastifyError).message, cause: error });
  }
  return new GatewayError('internal_error', { detail: 'The gateway failed unexpectedly.', cause: error });
}

export function toProblem(error: GatewayError, requestId: string): Problem {
  const problem: Problem = {
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    request_id: requestId,
  };
  if (error.provider !== undefined) problem.provider = error.provider;
  return problem;
}

/** Sends a GatewayError as problem+json, with the headers its code calls for. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
  if (error.code === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="taskgate"');
  if (error.headers !== undefined) reply.headers(error.headers);
  return reply
    .code(error.status)
    .type('application/problem+json; charset=utf-8')
    .send(JSON.stringify(toProblem(error, request.id)));
}

/**
 * A problem as a whole raw HTTP/1.1 answer that ends the connection, for a socket that has
 * no reply to send it through: a connection past the cap, or one the HTTP parser gave up on.
 */
export function rawProblemResponse(error: GatewayError, requestId: string = randomUUID()): string {
  const body = JSON.stringify(toProblem(error, requestId));
  const lines = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    'content-type: application/problem+json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    `x-request-id: ${requestId}`,
  ];
  if (error.retryAfter !== undefined) lines.push(`retry-after: ${error.retryAfter}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
