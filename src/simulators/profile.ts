/**
 * What the shared server needs from each provider's simulator: where its task endpoint
 * lives, which ids it owns, and how it words a task phase, a missing task and its errors.
 * A profile is pure: it returns bodies, the server decides when to send them.
 */
import type { Phase, TaskScript, Variant } from './script.js';

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
  /** Absolute result URL: the seed document's, or this simulator's `/files/<id>.mp4`. */
  resultUrl: string;
  /** This simulator's own origin, for relative or self-referencing result URLs. */
  baseUrl: string;
  /** Seed tasks keep the seed documents' shapes exactly: no cosmetic variation. */
  seeded: boolean;
}

export interface ErrorAnswer {
  status: number;
  body: string;
}

export interface SeedTask {
  variant: Variant;
  timeline: Phase[];
  model?: string;
  /** The seed documents' own result URL, kept verbatim. */
  resultUrl?: string;
}

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
  /** The ids of the seed documents and providers.md, with the stories those documents tell. */
  readonly seeds: ReadonlyMap<string, SeedTask>;
  /** What `npm run demo` shows of this provider. */
  readonly demo: readonly DemoTask[];
  /** Path up to the task id, e.g. `/model/v1/generation/task/`. */
  readonly taskPathPrefix: string;
  readonly models: readonly string[];
  owns(id: string): boolean;
  /** Provider touches on a default (not pinned) timeline, e.g. an odd status word. */
  decorateTimeline(variant: Variant, timeline: Phase[], id: string): Phase[];
  render(variant: Variant, input: RenderInput): unknown;
  notFound(): ErrorAnswer;
  unauthorized(): ErrorAnswer;
  /** The provider's body for an HTTP error it might send (403, 5xx, ...). */
  errorStatus(status: number): ErrorAnswer;
  rateLimited(): ErrorAnswer;
  unknownPath(method: string, path: string): ErrorAnswer;
  /** Id of an authenticated download route (gravitex's self-referencing content URL). */
  contentRouteId(path: string): string | undefined;
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
