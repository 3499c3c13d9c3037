/**
 * The provider contract: what a provider folder declares (its settings, ids and status
 * words) and what it does (its lookup, making whatever upstream calls it needs through a
 * handle the gateway gives it). The gateway owns the pools, the deadline, retries, the
 * size cap, the breaker, spans and redaction; a provider owns its URLs, its credentials'
 * use and the meaning of its answers.
 *
 * TaskDraft and TaskState are the first shapes of a task on its way to the client; the
 * whole sequence, TaskDraft to Task, is described at the top of src/tasks/render.ts.
 */
import type { Task, TaskOutput, TaskStatus } from '../../schemas/task.js';
import type { UpstreamResponse } from '../upstream/types.js';

/**
 * One result file as the gateway keeps it. `private` marks a file a client cannot fetch
 * itself (it needs our credentials, or it is not a URL at all): the client is given the
 * gateway's `/content` URL for it, and only the provider interprets its `url`.
 */
export type StateOutput = TaskOutput & { private?: true };

/**
 * A task as its provider reported it, before the gateway adds what depends on the request
 * (`id`, `provider`, `poll_after_ms`, `content_url`, gateway URLs for private outputs).
 */
export type TaskState = Omit<Task, 'id' | 'provider' | 'poll_after_ms' | 'content_url' | 'outputs' | 'archived_at'> & {
  outputs: StateOutput[];
  /** This answer's cadence when the provider said one (OpenAI's `openai-poll-after-ms`). */
  cadenceMs?: number;
  /** The provider says it deleted the result files (a succeeded task without outputs). */
  filesRemoved?: true;
};

/** What a provider's mapper produces: the TaskState before status mapping and invariants. */
export type TaskDraft = Omit<TaskState, 'status' | 'url' | 'expires_at' | 'cadenceMs'> & {
  /** When the provider stops serving the result files, if it says. */
  expires_at?: string | null;
  /**
   * The status, when the provider's word alone does not say it (a long-running operation's
   * `done`, fal's `COMPLETED` that carries an error); else the status table decides.
   */
  status?: TaskStatus;
  /** This answer's own cadence, in ms, when the provider sets one per answer. */
  cadenceMs?: number;
};

/** A provider's status words, case-insensitive; a word outside them is served as `in_progress`. */
export type StatusWords = Readonly<Partial<Record<TaskStatus, readonly string[]>>>;

/**
 * One default routing rule a provider claims: ids with this prefix (or matching this
 * anchored pattern) may be its. `order` places the rule in the default table and the
 * provider among the rule's candidates: rules with the same matcher merge into one rule
 * whose candidates are sorted by `order`, and the table is sorted by each rule's lowest.
 */
export interface IdRule {
  prefix?: string;
  pattern?: string;
  order: number;
}

/** One credential a provider needs; the provider is configured when all of them are set. */
export interface CredentialSpec {
  /** Its name under `providers.<name>` in TASKGATE_CONFIG, e.g. `apiKey`. */
  readonly setting: string;
  /** Its environment variable, e.g. `KLING_ACCESS_KEY`. */
  readonly env: string;
  /** Redacted wherever the gateway logs or answers: every key is; a file's path is not. */
  readonly secret: boolean;
}

/** A URL setting of a provider besides its base URL (e.g. a storage origin). */
export interface UrlSettingSpec {
  readonly setting: string;
  readonly env: string;
  readonly default: string;
}

/** The form a provider's native ids take, checked before anything goes upstream. */
export interface NativeIdForm {
  readonly pattern: RegExp;
  /** Said in the 400 when an id does not have it, e.g. "an 18-digit task id". */
  readonly description: string;
  /** One id of this form (docs, tests, the 400's hint). */
  readonly example: string;
}

/** A provider's settings once parsed: its credentials by `setting`, base URL and the rest. */
export interface ProviderSettings {
  readonly name: string;
  /** Undefined until every credential is set. */
  readonly credentials: Readonly<Record<string, string>> | undefined;
  /** Undefined only when the provider has no default and none was set (then it is not configured). */
  readonly baseUrl: string | undefined;
  /** The provider's other URL settings by `setting`, defaults applied. */
  readonly urls: Readonly<Record<string, string>>;
  readonly pollIntervalMs: number;
  readonly connections: number;
}

