/**
 * Turns the shared poll loop into webhook deliveries. Each process sweeps its store about
 * once a second: it takes over watched tasks nobody holds (a lease), follows each one
 * through the TaskWatcher like a waiting client would (so a task costs one upstream call
 * per cadence however many webhooks and clients it has), records every change of status
 * or progress once, with its events, against the store, and makes the attempts it claims
 * (a lease per attempt, so one process makes each). A change's first attempts are claimed
 * in the same step that records it and sent at once; retries and the work of a process
 * that died are found by the sweep. The attempts themselves are src/webhooks/deliveries.ts's.
 */
import type { FastifyBaseLogger } from 'fastify';
import { background } from '../background.js';
import { GatewayError, toGatewayError, type ProblemCode } from '../errors.js';
import type { Observation } from '../fleet/store.js';
import type { Metrics } from '../metrics.js';
import type { ProviderClient } from '../providers/client.js';
import type { TaskState } from '../providers/types.js';
import type { TaskSnapshot } from '../tasks/render.js';
import type { TaskService } from '../tasks/service.js';
import { isTerminal } from '../../schemas/task.js';
import { MAX_WEBHOOKS_PER_TASK } from '../../schemas/webhooks.js';
import { WebhookDeliveries } from './deliveries.js';
import {
  eventsOf,
  newMessageId,
  newWebhookId,
  sameBaseline,
  targetOf,
  taskKeyOf,
  WATCH_WINDOW_MS,
  type Baseline,
  type Change,
  type NewMessage,
  type Subscription,
  type WatchClaim,
  type WebhookEvent,
} from './model.js';
import { RefusedTargetError, type WebhookSender } from './sender.js';
import type { WebhookStore } from './store.js';

export interface WebhookDispatcherOptions {
  service: TaskService;
  store: WebhookStore;
  sender: WebhookSender;
  metrics: Metrics;
  retryDelaysMs: readonly number[];
  timeoutMs: number;
  concurrency: number;
  /** Deliveries to one receiver origin in flight at most, of the `concurrency` slots. */
  perTargetConcurrency: number;
  maxSubscriptions: number;
  maxPerClient: number;
  log: FastifyBaseLogger;
}

export interface NewWebhook {
  url: string;
  events: WebhookEvent[];
  /** The registering request's public origin. */
  origin: string;
  /** Who registers it (src/client-identity.ts). */
  client: string;
}

const SWEEP_MS = 1000;
/** A watch held by a process that died is taken over after this; it is renewed well before. */
const WATCH_LEASE_MS = 10_000;
const RENEW_EVERY_MS = 3000;
const WATCH_CLAIMS_PER_SWEEP = 200;
/** After an error polling will not fix (our key rejected, provider not configured), the task is tried again this much later. */
const WATCH_RETRY_AFTER_MS = 30_000;
/** After a transient error starting a watch. */
const WATCH_RESTART_AFTER_MS = 5000;
const NOT_RECOVERABLE: ReadonlySet<ProblemCode> = new Set(['upstream_auth_failed', 'provider_not_configured']);

interface OwnedWatch {
  claim: WatchClaim;
  client: ProviderClient;
  latest: Observation | undefined;
  unwatch: (() => void) | undefined;
  /** Changes are recorded one after the other, in the order they were seen. */
  chain: Promise<void>;
  /** A change could not be recorded (store unreachable): the sweep tries again. */
  dirty: boolean;
  stopped: boolean;
}

function baselineOf(state: TaskState): Baseline {
  return { status: state.status, progress: state.progress };
}

export class WebhookDispatcher {
  private readonly owned = new Map<string, OwnedWatch>();
  private readonly deliveries: WebhookDeliveries;
  private timer: NodeJS.Timeout | undefined;
  private kicked = false;
  private sweeping = false;
  private sweepAgain = false;
  private closed = false;
  private lastRenewAt = 0;
  private readonly messageLeaseMs: number;

  constructor(private readonly options: WebhookDispatcherOptions) {
    // Long enough for the attempt (its whole timeout) and for settling it afterwards.
    this.messageLeaseMs = options.timeoutMs + 10_000;
    const { store, sender, metrics, retryDelaysMs, concurrency, perTargetConcurrency, log } = options;
    this.deliveries = new WebhookDeliveries({
      store,
      sender,
      metrics,
      retryDelaysMs,
      concurrency,
      perTargetConcurrency,
      log,
      messageLeaseMs: this.messageLeaseMs,
      onSlotFreed: () => this.kick(),
    });
  }

