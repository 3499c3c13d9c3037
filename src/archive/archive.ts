/**
 * The result archive (TASKGATE_ARCHIVE, docs/archive.md): every result file and the
 * finished task kept, so URLs handed out keep working after the provider deletes them.
 *
 * - The first time a lookup (of any path: a GET, a poll loop, a webhook watch, a batch)
 *   brings a succeeded task, it is queued and copied in the background, each output
 *   streamed into the store, at most `concurrency` files at once, retried with backoff;
 *   a source that answers 403/404/410 makes the archive ask the provider for a fresh URL
 *   once, then the output is lost. One replica copies each task (a lease in the fleet's
 *   queue); one that dies mid-copy is taken over when its lease runs out.
 * - Once written, the record annotates the task (`archived_at`, `expires_at`), answers
 *   for it when its provider has forgotten it or cannot be reached, and `/content` serves
 *   its files from the store.
 * - Retention: one replica per sweep interval deletes what is past `retentionDays`.
 */
import { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { background } from '../background.js';
import { storedContent } from '../content/bytes.js';
import type { ContentFetch, ContentProxy, ContentUpstream } from '../content/proxy.js';
import { GatewayError, type ProblemCode } from '../errors.js';
import type { Observation, TaskStore } from '../fleet/store.js';
import type { ProviderClient } from '../providers/client.js';
import { copyOutput } from './copy.js';
import { fileKey, indexKey, INDEX_PREFIX, parseIndexKey, recordKey, taskFolder } from './keys.js';
import type { ArchiveMetrics } from './metrics.js';
import type { CopyQueue } from './queue.js';
import { expiresAtOf, isComplete, keptObservation, parseRecord, type ArchiveRecord, type FileOutcome } from './record.js';
import { ArchiveRecords } from './records.js';
import { retentionMs, type ArchiveSettings } from './settings.js';
import type { ArchiveStore } from './store.js';

/** What a lookup asks of the archive (src/tasks/lookup.ts). */
export interface ArchiveHooks {
  /** A provider's fresh answer, as the archive knows the task: annotated once archived; succeeded ones are queued for their copy. */
  observed(client: ProviderClient, nativeId: string, observation: Observation): Promise<Observation>;
  /** A lookup that failed: the kept task when the provider has forgotten it or cannot be reached; else the error again. */
  recover(client: ProviderClient, nativeId: string, error: unknown): Promise<Observation>;
}

/** How the archive looks a task up itself (a takeover; a fresh URL after a 403). */
export interface TaskSource {
  fetch(client: ProviderClient, nativeId: string): Promise<Observation>;
  /** Asks the provider again, whatever is cached. */
  refresh(client: ProviderClient, nativeId: string): Promise<Observation>;
}

export interface ArchiveOptions {
  settings: ArchiveSettings;
  store: ArchiveStore;
  queue: CopyQueue;
  content: ContentProxy;
  clients: ReadonlyMap<string, ProviderClient>;
  /** Where lookups keep finished tasks: an archived copy replaces the provider's answer there. */
  taskStore: TaskStore;
  terminalTtlMs: number;
  metrics: ArchiveMetrics;
  log: FastifyBaseLogger;
  /** The wall clock of records and retention (tests move it). */
  now?: () => number;
}

/** Failures that mean the provider has forgotten the task or cannot answer for it now. */
const RECOVERABLE: ReadonlySet<ProblemCode> = new Set(['task_not_found', 'upstream_error', 'upstream_timeout', 'provider_unavailable']);
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.used >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.used--;
      else next();
    }
  }
}

function splitKey(key: string): { provider: string; nativeId: string } | undefined {
  const colon = key.indexOf(':');
  return colon <= 0 ? undefined : { provider: key.slice(0, colon), nativeId: key.slice(colon + 1) };
}

/** A task being copied: its state (replaced by a fresh one after a 403), and whether it was refreshed yet. */
interface CopyJob {
  client: ProviderClient;
  nativeId: string;
  observation: Observation;
  refreshed: boolean;
  /** The lease went to another replica: stop, write nothing. */
  lost: boolean;
}

export class Archive implements ArchiveHooks {
  readonly description: string;
  private readonly records: ArchiveRecords;
  private readonly running = new Map<string, Promise<void>>();
  private readonly slots: Slots;
  private readonly maxJobs: number;
  private readonly retention: number | undefined;
  private readonly now: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly sleepers = new Set<() => void>();
  private source: TaskSource | undefined;
  private closed = false;
  /** Aborted on close: copies in progress stop at once. */
  private readonly closing = new AbortController();

