/**
 * GET and HEAD /tasks/{id}/content: a succeeded task's result file, streamed through the
 * gateway with HTTP ranges, so a `<video>` or a download works with no provider key and
 * no provider URL in the client (docs/content-and-links.md).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ContentService } from '../src/content/service.js';
import type { ClientQuota } from '../src/quota.js';
import { LinkTokenQuerySchema } from '../schemas/links.js';
import { TaskParamsSchema } from '../schemas/params.js';
import { LINK_AUTH } from './documentation.js';
import { problemResponses, TASK_LOOKUP_CODES } from './problem-responses.js';
import { clientOf } from '../src/client-identity.js';
import { LINKED_TASK_ROUTE_CONFIG } from './task-replies.js';

export interface ContentRoutesOptions {
  /** Opens a task's result file: the archive's copy, or the provider's (src/content/service.ts). */
  content: ContentService;
  /** `content.maxStreamsPerClient`: the streams one client holds at once. */
  streams: ClientQuota;
}

const ContentQuerySchema = LinkTokenQuerySchema.extend({
  output: z
    .string()
    // Any index: one past the task's outputs is a 404 output_not_found, not a question of digits.
    .regex(/^\d+$/, { error: 'output must be the index of one of the task’s outputs (0, 1, …)' })
    .transform(Number)
    .meta({ type: 'integer', minimum: 0 })
    .optional()
    .describe('Which of `outputs` to stream (default: the primary one, the file `url` names)'),
  download: z
    .enum(['1', '0', 'true', 'false'])
    .optional()
    .describe('`1`: `Content-Disposition: attachment` (save as a file); default `inline` (play in the page)'),
});

// One range set as players send it (`bytes=0-`, `bytes=500-999`, `bytes=-500`); anything else is ignored (RFC 9110).
const RANGE = /^bytes=\d*-\d*(?:\s*,\s*\d*-\d*)*$/;
const IF_RANGE = /^[\x20-\x7e]{1,200}$/;

const ContentHeadersSchema = z.object({
  range: z.string().optional().describe('A byte range, e.g. `bytes=0-1023`; passed to the file\'s origin'),
  'if-range': z.string().optional().describe('An `ETag` or `Last-Modified` of the file: the range only if it is unchanged'),
});

const BINARY_RESPONSE = {
  description:
    'The file (or the requested range: 206 with `Content-Range`), streamed from where the provider keeps it. `Accept-Ranges`, `Content-Length`, `Content-Type`, `ETag` and `Last-Modified` are the file\'s own; `Cache-Control: private`.',
  headers: {
    'content-disposition': { type: 'string', description: '`inline` or `attachment`, with a file name from the task id' },
    'content-range': { type: 'string', description: 'For a 206: the bytes sent, e.g. `bytes 0-1023/52410`' },
    'accept-ranges': { type: 'string', description: '`bytes` when the file\'s origin serves ranges' },
    etag: { type: 'string', description: 'The file\'s validator, for `If-Range`' },
  },
  // The file's own media type, passed on from where the provider keeps it.
  content: Object.fromEntries(
    ['video/*', 'image/*', 'audio/*', 'application/octet-stream'].map((type) => [type, { schema: { type: 'string', format: 'binary' } }]),
  ),
};

/**
 * The `Range` and `If-Range` passed on. An `If-Range` that cannot be passed on cannot be
 * evaluated, and RFC 9110 then has the Range ignored: the whole file, never a range of a
 * file that may have changed.
 */
function rangeOf(range: string | undefined, ifRange: string | undefined): { range: string | undefined; ifRange: string | undefined } {
  if (range === undefined || !RANGE.test(range)) return { range: undefined, ifRange: undefined };
  if (ifRange === undefined) return { range, ifRange: undefined };
  return IF_RANGE.test(ifRange) ? { range, ifRange } : { range: undefined, ifRange: undefined };
}

const contentRoutes: FastifyPluginAsyncZod<ContentRoutesOptions> = async (app, { content, streams }) => {
  // HEAD first: declared after GET it would clash with the HEAD route Fastify adds for every GET.
  for (const method of ['HEAD', 'GET'] as const) app.route({
    method,
    url: '/tasks/:id/content',
    config: LINKED_TASK_ROUTE_CONFIG,
    schema: {
      operationId: method === 'GET' ? 'getTaskContent' : 'headTaskContent',
      tags: ['tasks'],
      summary: method === 'GET' ? "Stream a succeeded task's result file" : "The headers of a succeeded task's result file (its size, type, validators)",
      description: [
        'Streams the primary output (or `?output=N`) of a succeeded task from where the provider keeps it, with HTTP ranges as media players need them (`Range`/`If-Range` passed on, 206 and 416 passed back). Works in `<video src>`: with client keys on, use a link from `POST /tasks/{id}/links`.',
        'With the result archive on (`TASKGATE_ARCHIVE`), a file the archive holds is served from it, with the same ranges, its stored `Content-Type`, a strong `ETag` from its sha256 and `Last-Modified` = when it was stored; one not archived yet comes from the provider. 410 `content_expired` once neither has the file.',
        'The provider key is sent only to the provider\'s own origin. Result URLs come from providers and are not trusted: one that points at an internal address is refused (502 `content_blocked`).',
        'One client (its key, or its address when the gateway is open) holds at most `content.maxStreamsPerClient` (16) of these at once: past it, 429 `quota_exceeded`. A file whose origin does not start answering within `UPSTREAM_TIMEOUT_MS`, waiting for a connection included, is a 504 `upstream_timeout`.',
      ].join('\n\n'),
      security: LINK_AUTH,
      params: TaskParamsSchema,
      querystring: ContentQuerySchema,
      headers: ContentHeadersSchema,
      response: {
        200: BINARY_RESPONSE as never,
        206: { ...BINARY_RESPONSE, description: 'Partial Content: the requested range of the file' } as never,
        ...problemResponses([...TASK_LOOKUP_CODES, 'output_not_found', 'task_not_ready', 'content_expired', 'content_blocked', 'quota_exceeded'], [416]),
      },
    },
    handler: async (request, reply) => {
      // Held from here until the answer is closed (sent whole, cut, or a problem): a slow reader holds it longest.
      reply.raw.once('close', streams.take(clientOf(request)));
      const fetch = { method, ...rangeOf(request.headers.range, request.headers['if-range']), answer: reply.raw };
      const download = request.query.download === '1' || request.query.download === 'true';
      const file = await content.open(request.params.id, { output: request.query.output, download, fetch });
      reply
        .code(file.statusCode)
        .headers(file.headers)
        .header('cache-control', 'private')
        .header('content-disposition', file.disposition)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('referrer-policy', 'no-referrer');
      if (file.body === null) return reply.send();
      // The bytes go from the upstream socket into the client's answer with nothing in between:
      // the reply is Fastify's no more, so its headers (request id, CORS…) are written here.
      reply.hijack();
      reply.raw.writeHead(file.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
      file.body.sendTo(reply.raw);
      return reply;
    },
  });
};

export default contentRoutes;
