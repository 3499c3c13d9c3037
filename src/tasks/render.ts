/**
 * A provider's TaskState as the client sees it: the Task (with gateway URLs for the
 * outputs that need our key, `content_url`, `poll_after_ms`), its JSON and its ETag. The
 * one place that renders a task, for GET, long-poll, SSE and batch alike; a cached state
 * is the same object, so each (state, id, origin, token) asked for again and again is
 * rendered twice at most, and a reused running task only has its `poll_after_ms` countdown
 * written into that rendering.
 *
 * The shapes of a task, from a provider's answer to the client's JSON:
 *
 *   TaskDraft     what a provider's mapper makes of its answers (src/providers/types.ts,
 *                 filled in by src/providers/normalize.ts)
 *   TaskState     the draft with its status mapped and the Task invariants checked: the task
 *                 as its provider reported it (src/providers/types.ts)
 *   Observation   a TaskState and when it arrived (and the archive's copy, once made): what
 *                 the caches hold and countdowns are measured from (src/fleet/store.ts)
 *   Located       an Observation with the ProviderClient and native id that answered it: a
 *                 lookup's result, inside src/tasks/ only (src/tasks/lookup.ts)
 *   TaskSnapshot  an Observation with the id the client asked by, and its provider's name:
 *                 what routes, the watcher and webhooks hold (here)
 *   RenderedTask  a TaskSnapshot rendered for one origin and link token: the Task, its JSON
 *                 and its ETag (here)
 *   Task          the public JSON, the contract (schemas/task.ts)
 */
import { hash } from 'node:crypto';
import type { Observation } from '../fleet/store.js';
import type { ProviderClient } from '../providers/client.js';
import type { TaskState } from '../providers/types.js';
import { isTerminal, serializeTask, type Task, type TaskOutput } from '../../schemas/task.js';
import { cadenceOf, refreshInMs } from './lookup.js';

/** Where the URLs the gateway hands out point, and the link token they carry. */
export interface ViewContext {
  /** The gateway's public origin (and path prefix, if any), without a trailing slash. */
  origin: string;
  /** A link token the request was authorized with: repeated on the URLs for this task. */
  token?: string;
}

export interface RenderedTask {
  /** The Task as first rendered: for a running task its `poll_after_ms` is the whole cadence; `json` has the countdown. */
  task: Task;
  json: string;
  /** Strong for a terminal task; weak (`W/…`) for a running one, whose bytes differ only in the countdown. */
  etag: string;
}

/**
 * A task as the routes and the watcher know it: an Observation (its state, when it arrived;
 * reused answers are older than their request), which id it was asked by, where it lives.
 */
export interface TaskSnapshot extends Observation {
  /** The id as the client asked for it. */
  id: string;
  /** The provider's name in the registry (src/providers/index.ts). */
  provider: string;
  /** The id as the provider knows it (what goes into its URL). */
  nativeId: string;
}

/**
 * The countdown is rounded up to this step: a client that follows it never asks before
 * the next refresh, and at most this much after it; a fresh answer shows the whole cadence.
 */
const COUNTDOWN_STEP_MS = 100;
const POLL_AFTER_KEY = '"poll_after_ms":';

/** A rendering with the number after `"poll_after_ms":` cut out, to be filled per answer. */
interface Rendering extends RenderedTask {
  head?: string;
  tail?: string;
}

export function etagOf(payload: string): string {
  // The one-shot hash: the same digest as createHash().update().digest(), at half the cost.
  return `"${hash('sha1', payload, 'base64url')}"`;
}

/** `{origin}/tasks/{id}/content`, `{id}` percent-encoded as one path segment. */
export function contentUrl(context: ViewContext, id: string, output?: number): string {
  const query: string[] = [];
  if (output !== undefined) query.push(`output=${output}`);
  if (context.token !== undefined) query.push(`token=${encodeURIComponent(context.token)}`);
  return `${context.origin}/tasks/${encodeURIComponent(id)}/content${query.length > 0 ? `?${query.join('&')}` : ''}`;
}

/**
 * Every URL handed out works for the client: a private file (on the provider's own origin,
 * needing our credentials, or not a URL at all) is given as the gateway's content URL.
 * With the result archive on, every file of a succeeded task is: its URL never changes,
 * whether the archive or the provider serves it.
 */
function clientOutputs(snapshot: TaskSnapshot, context: ViewContext, archiveOn: boolean): TaskOutput[] {
  const { outputs, status } = snapshot.state;
  const allOurs = archiveOn && status === 'succeeded';
  if (!allOurs && !outputs.some((output) => output.private === true)) return outputs;
  return outputs.map((output, index) =>
    allOurs || output.private === true ? { type: output.type, url: contentUrl(context, snapshot.id, index) } : output,
  );
}