  get watchedTasks(): number {
    return this.owned.size;
  }

  start(): void {
    this.timer = setInterval(() => this.sweepInBackground(), SWEEP_MS);
    this.timer.unref();
    this.kick();
  }

  /**
   * Registers a webhook on a task found by `snapshot`: the target is checked, the caps
   * applied; an already terminal task gets its events at once. Answers the webhook and its
   * signing secret.
   */
  async register(snapshot: TaskSnapshot, input: NewWebhook): Promise<{ subscription: Subscription; secret: string }> {
    try {
      await this.options.sender.checkTarget(input.url);
    } catch (error) {
      if (error instanceof RefusedTargetError) throw new GatewayError('invalid_request', { detail: `url: ${error.message}.` });
      throw error;
    }
    const now = Date.now();
    const terminal = isTerminal(snapshot.state.status);
    // An active webhook is one of the client's watched tasks (limits.watchesPerClient, with
    // its waits and streams); one on a finished task ends at once and holds nothing.
    if (!terminal) await this.options.service.watchQuota.ensureRoom(input.client);
    const subscription: Subscription = {
      id: newWebhookId(),
      taskId: snapshot.id,
      url: input.url,
      events: input.events,
      createdAt: now,
      origin: input.origin,
      client: input.client,
      state: 'active',
      final: false,
      pending: 0,
    };
    const baseline = baselineOf(snapshot.state);
    // Already terminal: delivered at once, `task.updated` included (its terminal change is the state it is in).
    const messages = terminal ? eventsOf(subscription, undefined, baseline).map((event) => this.message(subscription, event, snapshot, now)) : [];
    const outcome = await this.options.store.register({
      subscription,
      provider: snapshot.provider,
      nativeId: snapshot.nativeId,
      baseline,
      terminal,
      messages,
      watchUntil: now + WATCH_WINDOW_MS,
      maxPerTask: MAX_WEBHOOKS_PER_TASK,
      maxSubscriptions: this.options.maxSubscriptions,
      maxPerClient: this.options.maxPerClient,
    });
    if (outcome === 'task_limit') {
      throw new GatewayError('webhook_limit_reached', {
        detail: `Task ${snapshot.id} already has ${MAX_WEBHOOKS_PER_TASK} active webhooks; end one first (DELETE /tasks/{id}/webhooks/{webhook_id}).`,
      });
    }
    if (outcome === 'client_limit') {
      // No Retry-After: an active webhook ends when its task does, which nobody can foretell.
      throw new GatewayError('quota_exceeded', {
        detail: `This client holds ${this.options.maxPerClient} webhooks (webhooks.maxPerClient), all of them active; end one (DELETE /tasks/{id}/webhooks/{webhook_id}) or wait for a task to finish.`,
      });
    }
    if (outcome === 'global_limit') {
      throw new GatewayError('service_unavailable', {
        retryAfter: 60,
        detail: `The gateway holds as many active webhooks as it allows (${this.options.maxSubscriptions}); retry later.`,
      });
    }
    this.kick();
    return { subscription, secret: this.options.sender.secretOf(subscription.id) };
  }

  /** Runs a sweep soon (after a registration, or when attempts free a slot while work is waiting). */
  kick(): void {
    if (this.kicked || this.closed) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.sweepInBackground();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const claims = [...this.owned.values()].map((owned) => owned.claim);
    for (const owned of [...this.owned.values()]) this.drop(owned);
    // Another process may take the tasks over at once rather than after the lease.
    await this.options.store.releaseWatches(claims, 0);
    await this.deliveries.close();
    await this.options.sender.close();
  }

  /** A sweep nobody waits for (it logs its own failures; background() catches the rest). */
  private sweepInBackground(): void {
    background(this.sweep(), this.options.log, 'webhook sweep failed');
  }

