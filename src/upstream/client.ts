/**
 * One provider's keep-alive connections, and the lookup policy around them: one deadline
 * over a whole lookup (all its calls, retries included), a response size cap enforced
 * while the body streams, and bounded retries with jittered backoff for connection
 * errors, 5xx and short 429s. It only speaks HTTP; what an answer means, and which
 * credentials a request carries, is the provider's business.
 */
import { Agent, Pool, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { RequestTarget, UpstreamCall, UpstreamRequest } from '../providers/types.js';
import type { SpanOptions, TraceSpan, Tracer } from '../tracing/api.js';
import { parseRetryAfter } from './retry-after.js';
import { BodyCollector } from './body-collector.js';
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

/**
 * Headers for a request, with the provider's credentials when it carries them. An object
 * returned is never changed afterwards (the same one may be returned every time).
 */
export type Authorize = (url: RequestTarget, call: UpstreamCall) => Record<string, string> | Promise<Record<string, string>>;

/** What the maker of a call hears of it. */
export interface CallHooks {
  /** Before each request made through the call (not before its retries). */
  onRequest?(): void;
  /** Every final answer (the redaction's first look). */
  onResponse?(response: UpstreamResponse): void;
}

/** Where one request goes. */
interface Destination {
  origin: string;
  /** Path and query. */
  path: string;
  /** What `authorize` is told of where it goes. */
  target: RequestTarget;
  /** The span's name and `url.template`. */
  template: string;
  serverAddress: string;
  serverPort: number;
}

/** One request as it goes on the wire. */
interface WireRequest {
  method: 'GET' | 'POST';
  to: Destination;
  headers: Readonly<Record<string, string>>;
  body: string | undefined;
  maxBodyBytes: number;
}

const PLAIN_PATH = /^\/(?!\/)[\w\-.~!$&'()*+,;=:@%/]*$/;
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * Is this path written as a URL would write it (characters a URL keeps as they are, no
 * dot segment it would resolve, no query)? Then it is sent as it is, without parsing a
 * URL for it: the usual request.
 */
export function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path);
}
const CLIENT_SPAN: SpanOptions = { kind: 'client' };
/** The headers of a request that names none: shared, never written to. */
const ACCEPT_JSON: Readonly<Record<string, string>> = Object.freeze({ accept: 'application/json' });

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

/** The port a URL reaches, written or not. */
function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The handle of one lookup (UpstreamClient.call). */
class LookupCall implements UpstreamCall {
  constructor(
    private readonly client: UpstreamClient,
    readonly authorize: Authorize,
    readonly hooks: CallHooks | undefined,
    readonly deadline: number,
  ) {}

  request(request: UpstreamRequest): Promise<UpstreamResponse> {
    this.hooks?.onRequest?.();
    return this.client.send(request, this);
  }

  get remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}

export class UpstreamClient {
  readonly provider: string;
  /** The base URL's pool (its origin is where nearly every request goes), and the rest of the origins'. */
  private readonly pool: Dispatcher;
  private elsewhere: Dispatcher | undefined;
  private readonly ownsDispatcher: boolean;
  /** The base URL's origin, host name and port (kept: a URL computes them anew on every read). */
  private readonly baseOrigin: string;
  private readonly baseHostname: string;
  private readonly serverPort: number;
  private readonly pathPrefix: string;
  private readonly options: UpstreamClientOptions;
  private lastMerge: { headers: Readonly<Record<string, string>>; credentials: Record<string, string>; merged: Record<string, string> } | undefined;

  constructor(options: UpstreamClientOptions) {
    this.options = options;
    this.provider = options.provider;
    const base = new URL(options.baseUrl);
    // A base URL may carry a path (a provider behind a gateway prefix): keep it.
    this.pathPrefix = base.pathname.replace(/\/+$/, '');
    this.baseOrigin = base.origin;
    this.baseHostname = base.hostname;
    this.serverPort = portOf(base);
    this.ownsDispatcher = options.dispatcher === undefined;
    this.pool = options.dispatcher ?? new Pool(this.baseOrigin, this.poolOptions());
    this.elsewhere = options.dispatcher;
  }

  /**
   * A handle for one lookup: every request made through it shares one deadline,
   * `UPSTREAM_TIMEOUT_MS` from now, and carries the headers `authorize` gives it.
   */
  call(authorize: Authorize, hooks?: CallHooks): UpstreamCall {
    return new LookupCall(this, authorize, hooks, Date.now() + this.options.timeoutMs);
  }


