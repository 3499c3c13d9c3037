/**
 * What the archive keeps of a task beside its files (`tasks/<provider>/<task>/task.json`):
 * the finished task as its provider last described it, and what became of each output.
 * Read back like any stored input (another replica, maybe another version, wrote it): a
 * record that does not parse is no record.
 */
import { z } from 'zod';
import { TaskStateSchema } from '../fleet/task-codec.js';
import type { Observation } from '../fleet/store.js';

const StoredFileSchema = z.object({
  outcome: z.literal('stored'),
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  /** Hex. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  contentType: z.string().min(1),
  /** Where it was copied from (a provider's URL, or `inline` for bytes the provider's answer carried). */
  source: z.string(),
  /** Epoch ms. */
  storedAt: z.number().int().nonnegative(),
});

const MissingFileSchema = z.object({
  /** lost: the provider no longer serves it (even a fresh URL); too_large: over archive.maxFileBytes; failed: every try failed. */
  outcome: z.enum(['lost', 'too_large', 'failed']),
  reason: z.string(),
});

export const ArchiveRecordSchema = z.object({
  version: z.literal(1),
  provider: z.string(),
  nativeId: z.string(),
  state: TaskStateSchema,
  /** Epoch ms when the record was written: retention counts from here. */
  storedAt: z.number().int().nonnegative(),
  /** One per output, in the order of `state.outputs`. */
  files: z.array(z.discriminatedUnion('outcome', [StoredFileSchema, MissingFileSchema])),
});

export type ArchiveRecord = z.infer<typeof ArchiveRecordSchema>;
export type StoredFile = z.infer<typeof StoredFileSchema>;
export type FileOutcome = ArchiveRecord['files'][number];

export function parseRecord(bytes: Buffer): ArchiveRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = ArchiveRecordSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** Every output stored: the task counts as archived. */
export function isComplete(record: ArchiveRecord): boolean {
  return record.files.length > 0 && record.files.every((file) => file.outcome === 'stored');
}

function rfc3339(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** When the retention ends (epoch ms); undefined: kept for good. */
export function expiresAtOf(record: Pick<ArchiveRecord, 'storedAt'>, retentionMs: number | undefined): number | undefined {
  return retentionMs === undefined ? undefined : record.storedAt + retentionMs;
}

/**
 * The kept task as an observation: its state as stored, fetched at `fetchedAt` (the
 * answer it stands for, so a poll loop never takes it for an older one), and, when every
 * output is stored, when that was and until when it is kept.
 */
export function keptObservation(record: ArchiveRecord, fetchedAt: number, retentionMs: number | undefined): Observation {
  const observation: Observation = { state: record.state, fetchedAt };
  if (!isComplete(record)) return observation;
  const expiresAt = expiresAtOf(record, retentionMs);
  return { ...observation, archived: { at: rfc3339(record.storedAt), expiresAt: expiresAt === undefined ? null : rfc3339(expiresAt) } };
}
