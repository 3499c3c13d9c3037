/**
 * Poll loops for listeners of a task (long-poll and SSE waiters today; anything that wants
 * to hear of changes can be a listener). However many listen, one loop per task in this
 * process joins the task's poll membership in the TaskStore: in the fleet, only the
 * replica holding the task's lease polls, and what it finds reaches the loops of every
 * replica. Polls follow the countdown of the answer they got (the next refresh), so a
 * change is seen right after it can exist. Each poll that needs the provider waits for its
 * turn in the provider's upstream budget, behind every client lookup (src/upstream/budget.ts).
 * A loop stops when the task is terminal, when a permanent error arrives, or when its last
 * listener leaves.
 */
import { background } from '../background.js';
import { GatewayError, toGatewayError, type ProblemCode } from '../errors.js';
import { decodeGatewayError, encodeGatewayError } from '../fleet/gateway-errors.js';
import type { Observation, PollMembership, PollMessage, TaskStore } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import type { Tracer } from '../tracing/api.js';
import { isTerminal } from '../../schemas/task.js';
import { cadenceOf, refreshInMs, type TaskLookup } from './lookup.js';

/** `final`: the gateway is shutting down and this is the last word the listener gets. */
export type WatchEvent = { observation: Observation; final?: boolean } | { error: GatewayError; permanent: boolean };
export type WatchListener = (event: WatchEvent) => void;
/**
 * Who listens (a label of the waiters gauge). A `webhook` listener holds no client
 * connection, so it does not count against `waiters.max` (webhooks have their own caps).
 */
export type WatchKind = 'wait' | 'sse' | 'webhook';

/** Errors that no amount of polling will fix. */
const PERMANENT: ReadonlySet<ProblemCode> = new Set([
  'task_not_found',
  'upstream_auth_failed',
  'provider_not_configured',
]);
const MAX_BACKOFF_FACTOR = 8;
/** A poll this early is still on time (timers and clocks disagree by a millisecond or so). */
const DUE_SLACK_MS = 5;
/** When a reused answer's countdown is already over, ask again this soon rather than at once. */
const OVERDUE_DELAY_MS = 20;

class PollLoop {
  readonly listeners = new Set<WatchListener>();
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private polling = false;
  /** The poll in progress, aborted when the loop stops (it leaves the budget's queue). */
  private inProgress: AbortController | undefined;
  /** When this loop should poll next, if it is the one that polls. */
  private nextPollAt: number;
  private readonly membership: PollMembership;

  constructor(
    private readonly lookup: TaskLookup,
    store: TaskStore,
    readonly client: ProviderClient,
    readonly nativeId: string,
    public latest: Observation,
    private readonly onStop: (loop: PollLoop) => void,
    /** Watched tasks of this loop's provider polled here, now. */
    private readonly pollers: () => number,
    private readonly tracer: Tracer,
  ) {
    this.nextPollAt = this.refreshAt(latest);
    this.membership = store.join(`${client.name}:${nativeId}`, {
      intervalMs: cadenceOf(client, latest.state),
      onTick: () => this.poll(),
      onMessage: (message) => this.receive(message),
    });
    this.arm();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.inProgress?.abort();
    this.membership.leave();
    this.onStop(this);
  }

