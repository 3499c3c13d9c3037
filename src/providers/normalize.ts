/**
 * Pure helpers shared by every provider adapter: they turn upstream scalars (status words,
 * times, progress, errors, result URLs) into the normalized Task vocabulary (schemas/task.ts),
 * and `finalizeTask` enforces the Task invariants on what an adapter's mapper produced.
 *
 * All pure: an unknown status word is noticed by the caller (ProviderClient's observer logs
 * and counts it), not here.
 */
import { Memo } from '../memo.js';
import { isWrittenAsUri } from '../uri.js';
import { GatewayError } from '../errors.js';
import type { TaskError, TaskOutput, TaskStatus } from '../../schemas/task.js';
import type { StateOutput, StatusWords, TaskDraft, TaskState } from './types.js';

export type OutputType = TaskOutput['type'];

export const FAILURE_WITHOUT_DETAILS: Readonly<TaskError> = Object.freeze({
  code: 'task_failed',
  message: 'The provider reported a failure without details',
});

/**
 * The status words of the first providers (vtrix, gravitex, the OpenAI-Videos family),
 * which share one vocabulary; every other provider declares its own.
 */
export const COMMON_STATUS_WORDS: StatusWords = {
  queued: ['queued', 'pending', 'in_queue', 'submitted', 'not_start', 'starting'],
  in_progress: ['in_progress', 'processing', 'running', 'unknown'],
  succeeded: ['succeeded', 'completed', 'success'],
  failed: ['failed', 'failure', 'error'],
  canceled: ['canceled', 'cancelled'],
};

/** One provider's status words, looked up case-insensitively. */
export class StatusTable {
  // A Map, not an object literal: upstream words such as "constructor" must not hit a prototype.
  private readonly byWord = new Map<string, TaskStatus>();

  constructor(words: StatusWords) {
    for (const [status, list] of Object.entries(words) as Array<[TaskStatus, readonly string[]]>) {
      for (const word of list) this.byWord.set(word.trim().toLowerCase(), status);
    }
  }

  /** The status of a word in the table, if it is in it (a word sent as the table has it is found without a copy). */
  known(word: string): TaskStatus | undefined {
    return this.byWord.get(word) ?? this.byWord.get(word.trim().toLowerCase());
  }

  /** A word outside the table means the task is still running. */
  statusOf(word: string): TaskStatus {
    return this.known(word) ?? 'in_progress';
  }
}

