/**
 * One provider's keep-alive connections, and the lookup policy around them: one deadline
 * over a whole lookup (all its calls, retries included), a response size cap enforced
 * while the body streams, and bounded retries with jittered backoff for connection
 * errors, 5xx and short 429s. It only speaks HTTP; what an answer means, and which
 * credentials a request carries, is the provider's business.
 */
import { Agent, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { UpstreamCall, UpstreamRequest } from '../providers/types.js';
import type { TraceSpan, Tracer } from '../tracing/api.js';
import { parseRetryAfter } from './retry-after.js';
import type { UpstreamResponse } from './types.js';

export interface UpstreamObserver {
  onAttempt(provider: string, outcome: string, seconds: number): void;
  onRetry(provider: string, reason: string): void;
}

export interface UpstreamClientOptions {
  provider: string;
  baseUrl: string;
  timeoutMs: number;
  maxBodyBytes: number;
  retries: number;
  connections: number;
  observer?: UpstreamObserver;
  /** A client span per attempt (the no-op tracer when tracing is off). */
  tracer: Tracer;
  /** Tests and benchmarks may pass their own dispatcher; otherwise an Agent (a pool per origin) is made. */
  dispatcher?: Dispatcher;
}

/** Headers for a request, with the provider's credentials when it carries them. */
export type Authorize = (url: URL, call: UpstreamCall) => Record<string, string> | Promise<Record<string, string>>;

/** One request as it goes on the wire. */
interface WireRequest {
  method: 'GET' | 'POST';
  origin: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  maxBodyBytes: number;
  /** The span's name and `url.template`. */
  template: string;
  serverAddress: string;
  serverPort: number;
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);
const CONNECTION_ERRORS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_ERRORS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'TASKGATE_DEADLINE']);
/** A provider 429 asking us to wait at most this long is retried here instead of surfaced. */
const SHORT_RETRY_AFTER_MS = 1000;
const BACKOFF_BASE_MS = 100;
/** Beyond the deadline, undici's coarse header/body timers (a tick is about a second) stay out of the way. */
const UNDICI_TIMER_SLACK_MS = 1000;
const BACKOFF_CAP_MS = 1000;

class DeadlineExceeded extends Error {
  readonly code = 'TASKGATE_DEADLINE';
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function oversizedError(message: string): Error {
  const error = new Error(message) as Error & { code: string };
  error.code = 'UND_ERR_RES_EXCEEDED_MAX_SIZE';
  return error;
}

/**
 * An undici dispatch handler that settles one promise with the whole response, or an
 * error. Its own timer holds the attempt to `deadlineMs` from dispatch, headers and body
 * together: undici's headers/body timeouts tick coarsely (~0.5 s) and the body timeout
 * only bounds the gap between chunks, so a slow drip or a hang needs this.
 */
class BodyCollector implements Dispatcher.DispatchHandler {
  private statusCode = 0;
  private headers: UpstreamResponse['headers'] = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly timer: NodeJS.Timeout;
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;

  constructor(
    private readonly maxBodyBytes: number,
    deadlineMs: number,
    private readonly resolve: (response: UpstreamResponse) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.timer = setTimeout(() => this.expire(), deadlineMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Still queued in the pool when the deadline passed: never send it.
    if (this.settled) controller.abort(new DeadlineExceeded('deadline'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    this.statusCode = statusCode;
    this.headers = headers;
    if (Number(headers['content-length']) > this.maxBodyBytes) controller.abort(oversizedError('declared body too large'));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBodyBytes) {
      controller.abort(oversizedError('body too large'));
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve({ statusCode: this.statusCode, headers: this.headers, body: decodeUtf8(this.chunks, this.size) });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.reject(error);
  }

  private expire(): void {
    if (this.controller !== undefined) {
      this.controller.abort(new DeadlineExceeded('deadline'));
      return;
    }
    this.settled = true;
    this.reject(new DeadlineExceeded('deadline'));
  }
}

/** UTF-8 text of the chunks without a leading byte order mark, as undici's `body.text()` gives it. */
function decodeUtf8(chunks: Buffer[], length: number): string {
  if (chunks.length === 0 || length === 0) return '';
  const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  const start = buffer.length > 2 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf ? 3 : 0;
  return buffer.toString('utf8', start);
}

export class UpstreamClient {
  readonly provider: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly base: URL;
  private readonly pathPrefix: string;
  private readonly options: UpstreamClientOptions;

  constructor(options: UpstreamClientOptions) {
    this.options = options;
    this.provider = options.provider;
    this.base = new URL(options.baseUrl);
    // A base URL may carry a path (a provider behind a gateway prefix): keep it.
    this.pathPrefix = this.base.pathname.replace(/\/+$/, '');
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        connections: options.connections,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: Math.min(options.timeoutMs, 10_000) },
      });
  }

