/**
 * One keep-alive connection pool per provider, and the lookup policy around it: a deadline
 * over the whole lookup (retries included), a response size cap enforced while the body
 * streams, and bounded retries with jittered backoff for connection errors, 5xx and short
 * 429s. It only speaks HTTP; what an answer means is the provider adapter's business.
 */
import { Pool, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { UpstreamResponse } from '../providers/types.js';

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
  /** Tests and benchmarks may pass their own dispatcher; otherwise a Pool is made. */
  dispatcher?: Dispatcher;
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
const BACKOFF_CAP_MS = 1000;

class DeadlineExceeded extends Error {
  readonly code = 'TASKGATE_DEADLINE';
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function retryAfterMs(headers: UpstreamResponse['headers']): number | undefined {
  const value = headers['retry-after'];
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text) * 1000;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class UpstreamClient {
  readonly provider: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly pathPrefix: string;
  private readonly origin: string;
  private readonly options: UpstreamClientOptions;

  constructor(options: UpstreamClientOptions) {
    this.options = options;
    this.provider = options.provider;
    const base = new URL(options.baseUrl);
    // A base URL may carry a path (a provider behind a gateway prefix): keep it.
    this.pathPrefix = base.pathname.replace(/\/+$/, '');
    this.origin = base.origin;
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Pool(base.origin, {
        connections: options.connections,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        maxResponseSize: options.maxBodyBytes,
        connect: { timeout: Math.min(options.timeoutMs, 10_000) },
      });
  }

  /** GET `path` with `headers`; resolves with the final answer or throws a GatewayError. */
  async get(path: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    const { retries, timeoutMs, observer } = this.options;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.timeoutError();
      const started = performance.now();
      let outcome: UpstreamResponse | { error: unknown };
      try {
        outcome = await this.attempt(path, headers, remaining);
      } catch (error) {
        outcome = { error };
      }
      const seconds = (performance.now() - started) / 1000;
      const lastAttempt = attempt >= retries;

      if ('error' in outcome) {
        const code = errorCode(outcome.error);
        if (code !== undefined && TIMEOUT_ERRORS.has(code)) {
          observer?.onAttempt(this.provider, 'timeout', seconds);
          throw this.timeoutError(outcome.error);
        }
        if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
          observer?.onAttempt(this.provider, 'oversized', seconds);
          throw new GatewayError('upstream_invalid_response', {
            provider: this.provider,
            detail: `${this.provider} sent an answer larger than ${this.options.maxBodyBytes} bytes.`,
            cause: outcome.error,
          });
        }
        observer?.onAttempt(this.provider, 'connection_error', seconds);
        const retryable = code !== undefined && CONNECTION_ERRORS.has(code);
        if (!retryable || lastAttempt || !(await this.backoff(attempt, deadline, 'connection_error'))) {
          throw new GatewayError('upstream_error', {
            provider: this.provider,
            detail: `Could not reach ${this.provider}.`,
            cause: outcome.error,
          });
        }
        continue;
      }

      const status = outcome.statusCode;
      observer?.onAttempt(this.provider, String(status), seconds);
      if (!lastAttempt && RETRYABLE_STATUS.has(status)) {
        if (await this.backoff(attempt, deadline, `status_${status}`)) continue;
      } else if (!lastAttempt && status === 429) {
        const wait = retryAfterMs(outcome.headers);
        if (wait !== undefined && wait <= SHORT_RETRY_AFTER_MS && Date.now() + wait < deadline) {
          observer?.onRetry(this.provider, 'status_429');
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

  private async attempt(path: string, headers: Record<string, string>, remainingMs: number): Promise<UpstreamResponse> {
    const response = await this.dispatcher.request({
      origin: this.origin,
      path: this.pathPrefix + path,
      method: 'GET',
      headers,
      headersTimeout: remainingMs,
      bodyTimeout: remainingMs,
    });
    const { body } = response;
    const declared = Number(response.headers['content-length']);
    if (declared > this.options.maxBodyBytes) {
      body.destroy();
      const error = new Error('declared body too large') as Error & { code: string };
      error.code = 'UND_ERR_RES_EXCEEDED_MAX_SIZE';
      throw error;
    }
    // bodyTimeout only bounds the gap between chunks; a slow drip must still meet the deadline.
    const timer = setTimeout(() => body.destroy(new DeadlineExceeded('deadline')), remainingMs);
    try {
      const text = await body.text();
      return { statusCode: response.statusCode, headers: response.headers, body: text };
    } finally {
      clearTimeout(timer);
    }
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