/** The client's `url`: the primary output's, or the content URL when the provider removed the files (`/content` then says 410). */
function clientUrl(snapshot: TaskSnapshot, outputs: readonly TaskOutput[], context: ViewContext): string | null {
  const { state } = snapshot;
  if (state.filesRemoved === true) return contentUrl(context, snapshot.id);
  const primary = state.url === null ? -1 : state.outputs.findIndex((output) => output.url === state.url);
  return primary === -1 ? state.url : (outputs[primary]?.url ?? null);
}

/** What a rendering needs of a provider: its poll cadence (`poll_after_ms`). */
export type CadenceOf = (provider: string) => Pick<ProviderClient, 'pollIntervalMs'>;

/** `archiveOn`: the result archive is on (TASKGATE_ARCHIVE), so every result URL is the gateway's. */
export function toTask(snapshot: TaskSnapshot, context: ViewContext, providers: CadenceOf, archiveOn = false): Task {
  const { id, provider, state, archived } = snapshot;
  const outputs = clientOutputs(snapshot, context, archiveOn);
  const succeeded = state.status === 'succeeded';
  return {
    id,
    provider,
    provider_task_id: state.provider_task_id,
    status: state.status,
    provider_status: state.provider_status,
    progress: state.progress,
    url: clientUrl(snapshot, outputs, context),
    outputs,
    error: state.error,
    model: state.model,
    created_at: state.created_at,
    completed_at: state.completed_at,
    poll_after_ms: isTerminal(state.status) ? null : cadenceOf(providers(provider), state),
    content_url: succeeded ? contentUrl(context, id) : null,
    expires_at: archived === undefined ? state.expires_at : archived.expiresAt,
    archived_at: archived?.at ?? null,
  };
}

/** Renderings kept per state; more than this many ids/origins/tokens for one state is unusual. */
const MAX_RENDERINGS_PER_STATE = 8;

function renderOnce(snapshot: TaskSnapshot, context: ViewContext, providers: CadenceOf, archiveOn: boolean): Rendering {
  const task = toTask(snapshot, context, providers, archiveOn);
  const json = serializeTask(task);
  if (task.poll_after_ms === null) return { task, json, etag: etagOf(json) };
  // JSON escapes every quote inside a string value, so the key's text appears once: as the key.
  const at = json.indexOf(POLL_AFTER_KEY) + POLL_AFTER_KEY.length;
  const end = json.slice(at).search(/[,}]/) + at;
  return { task, json, etag: `W/${etagOf(json)}`, head: json.slice(0, at), tail: json.slice(end) };
}

export class TaskRenderer {
  private readonly renderings = new WeakMap<TaskState, Map<string, Rendering>>();
  /**
   * States rendered once. Most are never rendered again (a new answer, for the one client
   * that asked): their renderings are kept only from the second time on, so a state's JSON
   * is not held for as long as the caches hold the state (3% of a pass-through request's
   * CPU went to the collector for that; BENCHMARKS.md).
   */
  private readonly seen = new WeakSet<TaskState>();

  /** `archiveOn`: the result archive is on, so a succeeded task's files are all given as gateway URLs. */
  constructor(
    private readonly providers: CadenceOf,
    private readonly archiveOn = false,
  ) {}

  render(snapshot: TaskSnapshot, context: ViewContext, now: number = Date.now()): RenderedTask {
    const rendered = this.rendering(snapshot, context);
    if (rendered.head === undefined || rendered.tail === undefined) return rendered;
    const provider = this.providers(snapshot.provider);
    const cadence = cadenceOf(provider, snapshot.state);
    const countdown = Math.min(cadence, Math.ceil(refreshInMs(provider, snapshot, now) / COUNTDOWN_STEP_MS) * COUNTDOWN_STEP_MS);
    if (countdown === cadence) return rendered;
    return { task: rendered.task, json: `${rendered.head}${countdown}${rendered.tail}`, etag: rendered.etag };
  }

  private rendering(snapshot: TaskSnapshot, context: ViewContext): Rendering {
    // An archived copy of a state renders differently (archived_at, expires_at) from the state itself.
    const key = `${snapshot.provider}\n${snapshot.id}\n${context.origin}\n${context.token ?? ''}\n${snapshot.archived?.at ?? ''}`;
    let known = this.renderings.get(snapshot.state);
    const cached = known?.get(key);
    if (cached !== undefined) return cached;
    const rendered = renderOnce(snapshot, context, this.providers, this.archiveOn);
    if (known === undefined) {
      if (!this.seen.has(snapshot.state)) {
        this.seen.add(snapshot.state);
        return rendered;
      }
      known = new Map();
      this.renderings.set(snapshot.state, known);
    } else if (known.size >= MAX_RENDERINGS_PER_STATE) {
      known.clear();
    }
    known.set(key, rendered);
    return rendered;
  }
}
