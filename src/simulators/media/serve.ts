/**
 * Answers a node:http request from one asset with the HTTP semantics media players and
 * download resumers rely on (RFC 9110): GET and HEAD, strong validators, If-None-Match /
 * If-Modified-Since, one byte range per request, If-Range. Bodies are streamed with
 * backpressure and stop as soon as the client goes away.
 *
 * Deliberate choices, where the RFC leaves one:
 * - Several ranges in one `Range` header: the whole representation (200). RFC 9110 §14.2
 *   lets a server ignore Range; players never ask for more than one.
 * - A syntactically invalid Range (`bytes=5-2`, `bytes=x-`, another unit) is ignored (200);
 *   416 is only for a valid range that starts past the end (or `bytes=-0`).
 * - HEAD ignores Range (§14.2: range handling is defined for GET only), so it answers the
 *   headers of the full 200.
 * - If-Match and If-Unmodified-Since are not evaluated (nothing here writes).
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** A file the simulators can serve: committed bytes or a generated source. */
export interface Asset {
  readonly name: string;
  readonly contentType: string;
  readonly size: number;
  /** A strong entity tag, quoted (`"…"`). */
  readonly etag: string;
  /** In whole seconds, the precision of HTTP dates. */
  readonly lastModified: Date;
  /** The whole file, when it lives in memory (committed assets). */
  readonly bytes?: Buffer;
  /**
   * The bytes from `start` (inclusive) to `end` (exclusive), in order. A chunk is never
   * changed after it is handed out, so it can be written to a socket without a copy.
   */
  chunks(start: number, end: number): Iterable<Buffer>;
}

/** Both ends inclusive, as in `Content-Range`. */
export interface ByteRange {
  first: number;
  last: number;
}

/** Slow or stalling origin behaviour, so a client's header and idle timeouts can be tested. */
export interface ServePacing {
  /** Wait this long before sending the status line and headers. */
  headersDelayMs?: number;
  /** Stop sending once this many body bytes are out (0: right after the headers). */
  stallAfterBytes?: number;
  /** How long the stall lasts; absent: until the client goes away or the server closes. */
  stallMs?: number;
}

export interface ServeOptions extends ServePacing {
  /** Added to every answer (e.g. `cache-control`). */
  headers?: OutgoingHttpHeaders;
  /** Called as the status line and headers are written (after any headers delay). */
  onHeaders?: (status: number) => void;
}

export interface ServeOutcome {
  status: number;
  /** Body bytes handed to the socket. */
  bytesSent: number;
  /** False when the client went away (or the server closed) before the answer was complete. */
  completed: boolean;
  /** The most body bytes ever queued in the answer at once (not yet taken by the socket): backpressure's evidence. */
  peakQueuedBytes: number;
}

/** What to answer, decided from the request headers alone. */
export interface AnswerPlan {
  status: 200 | 206 | 304 | 416;
  headers: OutgoingHttpHeaders;
  /** The body's bytes; undefined when the answer has none (304, 416, or an empty file). */
  body: ByteRange | undefined;
}

const RANGE_SPEC = /^(\d*)-(\d*)$/;

/**
 * The one range a `Range` header asks for, clamped to the file; `unsatisfiable` for a
 * valid range past the end; undefined when the header is absent or to be ignored.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined || size === 0) return undefined;
  const equals = header.indexOf('=');
  if (equals === -1 || header.slice(0, equals).toLowerCase() !== 'bytes') return undefined;
  // A list may carry empty elements (RFC 9110 §5.6.1): "bytes=0-99," is one range.
  const specs = header
    .slice(equals + 1)
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '');
  const match = specs.length === 1 ? RANGE_SPEC.exec(specs[0] ?? '') : null;
  if (match === null) return undefined;
  const firstText = match[1] ?? '';
  const lastText = match[2] ?? '';
  if (firstText === '') {
    if (lastText === '') return undefined;
    const suffixLength = Number(lastText);
    if (suffixLength === 0) return 'unsatisfiable';
    return { first: Math.max(0, size - suffixLength), last: size - 1 };
  }
  const first = Number(firstText);
  const last = lastText === '' ? Number.POSITIVE_INFINITY : Number(lastText);
  if (last < first) return undefined;
  if (first >= size) return 'unsatisfiable';
  return { first, last: Math.min(last, size - 1) };
}

/** Weak comparison (RFC 9110 §8.8.3.2), as If-None-Match requires. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return false;
  const opaque = etag.replace(/^W\//, '');
  return !header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}

/** If-Range: a strong entity tag must equal ours; a date must equal Last-Modified exactly. */
function ifRangeHolds(header: string, asset: Asset): boolean {
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === asset.etag;
  return Date.parse(value) === asset.lastModified.getTime();
}

