/**
 * Streams a task's result file from wherever the provider keeps it (docs/content-and-links.md):
 * HTTP ranges passed both ways, bytes streamed (never buffered), the provider key only
 * to the provider's own origin, redirects followed (3 hops, each re-checked), and every
 * fetch through the address guard, on pools of its own so downloads never starve status
 * calls. A transfer to a client is counted and traced here too, from its opening to its
 * last byte.
 */
import type { Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { pathAsWritten } from '../uri.js';
import type { ProviderClient } from '../providers/client.js';
import type { SpanAttributes, Tracer } from '../tracing/api.js';
import {
  checkTargetUrl,
  createGuardedAgent,
  exemptOrigins,
  isBlockedAddressError,
  type AllowHost,
  type IsExempt,
  type ResolveHostname,
} from './address-guard.js';

export interface ContentProxyOptions {
  /** UPSTREAM_TIMEOUT_MS: for the headers, and for any silence between chunks. */
  timeoutMs: number;
  allowHosts: readonly AllowHost[];
  /** Every provider's base URL: their own origins are exempt from the address rules. */
  providerOrigins: readonly string[];
  /** Tests may resolve names themselves; by default the system resolver. */
  resolveHostname?: ResolveHostname;
  connections?: number;
  /** Each transfer's outcome and bytes, per provider. */
  metrics: Pick<Metrics, 'onContentRequest' | 'onContentBytes'>;
  /** A `taskgate.content` span per transfer (the no-op tracer when tracing is off). */
  tracer: Tracer;
}

export interface ContentFetch {
  method: 'GET' | 'HEAD';
  /** The client's `Range` and `If-Range`, already checked for shape. */
  range: string | undefined;
  ifRange: string | undefined;
  /**
   * Where the bytes go: the client's answer, or the archive's upload. When it closes (the
   * client went away, the upload failed) before or during the transfer, the upstream
   * transfer stops with it.
   */
  answer: Writable;
}

/** A body still to be sent to the client. */
export interface ContentBody {
  /**
   * Sends the rest of the body into the sink (the client's answer, its headers already
   * set); `onClosed` hears, once the sink is closed, the bytes sent and whether the body was whole.
   */
  sendTo(sink: Writable, onClosed: (bytes: number, complete: boolean) => void): void;
  /** Reads the body away and drops it (a redirect's, a refusal's). */
  discard(): void;
}

export interface ContentUpstream {
  /** Any other answer is thrown as a problem. */
  statusCode: 200 | 206;
  /** The upstream headers worth passing back (lower-case names). */
  headers: Record<string, string>;
  /** The body still to come; null for HEAD and for answers without a body. */
  body: ContentBody | null;
}

/** A result file on its way to a client: the transfer's span and counts end with its body. */
export interface ContentTransfer {
  statusCode: ContentUpstream['statusCode'];
  headers: Record<string, string>;
  /** Sends the body into the client's answer, its headers already written; null: nothing to send (HEAD). */
  body: { sendTo(sink: Writable): void } | null;
}

const MAX_REDIRECTS = 3;
/** A redirect's or a refusal's body is read away (so the connection is reused) up to this, then the connection is dropped. */
const MAX_DISCARDED_BYTES = 128 * 1024;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** What a media player needs back; nothing else of the upstream's reaches the client. */
const PASSED_HEADERS = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag', 'last-modified'] as const;
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'TASKGATE_CONTENT_DEADLINE']);
/** A header value passed on must be one short line. */
const SAFE_HEADER_VALUE = /^[\x20-\x7e]{1,512}$/;

class ClientGoneError extends Error {
  readonly code = 'TASKGATE_CLIENT_GONE';
}

/**
 * The headers did not come within UPSTREAM_TIMEOUT_MS of the request, however the time
 * went: undici's own headers timeout starts only once a connection took the request, and
 * a request queued behind a pool that slow readers hold would otherwise wait for ever.
 */
class ContentDeadline extends Error {
  readonly code = 'TASKGATE_CONTENT_DEADLINE';
}

/**
 * One upstream exchange, as undici's dispatch handler: its headers settle `started`; its
 * body is held (paused) until `sendTo()` names the client's answer, then each chunk goes
 * straight into it, the upstream paused whenever the client is slower (no stream between
 * them, no buffering beyond the chunk in hand: BENCHMARKS.md's content memory and throughput rows).
 */
export class UpstreamBody implements Dispatcher.DispatchHandler, ContentBody {
  readonly started: Promise<{ statusCode: number; headers: Dispatcher.ResponseData['headers'] }>;
  private settleStarted!: { resolve: (value: { statusCode: number; headers: Dispatcher.ResponseData['headers'] }) => void; reject: (error: unknown) => void };
  private isStarted = false;
  private controller: Dispatcher.DispatchController | undefined;
  private sink: Writable | undefined;
  /** Chunks that came before the sink did: at most what one socket read held. */
  private early: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private discarded: number | undefined;
  private bytes = 0;
  private onClosed: ((bytes: number, complete: boolean) => void) | undefined;
  private expired: Error | undefined;

