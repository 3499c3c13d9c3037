/**
 * The error model of the contract (docs/errors.md): every problem `code` with its HTTP
 * status and title, and the RFC 9457 body. The gateway's typed errors (src/errors.ts) and
 * the spec's error responses are both made from this catalog.
 */
import { z } from 'zod';

export const PROBLEM_CATALOG = {
  invalid_task_id: { status: 400, title: 'Invalid task id' },
  invalid_request: { status: 400, title: 'Invalid request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  not_found: { status: 404, title: 'Not found' },
  no_provider_for_task_id: { status: 404, title: 'No provider for this task id' },
  task_not_found: { status: 404, title: 'Task not found' },
  output_not_found: { status: 404, title: 'Output not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  task_not_ready: { status: 409, title: 'Task has no result yet' },
  webhook_limit_reached: { status: 409, title: 'Too many webhooks on this task' },
  content_expired: { status: 410, title: 'Result file no longer served' },
  // Its own code, not invalid_request: the values may be fine, the framing (type, encoding, charset) is not.
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  quota_exceeded: { status: 429, title: 'Quota exceeded' },
  internal_error: { status: 500, title: 'Internal error' },
  upstream_auth_failed: { status: 502, title: 'Provider rejected the gateway credentials' },
  upstream_error: { status: 502, title: 'Provider error' },
  upstream_invalid_response: { status: 502, title: 'Invalid response from provider' },
  content_blocked: { status: 502, title: 'Result URL refused' },
  upstream_rate_limited: { status: 503, title: 'Provider rate limit reached' },
  provider_not_configured: { status: 503, title: 'Provider not configured' },
  provider_unavailable: { status: 503, title: 'Provider temporarily unavailable' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  webhooks_not_configured: { status: 503, title: 'Webhooks not configured' },
  upstream_timeout: { status: 504, title: 'Provider timed out' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CATALOG;

export const PROBLEM_CODES = Object.keys(PROBLEM_CATALOG) as [ProblemCode, ...ProblemCode[]];

/** The `type` URI reference of a code; the gateway serves a page there. */
export function problemType(code: ProblemCode): string {
  return `/problems/${code}`;
}

export const ProblemSchema = z
  .object({
    type: z.string().describe('URI reference identifying the problem type, e.g. `/problems/task_not_found`'),
    title: z.string().describe('Short, human-readable summary of the problem type'),
    status: z.number().int().describe('The HTTP status code'),
    detail: z.string().describe('Human-readable explanation of this occurrence; never carries secrets or upstream bodies'),
    code: z.enum(PROBLEM_CODES).describe('Stable machine-readable error code'),
    request_id: z.string().describe('Echo of `X-Request-Id`, for support'),
    provider: z.string().optional().describe('The provider involved, when there is one'),
  })
  .meta({ id: 'Problem', description: 'An RFC 9457 problem details object (`application/problem+json`).' });
export type Problem = z.infer<typeof ProblemSchema>;