/** The first argument that is a non-empty string (trimmed), else null. */
export function firstNonEmptyString(...values: unknown[]): string | null {
  for (const value of values) {
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return null;
}

/** Numeric epoch values below this are Unix seconds, above it milliseconds. */
const SECONDS_LIMIT = 1e11;
const LAST_RFC3339_YEAR = 9999;
const ISO_8601 = new RegExp(
  '^(?<year>\\d{4})-(?<month>\\d{2})-(?<day>\\d{2})' +
    '(?:[Tt ](?<hour>\\d{2}):(?<minute>\\d{2})(?::(?<second>\\d{2})(?:[.,](?<fraction>\\d+))?)?)?' +
    '\\s*(?:[Zz]|(?<sign>[+-])(?<offsetHours>\\d{2}):?(?<offsetMinutes>\\d{2}))?$',
);
const DECIMAL = /^\d+(?:\.\d+)?$/;

function formatInstant(epochMs: number): string | null {
  // whole seconds, whatever precision the provider used (milliseconds included).
  const date = new Date(Math.floor(epochMs / 1000) * 1000);
  const year = date.getUTCFullYear();
  // RFC 3339 has four-digit years only; toISOString would write "+010000" or "-000001".
  if (Number.isNaN(year) || year < 0 || year > LAST_RFC3339_YEAR) return null;
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Every poll of a task brings its timestamps again: each distinct one is converted once. */
const instants = new Memo<string | number, string | null>(4096);

function fromEpochNumber(value: number): string | null {
  if (!Number.isFinite(value) || value <= 0) return null;
  return formatInstant(value < SECONDS_LIMIT ? value * 1000 : value);
}

function fromIsoString(text: string): string | null {
  const groups = ISO_8601.exec(text)?.groups;
  if (groups === undefined) return null;
  const { year, month, day, hour = '00', minute = '00', second = '00', fraction = '', sign } = groups;
  const wallClock = `${year}-${month}-${day}T${hour}:${minute}:${second}`;
  const asUtcMs = Date.parse(`${wallClock}.${fraction.slice(0, 3).padEnd(3, '0')}Z`);
  // Date.parse rolls 2026-02-31 over to March; a calendar-impossible time is unparsable instead.
  if (Number.isNaN(asUtcMs) || new Date(asUtcMs).toISOString().slice(0, 19) !== wallClock) return null;
  if (sign === undefined) return formatInstant(asUtcMs); // "Z" or no zone at all: read as UTC
  const offsetHours = Number(groups.offsetHours);
  const offsetMinutes = Number(groups.offsetMinutes);
  if (offsetHours > 23 || offsetMinutes > 59) return null;
  const offsetMs = (offsetHours * 60 + offsetMinutes) * 60_000 * (sign === '-' ? -1 : 1);
  return formatInstant(asUtcMs - offsetMs);
}

/**
 * An upstream time (Unix seconds, Unix milliseconds, their decimal strings, or ISO 8601) as
 * RFC 3339 UTC in whole seconds (`2026-04-10T14:32:05Z`, a fraction dropped); null when
 * absent, zero or unparsable. ISO times without a zone are read as UTC, never as the host's zone.
 */
export function toRfc3339(value: unknown): string | null {
  if (typeof value !== 'number' && typeof value !== 'string') return null;
  return instants.get(value, convertInstant);
}

function convertInstant(value: string | number): string | null {
  if (typeof value === 'number') return fromEpochNumber(value);
  const text = value.trim();
  if (DECIMAL.test(text)) return fromEpochNumber(Number(text));
  return fromIsoString(text);
}

/**
 * `percent`: the value is a percentage. `fraction-up-to-one`: a value ≤ 1 is a fraction of
 * one (vtrix sends 0.42), anything above is a percentage (vtrix legacy sends 10).
 */
export type ProgressConvention = 'percent' | 'fraction-up-to-one';

const PROGRESS_TEXT = /^([+-]?\d+(?:\.\d+)?)\s*(%?)$/;

/** Progress as an integer 0-100, or null when absent or not a number. "30%" is always 30. */
export function toProgress(value: unknown, convention: ProgressConvention): number | null {
  let amount: number;
  let explicitPercent = false;
  if (typeof value === 'number') {
    amount = value;
  } else if (typeof value === 'string') {
    const match = PROGRESS_TEXT.exec(value.trim());
    if (match === null) return null;
    amount = Number(match[1]);
    explicitPercent = match[2] === '%';
  } else {
    return null;
  }
  if (!Number.isFinite(amount)) return null;
  const percent = convention === 'fraction-up-to-one' && !explicitPercent && amount <= 1 ? amount * 100 : amount;
  return Math.min(100, Math.max(0, Math.round(percent)));
}

function toErrorCode(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return firstNonEmptyString(value);
}

/**
 * An upstream failure description as `{code, message}`: a bare string becomes
 * `{code: "task_failed", message}`; an object gives `code` (numbers become strings) and
 * `message` or `error_message`. Null when the value carries no detail at all.
 */
export function toTaskError(value: unknown): TaskError | null {
  if (typeof value === 'string') {
    const message = firstNonEmptyString(value);
    return message === null ? null : { code: FAILURE_WITHOUT_DETAILS.code, message };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const fields = value as Record<string, unknown>;
  const code = toErrorCode(fields.code);
  const message = firstNonEmptyString(fields.message, fields.error_message);
  if (code === null && message === null) return null;
  return { code: code ?? FAILURE_WITHOUT_DETAILS.code, message: message ?? FAILURE_WITHOUT_DETAILS.message };
}

export function isAbsoluteHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * A result URL as an absolute http(s) URL: a relative one is resolved against the
 * provider's base URL; anything else (data:, s3:, garbage) gives null. Userinfo
 * (`user:pass@`) is dropped: no URL the gateway hands out carries credentials.
 */
export function resolveResultUrl(value: unknown, baseUrl: string): string | null {
  const text = firstNonEmptyString(value);
  if (text === null) return null;
  const isAbsolute = URL.canParse(text);
  // Prose ("see the dashboard") would otherwise "resolve" to a path on the provider's host.
  if (!isAbsolute && /\s/.test(text)) return null;
  let url: URL;
  try {
    url = isAbsolute ? new URL(text) : new URL(text, baseUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  // Kept byte for byte when it can be: a signed link may sign its exact query.
  if (isWrittenAsUri(text)) return text;
  url.username = '';
  url.password = '';
  return url.href;
}

const OUTPUT_TYPE_BY_WORD: ReadonlyMap<string, OutputType> = new Map<string, OutputType>([
  ['video', 'video'],
  ['video_url', 'video'],
  ['image', 'image'],
  ['image_url', 'image'],
  ['audio', 'audio'],
  ['audio_url', 'audio'],
]);

/** An upstream content type as an output type; an unfamiliar or missing one is a `file`. */
export function toOutputType(value: unknown): OutputType {
  if (typeof value !== 'string') return 'file';
  return OUTPUT_TYPE_BY_WORD.get(value.trim().toLowerCase()) ?? 'file';
}

/** `url` is the first video output, else the first output. */
export function primaryOutputUrl(outputs: readonly TaskOutput[]): string | null {
  return (outputs.find((output) => output.type === 'video') ?? outputs[0])?.url ?? null;
}

function toSafeProgress(progress: number | null): number | null {
  return progress !== null && Number.isInteger(progress) && progress >= 0 && progress <= 100 ? progress : null;
}

/** A usable output: an absolute http(s) URL, or a private one only its provider interprets (inline media). */
function isUsable(output: StateOutput): boolean {
  return output.private === true || isAbsoluteHttpUrl(output.url);
}

/**
 * Maps the draft's status word with the provider's table (unless the draft decided the
 * status itself) and enforces the Task invariants: succeeded ⇒ a usable result (or the
 * provider saying it removed the files) and progress 100; failed ⇒ an error (a generic one
 * when the provider gave none); otherwise no error. A succeeded task without a usable
 * result is a broken upstream answer: GatewayError `upstream_invalid_response`.
 */
export function finalizeTask(provider: string, statuses: StatusTable, draft: TaskDraft): TaskState {
  const status = draft.status ?? statuses.statusOf(draft.provider_status);
  const outputs = draft.outputs.filter(isUsable);
  const filesRemoved = status === 'succeeded' && outputs.length === 0 && draft.filesRemoved === true;
  if (status === 'succeeded' && outputs.length === 0 && !filesRemoved) {
    throw new GatewayError('upstream_invalid_response', {
      provider,
      detail: `${provider} reported a succeeded task without a usable result URL`,
    });
  }
  const state: TaskState = {
    provider_task_id: draft.provider_task_id,
    status,
    provider_status: draft.provider_status,
    progress: status === 'succeeded' ? 100 : toSafeProgress(draft.progress),
    url: primaryOutputUrl(outputs),
    outputs,
    error: status === 'failed' ? (draft.error ?? { ...FAILURE_WITHOUT_DETAILS }) : null,
    model: draft.model,
    created_at: draft.created_at,
    completed_at: draft.completed_at,
    expires_at: draft.expires_at ?? null,
  };
  if (filesRemoved) state.filesRemoved = true;
  if (draft.cadenceMs !== undefined) state.cadenceMs = draft.cadenceMs;
  return state;
}
