/**
 * GatewayError <-> SharedError, the error half of a FlightCodec for task lookups: a waiter
 * on another replica answers with the same problem (code, detail, provider, Retry-After)
 * the holder got. Anything that is not a GatewayError is a bug and is not shared.
 */
import { GatewayError, PROBLEM_CATALOG, type ProblemCode } from '../errors.js';
import type { SharedError } from './single-flight.js';

function isProblemCode(code: string): code is ProblemCode {
  return Object.hasOwn(PROBLEM_CATALOG, code);
}

export function encodeGatewayError(error: unknown): SharedError | undefined {
  if (!(error instanceof GatewayError)) return undefined;
  const shared: SharedError = { code: error.code, detail: error.detail };
  if (error.provider !== undefined) shared.provider = error.provider;
  if (error.retryAfter !== undefined) shared.retryAfter = error.retryAfter;
  return shared;
}

/** An unknown code (a newer replica's?) becomes an internal_error rather than a guess. */
export function decodeGatewayError(shared: SharedError): GatewayError {
  if (!isProblemCode(shared.code)) return new GatewayError('internal_error', { detail: PROBLEM_CATALOG.internal_error.title });
  const options: { detail: string; provider?: string; retryAfter?: number } = { detail: shared.detail };
  if (shared.provider !== undefined) options.provider = shared.provider;
  if (shared.retryAfter !== undefined) options.retryAfter = shared.retryAfter;
  return new GatewayError(shared.code, options);
}
