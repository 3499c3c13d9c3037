/**
 * A provider's TaskState as the client sees it: the Task (with gateway URLs for the
 * outputs that need our key, `content_url`, `poll_after_ms`), its JSON and its ETag. The
 * one place that renders a task, for GET, long-poll, SSE and batch alike; a cached state
 * is the same object, so each (state, id, origin, token) is rendered once.
 */
import { hash } from 'node:crypto';
import type { ProviderClient } from '../providers/client.js';
import type { TaskState } from '../providers/types.js';
import { isTerminal, serializeTask, type Task, type TaskOutput } from '../../schemas/task.js';

/** Where the URLs the gateway hands out point, and the link token they carry. */
export interface ViewContext {
  /** The gateway's public origin (and path prefix, if any), without a trailing slash. */
  origin: string;
  /** A link token the request was authorized with: repeated on the URLs for this task. */
  token?: string;
}

export interface RenderedTask {
  task: Task;
  json: string;
  etag: string;
}

/** A task as the routes and the watcher know it: which id it was asked by, where it lives. */
export interface TaskSnapshot {
  /** The id as the client asked for it. */
  id: string;
  client: ProviderClient;
  /** The id as the provider knows it (what goes into its URL). */
  nativeId: string;
  state: TaskState;
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
 * DESIGN.md "Every URL handed out works for the client": a file on the provider's own
 * origin needs our key, so the client gets the gateway's content URL for it instead.
 */
function clientOutputs(snapshot: TaskSnapshot, context: ViewContext): TaskOutput[] {
  const { outputs } = snapshot.state;
  if (!outputs.some((output) => snapshot.client.isOwnOrigin(output.url))) return outputs;
  return outputs.map((output, index) =>
    snapshot.client.isOwnOrigin(output.url) ? { type: output.type, url: contentUrl(context, snapshot.id, index) } : output,
  );
}

export function toTask(snapshot: TaskSnapshot, context: ViewContext): Task {
  const { id, client, state } = snapshot;
  const outputs = clientOutputs(snapshot, context);
  const primary = state.url === null ? -1 : state.outputs.findIndex((output) => output.url === state.url);
  const succeeded = state.status === 'succeeded';
  return {
    id,
    provider: client.name,
    provider_task_id: state.provider_task_id,
    status: state.status,
    provider_status: state.provider_status,
    progress: state.progress,
    url: primary === -1 ? state.url : (outputs[primary]?.url ?? null),
    outputs,
    error: state.error,
    model: state.model,
    created_at: state.created_at,
    completed_at: state.completed_at,
    poll_after_ms: isTerminal(state.status) ? null : (state.cadenceMs ?? client.pollIntervalMs),
    content_url: succeeded ? contentUrl(context, id) : null,
    expires_at: state.expires_at,
  };
}

/** Renderings kept per state; more than this many ids/origins/tokens for one state is unusual. */
const MAX_RENDERINGS_PER_STATE = 8;

export class TaskRenderer {
  private readonly renderings = new WeakMap<TaskState, Map<string, RenderedTask>>();

  render(snapshot: TaskSnapshot, context: ViewContext): RenderedTask {
    const key = `${snapshot.client.name}\n${snapshot.id}\n${context.origin}\n${context.token ?? ''}`;
    let known = this.renderings.get(snapshot.state);
    const cached = known?.get(key);
    if (cached !== undefined) return cached;
    const task = toTask(snapshot, context);
    const json = serializeTask(task);
    const rendered = { task, json, etag: etagOf(json) };
    if (known === undefined) {
      known = new Map();
      this.renderings.set(snapshot.state, known);
    } else if (known.size >= MAX_RENDERINGS_PER_STATE) {
      known.clear();
    }
    known.set(key, rendered);
    return rendered;
  }
}
