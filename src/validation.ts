/**
 * The routes' validator compiler: fastify-type-provider-zod's (the same checks, the same
 * errors), except that validated headers are not handed back to Fastify when they are what
 * the client sent: Fastify would then merge them over the raw headers on every later
 * `request.headers` read (a copy of all headers each time; profiled: BENCHMARKS.md).
 */
import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod';
import type { z } from 'zod';

type Data = Record<string, unknown> | null;

/** True when every validated header is the very value the client sent. */
function sameHeaders(result: ReturnType<ReturnType<typeof zodValidatorCompiler>>, data: Data): boolean {
  if (typeof result !== 'object' || result === null || !('value' in result) || data === null) return false;
  const value = result.value as Record<string, unknown> | null;
  if (value === null || typeof value !== 'object') return false;
  for (const key of Object.keys(value)) if (value[key] !== data[key]) return false;
  return true;
}

export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const validate = zodValidatorCompiler(route);
  if (route.httpPart !== 'headers') return validate;
  return (data: Data) => {
    const result = validate(data);
    return sameHeaders(result, data) ? true : result;
  };
};
