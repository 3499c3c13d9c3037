/**
 * What the shared server needs from each provider's simulator: which requests are its
 * task calls, how it checks credentials, which ids it owns, and how it words a task phase,
 * a missing task and its errors. A profile returns bodies; the server decides when to send
 * them (timelines, faults). Each provider's profile lives in its folder, as
 * `src/providers/<name>/simulator.ts` exporting `profile`; the gateway never loads it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CommittedAssetName } from './media/assets.js';
import type { Phase, TaskScript, Variant } from './script.js';

/**
 * Result videos are WebM (VP9): Debian's Chromium may lack H.264, and a result URL the demo
 * hands out should play in a browser.
 */
export const VIDEO_EXTENSION = 'webm';

/** Everything a variant may mention about a task at one phase of its life. */
export interface RenderInput {
  id: string;
  model: string;
  phase: Phase;
  /** Wall-clock ms of the first poll, reported as the creation time. */
  createdAtMs: number;
  /** Wall-clock ms at which the task started running, once it has. */
  startedAtMs: number | undefined;
  /** Wall-clock ms at which the task reached its terminal phase, once it has. */
  completedAtMs: number | undefined;
  /** Absolute result URL: the seed document's, or this simulator's `/files/<id>.webm`. */
  resultUrl: string;
  /** This simulator's own origin, for relative or self-referencing result URLs. */
  baseUrl: string;
  /** Seed tasks keep the seed documents' shapes exactly: no cosmetic variation. */
  seeded: boolean;
}

export interface ErrorAnswer {
  status: number;
  body: string;
  headers?: Readonly<Record<string, string>>;
}