/** One upstream request of a lookup. */
export interface UpstreamRequest {
  method?: 'GET' | 'POST';
  /**
   * A path under the base URL (the base URL's own path is kept), or an absolute URL on
   * another origin the provider itself decided on (a regional host, a token endpoint).
   */
  path: string;
  /** The path with its variable parts named (`/v1/videos/{action}/{id}`): the span's `url.template`, so ids stay out of traces. */
  template: string;
  query?: Readonly<Record<string, string>>;
  headers?: Readonly<Record<string, string>>;
  /** A JSON body (sent with `content-type: application/json`). */
  json?: unknown;
  /** A form body (`application/x-www-form-urlencoded`), e.g. an OAuth token request. */
  form?: Readonly<Record<string, string>>;
  /** Whether the provider's `authorize` adds its credentials (default true). */
  auth?: boolean;
  /** A larger size cap for this answer than the gateway's default (inline media). */
  maxBodyBytes?: number;
}

/** Where a request goes (a URL has both): its origin, and the whole URL. */
export type RequestTarget = Pick<URL, 'origin' | 'href'>;

/**
 * The handle a lookup makes its calls through: one deadline over all of them, each with
 * the retries, the size cap and a span of its own. A request resolves with the final
 * answer, whatever its status code; a timeout, an unreachable or oversized answer throws
 * the matching GatewayError.
 */
export interface UpstreamCall {
  request(request: UpstreamRequest): Promise<UpstreamResponse>;
  /** Milliseconds left of the deadline. */
  readonly remainingMs: number;
}

/** What a provider is given when the gateway connects it. */
export interface ConnectContext {
  readonly settings: ProviderSettings & { readonly credentials: Readonly<Record<string, string>>; readonly baseUrl: string };
  /** Makes a secret learned at run time (a minted token, a key read from a file) redacted like the credentials. */
  addSecret: (secret: string) => void;
  /** A new call with a deadline of its own: for work outside a lookup (a token for a download). */
  newCall(): UpstreamCall;
}

/** The bytes of a private output that is not a URL (inline media), for `/content` to serve with ranges. */
export interface InlineContent {
  contentType: string;
  bytes: Buffer;
}

/** A configured provider: its credentials in use, and its lookup. */
export interface ProviderConnection {
  /**
   * Headers that carry the credentials on a request to `url` (one of the provider's own
   * origins): called per request, so a token can be minted, cached and refreshed. `call`
   * is the call the request belongs to, for a token that must be fetched first.
   */
  authorize(url: RequestTarget, call: UpstreamCall): Record<string, string> | Promise<Record<string, string>>;
  /** The task's state: makes its calls through `call`; throws GatewayErrors for what is not a task. */
  lookup(nativeId: string, call: UpstreamCall): Promise<TaskDraft>;
  /** The bytes of a private output whose `url` is not http(s) (inline media), fetched anew. */
  openInline?(nativeId: string, output: StateOutput, call: UpstreamCall): Promise<InlineContent>;
}

export interface ProviderDefinition<Name extends string = string> {
  /** Name used in qualified ids and in every response, e.g. `vtrix`. */
  readonly name: Name;
  /** What it is, in a few words (the README's table, the demo). */
  readonly title: string;
  readonly credentials: readonly CredentialSpec[];
  /** The base URL when `<NAME>_BASE_URL` is unset; undefined: the variable is required once the credentials are set. */
  readonly defaultBaseUrl: string | undefined;
  /** Why the base URL has no default: said when the credentials are set without it. */
  readonly baseUrlRequired?: string;
  /** URL settings besides the base URL; their origins get the credentials too. */
  readonly urls?: readonly UrlSettingSpec[];
  /** How often to poll this provider (its documented cadence). */
  readonly cadenceMs: number;
  readonly idRules: readonly IdRule[];
  readonly nativeIds: NativeIdForm;
  readonly statuses: StatusWords;
  /**
   * The native ids one id may be at this provider, in order of preference; more than one
   * are asked at once and the one that has the task is remembered (a Kling id without its
   * action). Default: the id itself.
   */
  expand?: (nativeId: string) => readonly string[];
  /** Throws a ConfigError (src/settings/errors.ts) when the settings cannot work (a credentials file that cannot be read): the boot stops with its message. */
  connect(context: ConnectContext): ProviderConnection;
}
