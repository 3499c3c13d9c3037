/**
 * What the routes call: route an id, look the task up, optionally wait on it or follow
 * it, and render what was found.
 */
import type { BackgroundLog } from '../background.js';
import type { LRUCache } from 'lru-cache';
import { expiringCache } from '../expiring-cache.js';
import type { Config } from '../settings/schema.js';
import type { ArchiveHooks } from '../archive/archive.js';
import type { GatewayError } from '../errors.js';
import type { Observation, TaskStore } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import { ClientQuota, WatchQuota } from '../quota.js';
import { Router, type Route } from '../routing.js';
import type { Tracer } from '../tracing/api.js';
import { isTerminal } from '../../schemas/task.js';
import { TaskLookup } from './lookup.js';
import { TaskRenderer, type RenderedTask, type TaskSnapshot, type ViewContext } from './render.js';
import { TaskWatcher, type WatchEvent } from './watch.js';

export interface WaitOptions {
  waitMs: number;
  /** Aborted when the client goes away: the waiter is released at once. */
  signal?: AbortSignal;
  /** Who waits (client key, or address), for `limits.watchesPerClient`. */
  client: string;
}

export type StreamEvent = { snapshot: TaskSnapshot; final: boolean } | { error: GatewayError; permanent: boolean };

export interface TaskStream {
  /** The state at subscription time. */
  first: TaskSnapshot;
  /**
   * Subscribes to changes, taking one of the client's watched tasks (429 quota_exceeded
   * past `limits.watchesPerClient`, 503 past `waiters.max`); resolves with the function
   * that unsubscribes and gives the place back. Not called for terminal tasks.
   */
  follow(onEvent: (event: StreamEvent) => void): Promise<() => void>;
}

function snapshotOf(id: string, client: ProviderClient, nativeId: string, observation: Observation): TaskSnapshot {
  const snapshot: TaskSnapshot = { id, provider: client.name, nativeId, state: observation.state, fetchedAt: observation.fetchedAt };
  if (observation.archived !== undefined) snapshot.archived = observation.archived;
  return snapshot;
}

export class TaskService {
  readonly router: Router;
  readonly lookup: TaskLookup;
  readonly watcher: TaskWatcher;
  /**
   * `limits.watchesPerClient`: waits and SSE streams hold places here; active webhooks join
   * with `watchQuota.addSource(…)` (their per-client count) and ask `watchQuota.ensureRoom`
   * before registering one more.
   */
  readonly watchQuota: WatchQuota;
  private readonly renderer: TaskRenderer;
  /** The last refresh of each task's result URLs, kept for `cache.notFoundMs`. */
  private readonly refreshes: LRUCache<string, Promise<Observation>>;
  private readonly refreshWindowMs: number;
  /** The waits and SSE streams held here, by client. */
  readonly watches: ClientQuota;

  constructor(config: Config, clients: ReadonlyMap<string, ProviderClient>, metrics: Metrics, store: TaskStore, tracer: Tracer, log: BackgroundLog, archive?: ArchiveHooks) {
    this.router = new Router(config.routes, new Map([...clients].map(([name, client]) => [name, client.definition])));
    this.lookup = new TaskLookup(config, clients, metrics, store, tracer, log, archive);
    this.renderer = new TaskRenderer((provider) => this.lookup.client(provider), archive !== undefined);
    this.watcher = new TaskWatcher(this.lookup, store, metrics, config.waiters.max, tracer);
    this.watches = new ClientQuota({ perClient: config.limits.watchesPerClient, what: 'watched tasks', setting: 'limits.watchesPerClient' });
    this.watchQuota = new WatchQuota(this.watches);
    this.refreshWindowMs = config.cache.notFoundMs;
    this.refreshes = expiringCache({ max: config.cache.terminalMaxEntries, ttl: Math.max(1, this.refreshWindowMs), ttlAutopurge: false });
  }

  /** The task, wherever it is found; `route` when the caller has already resolved the id. */
  async getTask(id: string, route: Route = this.router.resolve(id)): Promise<TaskSnapshot> {
    const { client, nativeId, observation } = await this.lookup.locate(id, route);
    return snapshotOf(id, client, nativeId, observation);
  }

