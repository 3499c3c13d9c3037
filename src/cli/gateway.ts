/**
 * The CLI's only way to the gateway: HTTP to `GET /tasks/{id}` (with `?wait=`),
 * `GET /tasks/{id}/content` and `POST /tasks/{id}/links`. Answers are checked with the
 * public contract's zod schemas; every failure becomes a GatewayFailure that says whether
 * it is worth retrying.
 */
import { STATUS_CODES } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { LinkSetSchema, type LinkSet } from '../../schemas/links.js';
import { TaskSchema, type Task } from '../../schemas/task.js';
import { CliError, EXIT, usageError } from './errors.js';

/** A Task and the exact bytes it came in (`--output json` prints those, not a re-serialization). */
export interface TaskAnswer {
  task: Task;
  body: Buffer;
}

export interface ContentAnswer {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export class GatewayFailure extends CliError {
  override name = 'GatewayFailure';

  constructor(
    exitCode: typeof EXIT.problem | typeof EXIT.unreachable,
    code: string,
    detail: string,
    readonly retry: {
      /** Worth asking again (502/503/504 other than a refusal, 429, a reset or stalled connection). */
      transient: boolean;
      /** The gateway's Retry-After, when it sent one. */
      afterMs?: number;
      /** Nothing listens there: transient only once the gateway has been reached before. */
      refused?: boolean;
      /** What went wrong on the wire (`ECONNRESET`…), shown while retrying. */
      reason?: string;
    },
    options?: { cause?: unknown },
  ) {
    super(exitCode, code, detail, options);
  }
}

/**
 * Lenient on purpose: a newer gateway may send codes this CLI does not know yet, and they
 * must still be printed as they are.
 */
const ProblemBodySchema = z.object({ code: z.string().min(1), detail: z.string().optional(), title: z.string().optional() });

/** 502/503/504 codes that another attempt cannot fix: they need an operator. */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'upstream_auth_failed',
  'provider_not_configured',
  'content_blocked',
  'webhooks_not_configured',
]);
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Connection failures that a second attempt may well not meet. */
const TRANSIENT_CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** A Task or a problem is a few kilobytes; anything far bigger is not the gateway talking. */
const MAX_ANSWER_BYTES = 1 << 20;
/** How long a plain (not held) request may take before the gateway counts as not answering. */
const ANSWER_TIMEOUT_MS = 60_000;
/** On top of a `?wait=` hold: the gateway's own upstream budget and the way back. */
const HOLD_GRACE_MS = 30_000;

/** The gateway's base URL from `--gateway` / TASKGATE_URL: http(s), no credentials, no query. */
export function parseGatewayUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--gateway / TASKGATE_URL must be an http(s) URL, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError('--gateway / TASKGATE_URL must be an http(s) URL');
  if (url.username !== '' || url.password !== '') {
    throw usageError('--gateway / TASKGATE_URL must not contain credentials; the key is read from TASKGATE_API_KEY');
  }
  if (url.search !== '' || url.hash !== '') throw usageError('--gateway / TASKGATE_URL must not have a query or fragment');
  // A gateway mounted under a path keeps it: every route is appended to it.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** The id as one path segment; `:` stays readable (RFC 3986 allows it in a segment). */