  constructor(private readonly client: Writable) {
    this.started = new Promise((resolve, reject) => {
      this.settleStarted = { resolve, reject };
    });
    client.once('close', this.clientClosed);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.client.destroyed) controller.abort(new ClientGoneError('the client went away'));
    // Its deadline passed while it waited in the pool: never send it.
    else if (this.expired !== undefined) controller.abort(this.expired);
  }

  /** The headers are overdue: the request is abandoned, wherever it is (in the pool's queue, or sent). */
  expire(error: Error): void {
    if (this.isStarted) return;
    this.expired = error;
    if (this.controller !== undefined) {
      this.controller.abort(error);
      return;
    }
    this.isStarted = true;
    this.settleStarted.reject(error);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Dispatcher.ResponseData['headers']): void {
    if (statusCode < 200) return;
    this.isStarted = true;
    controller.pause();
    this.settleStarted.resolve({ statusCode, headers });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.discarded !== undefined) {
      this.discarded += chunk.length;
      if (this.discarded > MAX_DISCARDED_BYTES) controller.abort(new Error('discarded body too long'));
    } else if (this.sink === undefined) {
      this.early.push(chunk);
    } else {
      this.write(chunk);
    }
  }

  onResponseEnd(): void {
    this.ended = true;
    this.sink?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (!this.isStarted) {
      this.isStarted = true;
      this.settleStarted.reject(error);
      return;
    }
    // Cut mid-way (a stall past the idle timeout, a reset): the client's answer is cut too.
    if (this.sink !== undefined) this.sink.destroy(error);
    else this.failure = error;
  }

  /**
   * Streams the rest of the body into the client's answer (its headers already set);
   * `onClosed` hears, once the answer is closed, the bytes sent and whether the body was whole.
   */
  sendTo(sink: Writable, onClosed: (bytes: number, complete: boolean) => void): void {
    this.sink = sink;
    this.onClosed = onClosed;
    sink.on('drain', () => this.controller?.resume());
    for (const chunk of this.early.splice(0)) this.write(chunk);
    if (this.failure !== undefined) sink.destroy(this.failure);
    else if (this.ended) sink.end();
    else this.controller?.resume();
  }

  /** Reads the body away and drops it (a redirect's, a refusal's). */
  discard(): void {
    this.discarded = this.early.reduce((sum, chunk) => sum + chunk.length, 0);
    this.early = [];
    if (!this.ended) this.controller?.resume();
  }

  private write(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.sink!.write(chunk)) this.controller?.pause();
  }

  private readonly clientClosed = (): void => {
    if (!this.ended) this.controller?.abort(new ClientGoneError('the client went away'));
    this.onClosed?.(this.bytes, this.ended);
  };
}

