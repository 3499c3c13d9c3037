/**
 * The WebhookStore of a single gateway (REDIS_URL unset): maps in this process, with the
 * same rules as the Redis store; nothing survives a restart. Records expire like Redis
 * keys would (RETENTION_MS after their last write), checked by `prune` on every claim.
 */
import { MAX_ENDED_PER_TASK, MAX_LOG_ENTRIES, RETENTION_MS, afterMessageDone, finalized, getsNewEvents, taskKeyOf } from './model.js';
import type {
  AttemptNext,
  Baseline,
  Change,
  ChangeOutcome,
  ClaimedMessage,
  EndReason,
  NewMessage,
  RegisterOutcome,
  Registration,
  Subscription,
  WatchClaim,
  WebhookDelivery,
} from './model.js';
import type { QueueStats, WebhookStore } from './store.js';

interface TaskRecord {
  provider: string;
  nativeId: string;
  baseline: Baseline | undefined;
  watchUntil: number;
  /** Watched and not yet terminal (or past its window). */
  watched: boolean;
  /** This process's dispatcher holds it. */
  owned: boolean;
  /** Not before this time may it be claimed (a released watch's backoff). */
  claimableAt: number;
  version: number;
  subscriptions: Map<string, Subscription>;
  logs: Map<string, WebhookDelivery[]>;
  writtenAt: number;
}

interface StoredMessage extends NewMessage {
  dueAt: number;
  attempts: number;
}

const TOKEN = 'this-process';

export class InProcessWebhookStore implements WebhookStore {
  readonly durable = false;
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly messages = new Map<string, StoredMessage>();
  private readonly active = new Set<string>();

  register(registration: Registration): Promise<RegisterOutcome> {
    const { subscription } = registration;
    this.prune(Date.now());
    const taskKey = taskKeyOf(registration.provider, registration.nativeId);
    let task = this.tasks.get(taskKey);
    const active = task === undefined ? 0 : [...task.subscriptions.values()].filter((candidate) => candidate.state === 'active').length;
    if (active >= registration.maxPerTask) return Promise.resolve('task_limit');
    if (this.active.size >= registration.maxSubscriptions) return Promise.resolve('global_limit');
    const now = Date.now();
    task ??= {
      provider: registration.provider,
      nativeId: registration.nativeId,
      baseline: undefined,
      watchUntil: 0,
      watched: false,
      owned: false,
      claimableAt: now,
      version: 0,
      subscriptions: new Map(),
      logs: new Map(),
      writtenAt: now,
    };
    this.tasks.set(taskKey, task);
    task.baseline ??= registration.baseline;
    task.version++;
    task.writtenAt = now;
    const stored = { ...subscription, pending: registration.messages.length };
    this.keep(task, subscription.id, registration.terminal ? finalized(stored, 'finished') : stored);
    task.logs.set(subscription.id, []);
    for (const message of registration.messages) this.messages.set(message.id, { ...message, dueAt: now, attempts: 0 });
    if (!registration.terminal) {
      task.watchUntil = Math.max(task.watchUntil, registration.watchUntil);
      task.watched = true;
    }
    return Promise.resolve('registered');
  }

