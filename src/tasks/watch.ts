/**
 * Poll loops for waiting clients. However many clients wait on one task (long-poll or
 * SSE), one loop polls its provider at the provider's cadence and tells them all; the loop
 * stops when the task is terminal, when a permanent error arrives, or when its last
 * waiter leaves.
 */
import { GatewayError, toGatewayError, type ProblemCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import type { TaskState } from '../providers/types.js';
import type { Tracer } from '../tracing/tracer.js';
import { isTerminal } from '../../schemas/task.js';
import type { TaskLookup } from './lookup.js';

/** `final`: the gateway is shutting down and this is the last word the waiter gets. */
export type WatchEvent = { state: TaskState; final?: boolean } | { error: GatewayError; permanent: boolean };
export type WatchListener = (event: WatchEvent) => void;

/** Errors that no amount of polling will fix. */
const PERMANENT: ReadonlySet<ProblemCode> = new Set([
  'task_not_found',
  'upstream_auth_failed',
  'provider_not_configured',
]);
const MAX_BACKOFF_FACTOR = 8;

class PollLoop {
  readonly listeners = new Set<WatchListener>();
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly lookup: TaskLookup,
    readonly client: ProviderClient,
    readonly nativeId: string,
    public latest: TaskState,
    private readonly onStop: (loop: PollLoop) => void,
    private readonly tracer?: Tracer,
  ) {}

  start(): void {
    this.schedule(this.cadenceMs());
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.onStop(this);
  }

  /** The provider's cadence, or the one its latest answer set (OpenAI's poll-after header). */
  private cadenceMs(): number {
    return this.latest.cadenceMs ?? this.client.pollIntervalMs;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll(), delayMs);
    // Poll loops never keep the process alive on their own; shutdown drains waiters first.
    this.timer.unref();
  }

  /** Each poll is a trace of its own: the loop outlives the request that started it. */
  private traced(tracer: Tracer, fetch: () => Promise<TaskState>): Promise<TaskState> {
    const attributes = { 'taskgate.provider': this.client.name, 'taskgate.poll.waiters': this.listeners.size, 'taskgate.poll.failures': this.failures };
    return tracer.inSpan('taskgate.poll', { root: true, attributes }, fetch);
  }

  private async poll(): Promise<void> {
    let event: WatchEvent;
    try {
      const fetch = () => this.lookup.fetch(this.client, this.nativeId);
      this.latest = await (this.tracer === undefined ? fetch() : this.traced(this.tracer, fetch));
      this.failures = 0;
      event = { state: this.latest };
    } catch (error) {
      const gatewayError = toGatewayError(error);
      this.failures++;
      event = { error: gatewayError, permanent: PERMANENT.has(gatewayError.code) };
    }
    if (this.stopped) return;
    for (const listener of [...this.listeners]) listener(event);
    const finished = 'state' in event ? isTerminal(event.state.status) : event.permanent;
    if (finished) {
      this.stop();
      return;
    }
    // Back off on upstream errors (doubling, capped), honouring a provider's Retry-After.
    const factor = Math.min(MAX_BACKOFF_FACTOR, 2 ** this.failures);
    let delay = this.failures === 0 ? this.cadenceMs() : this.cadenceMs() * factor;
    if ('error' in event && event.error.retryAfter !== undefined) delay = Math.max(delay, event.error.retryAfter * 1000);
    this.schedule(delay);
  }
}

export class TaskWatcher {
  private readonly loops = new Map<string, PollLoop>();
  private waiterCount = 0;
  private closing = false;

  constructor(
    private readonly lookup: TaskLookup,
    private readonly metrics: Metrics,
    private readonly maxWaiters: number,
    private readonly tracer?: Tracer,
  ) {}

  get waiters(): number {
    return this.waiterCount;
  }

  /** True once drain() ran: nobody should start waiting any more. */
  get draining(): boolean {
    return this.closing;
  }

  get pollLoops(): number {
    return this.loops.size;
  }

  /**
   * Adds a listener to the task's poll loop (starting it if needed) and returns the
   * function that removes it. Throws 503 when the gateway already holds `maxWaiters`.
   */
  watch(client: ProviderClient, nativeId: string, current: TaskState, kind: 'wait' | 'sse', listener: WatchListener): () => void {
    if (this.waiterCount >= this.maxWaiters) {
      throw new GatewayError('service_unavailable', {
        retryAfter: 5,
        detail: 'The gateway is holding as many waiting clients as it allows; poll instead or retry shortly.',
      });
    }
    const key = `${client.name}:${nativeId}`;
    let loop = this.loops.get(key);
    if (loop === undefined) {
      loop = new PollLoop(this.lookup, client, nativeId, current, (stopped) => {
        if (this.loops.get(key) === stopped) this.loops.delete(key);
        this.metrics.activePollLoops.set(this.loops.size);
      }, this.tracer);
      this.loops.set(key, loop);
      this.metrics.activePollLoops.set(this.loops.size);
      loop.start();
    }
    const active = loop;
    active.listeners.add(listener);
    this.waiterCount++;
    this.metrics.activeWaiters.inc({ kind });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.waiterCount--;
      this.metrics.activeWaiters.dec({ kind });
      active.listeners.delete(listener);
      if (active.listeners.size === 0) active.stop();
    };
  }

  /** Shutdown: every waiter gets the latest state now, then all loops stop. */
  drain(): void {
    this.closing = true;
    for (const loop of [...this.loops.values()]) {
      const event: WatchEvent = { state: loop.latest, final: true };
      for (const listener of [...loop.listeners]) listener(event);
      loop.stop();
    }
  }
}
