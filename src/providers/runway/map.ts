/**
 * Pure pieces of the runway adapter: a task as a TaskDraft (its result URLs typed by their
 * path's extension, its progress a fraction of one, its failure code), and which error
 * answers mean "no such task". Facts in docs/providers/runway.md.
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import type { UpstreamResponse } from '../../upstream/types.js';
import type { InterpretContext } from '../define.js';
import { errorTexts, tryParseJson } from '../http.js';
import {
  FAILURE_WITHOUT_DETAILS,
  firstNonEmptyString,
  isAbsoluteHttpUrl,
  resolveResultUrl,
  StatusTable,
  toProgress,
  toRfc3339,
  type OutputType,
} from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import type { RunwayTask } from './schema.js';

export const RUNWAY_NAME = 'runway';

/** Sent as `X-Runway-Version` on every call: the API version the adapter reads. */
export const RUNWAY_API_VERSION = '2024-11-06';

/** A task id: a UUID (8-4-4-4-12 hex digits, any case), e.g. `63fd0f13-f29d-4e58-99d3-1cb9efa14a5b`. */
export const TASK_ID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** `THROTTLED`: held until other tasks of the organization finish (over its concurrency limit). */
export const RUNWAY_STATUS_WORDS: StatusWords = {
  queued: ['PENDING', 'THROTTLED'],
  in_progress: ['RUNNING'],
  succeeded: ['SUCCEEDED'],
  failed: ['FAILED'],
  canceled: ['CANCELLED'],
};

const STATUSES = new StatusTable(RUNWAY_STATUS_WORDS);

const TYPE_BY_EXTENSION: ReadonlyMap<string, OutputType> = new Map<string, OutputType>([
  ...['mp4', 'webm', 'mov'].map((extension) => [extension, 'video'] as const),
  ...['png', 'jpg', 'jpeg', 'webp', 'gif'].map((extension) => [extension, 'image'] as const),
  ...['mp3', 'wav', 'm4a', 'ogg', 'aac', 'flac'].map((extension) => [extension, 'audio'] as const),
]);

/**
 * A result file's type from the extension of its URL's path (the `?_jwt=` query is not
 * looked at): a path without one is a video, an extension of no known kind a `file`.
 */
export function outputTypeOf(url: string): OutputType {
  const path = new URL(url).pathname;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot === -1) return 'video';
  return TYPE_BY_EXTENSION.get(name.slice(dot + 1).toLowerCase()) ?? 'file';
}

/** The files of a succeeded task: each absolute http(s) URL of `output` (a list; a lone string tolerated). */
export function toOutputs(output: unknown, baseUrl: string): TaskOutput[] {
  const candidates = typeof output === 'string' ? [output] : Array.isArray(output) ? output : [];
  return candidates.flatMap((candidate): TaskOutput[] => {
    if (typeof candidate !== 'string' || !isAbsoluteHttpUrl(candidate.trim())) return [];
    const url = resolveResultUrl(candidate, baseUrl);
    return url === null ? [] : [{ type: outputTypeOf(url), url }];
  });
}

/** `{code: failureCode, message: failure}`; null when the task says neither (the gateway's generic failure then). */
export function toFailure(task: RunwayTask): TaskError | null {
  const code = firstNonEmptyString(task.failureCode);
  const message = firstNonEmptyString(task.failure);
  if (code === null && message === null) return null;
  return { code: code ?? FAILURE_WITHOUT_DETAILS.code, message: message ?? FAILURE_WITHOUT_DETAILS.message };
}

export function toTaskDraft(task: RunwayTask, context: InterpretContext): TaskDraft {
  const status = STATUSES.statusOf(task.status);
  return {
    provider_task_id: firstNonEmptyString(task.id) ?? context.nativeId,
    provider_status: task.status,
    // Runway reports progress only while a task runs, as a fraction of one.
    progress: status === 'in_progress' ? toProgress(task.progress, 'fraction-up-to-one') : null,
    outputs: status === 'succeeded' ? toOutputs(task.output, context.baseUrl) : [],
    error: toFailure(task),
    model: firstNonEmptyString(task.model),
    created_at: toRfc3339(task.createdAt),
    // Runway's task has no completion time; its output URLs expire in 24-48 hours, unstated per URL.
    completed_at: null,
  };
}

const SAYS_NOT_EXIST = /not[\s_-]*(?:exist|found)/i;

/**
 * 404 is Runway's "no such task". A 400 whose `error` says the task does not exist is one
 * too: relays answer a task they have not seen yet with `task_not_exist`.
 */
export function isNotFound(response: UpstreamResponse): boolean {
  if (response.statusCode === 404) return true;
  return response.statusCode === 400 && errorTexts(tryParseJson(response.body)).some((text) => SAYS_NOT_EXIST.test(text));
}