/** A request as a profile reads it (the body is read for methods that carry one). */
export interface SimRequest {
  method: string;
  /** The path as received, still percent-encoded. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * The credentials a simulator accepts: values by the provider's credential `setting`
 * names, the environment a gateway needs to use them against this simulator (base URL
 * included), and whatever the profile keeps to check them (a public key).
 */
export interface SimCredentials {
  readonly values: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly check?: unknown;
  /** Removes what preparing them left behind (a credentials file). */
  close?(): Promise<void>;
}

/** What one request to the simulator is. */
export type SimRoute =
  /** A task call: answered from the task's timeline (`view` names which of the provider's calls it is). */
  | { kind: 'status'; id: string; view?: string }
  /** A key-gated download on the provider's own origin. */
  | { kind: 'content'; id: string; asset: CommittedAssetName }
  /** An answer that depends on no task (a token endpoint, a malformed request); `open`: no credentials needed. */
  | { kind: 'answer'; answer: ErrorAnswer; open?: boolean };

/**
 * A status answer other than a 200 with a JSON body (fal's 202 while queued, its 422
 * result of a failed request): what `render` returns when the HTTP status or headers
 * matter. A plain value is sent as a 200 JSON body.
 */
export interface SimAnswer {
  readonly simAnswer: true;
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export function simAnswer(status: number, body: unknown, headers?: Readonly<Record<string, string>>): SimAnswer {
  return { simAnswer: true, status, body, headers };
}

export function isSimAnswer(value: unknown): value is SimAnswer {
  return typeof value === 'object' && value !== null && (value as { simAnswer?: unknown }).simAnswer === true;
}

export interface SeedTask {
  variant: Variant;
  timeline: Phase[];
  model?: string;
  /** The seed documents' own result URL, kept verbatim. */
  resultUrl?: string;
}

/**
 * A request to a key-gated download route, as the profile reads its path and query: the
 * task and the committed file to serve, or the provider's answer to a malformed request.
 */
export type ContentRoute =
  | {
      /** The task id as it appears in the path, still percent-encoded. */
      encodedId: string;
      asset: CommittedAssetName;
    }
  | { error: ErrorAnswer };

/** A task the demo pins and prints a curl line for. */
export interface DemoTask {
  /** The id as a client would ask for it. */
  id: string;
  /** What the line shows, as a shell comment. */
  note: string;
  /** Pinned story; none: the seed's or the hash-derived default. */
  script?: TaskScript;
  /** Shown as a server-sent events line rather than a plain GET. */
  events?: boolean;
}

export interface ProviderProfile {
  /** The provider's name, as in the registry. */
  readonly name: string;
  readonly variants: readonly Variant[];
  /** The ids of the seed documents and docs/providers/, with the stories those documents tell. */
  readonly seeds: ReadonlyMap<string, SeedTask>;
  /** What `npm run demo` shows of this provider. */
  readonly demo: readonly DemoTask[];
  /** Path up to the task id of a one-GET provider, e.g. `/model/v1/generation/task/` (the default route). */
  readonly taskPathPrefix: string;
  readonly models: readonly string[];
  owns: (id: string) => boolean;
  /** Provider touches on a default (not pinned) timeline, e.g. an odd status word. */
  decorateTimeline(variant: Variant, timeline: Phase[], id: string): Phase[];
  /** The body of a task call at one phase (`view`: which call, for a provider with several). */
  render(variant: Variant, input: RenderInput, view?: string): unknown;
  notFound(view?: string): ErrorAnswer;
  unauthorized(): ErrorAnswer;
  /** The provider's body for an HTTP error it might send (403, 5xx, ...). */
  errorStatus(status: number): ErrorAnswer;
  rateLimited(): ErrorAnswer;
  unknownPath(method: string, path: string): ErrorAnswer;
  /**
   * A key-gated download on the provider's own origin (gravitex's self-referencing content
   * URL, OpenAI's `/v1/videos/{id}/content?variant=…`); undefined when `path` is none.
   */
  contentRoute(path: string, query: URLSearchParams): ContentRoute | undefined;
  /** The variant an id's own form implies (e.g. a relay's ids); undefined: drawn by hash. */
  variantFor?(id: string): Variant | undefined;
  /** Headers a status answer carries besides its body (e.g. a poll-interval hint). */
  statusHeaders?(variant: Variant, input: RenderInput): Readonly<Record<string, string>> | undefined;
  /** What a request is; default: a GET under `taskPathPrefix` is a status call, else `contentRoute`. */
  route?(request: SimRequest, credentials: SimCredentials): SimRoute | undefined;
  /** Checks the credentials the way the provider does; an answer refuses. Default: `Authorization: Bearer <apiKey>`. */
  authorize?(request: SimRequest, credentials: SimCredentials): ErrorAnswer | undefined;
  /**
   * The credentials this simulator accepts, made from the values asked for (or the demo's)
   * once it listens at `url`. Default: the values as they are, with the provider's
   * credential variables and `<NAME>_BASE_URL` as the environment.
   */
  credentials?(values: Readonly<Record<string, string>>, url: string): Promise<SimCredentials> | SimCredentials;
  /** The headers a client calling the simulator directly sends (the benchmarks' reference); default: the Bearer key. */
  clientHeaders?(credentials: SimCredentials): Record<string, string>;
  /**
   * A native id of this provider's form made from `seed` (distinct seeds, distinct ids),
   * for tools that make up tasks (the benchmarks): the id the gateway is asked for after
   * `<name>:`, and the id this simulator's stories are keyed by. Default: the seed itself.
   */
  sampleId?: (seed: string) => string;
}

export function unixSeconds(milliseconds: number): number {
  return Math.floor(milliseconds / 1000);
}

/** RFC 3339 without fractions, as in the vtrix CLI doc (`2026-04-10T14:32:05Z`). */
export function isoSeconds(milliseconds: number): string {
  return `${new Date(milliseconds).toISOString().slice(0, 19)}Z`;
}

export function filePath(id: string, extension: string): string {
  return `/files/${encodeURIComponent(id)}.${extension}`;
}

/** `variant` as one of the provider's own (typed), or an error naming the provider. */
export function ownVariant<const Own extends string>(provider: string, variants: readonly Own[], variant: Variant): Own {
  if ((variants as readonly string[]).includes(variant)) return variant as Own;
  throw new Error(`${provider} has no "${variant}" variant`);
}

/** The still-encoded id of a `<prefix><id><suffix>` path; undefined for any other path. */
export function idBetween(path: string, prefix: string, suffix: string): string | undefined {
  if (!path.startsWith(prefix) || !path.endsWith(suffix)) return undefined;
  const encoded = path.slice(prefix.length, path.length - suffix.length);
  return encoded === '' || encoded.includes('/') ? undefined : encoded;
}