  list(taskKeys: readonly string[], client: string): Promise<Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }>> {
    const now = Date.now();
    const listed: Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }> = [];
    for (const taskKey of new Set(taskKeys)) {
      const task = this.tasks.get(taskKey);
      if (task === undefined || task.writtenAt + RETENTION_MS < now) continue;
      for (const subscription of task.subscriptions.values()) {
        if (subscription.client === client) listed.push({ subscription, deliveries: [...(task.logs.get(subscription.id) ?? [])] });
      }
    }
    return Promise.resolve(listed.sort((left, right) => left.subscription.createdAt - right.subscription.createdAt));
  }

  end(taskKeys: readonly string[], webhookId: string, client: string, reason: EndReason): Promise<boolean> {
    const task = taskKeys.map((taskKey) => this.tasks.get(taskKey)).find((candidate) => candidate?.subscriptions.has(webhookId) === true);
    const subscription = task?.subscriptions.get(webhookId);
    if (task === undefined || subscription?.client !== client) return Promise.resolve(false);
    if (subscription.state === 'active') {
      this.keep(task, webhookId, { ...subscription, state: 'ended', endedReason: reason, final: true });
      task.version++;
      task.writtenAt = Date.now();
    }
    return Promise.resolve(true);
  }

  claimWatches(limit: number): Promise<WatchClaim[]> {
    const now = Date.now();
    this.prune(now);
    const claims: WatchClaim[] = [];
    for (const [taskKey, task] of this.tasks) {
      if (claims.length >= limit) break;
      if (!task.watched || task.owned || task.claimableAt > now) continue;
      task.owned = true;
      claims.push(this.claimOf(taskKey, task));
    }
    return Promise.resolve(claims);
  }

  reloadWatch(claim: WatchClaim): Promise<WatchClaim | undefined> {
    const task = this.tasks.get(claim.taskKey);
    return Promise.resolve(task?.owned === true && task.watched ? this.claimOf(claim.taskKey, task) : undefined);
  }

  renewWatches(claims: readonly WatchClaim[]): Promise<string[]> {
    return Promise.resolve(claims.filter((claim) => this.tasks.get(claim.taskKey)?.owned !== true).map((claim) => claim.taskKey));
  }

  releaseWatches(claims: readonly WatchClaim[], delayMs: number): Promise<void> {
    for (const claim of claims) {
      const task = this.tasks.get(claim.taskKey);
      if (task === undefined) continue;
      task.owned = false;
      task.claimableAt = Date.now() + delayMs;
    }
    return Promise.resolve();
  }

  recordChange(claim: WatchClaim, change: Change): Promise<ChangeOutcome> {
    const task = this.tasks.get(claim.taskKey);
    if (task === undefined || !task.owned || !task.watched) return Promise.resolve({ outcome: 'lost' });
    if (String(task.version) !== claim.version) return Promise.resolve({ outcome: 'stale' });
    const now = Date.now();
    task.baseline = change.baseline;
    task.writtenAt = now;
    const claimed: ClaimedMessage[] = [];
    for (const message of change.messages) {
      const take = claimed.length < change.claim.max;
      this.messages.set(message.id, { ...message, dueAt: take ? now + change.claim.leaseMs : now, attempts: take ? 1 : 0 });
      if (take) claimed.push({ ...message, attempt: 1, token: TOKEN });
      const subscription = task.subscriptions.get(message.webhookId);
      if (subscription !== undefined) this.keep(task, message.webhookId, { ...subscription, pending: subscription.pending + 1 });
    }
    for (const webhookId of change.finals) {
      const subscription = task.subscriptions.get(webhookId);
      if (subscription !== undefined) this.keep(task, webhookId, finalized(subscription, 'finished'));
    }
    if (change.terminal) {
      task.watched = false;
      task.owned = false;
    }
    return Promise.resolve({ outcome: 'recorded', claimed });
  }

  finishWatch(claim: WatchClaim, reason: EndReason): Promise<void> {
    const task = this.tasks.get(claim.taskKey);
    if (task === undefined || !task.owned) return Promise.resolve();
    task.watched = false;
    task.owned = false;
    for (const [id, subscription] of task.subscriptions) if (!subscription.final) this.keep(task, id, finalized(subscription, reason));
    task.version++;
    return Promise.resolve();
  }

  claimDue(limit: number, leaseMs: number): Promise<ClaimedMessage[]> {
    const now = Date.now();
    const claimed: ClaimedMessage[] = [];
    // In the order they were made (a Map's), which is about the order they came due: no sort of the whole queue.
    for (const message of this.messages.values()) {
      if (claimed.length >= limit) break;
      if (message.dueAt > now) continue;
      const subscription = this.tasks.get(message.taskKey)?.subscriptions.get(message.webhookId);
      if (subscription?.state !== 'active') {
        // Its webhook ended (deleted, 410): dropped unsent.
        this.messages.delete(message.id);
        continue;
      }
      message.attempts++;
      message.dueAt = now + leaseMs;
      const { dueAt: _dueAt, attempts, ...fields } = message;
      claimed.push({ ...fields, attempt: attempts, token: TOKEN });
    }
    return Promise.resolve(claimed);
  }

  finishAttempt(message: ClaimedMessage, delivery: WebhookDelivery, next: AttemptNext): Promise<boolean> {
    const stored = this.messages.get(message.id);
    const task = this.tasks.get(message.taskKey);
    if (stored === undefined || task === undefined) return Promise.resolve(true);
    const log = task.logs.get(message.webhookId) ?? [];
    log.push(delivery);
    if (log.length > MAX_LOG_ENTRIES) log.splice(0, log.length - MAX_LOG_ENTRIES);
    task.logs.set(message.webhookId, log);
    task.writtenAt = Date.now();
    if (next.kind === 'retry') {
      stored.dueAt = next.at;
      return Promise.resolve(true);
    }
    this.messages.delete(message.id);
    const subscription = task.subscriptions.get(message.webhookId);
    if (subscription !== undefined) {
      const updated = afterMessageDone(subscription, next);
      this.keep(task, message.webhookId, updated);
      if (updated.state !== subscription.state) task.version++;
    }
    return Promise.resolve(true);
  }

  releaseMessages(messages: readonly ClaimedMessage[]): Promise<void> {
    for (const message of messages) {
      const stored = this.messages.get(message.id);
      if (stored === undefined) continue;
      stored.dueAt = Date.now();
      stored.attempts = Math.max(0, stored.attempts - 1);
    }
    return Promise.resolve();
  }

  queueStats(): Promise<QueueStats> {
    let oldest: number | undefined;
    for (const message of this.messages.values()) oldest = oldest === undefined ? message.createdAt : Math.min(oldest, message.createdAt);
    return Promise.resolve({ depth: this.messages.size, oldestCreatedAt: oldest });
  }

  /** Stores a webhook's new state, keeping the set of active ones (the global cap) and the ended ones kept in step. */
  private keep(task: TaskRecord, webhookId: string, subscription: Subscription): void {
    task.subscriptions.set(webhookId, subscription);
    if (subscription.state === 'active') {
      this.active.add(webhookId);
      return;
    }
    this.active.delete(webhookId);
    pruneEnded(task);
  }

  private claimOf(taskKey: string, task: TaskRecord): WatchClaim {
    return {
      taskKey,
      token: TOKEN,
      provider: task.provider,
      nativeId: task.nativeId,
      baseline: task.baseline,
      watchUntil: task.watchUntil,
      version: String(task.version),
      subscriptions: [...task.subscriptions.values()].filter(getsNewEvents),
    };
  }

  /** Drops what Redis would have expired: tasks not written for RETENTION_MS, and their messages. */
  private prune(now: number): void {
    for (const [taskKey, task] of this.tasks) {
      if (task.writtenAt + RETENTION_MS >= now) continue;
      this.tasks.delete(taskKey);
      for (const id of task.subscriptions.keys()) this.active.delete(id);
      for (const [id, message] of this.messages) if (message.taskKey === taskKey) this.messages.delete(id);
    }
  }
}

/** Keeps the latest MAX_ENDED_PER_TASK ended webhooks of a task (by creation, for their logs); older ones go. */
function pruneEnded(task: TaskRecord): void {
  const ended = [...task.subscriptions.values()]
    .filter((subscription) => subscription.state === 'ended')
    .sort((left, right) => left.createdAt - right.createdAt || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
  for (const subscription of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_PER_TASK))) {
    task.subscriptions.delete(subscription.id);
    task.logs.delete(subscription.id);
  }
}