  /** The task from this replica's terminal cache, without a promise, when it is there. */
  cachedTask(id: string, route: Route = this.router.resolve(id)): TaskSnapshot | undefined {
    const located = this.lookup.cachedTerminal(id, route);
    return located === undefined ? undefined : snapshotOf(id, located.client, located.nativeId, located.observation);
  }

  /**
   * The task asked of its provider again, whatever is cached: for a result URL that stopped
   * working (signed links expire; a fresh status answer carries a fresh one). At most once
   * per `cache.notFoundMs` per task, however many requests ask: within the window they all
   * get what that one refresh brought (its answer, or its error), so a dead file cannot
   * turn every request for it into a provider call.
   */
  async refreshTask(snapshot: TaskSnapshot): Promise<TaskSnapshot> {
    const client = this.lookup.client(snapshot.provider);
    const { nativeId } = snapshot;
    const key = `${client.name}:${nativeId}`;
    let refresh = this.refreshes.get(key);
    if (refresh === undefined) {
      refresh = this.lookup.forget(client, nativeId).then(() => this.lookup.fetch(client, nativeId));
      if (this.refreshWindowMs > 0) this.refreshes.set(key, refresh, { ttl: this.refreshWindowMs });
    }
    return snapshotOf(snapshot.id, client, nativeId, await refresh);
  }

  render(snapshot: TaskSnapshot, context: ViewContext): RenderedTask {
    return this.renderer.render(snapshot, context);
  }

  /** Long-poll: the task once it is terminal, or its latest state after `waitMs`. */
  async waitForTask(id: string, options: WaitOptions, route: Route = this.router.resolve(id)): Promise<TaskSnapshot> {
    const { client, nativeId, observation } = await this.lookup.locate(id, route);
    // A request that reached this point after shutdown began gets the latest state now.
    if (options.waitMs <= 0 || isTerminal(observation.state.status) || this.watcher.draining) return snapshotOf(id, client, nativeId, observation);
    const release = await this.watchQuota.hold(options.client, { endsAt: Date.now() + options.waitMs });
    return new Promise<TaskSnapshot>((resolve, reject) => {
      let latest = observation;
      let settled = false;
      const finish = (error?: GatewayError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch();
        release();
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(snapshotOf(id, client, nativeId, latest));
      };
      const onAbort = () => finish();
      let unwatch: () => void;
      try {
        unwatch = this.watcher.watch(client, nativeId, observation, 'wait', (event: WatchEvent) => {
          if ('observation' in event) {
            latest = event.observation;
            if (isTerminal(latest.state.status) || event.final === true) finish();
          } else if (event.permanent) {
            finish(event.error);
          }
        });
      } catch (error) {
        release();
        throw error;
      }
      // Set up after watch(): when it refuses (too many waiters) no timer is left behind.
      const timer = setTimeout(() => finish(), options.waitMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) finish();
    });
  }

  /** SSE: the current state, and a way to follow it until it is terminal; `watcher` is who follows (client key, or address). */
  async streamTask(id: string, watcher: string): Promise<TaskStream> {
    const { client, nativeId, observation } = await this.lookup.locate(id, this.router.resolve(id));
    const first = snapshotOf(id, client, nativeId, observation);
    return {
      first,
      follow: async (onEvent) => {
        if (this.watcher.draining) {
          // Shutting down: the first state is the last word; end the stream once it is sent.
          queueMicrotask(() => onEvent({ snapshot: first, final: true }));
          return () => {};
        }
        const release = await this.watchQuota.hold(watcher);
        let unwatch: () => void;
        try {
          unwatch = this.watcher.watch(client, nativeId, observation, 'sse', (event) => {
            if ('observation' in event) onEvent({ snapshot: snapshotOf(id, client, nativeId, event.observation), final: event.final === true });
            else onEvent(event);
          });
        } catch (error) {
          release();
          throw error;
        }
        return () => {
          unwatch();
          release();
        };
      },
    };
  }

  drain(): void {
    this.watcher.drain();
  }
}
