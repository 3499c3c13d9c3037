/**
 * Typed gateway errors and the catalog that gives each `code` of the contract its HTTP
 * status and title. Every error a client sees is rendered from here as RFC 9457
 * problem+json (see src/app.ts); nothing else decides a status code.
 */
export const PROBLEM_CATALOG = {
  invalid_task_id: { status: 400, title: 'Invalid task id' },
  invalid_request: { status: 400, title: 'Invalid request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  not_found: { status: 404, title: 'Not found' },
  no_provider_for_task_id: { status: 404, title: 'No provider for this task id' },
  task_not_found: { status: 404, title: 'Task not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal error' },
  upstream_auth_failed: { status: 502, title: 'Provider rejected the gateway credentials' },
  upstream_error: { status: 502, title: 'Provider error' },
  upstream_invalid_response: { status: 502, title: 'Invalid response from provider' },
  upstream_rate_limited: { status: 503, title: 'Provider rate limit reached' },
  provider_not_configured: { status: 503, title: 'Provider not configured' },
  provider_unavailable: { status: 503, title: 'Provider temporarily unavailable' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  upstream_timeout: { status: 504, title: 'Provider timed out' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CATALOG;

export interface GatewayErrorOptions {
  detail?: string;
  provider?: string;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** Overrides the catalog's status, for framework 4xx errors (413, 415…) shown as invalid_request. */
  status?: number;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly provider: string | undefined;
  readonly retryAfter: number | undefined;

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
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  request_id: string;
  provider?: string;
}

/** Which codes an HTTP status can carry (for the spec's response descriptions). */
export function codesForStatus(status: number): ProblemCode[] {
  return (Object.keys(PROBLEM_CATALOG) as ProblemCode[]).filter((code) => PROBLEM_CATALOG[code].status === status);
}

export function problemType(code: ProblemCode): string {
  return `/problems/${code}`;
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