  private toWire(request: UpstreamRequest): WireRequest {
    let headers = request.headers === undefined ? ACCEPT_JSON : { ...ACCEPT_JSON, ...request.headers };
    let body: string | undefined;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers = { ...headers, 'content-type': 'application/json' };
    } else if (request.form !== undefined) {
      body = new URLSearchParams(request.form).toString();
      headers = { ...headers, 'content-type': 'application/x-www-form-urlencoded' };
    }
    const maxBodyBytes = request.maxBodyBytes ?? this.options.maxBodyBytes;
    return { method: request.method ?? 'GET', to: this.destination(request), headers, body, maxBodyBytes };
  }

  /** Where a request goes: the base origin with the path as written, or through a URL (another origin, a query, a path a URL would rewrite). */
  private destination(request: UpstreamRequest): Destination {
    if (request.query === undefined && isPlainPath(request.path)) {
      // On the base URL's origin, as a URL would write it: no URL to parse.
      const origin = this.baseOrigin;
      const path = this.pathPrefix + request.path;
      const template = this.pathPrefix + request.template;
      return { origin, path, target: { origin, href: origin + path }, template, serverAddress: this.baseHostname, serverPort: this.serverPort };
    }
    const absolute = /^https?:\/\//.test(request.path);
    const url = absolute ? new URL(request.path) : new URL(this.pathPrefix + request.path, this.baseOrigin);
    for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
    const template = absolute ? request.template : this.pathPrefix + request.template;
    return { origin: url.origin, path: `${url.pathname}${url.search}`, target: url, template, serverAddress: url.hostname, serverPort: portOf(url) };
  }

  private poolOptions(): Pool.Options {
    return {
      connections: this.options.connections,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: Math.min(this.options.timeoutMs, 10_000) },
    };
  }

  /** Where a request to `origin` goes: the base URL's pool, or a pool per other origin (made when first needed). */
  private dispatcherFor(origin: string): Dispatcher {
    if (origin === this.baseOrigin) return this.pool;
    this.elsewhere ??= new Agent(this.poolOptions());
    return this.elsewhere;
  }

  /**
   * A request of `call` (LookupCall.request) with its retries; resolves with the final
   * answer or throws a GatewayError. Only the provider's own credentials go upstream,
   * asked for every attempt (a retry gets what a new request would: a new trace id, a
   * fresh token): client headers are never forwarded.
   */
  async send(upstreamRequest: UpstreamRequest, call: LookupCall): Promise<UpstreamResponse> {
    const { retries, observer, tracer } = this.options;
    const request = this.toWire(upstreamRequest);
    const { deadline } = call;
    /** Why the attempt about to be made is a retry. */
    let retryReason: string | undefined;
    for (let attempt = 0; ; attempt++) {
      let headers = request.headers;
      if (upstreamRequest.auth !== false) {
        // A credentials error (a token endpoint refusing us) is the answer as it is, not a retry.
        const given = call.authorize(request.to.target, call);
        headers = this.withCredentials(headers, isPromise(given) ? await given : given);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.timeoutError();
      const span = tracer.startSpan(`${request.method} ${request.to.template}`, CLIENT_SPAN);
      if (span.isRecording()) {
        span.setAttributes({
          'http.request.method': request.method,
          'server.address': request.to.serverAddress,
          'server.port': request.to.serverPort,
          'url.template': request.to.template,
          'taskgate.provider': this.provider,
          'taskgate.upstream.attempt': attempt + 1,
          'http.request.resend_count': attempt === 0 ? undefined : attempt,
          'taskgate.upstream.retry_reason': retryReason,
        });
      }
      const started = performance.now();
      let outcome: UpstreamResponse | { error: unknown };
      try {
        outcome = await this.attempt(request, headers, remaining);
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
      call.hooks?.onResponse?.(outcome);
      return outcome;
    }
  }

  /**
   * A request's headers with the credentials' over them. A provider whose credentials never
   * change gives the same object every time (the default Bearer key): the last merge is kept.
   */
  private withCredentials(headers: Readonly<Record<string, string>>, credentials: Record<string, string>): Record<string, string> {
    const last = this.lastMerge;
    if (last !== undefined && last.headers === headers && last.credentials === credentials) return last.merged;
    const merged = { ...headers, ...credentials };
    this.lastMerge = { headers, credentials, merged };
    return merged;
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await Promise.all([this.pool.close(), this.elsewhere?.close()]);
  }

  /**
   * One HTTP exchange through undici's `dispatch()` with a small handler that gathers the
   * body itself: `request()` built a stream and a promise chain per call for a body we
   * always read whole. Limits: headers/body timeouts, the declared and the streamed size
   * cap, and the deadline for a slow drip.
   */
  private attempt(request: WireRequest, headers: Record<string, string>, remainingMs: number): Promise<UpstreamResponse> {
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const collector = new BodyCollector(request.maxBodyBytes, remainingMs, resolve, reject);
      try {
        this.dispatcherFor(request.to.origin).dispatch(
          {
            origin: request.to.origin,
            path: request.to.path,
            method: request.method,
            headers,
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