function pathSegment(id: string): string {
  return encodeURIComponent(id).replaceAll('%3A', ':');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function flatHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = headerValue(value);
  return flat;
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      throw new GatewayFailure(EXIT.problem, 'invalid_response', `the answer is larger than ${MAX_ANSWER_BYTES} bytes; is --gateway a taskgate gateway?`, {
        transient: false,
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function problemFailure(statusCode: number, headers: Record<string, string | undefined>, body: Buffer, keyless = false): GatewayFailure {
  let parsed: z.infer<typeof ProblemBodySchema> | undefined;
  try {
    const result = ProblemBodySchema.safeParse(JSON.parse(body.toString('utf8')));
    if (result.success) parsed = result.data;
  } catch {
    // Not JSON: a proxy's error page, described below by its status alone.
  }
  const code = parsed?.code ?? `http_${statusCode}`;
  const said =
    parsed?.detail ?? parsed?.title ?? `the gateway answered ${statusCode} ${STATUS_CODES[statusCode] ?? ''}`.trimEnd() + ' without a problem document';
  // The gateway wants a key and none was sent: say where the CLI takes it from.
  const detail = keyless && statusCode === 401 ? `${said} Set TASKGATE_API_KEY to a client key of this gateway.` : said;
  const transient = TRANSIENT_STATUSES.has(statusCode) && !PERMANENT_CODES.has(code);
  const afterMs = retryAfterMs(headers['retry-after']);
  return new GatewayFailure(EXIT.problem, code, detail, afterMs === undefined ? { transient } : { transient, afterMs });
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR');
}

export interface GatewayClientOptions {
  baseUrl: URL;
  apiKey: string | undefined;
}

export class GatewayClient {
  private readonly agent = new Agent({ connect: { timeout: 10_000 } });
  private readonly baseUrl: URL;
  private readonly authorization: string | undefined;

  constructor(options: GatewayClientOptions) {
    this.baseUrl = options.baseUrl;
    this.authorization = options.apiKey === undefined ? undefined : `Bearer ${options.apiKey}`;
  }

  /** The origin and path shown in messages: never a key (it travels only in a header). */
  get displayUrl(): string {
    return this.baseUrl.href.replace(/\/$/, '');
  }

  private url(id: string, suffix: string, query: Record<string, string>): URL {
    const url = new URL(`tasks/${pathSegment(id)}${suffix}`, this.baseUrl);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url;
  }

  private async send(
    url: URL,
    options: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string>; signal: AbortSignal; headersTimeout: number },
  ) {
    const headers: Record<string, string> = { 'user-agent': 'taskgate-cli', ...options.headers };
    if (this.authorization !== undefined) headers['authorization'] = this.authorization;
    try {
      return await request(url, {
        dispatcher: this.agent,
        method: options.method ?? 'GET',
        ...(options.body === undefined ? {} : { body: options.body }),
        headers,
        signal: options.signal,
        headersTimeout: options.headersTimeout,
        bodyTimeout: ANSWER_TIMEOUT_MS,
      });
    } catch (error) {
      throw this.connectionFailure(error);
    }
  }

  /** A failure to talk to the gateway at all (exit 4); aborts pass through for the caller to judge. */
  connectionFailure(error: unknown): unknown {
    if (isAbort(error) || error instanceof CliError) return error;
    const raw = (error as { code?: unknown }).code;
    const code = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
    const reason = code === '' ? (error as Error).message : code;
    const refused = code === 'ECONNREFUSED';
    const detail = refused
      ? `nothing answers at ${this.displayUrl} (${code}); is the gateway running? (--gateway / TASKGATE_URL)`
      : `could not talk to ${this.displayUrl}: ${reason}`;
    const retry = { transient: TRANSIENT_CONNECTION_CODES.has(code), refused, reason };
    return new GatewayFailure(EXIT.unreachable, 'unreachable', detail, retry, { cause: error });
  }

  /** `GET /tasks/{id}`, held up to `waitSeconds` by the gateway while the task runs. */
  async getTask(id: string, options: { waitSeconds: number; signal: AbortSignal }): Promise<TaskAnswer> {
    const query: Record<string, string> = options.waitSeconds > 0 ? { wait: String(options.waitSeconds) } : {};
    const response = await this.send(this.url(id, '', query), {
      headers: { accept: 'application/json' },
      signal: options.signal,
      headersTimeout: options.waitSeconds * 1000 + (options.waitSeconds > 0 ? HOLD_GRACE_MS : ANSWER_TIMEOUT_MS),
    });
    const { value, body } = await this.readAnswer(response, 200, TaskSchema, 'a Task');
    return { task: value, body };
  }

  /** `POST /tasks/{id}/links`: browser links to the task, valid for `ttlSeconds`. */
  async createLinks(id: string, options: { ttlSeconds: number; signal: AbortSignal }): Promise<LinkSet> {
    const response = await this.send(this.url(id, '/links', {}), {
      method: 'POST',
      body: JSON.stringify({ ttl_seconds: options.ttlSeconds }),
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      signal: options.signal,
      headersTimeout: ANSWER_TIMEOUT_MS,
    });
    return (await this.readAnswer(response, 201, LinkSetSchema, 'a set of links')).value;
  }

  /** A JSON answer of the expected status, checked against its contract schema; anything else is thrown as its problem. */
  private async readAnswer<Value>(
    response: Dispatcher.ResponseData,
    expectedStatus: number,
    schema: z.ZodType<Value>,
    what: string,
  ): Promise<{ value: Value; body: Buffer }> {
    let body: Buffer;
    try {
      body = await readLimited(response.body);
    } catch (error) {
      throw this.connectionFailure(error);
    }
    if (response.statusCode !== expectedStatus) throw problemFailure(response.statusCode, flatHeaders(response.headers), body, this.authorization === undefined);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      json = undefined;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new GatewayFailure(EXIT.problem, 'invalid_response', `the answer of ${this.displayUrl} is not ${what}; is --gateway a taskgate gateway?`, {
        transient: false,
      });
    }
    return { value: parsed.data, body };
  }

  /**
   * `GET /tasks/{id}/content`: the open stream of a 200 or 206 (or a 416, which only the
   * caller can judge); any other answer is thrown as its problem.
   */
  async openContent(
    id: string,
    options: { outputIndex: number | undefined; headers: Record<string, string>; signal: AbortSignal },
  ): Promise<ContentAnswer> {
    // download=1: the answer names the file (Content-Disposition: attachment; filename=…).
    const query: Record<string, string> = { download: '1' };
    if (options.outputIndex !== undefined) query['output'] = String(options.outputIndex);
    const response = await this.send(this.url(id, '/content', query), {
      headers: options.headers,
      signal: options.signal,
      headersTimeout: ANSWER_TIMEOUT_MS,
    });
    const headers = flatHeaders(response.headers);
    if (response.statusCode === 200 || response.statusCode === 206 || response.statusCode === 416) {
      return { statusCode: response.statusCode, headers, body: response.body };
    }
    let body: Buffer;
    try {
      body = await readLimited(response.body);
    } catch (error) {
      throw this.connectionFailure(error);
    }
    throw problemFailure(response.statusCode, headers, body, this.authorization === undefined);
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