  /**
   * A handle for one lookup: every request made through it shares one deadline,
   * `UPSTREAM_TIMEOUT_MS` from now, and carries the headers `authorize` gives it;
   * `inspect` sees every final answer (the redaction's first look).
   */
  call(authorize: Authorize, inspect?: (response: UpstreamResponse) => void): UpstreamCall {
    const deadline = Date.now() + this.options.timeoutMs;
    const handle: UpstreamCall = {
      request: async (request) => {
        const wire = this.toWire(request);
        // Credentials are asked for every attempt: a retry gets what a new request would (a new trace id, a fresh token).
        const credentials = request.auth === false ? undefined : () => authorize(wire.url, handle);
        const response = await this.send(wire, deadline, credentials);
        inspect?.(response);
        return response;
      },
      get remainingMs() {
        return Math.max(0, deadline - Date.now());
      },
    };
    return handle;
  }

  private toWire(request: UpstreamRequest): WireRequest & { url: URL } {
    const absolute = /^https?:\/\//.test(request.path);
    const url = absolute ? new URL(request.path) : new URL(this.pathPrefix + request.path, this.base.origin);
    for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    let body: string | undefined;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    } else if (request.form !== undefined) {
      body = new URLSearchParams(request.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    return {
      url,
      method: request.method ?? 'GET',
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      headers,
      body,
      maxBodyBytes: request.maxBodyBytes ?? this.options.maxBodyBytes,
      template: absolute ? request.template : this.pathPrefix + request.template,
      serverAddress: url.hostname,
      serverPort: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    };
  }

  /**
   * One request with its retries; resolves with the final answer or throws a GatewayError.
   * Only the provider's own credentials go upstream (`credentials`, made per attempt):
   * client headers are never forwarded.
   */
  private async send(request: WireRequest, deadline: number, credentials?: () => Record<string, string> | Promise<Record<string, string>>): Promise<UpstreamResponse> {
    const { retries, observer, tracer } = this.options;
    /** Why the attempt about to be made is a retry. */
    let retryReason: string | undefined;
    for (let attempt = 0; ; attempt++) {
      // A credentials error (a token endpoint refusing us) is the answer as it is, not a retry.
      const attempted = credentials === undefined ? request : { ...request, headers: { ...request.headers, ...(await credentials()) } };
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.timeoutError();
      const span = tracer.startSpan(`${request.method} ${request.template}`, {
        kind: 'client',
        attributes: {
          'http.request.method': request.method,
          'server.address': request.serverAddress,
          'server.port': request.serverPort,
          'url.template': request.template,
          'taskgate.provider': this.provider,
          'taskgate.upstream.attempt': attempt + 1,
          'http.request.resend_count': attempt === 0 ? undefined : attempt,
          'taskgate.upstream.retry_reason': retryReason,
        },
      });
      const started = performance.now();
      let outcome: UpstreamResponse | { error: unknown };
      try {
        outcome = await this.attempt(attempted, remaining);
      } catch (error) {
        outcome = { error };
      }
      const seconds = (performance.now() - started) / 1000;
      const lastAttempt = attempt >= retries;

      if ('error' in outcome) {
        const code = errorCode(outcome.error);
        if (code !== undefined && TIMEOUT_ERRORS.has(code)) {
          this.attempted(span, 'timeout', seconds);
          throw this.timeoutError(outcome.error);
        }
        if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
          this.attempted(span, 'oversized', seconds);
          throw new GatewayError('upstream_invalid_response', {
            provider: this.provider,
            detail: `${this.provider} sent an answer larger than ${request.maxBodyBytes} bytes.`,
            cause: outcome.error,
          });
        }
        this.attempted(span, 'connection_error', seconds);
        const retryable = code !== undefined && CONNECTION_ERRORS.has(code);
        if (!retryable || lastAttempt || !(await this.backoff(attempt, deadline, 'connection_error'))) {
          throw new GatewayError('upstream_error', {
            provider: this.provider,
            detail: `Could not reach ${this.provider}.`,
            cause: outcome.error,
          });
        }
        retryReason = 'connection_error';
        continue;
      }

      const status = outcome.statusCode;
      this.attempted(span, String(status), seconds);
      if (!lastAttempt && RETRYABLE_STATUS.has(status)) {
        retryReason = `status_${status}`;
        if (await this.backoff(attempt, deadline, retryReason)) continue;
      } else if (!lastAttempt && status === 429) {
        const seconds = parseRetryAfter(outcome.headers['retry-after']);
        const wait = seconds === undefined ? undefined : seconds * 1000;
        if (wait !== undefined && wait <= SHORT_RETRY_AFTER_MS && Date.now() + wait < deadline) {
          retryReason = 'status_429';
          observer?.onRetry(this.provider, retryReason);
          await sleep(wait);
          continue;
        }
      }
      return outcome;
    }
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  /**
   * One HTTP exchange through undici's `dispatch()` with a small handler that gathers the
   * body itself: `request()` built a stream and a promise chain per call for a body we
   * always read whole. Limits: headers/body timeouts, the declared and the streamed size
   * cap, and the deadline for a slow drip.
   */
  private attempt(request: WireRequest, remainingMs: number): Promise<UpstreamResponse> {
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const collector = new BodyCollector(request.maxBodyBytes, remainingMs, resolve, reject);
      try {
        this.dispatcher.dispatch(
          {
            origin: request.origin,
            path: request.path,
            method: request.method,
            headers: request.headers,
            body: request.body,
            // undici's own timers tick coarsely and can fire early by most of a tick: the
            // collector's timer holds the deadline, these only back it up a tick later.
            headersTimeout: remainingMs + UNDICI_TIMER_SLACK_MS,
            bodyTimeout: remainingMs + UNDICI_TIMER_SLACK_MS,
          },
          collector,
        );
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Reports an attempt's outcome (a status code, timeout, connection_error, oversized) and ends its span. */
  private attempted(span: TraceSpan, outcome: string, seconds: number): void {
    this.options.observer?.onAttempt(this.provider, outcome, seconds);
    if (span.isRecording()) {
      const status = Number(outcome);
      span.setAttributes({ 'taskgate.upstream.outcome': outcome, 'http.response.status_code': Number.isNaN(status) ? undefined : status });
      // HTTP client semantic conventions: a 4xx or 5xx answer, or none at all, is a failed attempt.
      if (Number.isNaN(status) || status >= 400) span.fail(outcome);
    }
    span.end();
  }

  /** Waits a jittered, exponentially growing delay; false when it would pass the deadline. */
  private async backoff(attempt: number, deadline: number, reason: string): Promise<boolean> {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
    const delay = BACKOFF_BASE_MS / 2 + Math.random() * (ceiling - BACKOFF_BASE_MS / 2);
    if (Date.now() + delay >= deadline) return false;
    this.options.observer?.onRetry(this.provider, reason);
    await sleep(delay);
    return true;
  }

  private timeoutError(cause?: unknown): GatewayError {
    return new GatewayError('upstream_timeout', {
      provider: this.provider,
      detail: `${this.provider} did not answer within ${this.options.timeoutMs} ms.`,
      cause,
    });
  }
}
