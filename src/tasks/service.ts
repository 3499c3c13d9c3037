/**
 * What the routes call: route an id, look the task up, and optionally wait on it.
 */
import type { Config } from '../config.js';
import type { GatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { Router } from '../routing.js';
import type { ProviderClient } from '../upstream/provider-client.js';
import { isTerminal, type Task, type TaskState } from '../../schemas/task.js';
import { TaskLookup, toTask, type Located } from './lookup.js';
import { TaskWatcher, type WatchEvent } from './watch.js';

export interface WaitOptions {
  waitMs: number;
  /** Aborted when the client goes away: the waiter is released at once. */
  signal?: AbortSignal;
}

export interface TaskStream {
  /** The state at subscription time. */
  first: Task;
  /** Subscribes to changes; returns the unsubscribe function. Not called for terminal tasks. */
  follow(onEvent: (event: { task: Task; final: boolean } | { error: GatewayError; permanent: boolean }) => void): () => void;
}

export class TaskService {
  readonly router: Router;
  readonly lookup: TaskLookup;
  readonly watcher: TaskWatcher;
  private readonly views = new WeakMap<TaskState, Task>();

  constructor(config: Config, clients: ReadonlyMap<string, ProviderClient>, metrics: Metrics) {
    this.router = new Router(config.routes, new Set(clients.keys()));
    this.lookup = new TaskLookup(config, clients, metrics);
    this.watcher = new TaskWatcher(this.lookup, metrics, config.waiters.max);
  }

  async locate(id: string): Promise<Located> {
    return this.lookup.locate(id, this.router.resolve(id));
  }

  async getTask(id: string): Promise<Task> {
    const { client, state } = await this.locate(id);
    return this.view(id, client, state);
  }

  /**
   * The Task for a state, the same object for as long as the state is the same (served
   * from a cache): routes memoize what they derive from it (the JSON, its ETag) on it.
   */
  private view(id: string, client: ProviderClient, state: TaskState): Task {
    const known = this.views.get(state);
    if (known !== undefined && known.id === id) return known;
    const task = toTask(id, client, state);
    this.views.set(state, task);
    return task;
  }

  /** Long-poll: the task once it is terminal, or its latest state after `waitMs`. */
  async waitForTask(id: string, options: WaitOptions): Promise<Task> {
    const { client, nativeId, state } = await this.locate(id);
    // A request that reached this point after shutdown began gets the latest state now.
    if (options.waitMs <= 0 || isTerminal(state.status) || this.watcher.draining) return this.view(id, client, state);
    return new Promise<Task>((resolve, reject) => {
      let latest: TaskState = state;
      let settled = false;
      const finish = (error?: GatewayError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch();
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(toTask(id, client, latest));
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
    const { client, nativeId, state } = await this.locate(id);
    return {
      first: toTask(id, client, state),
      follow: (onEvent) => {
        if (this.watcher.draining) {
          // Shutting down: the first state is the last word; end the stream once it is sent.
          queueMicrotask(() => onEvent({ task: toTask(id, client, state), final: true }));
          return () => {};
        }
        return this.watcher.watch(client, nativeId, state, 'sse', (event) => {
          if ('state' in event) onEvent({ task: toTask(id, client, event.state), final: event.final === true });
          else onEvent(event);
        });
      },
    };
  }

  drain(): void {
    this.watcher.drain();
  }
}
