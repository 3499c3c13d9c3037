/**
 * The error responses of an operation, documented from the codes it can answer: grouped by
 * their HTTP status, each group a problem+json response that src/openapi.ts fills with
 * the codes' descriptions and one example per code.
 */
import { PROBLEM_CATALOG, ProblemSchema, type ProblemCode } from '../schemas/problem.js';

/** The extension that carries a response's codes to src/openapi.ts (removed from the spec there). */
export const PROBLEM_CODES_KEY = 'x-problem-codes';

export interface ProblemResponse {
  description: string;
  [PROBLEM_CODES_KEY]: ProblemCode[];
  content: { 'application/problem+json': { schema: typeof ProblemSchema } };
}

/** What every lookup of a task can answer besides its own codes (routing, auth, limits, upstream trouble). */
export const TASK_LOOKUP_CODES: readonly ProblemCode[] = [
  'invalid_task_id',
  'invalid_request',
  'unauthorized',
  'no_provider_for_task_id',
  'task_not_found',
  'rate_limited',
  'upstream_auth_failed',
  'upstream_error',
  'upstream_invalid_response',
  'upstream_rate_limited',
  'provider_not_configured',
  'provider_unavailable',
  'service_unavailable',
  'upstream_timeout',
];

/**
 * Responses for these codes, by status. `framework` adds statuses outside the catalog that
 * the framework answers as `invalid_request` (413 body too large, 415 media type).
 */
export function problemResponses(codes: readonly ProblemCode[], framework: readonly number[] = []): Record<number, ProblemResponse> {
  const byStatus = new Map<number, ProblemCode[]>();
  const add = (status: number, code: ProblemCode) => {
    const list = byStatus.get(status) ?? [];
    if (!list.includes(code)) list.push(code);
    byStatus.set(status, list);
  };
  for (const code of codes) add(PROBLEM_CATALOG[code].status, code);
  for (const status of framework) add(status, 'invalid_request');
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      { description: '', [PROBLEM_CODES_KEY]: list, content: { 'application/problem+json': { schema: ProblemSchema } } },
    ]),
  );
}
