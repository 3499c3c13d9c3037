/**
 * What the routes call: route an id, look the task up, optionally wait on it or follow
 * it, and render what was found.
 */
import type { Config } from '../config.js';
import type { GatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import { Router } from '../routing.js';
import { isTerminal } from '../../schemas/task.js';
import { TaskLookup } from './lookup.js';
import { TaskRenderer, type RenderedTask, type TaskSnapshot, type ViewContext } from './render.js';
import { TaskWatcher, type WatchEvent } from './watch.js';

export interface WaitOptions {
  waitMs: number;
  /** Aborted when the client goes away: the waiter is released at once. */
  signal?: AbortSignal;
}

export type StreamEvent = { snapshot: TaskSnapshot; final: boolean } | { error: GatewayError; permanent: boolean };

export interface TaskStream {
  /** The state at subscription time. */
  first: TaskSnapshot;
  /** Subscribes to changes; returns the unsubscribe function. Not called for terminal tasks. */
  follow(onEvent: (event: StreamEvent) => void): () => void;
}

export class TaskService {
  readonly router: Router;
  readonly lookup: TaskLookup;
  readonly watcher: TaskWatcher;
  private readonly renderer = new TaskRenderer();

  constructor(config: Config, clients: ReadonlyMap<string, ProviderClient>, metrics: Metrics) {
    this.router = new Router(config.routes, new Set(clients.keys()));
    this.lookup = new TaskLookup(config, clients, metrics);
    this.watcher = new TaskWatcher(this.lookup, metrics, config.waiters.max);
  }

  async getTask(id: string): Promise<TaskSnapshot> {
    const { client, nativeId, state } = await this.lookup.locate(id, this.router.resolve(id));
    return { id, client, nativeId, state };
  }

  /** The task from this replica's terminal cache, without a promise, when it is there. */
  cachedTask(id: string): TaskSnapshot | undefined {
    const located = this.lookup.cachedTerminal(id, this.router.resolve(id));
    return located === undefined ? undefined : { id, ...located };
  }

  /**
   * The task asked of its provider again, whatever is cached: for a result URL that stopped
   * working (signed links expire; a fresh status answer carries a fresh one).
   */
  async refreshTask(snapshot: TaskSnapshot): Promise<TaskSnapshot> {
    this.lookup.forget(snapshot.client, snapshot.nativeId);
    return { ...snapshot, state: await this.lookup.fetch(snapshot.client, snapshot.nativeId) };
  }

  render(snapshot: TaskSnapshot, context: ViewContext): RenderedTask {
    return this.renderer.render(snapshot, context);
  }

  /** Long-poll: the task once it is terminal, or its latest state after `waitMs`. */
  async waitForTask(id: string, options: WaitOptions): Promise<TaskSnapshot> {
    const { client, nativeId, state } = await this.lookup.locate(id, this.router.resolve(id));
    // A request that reached this point after shutdown began gets the latest state now.
    if (options.waitMs <= 0 || isTerminal(state.status) || this.watcher.draining) return { id, client, nativeId, state };
    return new Promise<TaskSnapshot>((resolve, reject) => {
      let latest = state;
      let settled = false;
      const finish = (error?: GatewayError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch();
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve({ id, client, nativeId, state: latest });
      };
      const onAbort = () => finish();
      const unwatch = this.watcher.watch(client, nativeId, state, 'wait', (event: WatchEvent) => {
        if ('state' in event) {
          latest = event.state;
          if (isTerminal(latest.status) || event.final === true) finish();
        } else if (event.permanent) {
          finish(event.error);
        }
      });
      // Set up after watch(): when it refuses (too many waiters) no timer is left behind.
      const timer = setTimeout(() => finish(), options.waitMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) finish();
    });
  }

  /** SSE: the current state, and a way to follow it until it is terminal. */
  async streamTask(id: string): Promise<TaskStream> {
    const { client, nativeId, state } = await this.lookup.locate(id, this.router.resolve(id));
    const first: TaskSnapshot = { id, client, nativeId, state };
    return {
      first,
      follow: (onEvent) => {
        if (this.watcher.draining) {
          // Shutting down: the first state is the last word; end the stream once it is sent.
          queueMicrotask(() => onEvent({ snapshot: first, final: true }));
          return () => {};
        }
        return this.watcher.watch(client, nativeId, state, 'sse', (event) => {
          if ('state' in event) onEvent({ snapshot: { id, client, nativeId, state: event.state }, final: event.final === true });
          else onEvent(event);
        });
      },
    };
  }

  drain(): void {
    this.watcher.drain();
  }
}
