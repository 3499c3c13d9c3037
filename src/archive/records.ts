/**
 * The archive's records as lookups read them: one read of the store per task, shared by
 * concurrent callers, bounded by a deadline (a slow store never holds a lookup), then kept
 * in memory ("no record" for a short while, so unknown ids cost one read per window); a
 * record past its retention reads as none.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { LRUCache } from 'lru-cache';
import { expiringCache } from '../expiring-cache.js';
import { recordKey, taskFolder } from './keys.js';
import { expiresAtOf, parseRecord, type ArchiveRecord } from './record.js';
import type { ArchiveStore } from './store.js';

/** "No record" is remembered this long, so unknown ids cost the store one read per window. */
const NO_RECORD_MS = 30_000;
/** A record is read again after this long at most (another replica may have copied the task again since). */
const RECORD_MS = 10 * 60 * 1000;
/** A lookup never waits longer than this for the store: past it, it answers as if there were no archive. */
const READ_DEADLINE_MS = 2000;
const RECORDS_KEPT = 10_000;

type RecordLookup = ArchiveRecord | 'none';

export interface ArchiveRecordsOptions {
  store: ArchiveStore;
  log: FastifyBaseLogger;
  /** How long a record is kept (`retentionDays`); undefined: for good. */
  retention: number | undefined;
  now: () => number;
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export class ArchiveRecords {
  private readonly records: LRUCache<string, RecordLookup> = expiringCache({ max: RECORDS_KEPT, ttl: RECORD_MS });
  private readonly reading = new Map<string, Promise<RecordLookup | undefined>>();

  constructor(private readonly options: ArchiveRecordsOptions) {}

  /**
   * The task's record, while it is within its retention: from memory, else one read of the
   * store (shared by concurrent callers, bounded by a deadline); undefined when there is none.
   */
  async of(provider: string, nativeId: string): Promise<ArchiveRecord | undefined> {
    const folder = taskFolder(provider, nativeId);
    let known = this.records.get(folder);
    if (known === undefined) {
      let pending = this.reading.get(folder);
      if (pending === undefined) {
        pending = this.read(provider, nativeId).then(
          (record) => {
            const found: RecordLookup = record ?? 'none';
            this.records.set(folder, found, found === 'none' ? { ttl: NO_RECORD_MS } : undefined);
            return found;
          },
          (error: unknown) => {
            this.options.log.warn({ err: error, provider }, 'archive: a record could not be read');
            return undefined;
          },
        );
        pending.finally(() => this.reading.delete(folder)).catch(() => {});
        this.reading.set(folder, pending);
      }
      const read = await withDeadline(pending, READ_DEADLINE_MS);
      known = read === 'late' ? undefined : read;
    }
    if (known === undefined || known === 'none') return undefined;
    const expiresAt = expiresAtOf(known, this.options.retention);
    return expiresAt !== undefined && expiresAt <= this.options.now() ? undefined : known;
  }

  /** The record as the store holds it now, past its retention or not: no memory, no deadline. */
  async read(provider: string, nativeId: string): Promise<ArchiveRecord | undefined> {
    const bytes = await this.options.store.read(recordKey(provider, nativeId));
    const record = bytes === undefined ? undefined : parseRecord(bytes);
    return record?.provider === provider && record.nativeId === nativeId ? record : undefined;
  }

  /** A record just written or found: lookups here see it without a read. */
  remember(record: ArchiveRecord): void {
    this.records.set(taskFolder(record.provider, record.nativeId), record);
  }

  /** The task's folder (`taskFolder`) is read again next time: its record changed, or its files failed. */
  forget(folder: string): void {
    this.records.delete(folder);
  }
}