  constructor(private readonly options: ArchiveOptions) {
    this.description = options.store.description;
    this.slots = new Slots(options.settings.concurrency);
    // Tasks in progress at once (copying, or waiting for a retry); more wait in the queue.
    this.maxJobs = options.settings.concurrency * 4;
    this.retention = retentionMs(options.settings);
    this.now = options.now ?? Date.now;
    this.records = new ArchiveRecords({ store: options.store, log: options.log, retention: this.retention, now: this.now });
    for (const name of options.clients.keys()) options.metrics.provider(name);
  }

  /** The lookups the archive makes through (set once the task service exists). */
  attach(source: TaskSource): void {
    this.source = source;
  }

  start(): void {
    const { settings, queue } = this.options;
    queue.onStored((key) => this.learnStored(key));
    const every = (ms: number, work: () => Promise<void>, failure: string) => {
      const timer = setInterval(() => background(work(), this.options.log, failure), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.min(5000, Math.floor(settings.leaseMs / 3)), () => this.sweepQueue(), 'archive: looking for tasks to copy failed');
    if (this.retention !== undefined) every(settings.sweepIntervalMs, () => this.sweepExpired(), 'archive: the retention sweep failed');
    background(this.sweepQueue(), this.options.log, 'archive: looking for tasks to copy failed');
  }

  /** Stops taking work; copies in progress stop at their next step (their tasks stay queued for the next start or another replica). */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    for (const timer of this.timers) clearInterval(timer);
    for (const wake of this.sleepers) wake();
    await Promise.allSettled([...this.running.values()]);
    this.options.queue.close();
    await this.options.store.close();
  }

  async observed(client: ProviderClient, nativeId: string, observation: Observation): Promise<Observation> {
    const { state } = observation;
    if (state.status !== 'succeeded') return observation;
    const record = await this.records.of(client.name, nativeId);
    // The kept task, complete or whenever the provider says the files are gone; else the provider's answer (its URLs are fresh).
    if (record !== undefined && (isComplete(record) || state.filesRemoved === true)) return keptObservation(record, observation.fetchedAt, this.retention);
    if (record === undefined && state.filesRemoved !== true) this.notice(client, nativeId, observation);
    return observation;
  }

  async recover(client: ProviderClient, nativeId: string, error: unknown): Promise<Observation> {
    if (!(error instanceof GatewayError) || !RECOVERABLE.has(error.code)) throw error;
    const record = await this.records.of(client.name, nativeId);
    if (record === undefined) throw error;
    return keptObservation(record, this.now(), this.retention);
  }

  /** Output `index` of the task from the store, for `/content`; undefined when the archive does not hold it. */
  async openFile(provider: string, nativeId: string, index: number, fetch: ContentFetch): Promise<ContentUpstream | undefined> {
    const record = await this.records.of(provider, nativeId);
    const file = record?.files[index];
    if (file?.outcome !== 'stored') return undefined;
    const held = {
      size: file.size,
      contentType: file.contentType,
      etag: `"${Buffer.from(file.sha256, 'hex').toString('base64url')}"`,
      lastModified: new Date(file.storedAt).toUTCString(),
    };
    try {
      return await storedContent(provider, held, fetch, (range) => this.options.store.open(file.key, range));
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      // The store failed (or retention deleted the file meanwhile): the provider may still have it.
      this.options.log.warn({ err: error, provider, key: file.key }, 'archive: a stored file could not be read; asking the provider');
      this.records.forget(taskFolder(provider, nativeId));
      return undefined;
    }
  }

  /** Queues a succeeded task and starts its copy here when there is room (else a sweep starts it). */
  private notice(client: ProviderClient, nativeId: string, observation: Observation): void {
    const key = `${client.name}:${nativeId}`;
    if (this.closed || this.running.has(key)) return;
    const queued = this.options.queue.add(key, this.now()).then(() => this.begin(key, client, nativeId, observation));
    background(queued, this.options.log, 'archive: queueing a task failed', { provider: client.name });
  }

  private begin(key: string, client: ProviderClient, nativeId: string, observation: Observation | undefined): void {
    if (this.closed || this.running.has(key) || this.running.size >= this.maxJobs) return;
    const job = this.copyTask(key, client, nativeId, observation).finally(() => this.running.delete(key));
    this.running.set(key, job);
    background(job, this.options.log, 'archive: copying a task failed; it stays queued', { provider: client.name });
  }

  /** Starts the queued tasks nobody here copies: new ones, and those of a replica that died (its lease ran out). */
  private async sweepQueue(): Promise<void> {
    if (this.closed || this.running.size >= this.maxJobs) return;
    for (const { key } of await this.options.queue.oldest(this.maxJobs * 2)) {
      if (this.running.has(key)) continue;
      const parts = splitKey(key);
      const client = parts === undefined ? undefined : this.options.clients.get(parts.provider);
      if (parts === undefined || client === undefined) {
        this.options.log.warn({ key }, 'archive: a queued task of a provider this gateway does not have is dropped');
        await this.options.queue.remove(key);
        continue;
      }
      this.begin(key, client, parts.nativeId, undefined);
    }
  }