  private async sweep(): Promise<void> {
    if (this.closed) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = true;
    try {
      await this.deliveries.settleUnfinished();
      await this.renewWatches();
      const now = Date.now();
      for (const owned of [...this.owned.values()]) {
        if (now > owned.claim.watchUntil) background(this.stopWatching(owned, 'expired'), this.options.log, 'webhooks: ending an expired watch failed');
        else if (owned.dirty) this.observeAgain(owned);
      }
      const claims = await this.options.store.claimWatches(WATCH_CLAIMS_PER_SWEEP, WATCH_LEASE_MS);
      if (claims.length === WATCH_CLAIMS_PER_SWEEP) this.sweepAgain = true;
      for (const claim of claims) background(this.startWatching(claim), this.options.log, 'webhooks: starting a watch failed', { provider: claim.provider });
      const { free } = this.deliveries;
      if (free > 0 && !this.closed) {
        const due = await this.options.store.claimDue(free, this.messageLeaseMs, this.deliveries.budget());
        this.deliveries.backlog = due.length === free;
        for (const message of due) this.deliveries.deliver(message);
      }
    } catch (error) {
      this.options.log.error({ err: error }, 'webhook sweep failed');
    } finally {
      this.sweeping = false;
      if (this.sweepAgain) {
        this.sweepAgain = false;
        this.kick();
      }
    }
  }

  private async renewWatches(): Promise<void> {
    if (Date.now() - this.lastRenewAt < RENEW_EVERY_MS || this.owned.size === 0) return;
    this.lastRenewAt = Date.now();
    const lost = await this.options.store.renewWatches([...this.owned.values()].map((owned) => owned.claim), WATCH_LEASE_MS);
    if (lost === 'unavailable') return;
    for (const taskKey of lost) {
      const owned = this.owned.get(taskKey);
      if (owned !== undefined) this.drop(owned);
    }
  }

  private async startWatching(claim: WatchClaim): Promise<void> {
    if (this.closed) {
      await this.options.store.releaseWatches([claim], 0);
      return;
    }
    let client: ProviderClient;
    try {
      client = this.options.service.lookup.client(claim.provider);
    } catch {
      // A provider this gateway no longer has: its task cannot be followed.
      await this.options.store.finishWatch(claim, 'task_not_found');
      return;
    }
    const owned: OwnedWatch = { claim, client, latest: undefined, unwatch: undefined, chain: Promise.resolve(), dirty: false, stopped: false };
    this.owned.set(claim.taskKey, owned);
    if (Date.now() > claim.watchUntil) {
      await this.stopWatching(owned, 'expired');
      return;
    }
    let observation: Observation;
    try {
      observation = await this.options.service.lookup.fetch(client, claim.nativeId);
    } catch (error) {
      await this.onWatchError(owned, toGatewayError(error), false);
      return;
    }
    if (owned.stopped) return;
    if (!isTerminal(observation.state.status)) {
      owned.unwatch = this.options.service.watcher.watch(client, claim.nativeId, observation, 'webhook', (event) => {
        // `final` is the shutdown's last word to waiting clients: no change of the task.
        if ('observation' in event) {
          if (event.final !== true) this.observe(owned, event.observation);
        } else if (event.permanent) {
          background(this.onWatchError(owned, event.error, true), this.options.log, 'webhooks: handling a watch error failed');
        }
      });
    }
    this.observe(owned, observation);
  }

  private observe(owned: OwnedWatch, observation: Observation): void {
    if (owned.latest !== undefined && observation.fetchedAt < owned.latest.fetchedAt) return;
    owned.latest = observation;
    this.observeAgain(owned);
  }

  private observeAgain(owned: OwnedWatch): void {
    owned.dirty = false;
    owned.chain = owned.chain
      .then(() => this.record(owned))
      .catch((error: unknown) => {
        owned.dirty = true;
        this.options.log.error({ err: error, task: owned.claim.taskKey }, 'recording a webhook event failed');
      });
  }

