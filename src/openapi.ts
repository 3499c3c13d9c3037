/**
 * How the OpenAPI document is made from the routes' zod schemas: named components from
 * the zod registry, and every error response documented as `application/problem+json`
 * with the codes it can carry.
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { codesForStatus, PROBLEM_CATALOG, problemType, type ProblemCode } from './errors.js';
import { PROVIDER_NAMES } from './providers/index.js';
import { PROBLEM_CODES_KEY } from '../routes/problem-responses.js';

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];
type Transformed = ReturnType<typeof jsonSchemaTransform>;

/** Codes raised about one provider's answer carry `provider` in their problems. */
const PROVIDER_CODES: ReadonlySet<ProblemCode> = new Set([
  'task_not_found',
  'upstream_auth_failed',
  'upstream_error',
  'upstream_invalid_response',
  'upstream_rate_limited',
  'provider_not_configured',
  'provider_unavailable',
  'upstream_timeout',
]);


function problemExample(code: ProblemCode, status: number) {
  const { title } = PROBLEM_CATALOG[code];
  return {
    type: problemType(code),
    title,
    status,
    detail: title + '.',
    code,
    request_id: 'req-7f3a9c',
    ...(PROVIDER_CODES.has(code) ? { provider: PROVIDER_NAMES[0] } : {}),
  };
}

const RETRY_AFTER_HEADER = {
  'retry-after': { type: 'integer', description: 'Seconds to wait before trying again' },
};

/**
 * An error response as problem+json with one example per code it can carry: the codes
 * the operation declared for this status, else every catalog code of the status.
 */
function problemResponse(status: number, response: unknown) {
  const declared = (response as Record<string, unknown> | undefined)?.[PROBLEM_CODES_KEY] as ProblemCode[] | undefined;
  const codes: ProblemCode[] = declared ?? (codesForStatus(status).length > 0 ? codesForStatus(status) : ['invalid_request']);
  const schema = isOpenApiResponse(response) ? response.content['application/problem+json']?.schema : response;
  return {
    description: `Problem: ${codes.map((code) => `\`${code}\``).join(', ')}`,
    ...(status === 429 || status === 503 ? { headers: RETRY_AFTER_HEADER } : {}),
    content: {
      'application/problem+json': {
        schema,
        examples: Object.fromEntries(codes.map((code) => [code, { value: problemExample(code, status) }])),
      },
    },
  };
}

type OpenApiResponse = { description: string; content: Record<string, { schema: unknown }> };

/** A response written directly in OpenAPI form (a JSON response with docs, the SSE stream), not a zod schema. */
function isOpenApiResponse(value: unknown): value is OpenApiResponse {
  return typeof value === 'object' && value !== null && 'content' in value && !('_zod' in value);
}

function isZodSchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

/** An OpenAPI-form response with the zod schemas inside its media types turned into JSON Schema. */
function convertResponse(input: TransformInput, response: OpenApiResponse): OpenApiResponse {
  const content = Object.fromEntries(
    Object.entries(response.content).map(([mediaType, media]) => {
      if (!isZodSchema(media.schema)) return [mediaType, media];
      const converted = jsonSchemaTransform({ ...input, schema: { response: { 200: media.schema } } });
      return [mediaType, { ...media, schema: (converted.schema as { response: Record<string, unknown> }).response[200] }];
    }),
  );
  return { ...response, content };
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
  const result = jsonSchemaTransform(zodOnly);
  const schema = result.schema as { response?: Record<string, unknown> } | undefined;
  if (schema && passThrough.length > 0) {
    const converted = passThrough.map(([status, response]): [string, OpenApiResponse] => [status, convertResponse(input, response as OpenApiResponse)]);
    schema.response = { ...Object.fromEntries(converted), ...schema.response };
  }
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

function componentRef(name: string): string {
  return JSON.stringify(`#/components/schemas/${name}`);
}

/**
 * Named components from the zod registry, tidied: zod emits an `…Input` twin of every
 * named schema. A twin that nothing references goes; one that only requests use (e.g.
 * `BatchRequestInput`) takes the plain name, so clients see `BatchRequest`. `$schema`/`$id`
 * inside components only confuse generators.
 */
/** Operations whose route schema says `x-optional-body`: Fastify validates `{}` for no body, so the body may be left out. */
function markOptionalBodies(document: OpenApiDocument): void {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      if (operation['x-optional-body'] !== true) continue;
      delete operation['x-optional-body'];
      const body = operation['requestBody'] as { required?: boolean } | undefined;
      if (body !== undefined) body.required = false;
    }
  }
}

/**
 * Fastify answers HEAD for every GET (same headers, no body), and the spec says so: a HEAD
 * operation of its own name (`getTask` → `headTask`), without bodies in its responses.
 */
function describeHeadOperations(document: OpenApiDocument): void {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  for (const operations of Object.values(paths)) {
    if (operations['head'] === undefined) continue;
    const head = structuredClone(operations['head']);
    // @fastify/swagger names a HEAD operation `<name>-head`; a HEAD route Fastify made from a
    // GET shares the GET's schema, name and summary.
    const id = (typeof head['operationId'] === 'string' ? head['operationId'] : '').replace(/-head$/, '');
    head['operationId'] = id;
    if (!id.startsWith('head')) {
      head['operationId'] = `head${id.startsWith('get') ? id.slice(3) : id.charAt(0).toUpperCase() + id.slice(1)}`;
      head['summary'] = `${typeof head['summary'] === 'string' ? head['summary'] : ''} (headers only)`;
    }
    for (const response of Object.values((head['responses'] ?? {}) as Record<string, Record<string, unknown>>)) delete response['content'];
    operations['head'] = head;
  }
}

