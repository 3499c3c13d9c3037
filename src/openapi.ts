/**
 * How the OpenAPI document is made from the routes' zod schemas: named components from
 * the zod registry, and every error response documented as `application/problem+json`
 * with the codes it can carry.
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { codesForStatus, PROBLEM_CATALOG, problemType, type ProblemCode } from './errors.js';

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];
type Transformed = ReturnType<typeof jsonSchemaTransform>;

function problemExample(code: ProblemCode) {
  const { status, title } = PROBLEM_CATALOG[code];
  return { type: problemType(code), title, status, detail: title + '.', code, request_id: 'req-7f3a9c' };
}

/** Wraps a generated error response as problem+json with one example per code. */
function problemResponse(status: number, schema: unknown) {
  const codes = codesForStatus(status);
  return {
    description: codes.length > 0 ? `Problem: ${codes.map((code) => `\`${code}\``).join(', ')}` : 'Problem',
    content: {
      'application/problem+json': {
        schema,
        examples: Object.fromEntries(codes.map((code) => [code, { value: problemExample(code) }])),
      },
    },
  };
}

/** A response written directly in OpenAPI form (e.g. the SSE stream), not a zod schema. */
function isOpenApiResponse(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'content' in value && !('_zod' in value);
}

export function transform(input: TransformInput): Transformed {
  const rawResponses = (input.schema as { response?: Record<string, unknown> } | undefined)?.response ?? {};
  const passThrough = Object.entries(rawResponses).filter(([, response]) => isOpenApiResponse(response));
  const zodOnly =
    passThrough.length === 0
      ? input
      : {
          ...input,
          schema: {
            ...input.schema,
            response: Object.fromEntries(Object.entries(rawResponses).filter(([, response]) => !isOpenApiResponse(response))),
          },
        };
  const result = jsonSchemaTransform(zodOnly as TransformInput);
  const schema = result.schema as { response?: Record<string, unknown> } | undefined;
  if (schema && passThrough.length > 0) schema.response = { ...Object.fromEntries(passThrough), ...schema.response };
  if (schema?.response) {
    for (const [status, response] of Object.entries(schema.response)) {
      if (Number(status) >= 400) schema.response[status] = problemResponse(Number(status), response);
    }
  }
  return result;
}

type OpenApiDocument = ReturnType<typeof jsonSchemaTransformObject> & {
  paths?: unknown;
  components?: { schemas?: Record<string, Record<string, unknown>> };
};

function referencedNames(value: unknown): string[] {
  return [...JSON.stringify(value ?? null).matchAll(/#\/components\/schemas\/([A-Za-z0-9_.-]+)/g)].map((match) => match[1]!);
}

/**
 * Named components from the zod registry, tidied: zod emits an `…Input` twin of every
 * named schema, but ours are only ever responses, so twins that nothing references go;
 * `$schema`/`$id` inside components only confuse generators.
 */
export function transformObject(input: Parameters<typeof jsonSchemaTransformObject>[0]): OpenApiDocument {
  const document = jsonSchemaTransformObject(input) as OpenApiDocument;
  const schemas = document.components?.schemas;
  if (schemas === undefined) return document;
  const used = new Set<string>();
  const pending = referencedNames(document.paths);
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (used.has(name)) continue;
    used.add(name);
    pending.push(...referencedNames(schemas[name]));
  }
  for (const [name, schema] of Object.entries(schemas)) {
    if (name.endsWith('Input') && !used.has(name)) {
      delete schemas[name];
      continue;
    }
    delete schema.$schema;
    delete schema.$id;
  }
  return document;
}

export function swaggerOptions(version: string): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'taskgate',
        version,
        description:
          'One API for the status of asynchronous AI generation tasks, whichever provider runs them. Errors are RFC 9457 `application/problem+json`.',
      },
      servers: [{ url: '/', description: 'This gateway' }],
      tags: [
        { name: 'tasks', description: 'Task status, long-poll and server-sent events' },
        { name: 'operations', description: 'Health, readiness, metrics and this document' },
      ],
    },
    transform,
    transformObject,
  };
}