  private async copyTask(key: string, client: ProviderClient, nativeId: string, noticed: Observation | undefined): Promise<void> {
    const { queue, settings, store } = this.options;
    const claim = await queue.claim(key, settings.leaseMs);
    if (claim === 'taken') return;
    const token = claim === 'local' ? undefined : claim.token;
    const job: CopyJob = { client, nativeId, observation: noticed as Observation, refreshed: false, lost: false };
    const renewal =
      token === undefined
        ? undefined
        : setInterval(() => {
            const renewed = queue.renew(key, token, settings.leaseMs).then((ours) => {
              if (!ours) job.lost = true;
            });
            background(renewed, this.options.log, 'archive: renewing a copy lease failed');
          }, Math.floor(settings.leaseMs / 3));
    renewal?.unref();
    try {
      // Another replica may have finished it (a takeover, or a task seen again): its record says so.
      // One past its retention (not swept yet) does not count: the task is copied anew, as if first seen now.
      const existing = await this.records.read(client.name, nativeId);
      const expiresAt = existing === undefined ? undefined : expiresAtOf(existing, this.retention);
      if (existing !== undefined && (expiresAt === undefined || expiresAt > this.now())) {
        this.records.remember(existing);
        await queue.remove(key);
        this.publish(key, existing);
        return;
      }
      job.observation = noticed ?? (await this.requireSource().fetch(client, nativeId));
      if (job.observation.state.status !== 'succeeded' || job.observation.state.filesRemoved === true) {
        await queue.remove(key);
        return;
      }
      const files: FileOutcome[] = [];
      for (let index = 0; index < job.observation.state.outputs.length; index++) {
        const outcome = await this.copyFile(job, index);
        // Stopped (the lease went elsewhere, or the gateway is closing): the task stays queued for whoever copies it next.
        if (outcome === undefined || job.lost || this.closed) return;
        files.push(outcome);
      }
      if (job.lost || this.closed) return;
      const storedAt = this.now();
      const record: ArchiveRecord = { version: 1, provider: client.name, nativeId, state: job.observation.state, storedAt, files };
      // The index first: a record is never without the marker that gets it deleted.
      await store.write(indexKey(storedAt, client.name, nativeId), Readable.from([]), 'application/octet-stream');
      await store.write(recordKey(client.name, nativeId), Readable.from([Buffer.from(JSON.stringify(record))]), 'application/json');
      this.records.remember(record);
      await queue.remove(key);
      this.publish(key, record);
      const stored = files.filter((file) => file.outcome === 'stored').length;
      this.options.log.info({ provider: client.name, files: files.length, stored }, stored === files.length ? 'archive: task archived' : 'archive: task archived in part');
    } finally {
      clearInterval(renewal);
      if (token !== undefined) await queue.release(key, token);
    }
  }

  /** One output, with retries; its outcome for the record, or undefined when the copy was stopped. */
  private async copyFile(job: CopyJob, index: number): Promise<FileOutcome | undefined> {
    const { settings, metrics, log, store, content } = this.options;
    const provider = job.client.name;
    for (let attempt = 0; ; attempt++) {
      const output = job.observation.state.outputs[index];
      if (output === undefined) return this.missing(provider, 'lost', 'the provider no longer lists this output');
      let bytes = 0;
      try {
        const result = await this.slots.run(async () => {
          metrics.inFlight.inc();
          try {
            return await copyOutput({
              store,
              content,
              client: job.client,
              nativeId: job.nativeId,
              output,
              key: fileKey(provider, job.nativeId, index),
              maxBytes: settings.maxFileBytes,
              onBytes: (more) => (bytes += more),
              now: this.now,
              signal: this.closing.signal,
            });
          } finally {
            metrics.inFlight.dec();
          }
        });
        if (result.outcome === 'too_large') {
          log.warn({ provider, output: index, bytes: result.bytes, maxFileBytes: settings.maxFileBytes }, 'archive: a result file is larger than archive.maxFileBytes and is not archived');
          return this.missing(provider, 'too_large', `${result.bytes} bytes, over archive.maxFileBytes (${settings.maxFileBytes})`);
        }
        metrics.files.inc({ provider, outcome: 'stored' });
        metrics.bytes.inc({ provider, outcome: 'stored' }, result.file.size);
        return result.file;
      } catch (error) {
        if (bytes > 0) metrics.bytes.inc({ provider, outcome: 'failed' }, bytes);
        if (job.lost || this.closed) return undefined;
        const code = error instanceof GatewayError ? error.code : undefined;
        if (code === 'content_expired') {
          if (!job.refreshed && (await this.refreshed(job, index))) continue;
          return this.missing(provider, 'lost', 'the provider no longer serves it, even at a fresh URL');
        }
        if (code === 'content_blocked') return this.missing(provider, 'lost', 'its URL points at an address this gateway does not fetch');
        const delay = settings.retryDelaysMs[attempt];
        if (delay === undefined) {
          log.warn({ provider, output: index, err: error, tries: attempt + 1 }, 'archive: copying a result file failed for good');
          return this.missing(provider, 'failed', `${attempt + 1} tries failed`);
        }
        log.info({ provider, output: index, err: error, retryInMs: delay }, 'archive: copying a result file failed; trying again');
        await this.sleep(delay * (0.8 + Math.random() * 0.4));
        if (job.lost || this.closed) return undefined;
      }
    }
  }