/** Node types headers it does not know as possibly repeated. */
export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export function planAnswer(method: 'GET' | 'HEAD', requestHeaders: IncomingHttpHeaders, asset: Asset, extraHeaders: OutgoingHttpHeaders = {}): AnswerPlan {
  const validators: OutgoingHttpHeaders = {
    ...extraHeaders,
    'accept-ranges': 'bytes',
    etag: asset.etag,
    'last-modified': asset.lastModified.toUTCString(),
  };
  const ifNoneMatch = requestHeaders['if-none-match'];
  const ifModifiedSince = requestHeaders['if-modified-since'];
  // If-Modified-Since counts only without If-None-Match (RFC 9110 §13.2.2).
  const notModified =
    ifNoneMatch !== undefined
      ? !noneMatch(ifNoneMatch, asset.etag)
      : ifModifiedSince !== undefined && asset.lastModified.getTime() <= Date.parse(ifModifiedSince);
  if (notModified) return { status: 304, headers: validators, body: undefined };

  const full: AnswerPlan = {
    status: 200,
    headers: { ...validators, 'content-type': asset.contentType, 'content-length': asset.size },
    body: asset.size === 0 ? undefined : { first: 0, last: asset.size - 1 },
  };
  const ifRange = headerText(requestHeaders['if-range']);
  if (method === 'HEAD' || (ifRange !== undefined && !ifRangeHolds(ifRange, asset))) return full;
  const range = parseRange(requestHeaders.range, asset.size);
  if (range === undefined) return full;
  if (range === 'unsatisfiable') {
    return { status: 416, headers: { ...validators, 'content-range': `bytes */${asset.size}`, 'content-length': 0 }, body: undefined };
  }
  return {
    status: 206,
    headers: {
      ...validators,
      'content-type': asset.contentType,
      'content-length': range.last - range.first + 1,
      'content-range': `bytes ${range.first}-${range.last}/${asset.size}`,
    },
    body: range,
  };
}

/** Resolves false when the signal fired first; a pending timer is cleared on abort. */
function pause(delayMs: number | undefined, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (delayMs !== undefined) return sleep(delayMs, true, { signal }).catch(() => false);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(false), { once: true }));
}

function drained(response: ServerResponse, signal: AbortSignal): Promise<boolean> {
  return once(response, 'drain', { signal }).then(
    () => true,
    () => false,
  );
}

/**
 * Writes the body range, waiting for `drain` whenever the socket's buffer is full, so
 * memory stays at a chunk or two whatever the size. Resolves with the bytes handed over.
 */
async function writeBody(
  response: ServerResponse,
  asset: Asset,
  range: ByteRange,
  pacing: ServePacing,
  signal: AbortSignal,
  queue: { peakBytes: number },
): Promise<number> {
  let sent = 0;
  let stallAt = pacing.stallAfterBytes ?? Number.POSITIVE_INFINITY;
  // Corked, the small and large pieces of one synthetic block leave in one writev.
  response.cork();
  let corked = true;
  const flush = (): void => {
    if (corked) response.uncork();
    corked = false;
  };
  try {
    for (const chunk of asset.chunks(range.first, range.last + 1)) {
      let rest = chunk;
      while (rest.length > 0) {
        if (signal.aborted) return sent;
        if (sent + rest.length > stallAt) {
          const head = rest.subarray(0, stallAt - sent);
          if (head.length > 0) response.write(head);
          else if (sent === 0) response.flushHeaders();
          sent += head.length;
          rest = rest.subarray(head.length);
          stallAt = Number.POSITIVE_INFINITY;
          flush();
          if (!(await pause(pacing.stallMs, signal))) return sent;
          continue;
        }
        const flowing = response.write(rest);
        queue.peakBytes = Math.max(queue.peakBytes, response.writableLength);
        sent += rest.length;
        rest = rest.subarray(rest.length);
        if (!flowing) {
          flush();
          if (!(await drained(response, signal))) return sent;
        }
        if (!corked) {
          response.cork();
          corked = true;
        }
      }
    }
    return sent;
  } finally {
    flush();
  }
}

/**
 * Answers `request` from `asset`. Never throws for a client that goes away: the outcome
 * says how far it got. Other methods than GET and HEAD get 405.
 */
export async function serveAsset(request: IncomingMessage, response: ServerResponse, asset: Asset, options: ServeOptions = {}): Promise<ServeOutcome> {
  const method = request.method;
  if (method !== 'GET' && method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
    response.end();
    return { status: 405, bytesSent: 0, completed: true, peakQueuedBytes: 0 };
  }
  const plan = planAnswer(method, request.headers, asset, options.headers);
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  response.once('close', onClose);
  try {
    const delayed = options.headersDelayMs !== undefined && options.headersDelayMs > 0;
    if (response.destroyed || (delayed && !(await pause(options.headersDelayMs, gone.signal)))) {
      return { status: plan.status, bytesSent: 0, completed: false, peakQueuedBytes: 0 };
    }
    response.writeHead(plan.status, plan.headers);
    options.onHeaders?.(plan.status);
    if (method === 'HEAD' || plan.body === undefined) {
      response.end();
      return { status: plan.status, bytesSent: 0, completed: true, peakQueuedBytes: 0 };
    }
    const queue = { peakBytes: 0 };
    const bytesSent = await writeBody(response, asset, plan.body, options, gone.signal, queue);
    const completed = !gone.signal.aborted && bytesSent === plan.body.last - plan.body.first + 1;
    if (completed) response.end();
    else response.destroy();
    return { status: plan.status, bytesSent, completed, peakQueuedBytes: queue.peakBytes };
  } finally {
    response.off('close', onClose);
  }
}
