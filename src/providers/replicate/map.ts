/**
 * Pure pieces of the replicate adapter: a prediction as a TaskDraft (its result files
 * found in a model-defined `output`, typed by their extension), its failure, and the delay
 * a 429's `detail` names. Facts in docs/providers/replicate.md.
 */
import type { TaskError, TaskOutput } from '../../../schemas/task.js';
import { FAILURE_WITHOUT_DETAILS, firstNonEmptyString, isAbsoluteHttpUrl, resolveResultUrl, StatusTable, toRfc3339, type OutputType } from '../normalize.js';
import type { StatusWords, TaskDraft } from '../types.js';
import type { Prediction } from './schema.js';

export const REPLICATE_NAME = 'replicate';

/** A prediction's id: 26 lowercase letters and digits, e.g. `qz7mfxlkw3vdpygt1o8hbnsuae`. */
export const PREDICTION_ID = /^[a-z0-9]{26}$/;

/** `aborted`: the prediction's deadline passed before it started (not charged). */
export const REPLICATE_STATUS_WORDS: StatusWords = {
  queued: ['starting'],
  in_progress: ['processing'],
  succeeded: ['succeeded'],
  failed: ['failed'],
  canceled: ['canceled', 'aborted'],
};

const STATUSES = new StatusTable(REPLICATE_STATUS_WORDS);

const TYPE_BY_EXTENSION: ReadonlyMap<string, OutputType> = new Map<string, OutputType>([
  ...['mp4', 'webm', 'mov'].map((extension) => [extension, 'video'] as const),
  ...['png', 'jpg', 'jpeg', 'webp', 'gif'].map((extension) => [extension, 'image'] as const),
  ...['mp3', 'wav', 'm4a', 'ogg'].map((extension) => [extension, 'audio'] as const),
]);

/** A result file's type, from the extension of its URL's path (`…/output.mp4?x=1` is a video); any other is a `file`. */
export function outputTypeOf(url: string): OutputType {
  const path = new URL(url).pathname;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot === -1 ? 'file' : (TYPE_BY_EXTENSION.get(name.slice(dot + 1).toLowerCase()) ?? 'file');
}

function strings(values: readonly unknown[]): string[] {
  return values.filter((value): value is string => typeof value === 'string');
}

/**
 * The strings of an `output` that may be files: the string itself, the strings of a list,
 * or an object's string values and the strings of its lists (one level down, nothing deeper).
 */
function candidateStrings(output: unknown): string[] {
  if (typeof output === 'string') return [output];
  if (Array.isArray(output)) return strings(output);
  if (typeof output !== 'object' || output === null) return [];
  return Object.values(output).flatMap((value): string[] => {
    if (typeof value === 'string') return [value];
    return Array.isArray(value) ? strings(value) : [];
  });
}

/**
 * The result files of a succeeded prediction. Only absolute http(s) URLs count: a language
 * model's output is a list of text pieces, which must not turn into paths on Replicate's host.
 */
export function toOutputs(output: unknown, baseUrl: string): TaskOutput[] {
  return candidateStrings(output).flatMap((candidate): TaskOutput[] => {
    const text = candidate.trim();
    if (!isAbsoluteHttpUrl(text)) return [];
    const url = resolveResultUrl(text, baseUrl);
    return url === null ? [] : [{ type: outputTypeOf(url), url }];
  });
}

/** Replicate's `error` is a string; relays pass on `{detail}` or `{message}` (with a code, perhaps). */
export function toFailure(error: Prediction['error']): TaskError | null {
  if (typeof error === 'string') {
    const message = firstNonEmptyString(error);
    return message === null ? null : { code: FAILURE_WITHOUT_DETAILS.code, message };
  }
  if (error === null || error === undefined) return null;
  const message = firstNonEmptyString(error.detail, error.message);
  const code = typeof error.code === 'number' && Number.isFinite(error.code) ? String(error.code) : firstNonEmptyString(error.code);
  if (message === null && code === null) return null;
  return { code: code ?? FAILURE_WITHOUT_DETAILS.code, message: message ?? FAILURE_WITHOUT_DETAILS.message };
}

export interface PredictionContext {
  nativeId: string;
  baseUrl: string;
}

export function toTaskDraft(prediction: Prediction, context: PredictionContext): TaskDraft {
  const succeeded = STATUSES.known(prediction.status) === 'succeeded';
  const draft: TaskDraft = {
    provider_task_id: firstNonEmptyString(prediction.id) ?? context.nativeId,
    provider_status: prediction.status,
    // Replicate reports no numeric progress: only its `logs` grow.
    progress: null,
    outputs: succeeded ? toOutputs(prediction.output, context.baseUrl) : [],
    error: toFailure(prediction.error),
    model: firstNonEmptyString(prediction.model),
    created_at: toRfc3339(prediction.created_at),
    completed_at: toRfc3339(prediction.completed_at),
  };
  // An hour after an API prediction ends, its files are deleted: `data_removed`, `output: null`.
  if (succeeded && prediction.data_removed === true) draft.filesRemoved = true;
  return draft;
}

const THROTTLED_FOR = /\bavailable in (\d{1,5}) seconds?\b/i;

/** The seconds a 429's `detail` names ("Request was throttled. Expected available in 1 second."), if it names any. */
export function throttledSeconds(detail: string | null | undefined): number | undefined {
  const match = THROTTLED_FOR.exec(detail ?? '');
  return match === null ? undefined : Math.max(1, Number(match[1]));
}