  /** Records the latest observation if it is a change; retried with the current webhooks when they changed meanwhile. */
  private async record(owned: OwnedWatch): Promise<void> {
    const observation = owned.latest;
    if (owned.stopped || observation === undefined) return;
    const after = baselineOf(observation.state);
    const terminal = isTerminal(after.status);
    for (let round = 0; round < 3; round++) {
      // A terminal task with webhooks still waiting for it (registered since it was seen) is news to them.
      if (sameBaseline(owned.claim.baseline, after) && !(terminal && owned.claim.subscriptions.length > 0)) return;
      const change = this.changeOf(owned, observation);
      const result = await this.options.store.recordChange(owned.claim, change);
      if (result.outcome === 'recorded') {
        owned.claim = { ...owned.claim, baseline: after, subscriptions: terminal ? [] : owned.claim.subscriptions };
        for (const message of result.claimed) this.deliveries.deliver(message);
        // No free slot for some: the next attempt to finish starts a sweep that claims them.
        if (result.claimed.length < change.messages.length) this.deliveries.backlog = true;
        if (terminal) this.drop(owned);
        return;
      }
      if (result.outcome === 'lost') {
        this.drop(owned);
        return;
      }
      if (result.outcome === 'unavailable') {
        owned.dirty = true;
        return;
      }
      const reloaded = await this.options.store.reloadWatch(owned.claim);
      if (reloaded === 'unavailable') {
        owned.dirty = true;
        return;
      }
      if (reloaded === undefined) {
        this.drop(owned);
        return;
      }
      owned.claim = reloaded;
    }
    owned.dirty = true;
  }

  private changeOf(owned: OwnedWatch, observation: Observation): Change {
    const now = Date.now();
    const before = owned.claim.baseline;
    const after = baselineOf(observation.state);
    const terminal = isTerminal(after.status);
    const snapshot = { provider: owned.client.name, nativeId: owned.claim.nativeId, state: observation.state, fetchedAt: observation.fetchedAt };
    const messages: NewMessage[] = [];
    for (const subscription of owned.claim.subscriptions) {
      for (const event of eventsOf(subscription, before, after)) messages.push(this.message(subscription, event, { ...snapshot, id: subscription.taskId }, now));
    }
    // Those that a free slot and their receiver's share allow come first: they are claimed with the change and sent at once.
    const free = this.closed ? 0 : this.deliveries.free;
    const budget = this.deliveries.budget();
    const taken = new Map<string, number>();
    const sendNow: NewMessage[] = [];
    const later: NewMessage[] = [];
    for (const message of messages) {
      const used = taken.get(message.target) ?? budget.busy[message.target] ?? 0;
      if (sendNow.length < free && used < budget.perTarget) {
        taken.set(message.target, used + 1);
        sendNow.push(message);
      } else {
        later.push(message);
      }
    }
    return {
      baseline: after,
      terminal,
      messages: [...sendNow, ...later],
      finals: terminal ? owned.claim.subscriptions.map((subscription) => subscription.id) : [],
      claim: { max: sendNow.length, leaseMs: this.messageLeaseMs },
    };
  }

  /** The event's body: `{type, timestamp, data}`, `data` the Task as GET renders it for the registering request's origin. */
  private message(subscription: Subscription, event: WebhookEvent, snapshot: TaskSnapshot, now: number): NewMessage {
    const task = this.options.service.render(snapshot, { origin: subscription.origin }).json;
    return {
      id: newMessageId(),
      webhookId: subscription.id,
      taskKey: taskKeyOf(snapshot.provider, snapshot.nativeId),
      event,
      url: subscription.url,
      target: targetOf(subscription.url),
      body: `{"type":"${event}","timestamp":"${new Date(now).toISOString()}","data":${task}}`,
      createdAt: now,
    };
  }

  private async onWatchError(owned: OwnedWatch, error: GatewayError, permanent: boolean): Promise<void> {
    if (owned.stopped) return;
    if (error.code === 'task_not_found') {
      await this.stopWatching(owned, 'task_not_found');
      return;
    }
    this.drop(owned);
    const later = permanent || NOT_RECOVERABLE.has(error.code) ? WATCH_RETRY_AFTER_MS : WATCH_RESTART_AFTER_MS;
    await this.options.store.releaseWatches([owned.claim], later);
  }

  private drop(owned: OwnedWatch): void {
    owned.stopped = true;
    owned.unwatch?.();
    if (this.owned.get(owned.claim.taskKey) === owned) this.owned.delete(owned.claim.taskKey);
  }

  private async stopWatching(owned: OwnedWatch, reason: 'expired' | 'task_not_found'): Promise<void> {
    this.drop(owned);
    await this.options.store.finishWatch(owned.claim, reason);
  }
}
