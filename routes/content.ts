/**
 * GET and HEAD /tasks/{id}/content: a succeeded task's result file, streamed through the
 * gateway with HTTP ranges, so a `<video>` or a download works with no provider key and
 * no provider URL in the client (docs/content-and-links.md).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Archive } from '../src/archive/index.js';
import { bufferContent } from '../src/content/bytes.js';
import type { ContentProxy, ContentUpstream } from '../src/content/proxy.js';
import { isAbsoluteHttpUrl } from '../src/providers/normalize.js';
import { GatewayError, isGatewayError } from '../src/errors.js';
import type { Metrics } from '../src/metrics.js';
import type { ClientQuota } from '../src/quota.js';
import type { TaskSnapshot } from '../src/tasks/render.js';
import type { TaskService } from '../src/tasks/service.js';
import type { TraceSpan, Tracer } from '../src/tracing/api.js';
import { LinkTokenQuerySchema } from '../schemas/links.js';
import { TaskParamsSchema } from '../schemas/params.js';
import type { TaskOutput } from '../schemas/task.js';
import { LINK_AUTH } from './documentation.js';
import { problemResponses, TASK_LOOKUP_CODES } from './problem-responses.js';
import { clientOf } from '../src/client-identity.js';
import { LINKED_TASK_ROUTE_CONFIG } from './task-replies.js';

export interface ContentRoutesOptions {
  service: TaskService;
  content: ContentProxy;
  /** When the result archive is on: files it holds are served from it. */
  archive?: Archive;
  metrics: Metrics;
  /** `content.maxStreamsPerClient`: the streams one client holds at once. */
  streams: ClientQuota;
  /** A span per transfer, from the first upstream request to the last byte (the no-op tracer when tracing is off). */
  tracer: Tracer;
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

// A <video> or <img> ignores Content-Disposition: only opening the URL itself would render the bytes.
const MEDIA_TYPE = /^(?:video|audio|image)\/[\w.+-]+$/i;
const EXTENSIONS: Readonly<Record<string, string>> = {
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/quicktime': 'mov',
  'image/webp': 'webp',
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'audio/ogg': 'ogg',
};
const DEFAULT_EXTENSIONS: Readonly<Record<TaskOutput['type'], string>> = { video: 'mp4', image: 'jpg', audio: 'mp3', file: 'bin' };

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

/** The index of the output `url` names (the first video, else the first output). */
function primaryIndex(snapshot: TaskSnapshot): number {
  const { state } = snapshot;
  const index = state.outputs.findIndex((output) => output.url === state.url);
  return index === -1 ? 0 : index;
}

function fileName(snapshot: TaskSnapshot, index: number, output: TaskOutput, contentType: string | undefined): string {
  const base = snapshot.nativeId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'result';
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  const extension = EXTENSIONS[mediaType] ?? DEFAULT_EXTENSIONS[output.type];
  return `${base}${index === 0 ? '' : `-${index}`}.${extension}`;
}

