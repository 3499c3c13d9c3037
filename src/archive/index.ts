/**
 * The result archive as the app builds it: off without TASKGATE_ARCHIVE; else its store
 * (opened at boot, so a folder that cannot be made or a bad setting stops it), its queue
 * (the fleet's, in Redis, when there is one), and the Archive itself.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ContentProxy } from '../content/proxy.js';
import { RedisTaskStore } from '../fleet/redis-store.js';
import type { TaskStore } from '../fleet/store.js';
import type { ProviderClient } from '../providers/client.js';
import type { Config } from '../settings/schema.js';
import { Archive } from './archive.js';
import { ArchiveMetrics } from './metrics.js';
import { InProcessCopyQueue, RedisCopyQueue, type CopyQueue } from './queue.js';
import { openArchiveStore } from './open-store.js';

export { Archive, type ArchiveHooks, type TaskSource } from './archive.js';

export interface ArchiveDeps {
  content: ContentProxy;
  clients: ReadonlyMap<string, ProviderClient>;
  taskStore: TaskStore;
  registry: Registry;
  log: FastifyBaseLogger;
  now?: () => number;
}

export async function createArchive(config: Config, deps: ArchiveDeps): Promise<Archive | undefined> {
  const settings = config.archive;
  if (settings.url === undefined) return undefined;
  const store = await openArchiveStore(settings.url, settings);
  const queue: CopyQueue = deps.taskStore instanceof RedisTaskStore ? new RedisCopyQueue(deps.taskStore.redis, randomUUID()) : new InProcessCopyQueue(deps.now);
  const archive = new Archive({
    settings,
    store,
    queue,
    content: deps.content,
    clients: deps.clients,
    taskStore: deps.taskStore,
    terminalTtlMs: config.cache.terminalTtlMs,
    metrics: new ArchiveMetrics(deps.registry, () => queue.stats()),
    log: deps.log,
    now: deps.now,
  });
  const retention = settings.retentionDays === 0 ? 'kept for good' : `kept ${settings.retentionDays} days`;
  deps.log.info({ archive: store.description, fleet: deps.taskStore.shared }, `result archive on: every result file is copied to ${store.description}, ${retention}`);
  return archive;
}