function headerValue(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text !== undefined && SAFE_HEADER_VALUE.test(text) ? text : undefined;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** An upstream answer whose headers are in and whose body is still to come. */
interface Upstream {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: UpstreamBody;
}

export class ContentProxy {
  private readonly dispatcher: Dispatcher;
  private readonly isExempt: IsExempt;

  constructor(private readonly options: ContentProxyOptions) {
    this.isExempt = exemptOrigins(options.providerOrigins);
    this.dispatcher = createGuardedAgent({
      allowHosts: options.allowHosts,
      isExempt: this.isExempt,
      resolveHostname: options.resolveHostname,
      connect: { timeout: Math.min(options.timeoutMs, 10_000) },
      agent: {
        connections: options.connections ?? 256,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        keepAliveTimeout: 30_000,
      },
    });
  }

  /**
   * Opens the transfer of `url` for `client`'s task: the final answer after redirects, with
   * its body still to be read. Throws the contract's content errors.
   */
  async open(client: ProviderClient, url: string, fetch: ContentFetch): Promise<ContentUpstream> {
    let target = this.check(url, client);
    let path = pathAsWritten(url, target);
    // One deadline for the headers, redirects included, from now: waiting for a connection counts.
    const deadline = Date.now() + this.options.timeoutMs;
    for (let hop = 0; ; hop++) {
      const response = await this.request(client, target, path, fetch, deadline);
      const location = headerValue(response.headers, 'location');
      if (REDIRECTS.has(response.statusCode) && location !== undefined) {
        response.body.discard();
        if (hop >= MAX_REDIRECTS) {
          throw new GatewayError('upstream_error', { provider: client.name, detail: `The result file redirected more than ${MAX_REDIRECTS} times.` });
        }
        const next = new URL(location, target).href;
        target = this.check(next, client);
        path = pathAsWritten(URL.canParse(location) ? location : next, target);
        continue;
      }
      return this.answer(client, target, response, fetch);
    }
  }

  /**
   * One transfer to a client: `open` (whichever source serves the file) runs in a
   * `taskgate.content` span that lasts until the last byte is sent; the outcome (the
   * status, or the problem's code) and the bytes sent are counted per provider.
   */
  async transfer(provider: string, attributes: SpanAttributes, open: () => Promise<ContentUpstream>): Promise<ContentTransfer> {
    const { metrics, tracer } = this.options;
    const span = tracer.startSpan('taskgate.content', { kind: 'client', attributes });
    let upstream: ContentUpstream;
    try {
      upstream = await tracer.withSpan(span, open);
    } catch (error) {
      if (isGatewayError(error)) metrics.onContentRequest(provider, error.code);
      span.recordError(error);
      span.end();
      throw error;
    }
    const { statusCode, headers, body } = upstream;
    metrics.onContentRequest(provider, String(statusCode));
    span.setAttributes({ 'http.response.status_code': statusCode });
    if (body === null) {
      span.end();
      return { statusCode, headers, body: null };
    }
    const sendTo = (sink: Writable) =>
      body.sendTo(sink, (bytes, complete) => {
        metrics.onContentBytes(provider, bytes);
        // Not complete: the client left, or the file's origin went silent, before the last byte.
        span.setAttributes({ 'taskgate.content.bytes': bytes, 'taskgate.content.complete': complete });
        span.end();
      });
    return { statusCode, headers, body: { sendTo } };
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  /** The pre-flight of every hop: scheme, userinfo, literal addresses (names are checked at connect). */
  private check(url: string, client: ProviderClient): URL {
    try {
      return checkTargetUrl(url, { allowHosts: this.options.allowHosts, isExempt: this.isExempt, allowPlainHttp: true });
    } catch (error) {
      throw this.blocked(client, error);
    }
  }

  private blocked(client: ProviderClient, cause: unknown): GatewayError {
    return new GatewayError('content_blocked', {
      provider: client.name,
      detail: 'The result URL points at an address this gateway does not fetch.',
      cause,
    });
  }

  private async request(client: ProviderClient, target: URL, path: string, fetch: ContentFetch, deadline: number): Promise<Upstream> {
    // The provider's key goes to its own origin only; a hop anywhere else goes without it.
    const headers: Record<string, string> = { accept: '*/*', ...(await client.contentHeaders(target.href)) };
    if (fetch.range !== undefined) headers['range'] = fetch.range;
    if (fetch.ifRange !== undefined) headers['if-range'] = fetch.ifRange;
    const body = new UpstreamBody(fetch.answer);
    const timer = setTimeout(() => body.expire(new ContentDeadline('the headers did not come in time')), Math.max(0, deadline - Date.now()));
    try {
      this.dispatcher.dispatch({ origin: target.origin, path, method: fetch.method, headers }, body);
      const { statusCode, headers: received } = await body.started;
      return { statusCode, headers: received, body };
    } catch (error) {
      if (isBlockedAddressError(error)) throw this.blocked(client, error);
      const code = errorCode(error);
      if (code !== undefined && TIMEOUT_CODES.has(code)) {
        throw new GatewayError('upstream_timeout', {
          provider: client.name,
          detail: `The result file did not start within ${this.options.timeoutMs} ms.`,
          cause: error,
        });
      }
      throw new GatewayError('upstream_error', { provider: client.name, detail: 'Could not reach the result file.', cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private answer(client: ProviderClient, target: URL, response: Upstream, fetch: ContentFetch): ContentUpstream {
    const { statusCode } = response;
    const headers: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const value = headerValue(response.headers, name);
      if (value !== undefined) headers[name] = value;
    }
    if (statusCode === 200 || statusCode === 206) {
      if (fetch.method !== 'HEAD') return { statusCode, headers, body: response.body };
      response.body.discard();
      return { statusCode, headers, body: null };
    }
    response.body.discard();
    if (statusCode === 416) {
      const contentRange = headers['content-range'];
      throw new GatewayError('invalid_request', {
        status: 416,
        provider: client.name,
        detail: 'The requested range is not in the file.',
        headers: contentRange === undefined ? undefined : { 'content-range': contentRange },
      });
    }
    // Only the provider's own origin gets our key, so only its 401 says the key was refused.
    if (statusCode === 401 && client.isOwnOrigin(target.href)) {
      throw new GatewayError('upstream_auth_failed', { provider: client.name, detail: `${client.name} refused the gateway's key for the result file.` });
    }
    // 403, 404 or 410 for the file means it is no longer served (signed links expire).
    if (statusCode === 401 || statusCode === 403 || statusCode === 404 || statusCode === 410) {
      throw new GatewayError('content_expired', {
        provider: client.name,
        detail: `The provider no longer serves this result file (HTTP ${statusCode}).`,
      });
    }
    throw new GatewayError('upstream_error', { provider: client.name, detail: `The result file answered HTTP ${statusCode}.` });
  }
}
