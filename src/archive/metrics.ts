/**
 * The archive's metrics, on the app's registry: files and bytes by provider and outcome,
 * copies in flight, the queue of tasks waiting for their copy (fleet-wide in fleet mode)
 * and what retention deleted.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type FileOutcomeLabel = 'stored' | 'too_large' | 'lost' | 'failed';

export class ArchiveMetrics {
  readonly files: Counter<'provider' | 'outcome'>;
  readonly bytes: Counter<'provider' | 'outcome'>;
  readonly inFlight: Gauge;
  readonly expired: Counter;

  constructor(registry: Registry, queueStats: () => Promise<{ depth: number; oldestSeenAt: number | undefined }>) {
    this.files = new Counter({
      name: 'taskgate_archive_files_total',
      help: 'Result files the archive finished with, by provider and outcome: stored, too_large (over archive.maxFileBytes), lost (the provider no longer serves it, even at a fresh URL), failed (every try failed)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [registry],
    });
    this.bytes = new Counter({
      name: 'taskgate_archive_bytes_total',
      help: 'Bytes copied into the archive, by provider and outcome (stored: of files kept; failed: of tries that did not finish)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [registry],
    });
    this.inFlight = new Gauge({
      name: 'taskgate_archive_copies_in_flight',
      help: 'Result files this replica is copying into the archive right now (at most archive.concurrency)',
      registers: [registry],
    });
    this.expired = new Counter({
      name: 'taskgate_archive_expired_tasks_total',
      help: 'Archived tasks (and their files) deleted because their retention ended',
      registers: [registry],
    });
    let latest: { depth: number; oldestSeenAt: number | undefined } = { depth: 0, oldestSeenAt: undefined };
    let reading: Promise<unknown> | undefined;
    // Both gauges are collected at once: one read of the queue serves the scrape.
    const read = () => {
      reading ??= queueStats()
        .then((stats) => (latest = stats))
        .catch(() => latest)
        .finally(() => setTimeout(() => (reading = undefined), 250).unref());
      return reading.then(() => latest);
    };
    new Gauge({
      name: 'taskgate_archive_pending_tasks',
      help: 'Succeeded tasks waiting for their copy into the archive (fleet mode: the fleet\'s, the same on every replica)',
      registers: [registry],
      async collect() {
        this.set((await read()).depth);
      },
    });
    new Gauge({
      name: 'taskgate_archive_oldest_pending_seconds',
      help: 'How long the oldest task waiting for its copy into the archive has waited since it was first seen succeeded; 0 when none waits',
      registers: [registry],
      async collect() {
        const oldest = (await read()).oldestSeenAt;
        this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
  }

  /** Every outcome of a provider starts at 0, so rates and alerts see the series before the first event. */
  provider(name: string): void {
    for (const outcome of ['stored', 'too_large', 'lost', 'failed'] satisfies FileOutcomeLabel[]) {
      this.files.inc({ provider: name, outcome }, 0);
      if (outcome === 'stored' || outcome === 'failed') this.bytes.inc({ provider: name, outcome }, 0);
    }
  }
}