const contentRoutes: FastifyPluginAsyncZod<ContentRoutesOptions> = async (app, { service, content, archive, metrics, streams, tracer }) => {
  /**
   * The upstream transfer for one output, asking the provider again once if a cached URL
   * went stale (at most once per `cache.notFoundMs` per task: see TaskService.refreshTask).
   */
  async function openOutput(snapshot: TaskSnapshot, index: number, fetch: Parameters<ContentProxy['open']>[2]) {
    const kept = await archive?.openFile(snapshot.client.name, snapshot.nativeId, index, fetch);
    if (kept !== undefined) return { snapshot, upstream: kept };
    const output = snapshot.state.outputs[index]!;
    const { url } = output;
    if (output.private === true && !isAbsoluteHttpUrl(url)) {
      // Inline media: asked of the provider again, never kept in the task's cache.
      const inline = await snapshot.client.openInline(snapshot.nativeId, output);
      return { snapshot, upstream: bufferContent(snapshot.client.name, inline.bytes, inline.contentType, fetch) };
    }
    try {
      return { snapshot, upstream: await content.open(snapshot.client, url, fetch) };
    } catch (error) {
      if (!isGatewayError(error) || error.code !== 'content_expired') throw error;
      // Signed links expire while the task sits in the cache; a fresh status answer signs anew.
      const fresh = await service.refreshTask(snapshot);
      const freshUrl = fresh.state.outputs[index]?.url;
      if (freshUrl === undefined || freshUrl === url) throw error;
      return { snapshot: fresh, upstream: await content.open(fresh.client, freshUrl, fetch) };
    }
  }

  function send(reply: FastifyReply, snapshot: TaskSnapshot, index: number, upstream: ContentUpstream, download: boolean, transfer: TraceSpan) {
    const output = snapshot.state.outputs[index]!;
    const contentType = upstream.headers['content-type'];
    // Bytes from elsewhere are served from our origin: anything but media is a download, never a page.
    const media = contentType !== undefined && MEDIA_TYPE.test(contentType.split(';')[0]!.trim());
    const disposition = download || !media ? 'attachment' : 'inline';
    reply
      .code(upstream.statusCode)
      .headers(upstream.headers)
      .header('cache-control', 'private')
      .header('content-disposition', `${disposition}; filename="${fileName(snapshot, index, output, contentType)}"`)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('referrer-policy', 'no-referrer');
    const provider = snapshot.client.name;
    metrics.onContentRequest(provider, String(upstream.statusCode));
    transfer.setAttributes({ 'http.response.status_code': upstream.statusCode });
    const { body } = upstream;
    if (body === null) {
      transfer.end();
      return reply.send();
    }
    // The bytes go from the upstream socket into the client's answer with nothing in between:
    // the reply is Fastify's no more, so its headers (request id, CORS…) are written here.
    reply.hijack();
    reply.raw.writeHead(upstream.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    body.sendTo(reply.raw, (bytes, complete) => {
      metrics.onContentBytes(provider, bytes);
      // Not complete: the client left, or the file's origin went silent, before the last byte.
      transfer.setAttributes({ 'taskgate.content.bytes': bytes, 'taskgate.content.complete': complete });
      transfer.end();
    });
    return reply;
  }

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
      const snapshot = await service.getTask(request.params.id);
      const { state } = snapshot;
      if (state.status !== 'succeeded') {
        metrics.onContentRequest(snapshot.client.name, 'task_not_ready');
        throw new GatewayError('task_not_ready', {
          provider: snapshot.client.name,
          detail: `The task is ${state.status}; its result can be fetched once it has succeeded.`,
        });
      }
      if (state.filesRemoved === true) {
        metrics.onContentRequest(snapshot.client.name, 'content_expired');
        throw new GatewayError('content_expired', {
          provider: snapshot.client.name,
          detail: `${snapshot.client.name} says it removed this task's result files.`,
        });
      }
      const index = request.query.output ?? primaryIndex(snapshot);
      if (state.outputs[index] === undefined) {
        throw new GatewayError('output_not_found', {
          detail: `The task has ${state.outputs.length} output(s): ask for output 0${state.outputs.length > 1 ? `-${state.outputs.length - 1}` : ''}.`,
        });
      }
      const fetch = { method, ...rangeOf(request.headers.range, request.headers['if-range']), answer: reply.raw };
      const transfer = tracer.startSpan('taskgate.content', {
        kind: 'client',
        attributes: { 'taskgate.provider': snapshot.client.name, 'taskgate.content.output': index, 'http.request.method': method, 'taskgate.content.range': fetch.range },
      });
      try {
        const open = () => openOutput(snapshot, index, fetch);
        const opened = await tracer.withSpan(transfer, open);
        const download = request.query.download === '1' || request.query.download === 'true';
        return send(reply, opened.snapshot, index, opened.upstream, download, transfer);
      } catch (error) {
        if (isGatewayError(error)) metrics.onContentRequest(snapshot.client.name, error.code);
        transfer.recordError(error);
        transfer.end();
        throw error;
      }
    },
  });
};

export default contentRoutes;