const SIGNATURE_HEADERS = [
  { name: 'webhook-id', description: 'The event\'s id, `msg_…`: the same on every retry of one event; drop one you have processed already' },
  { name: 'webhook-timestamp', description: 'Unix seconds of this attempt; refuse one far from your clock (Standard Webhooks libraries allow 5 minutes)' },
  { name: 'webhook-signature', description: '`v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, keyed by the base64-decoded `secret` (after `whsec_`) of the webhook, from its 201 answer: each webhook has its own' },
];

/** OpenAPI 3.1 `webhooks`: what the gateway POSTs to a registered URL, so clients can generate a receiver. */
function describeWebhooks(document: OpenApiDocument): void {
  if (document.components?.schemas?.['WebhookEventBody'] === undefined) return;
  (document as OpenApiDocument & { webhooks?: unknown }).webhooks = {
    taskEvent: {
      post: {
        operationId: 'receiveTaskEvent',
        // The gateway calls the receiver: no key of ours, the signature is the authentication.
        security: [],
        tags: ['webhooks'],
        summary: 'A task event, POSTed to a webhook registered with `POST /tasks/{id}/webhooks`',
        description:
          'Signed per Standard Webhooks (verify it with any of their libraries, e.g. `new Webhook(secret).verify(body, headers)`). Delivery is at least once: the same `webhook-id` may arrive again after a retry.',
        parameters: SIGNATURE_HEADERS.map((header) => ({ in: 'header', required: true, schema: { type: 'string' }, ...header })),
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/WebhookEventBody' } } } },
        responses: {
          '200': { description: 'Any 2xx within 15 s: delivered' },
          '410': { description: 'Gone: the webhook ends at once (no retry, no later event)' },
          default: { description: 'Anything else (or no answer): retried with backoff for up to 24 h' },
        },
      },
    },
  };
}

export function transformObject(input: Parameters<typeof jsonSchemaTransformObject>[0]): OpenApiDocument {
  let document = jsonSchemaTransformObject(input) as OpenApiDocument;
  markOptionalBodies(document);
  describeWebhooks(document);
  describeHeadOperations(document);
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
  const renames: Array<[string, string]> = [];
  for (const [name, schema] of Object.entries(schemas)) {
    delete schema.$schema;
    delete schema.$id;
    if (!name.endsWith('Input')) continue;
    const plain = name.slice(0, -'Input'.length);
    if (!used.has(name)) delete schemas[name];
    else if (!used.has(plain)) renames.push([name, plain]);
  }
  for (const [from, to] of renames) {
    schemas[to] = schemas[from]!;
    delete schemas[from];
  }
  if (renames.length > 0) {
    let text = JSON.stringify(document);
    for (const [from, to] of renames) text = text.replaceAll(componentRef(from), componentRef(to));
    document = JSON.parse(text) as OpenApiDocument;
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
        description: [
          'One API for the status of asynchronous AI generation tasks, whichever provider runs them: every task comes back in the same `Task` shape with one of five statuses.',
          'Errors are RFC 9457 `application/problem+json` with a stable `code`. A task that failed is not an error: it is a 200 with `status: failed`.',
          'Poll `GET /tasks/{id}` every `poll_after_ms`, long-poll it with `?wait=N`, follow it with server-sent events at `/tasks/{id}/events`, fetch up to 100 tasks with `POST /tasks/batch`, or have a backend told by a signed webhook (`POST /tasks/{id}/webhooks`).',
          'The `/tasks` routes are rate limited per client key (per IP when the gateway is open) and answer 429 `rate_limited` with `Retry-After` beyond the limit.',
          'Every error is `application/problem+json`, also those no operation lists: a path that does not exist is a 404 `not_found`; a path that exists, asked with a method it does not take, is a 405 `method_not_allowed` whose `Allow` header lists the methods it does take; a request the HTTP parser cannot read is a 400 (431 for oversized headers, 408 when it does not arrive in time). Every `type` URI resolves: `GET /problems/{code}`.',
        ].join('\n\n'),
      },
      servers: [{ url: '/', description: 'This gateway' }],
      tags: [
        { name: 'tasks', description: 'Task status: lookup, long-poll, batch and server-sent events' },
        { name: 'webhooks', description: 'Being told when a task finishes: signed, retried deliveries per Standard Webhooks' },
        { name: 'agents', description: 'AI agents: the gateway as an MCP server (`POST /mcp`)' },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description:
              'A client key as `Authorization: Bearer <key>`. Needed only when the operator sets `TASKGATE_API_KEYS`; a gateway without it is open, so each `/tasks` operation accepts the key or nothing. A missing or wrong key on a gateway that needs one is a 401 `unauthorized`.',
          },
          linkToken: {
            type: 'apiKey',
            in: 'query',
            name: 'token',
            description:
              'A browser link token from `POST /tasks/{id}/links`, accepted in place of a client key on `GET /tasks/{id}`, `/events` and `/content` of that task only, until it expires (and while the key that minted it is configured). Expired, foreign or malformed: 401 `unauthorized`.',
          },
        },
      },
    },
    // HEAD is answered for every GET: the document says so.
    exposeHeadRoutes: true,
    transform,
    transformObject,
  };
}
