/**
 * Pieces of route schemas that only shape the OpenAPI document: a JSON response with its
 * own description, headers and named examples, and the security requirements.
 */
import type { z } from 'zod';

export interface Example {
  summary: string;
  value: unknown;
}

export interface ResponseHeader {
  type: 'string' | 'integer';
  description: string;
}

export interface JsonResponseDocs {
  examples?: Record<string, Example>;
  headers?: Record<string, ResponseHeader>;
}

/**
 * A 2xx JSON response written the way Fastify accepts per-media-type schemas: the zod
 * schema still serializes (and types) the reply, and src/openapi.ts turns the rest into
 * the OpenAPI response object, so the spec says more than "Default Response".
 */
export function jsonResponse<S extends z.ZodType>(schema: S, description: string, docs: JsonResponseDocs = {}) {
  return {
    description,
    ...(docs.headers === undefined ? {} : { headers: docs.headers }),
    content: { 'application/json': { schema, ...(docs.examples === undefined ? {} : { examples: docs.examples }) } },
  };
}

/**
 * The `/tasks` API: a bearer key when the operator sets TASKGATE_API_KEYS, nothing
 * otherwise. The document is the same either way, so both alternatives are listed.
 */
export const CLIENT_AUTH: Array<Record<string, string[]>> = [{ bearerAuth: [] }, {}];

/** The routes a browser link may call: a bearer key, a link token (`?token=`), or nothing on an open gateway. */
export const LINK_AUTH: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { linkToken: [] }, {}];

/** Health, readiness and metrics never ask for a key. */
export const NO_AUTH: Array<Record<string, string[]>> = [];

export const REQUEST_ID_HEADER: ResponseHeader = {
  type: 'string',
  description: 'The `X-Request-Id` the client sent (when it is safe to echo), else one made by the gateway',
};