  /** One millisecond after the countdown ends, so the answer it was counting down is gone by then. */
  private refreshAt(observation: Observation): number {
    const now = Date.now();
    const countdown = refreshInMs(this.client, observation, now);
    return now + (countdown > 0 ? countdown + 1 : OVERDUE_DELAY_MS);
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => background(this.poll(), this.lookup.log, 'poll loop: a poll failed', { provider: this.client.name }), Math.max(0, this.nextPollAt - Date.now()));
    // Poll loops never keep the process alive on their own; shutdown drains waiters first.
    this.timer.unref();
  }

  /** By its own timer, or by the fleet's tick (the lease is ours, or was just taken over). */
  private async poll(): Promise<void> {
    // Another replica polls: its findings arrive through receive().
    if (this.stopped || this.polling || !this.membership.polls) return;
    if (Date.now() < this.nextPollAt - DUE_SLACK_MS) {
      this.arm();
      return;
    }
    this.polling = true;
    const inProgress = new AbortController();
    this.inProgress = inProgress;
    let message: PollMessage;
    try {
      const fetch = () => this.lookup.fetch(this.client, this.nativeId, { signal: inProgress.signal, pollers: this.pollers });
      const observation = await this.traced(fetch);
      this.failures = 0;
      message = { observation };
    } catch (error) {
      if (this.stopped) return;
      const gatewayError = toGatewayError(error);
      this.failures++;
      const shared = encodeGatewayError(gatewayError) ?? { code: 'internal_error', detail: gatewayError.detail };
      message = { error: shared, permanent: PERMANENT.has(gatewayError.code) };
      // Back off on upstream errors (doubling, capped), honouring a provider's Retry-After.
      let delay = cadenceOf(this.client, this.latest.state) * Math.min(MAX_BACKOFF_FACTOR, 2 ** this.failures);
      if (gatewayError.retryAfter !== undefined) delay = Math.max(delay, gatewayError.retryAfter * 1000);
      this.nextPollAt = Date.now() + delay;
    } finally {
      this.polling = false;
      this.inProgress = undefined;
    }
    if (this.stopped) return;
    // The same answer again (still inside its reuse window) is no news.
    if ('observation' in message && message.observation.fetchedAt === this.latest.fetchedAt) {
      this.nextPollAt = this.refreshAt(message.observation);
    } else {
      this.membership.publish(message);
    }
    this.arm();
  }

  /** Each poll is a trace of its own: the loop outlives the request that started it. */
  private traced(fetch: () => Promise<Observation>): Promise<Observation> {
    const attributes = { 'taskgate.provider': this.client.name, 'taskgate.poll.waiters': this.listeners.size, 'taskgate.poll.failures': this.failures };
    return this.tracer.inSpan('taskgate.poll', { root: true, attributes }, fetch);
  }

  /** What the polling replica found (this one's own findings included). */
  private receive(message: PollMessage): void {
    if (this.stopped) return;
    let event: WatchEvent;
    if ('observation' in message) {
      const { observation } = message;
      // Messages can cross: an older answer than the one held is no news.
      if (observation.fetchedAt < this.latest.fetchedAt) return;
      this.latest = observation;
      this.lookup.learn(this.client, this.nativeId, observation);
      this.nextPollAt = this.refreshAt(observation);
      event = { observation };
    } else {
      event = { error: decodeGatewayError(message.error), permanent: message.permanent };
    }
    for (const listener of [...this.listeners]) listener(event);
    const finished = 'observation' in event ? isTerminal(event.observation.state.status) : event.permanent;
    if (finished) this.stop();
    else if (this.membership.polls) this.arm();
  }
}

export class TaskWatcher {
  private readonly loops = new Map<string, PollLoop>();
  /** Poll loops by provider: how many watched tasks share each provider's budget here. */
  private readonly loopsByProvider = new Map<string, number>();
  private waiterCount = 0;
  private closing = false;

  constructor(
    private readonly lookup: TaskLookup,
    private readonly store: TaskStore,
    private readonly metrics: Metrics,
    private readonly maxWaiters: number,
    private readonly tracer: Tracer,
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
  watch(client: ProviderClient, nativeId: string, current: Observation, kind: WatchKind, listener: WatchListener): () => void {
    const counted = kind !== 'webhook';
    if (counted && this.waiterCount >= this.maxWaiters) {
      throw new GatewayError('service_unavailable', {
        retryAfter: 5,
        detail: 'The gateway is holding as many waiting clients as it allows; poll instead or retry shortly.',
      });
    }
    const key = `${client.name}:${nativeId}`;
    let loop = this.loops.get(key);
    if (loop === undefined) {
      loop = new PollLoop(
        this.lookup,
        this.store,
        client,
        nativeId,
        current,
        (stopped) => {
          if (this.loops.get(key) === stopped) this.loops.delete(key);
          this.countLoop(client.name, -1);
        },
        () => this.loopsByProvider.get(client.name) ?? 0,
        this.tracer,
      );
      this.loops.set(key, loop);
      this.countLoop(client.name, 1);
    }
    const active = loop;
    active.listeners.add(listener);
    if (counted) this.waiterCount++;
    this.metrics.activeWaiters.inc({ kind });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      if (counted) this.waiterCount--;
      this.metrics.activeWaiters.dec({ kind });
      active.listeners.delete(listener);
      if (active.listeners.size === 0) active.stop();
    };
  }

  private countLoop(provider: string, delta: number): void {
    const count = (this.loopsByProvider.get(provider) ?? 0) + delta;
    if (count > 0) this.loopsByProvider.set(provider, count);
    else this.loopsByProvider.delete(provider);
    this.metrics.activePollLoops.set(this.loops.size);
  }

  /** Shutdown: every waiter gets the latest state now, then all loops stop. */
  drain(): void {
    this.closing = true;
    for (const loop of [...this.loops.values()]) {
      const event: WatchEvent = { observation: loop.latest, final: true };
      for (const listener of [...loop.listeners]) listener(event);
      loop.stop();
    }
  }
}