  /** Asks the provider once for the task again; true when output `index` has a new URL to try. */
  private async refreshed(job: CopyJob, index: number): Promise<boolean> {
    job.refreshed = true;
    const before = job.observation.state.outputs[index]?.url;
    try {
      const fresh = await this.requireSource().refresh(job.client, job.nativeId);
      if (fresh.state.status !== 'succeeded' || fresh.state.filesRemoved === true || fresh.state.outputs.length !== job.observation.state.outputs.length) return false;
      job.observation = fresh;
      return fresh.state.outputs[index]?.url !== before;
    } catch (error) {
      this.options.log.info({ provider: job.client.name, err: error }, 'archive: asking the provider for a fresh URL failed');
      return false;
    }
  }

  private missing(provider: string, outcome: 'lost' | 'too_large' | 'failed', reason: string): FileOutcome {
    this.options.metrics.files.inc({ provider, outcome });
    return { outcome, reason };
  }

  /** A record was written: lookups here and on every replica see the archived task from now on. */
  private publish(key: string, record: ArchiveRecord): void {
    if (isComplete(record)) {
      const kept = keptObservation(record, Date.now(), this.retention);
      background(this.options.taskStore.terminal.set(key, kept, this.options.terminalTtlMs), this.options.log, 'archive: caching an archived task failed');
    }
    this.options.queue.announceStored(key);
  }

  /** Another replica wrote a record: forget "no record", and annotate the task if this replica holds it. */
  private learnStored(key: string): void {
    const parts = splitKey(key);
    if (parts === undefined) return;
    this.records.forget(taskFolder(parts.provider, parts.nativeId));
    const held = this.options.taskStore.terminal.peekLocal(key);
    if (held === undefined || held.archived !== undefined) return;
    const annotate = this.records.of(parts.provider, parts.nativeId).then((record) => {
      if (record !== undefined && isComplete(record)) this.options.taskStore.terminal.hold(key, keptObservation(record, held.fetchedAt, this.retention), this.options.terminalTtlMs);
    });
    background(annotate, this.options.log, 'archive: reading a record another replica wrote failed');
  }

  /** Deletes what is past its retention, oldest first (the index lists tasks in the order they were stored). */
  private async sweepExpired(): Promise<void> {
    const { store, queue, settings, metrics, log } = this.options;
    if (this.retention === undefined || this.closed) return;
    // One replica per interval (a little less, so the timer's drift never skips a turn).
    if (!(await queue.takeTurn('retention', Math.floor(settings.sweepIntervalMs * 0.9)))) return;
    const cutoff = this.now() - this.retention;
    let deleted = 0;
    for await (const marker of store.list(INDEX_PREFIX)) {
      if (this.closed) break;
      const entry = parseIndexKey(marker);
      if (entry === undefined) continue;
      if (entry.storedAt > cutoff) break;
      const record = await store.read(`${entry.folder}task.json`);
      const current = record === undefined ? undefined : parseRecord(record);
      // Copied again since (after an earlier retention ended): that copy has a marker of its own.
      const expired = current === undefined || current.storedAt <= cutoff;
      if (expired) {
        const keys: string[] = [];
        for await (const key of store.list(entry.folder)) keys.push(key);
        // The record last: until it goes, a failed sweep is found again by its marker.
        await store.delete(keys.filter((key) => !key.endsWith('/task.json')));
        await store.delete(keys.filter((key) => key.endsWith('/task.json')));
        this.records.forget(entry.folder);
      }
      await store.delete([marker]);
      if (expired) {
        metrics.expired.inc();
        deleted++;
      }
    }
    if (deleted > 0) log.info({ deleted }, 'archive: tasks past their retention deleted');
  }

  private requireSource(): TaskSource {
    if (this.source === undefined) throw new Error('the archive is not attached to the task lookups');
    return this.source;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.sleepers.add(wake);
    });
  }
}
