/**
 * The WebhookStore of a single gateway (REDIS_URL unset): maps in this process, with the
 * same rules as the Redis store (the contract suite runs both); nothing survives a
 * restart. Records expire like Redis keys would, RETENTION_MS after their task was last
 * written. Every step costs the same however many tasks are held: tasks are kept in the
 * order they were last written (so expiry looks only at the oldest), the watched ones
 * nobody holds are a set of their own, and each client's webhooks are indexed (so its cap
 * is a count, and its oldest ended webhook the first entry of a map).
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
  TargetBudget,
  WatchClaim,
  WebhookDelivery,
} from './model.js';
import type { QueueStats, WebhookStore } from './store.js';

interface TaskRecord {
  /** taskKeyOf(provider, nativeId). */
  key: string;
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
  /** Its messages not yet done. */
  messageIds: Set<string>;
  writtenAt: number;
}

/** One client's webhooks, webhook id -> task key. */
interface ClientRecord {
  active: Map<string, string>;
  /** In the order they ended: the first is the one forgotten first. */
  ended: Map<string, string>;
}

interface StoredMessage extends NewMessage {
  dueAt: number;
  attempts: number;
}

const TOKEN = 'this-process';

export class InProcessWebhookStore implements WebhookStore {
  readonly durable = false;
  /** Least recently written first. */
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly messages = new Map<string, StoredMessage>();
  /** Active webhooks in all (the global cap). */
  private readonly active = new Set<string>();
  private readonly clients = new Map<string, ClientRecord>();
  /** Watched tasks nobody holds: what claimWatches looks at. */
  private readonly watchable = new Set<string>();

  /** What the store holds, for tests and for a look at its size. */
  get size(): { tasks: number; webhooks: number; messages: number; clients: number } {
    let webhooks = 0;
    for (const client of this.clients.values()) webhooks += client.active.size + client.ended.size;
    return { tasks: this.tasks.size, webhooks, messages: this.messages.size, clients: this.clients.size };
  }

  register(registration: Registration): Promise<RegisterOutcome> {
    const { subscription } = registration;
    const now = Date.now();
    this.prune(now);
    const taskKey = taskKeyOf(registration.provider, registration.nativeId);
    const existing = this.tasks.get(taskKey);
    let activeHere = 0;
    for (const candidate of existing?.subscriptions.values() ?? []) if (candidate.state === 'active') activeHere++;
    if (activeHere >= registration.maxPerTask) return Promise.resolve('task_limit');
    if (this.active.size >= registration.maxSubscriptions) return Promise.resolve('global_limit');
    const client = this.clients.get(subscription.client);
    if ((client?.active.size ?? 0) >= registration.maxPerClient) return Promise.resolve('client_limit');
    if (client !== undefined) this.makeRoom(client, registration.maxPerClient);

    const task = this.tasks.get(taskKey) ?? {
      key: taskKey,
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
      messageIds: new Set(),
      writtenAt: now,
    };
    this.touch(task, now);
    task.baseline ??= registration.baseline;
    task.version++;
    task.logs.set(subscription.id, []);
    const stored = { ...subscription, pending: registration.messages.length };
    this.keep(task, subscription.id, registration.terminal ? finalized(stored, 'finished') : stored);
    for (const message of registration.messages) this.addMessage(task, { ...message, dueAt: now, attempts: 0 });
    if (!registration.terminal) {
      task.watchUntil = Math.max(task.watchUntil, registration.watchUntil);
      task.watched = true;
      if (!task.owned) this.watchable.add(taskKey);
    }
    return Promise.resolve('registered');
  }

  list(taskKeys: readonly string[], client: string): Promise<Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }>> {
    this.prune(Date.now());
    const listed: Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }> = [];
    for (const taskKey of new Set(taskKeys)) {
      const task = this.tasks.get(taskKey);
      for (const subscription of task?.subscriptions.values() ?? []) {
        if (subscription.client === client) listed.push({ subscription, deliveries: [...(task!.logs.get(subscription.id) ?? [])] });
      }
    }
    return Promise.resolve(listed.sort((left, right) => left.subscription.createdAt - right.subscription.createdAt));
  }

  end(taskKeys: readonly string[], webhookId: string, client: string, reason: EndReason): Promise<boolean> {
    const task = taskKeys.map((taskKey) => this.tasks.get(taskKey)).find((candidate) => candidate?.subscriptions.has(webhookId) === true);
    const subscription = task?.subscriptions.get(webhookId);
    if (task === undefined || subscription?.client !== client) return Promise.resolve(false);
    if (subscription.state === 'active') {
      this.touch(task, Date.now());
      task.version++;
      this.keep(task, webhookId, { ...subscription, state: 'ended', endedReason: reason, final: true });
    }
    return Promise.resolve(true);
  }

  activeCount(client: string): Promise<number> {
    this.prune(Date.now());
    return Promise.resolve(this.clients.get(client)?.active.size ?? 0);
  }

  claimWatches(limit: number): Promise<WatchClaim[]> {
    const now = Date.now();
    this.prune(now);
    const claims: WatchClaim[] = [];
    for (const taskKey of this.watchable) {
      if (claims.length >= limit) break;
      const task = this.tasks.get(taskKey)!;
      if (task.claimableAt > now) continue;
      task.owned = true;
      this.watchable.delete(taskKey);
      claims.push(this.claimOf(task));
    }
    return Promise.resolve(claims);
  }

  reloadWatch(claim: WatchClaim): Promise<WatchClaim | undefined> {
    const task = this.tasks.get(claim.taskKey);
    return Promise.resolve(task?.owned === true && task.watched ? this.claimOf(task) : undefined);
  }

  renewWatches(claims: readonly WatchClaim[]): Promise<string[]> {
    return Promise.resolve(claims.filter((claim) => this.tasks.get(claim.taskKey)?.owned !== true).map((claim) => claim.taskKey));
  }

  releaseWatches(claims: readonly WatchClaim[], delayMs: number): Promise<void> {
    for (const claim of claims) {
      const task = this.tasks.get(claim.taskKey);
      if (task?.owned !== true) continue;
      task.owned = false;
      task.claimableAt = Date.now() + delayMs;
      if (task.watched) this.watchable.add(task.key);
    }
    return Promise.resolve();
  }

  recordChange(claim: WatchClaim, change: Change): Promise<ChangeOutcome> {
    const task = this.tasks.get(claim.taskKey);
    if (task === undefined || !task.owned || !task.watched) return Promise.resolve({ outcome: 'lost' });
    if (String(task.version) !== claim.version) return Promise.resolve({ outcome: 'stale' });
    const now = Date.now();
    this.touch(task, now);
    task.baseline = change.baseline;
    const claimed: ClaimedMessage[] = [];
    for (const message of change.messages) {
      const take = claimed.length < change.claim.max;
      this.addMessage(task, { ...message, dueAt: take ? now + change.claim.leaseMs : now, attempts: take ? 1 : 0 });
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
    this.touch(task, Date.now());
    task.watched = false;
    task.owned = false;
    task.version++;
    for (const [id, subscription] of task.subscriptions) if (!subscription.final) this.keep(task, id, finalized(subscription, reason));
    return Promise.resolve();
  }

  claimDue(limit: number, leaseMs: number, targets: TargetBudget): Promise<ClaimedMessage[]> {
    const now = Date.now();
    const claimed: ClaimedMessage[] = [];
    const taken = new Map<string, number>();
    // In the order they were made (a Map's), which is about the order they came due: no sort of the whole queue.
    for (const message of this.messages.values()) {
      if (claimed.length >= limit) break;
      if (message.dueAt > now) continue;
      const task = this.tasks.get(message.taskKey);
      if (task?.subscriptions.get(message.webhookId)?.state !== 'active') {
        // Its webhook ended (deleted, 410) or was forgotten: dropped unsent.
        this.deleteMessage(message, task);
        continue;
      }
      const used = taken.get(message.target) ?? targets.busy[message.target] ?? 0;
      if (used >= targets.perTarget) continue;
      taken.set(message.target, used + 1);
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
    this.touch(task, Date.now());
    const log = task.logs.get(message.webhookId) ?? [];
    log.push(delivery);
    if (log.length > MAX_LOG_ENTRIES) log.splice(0, log.length - MAX_LOG_ENTRIES);
    if (task.subscriptions.has(message.webhookId)) task.logs.set(message.webhookId, log);
    if (next.kind === 'retry') {
      stored.dueAt = next.at;
      return Promise.resolve(true);
    }
    this.deleteMessage(stored, task);
    const subscription = task.subscriptions.get(message.webhookId);
    if (subscription !== undefined) {
      if (next.kind === 'gone' && subscription.state === 'active') task.version++;
      this.keep(task, message.webhookId, afterMessageDone(subscription, next));
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

  /** Marks the task written now: it moves to the end of the expiry order. */
  private touch(task: TaskRecord, now: number): void {
    task.writtenAt = now;
    this.tasks.delete(task.key);
    this.tasks.set(task.key, task);
  }

  private addMessage(task: TaskRecord, message: StoredMessage): void {
    this.messages.set(message.id, message);
    task.messageIds.add(message.id);
  }

  private deleteMessage(message: NewMessage, task: TaskRecord | undefined): void {
    this.messages.delete(message.id);
    task?.messageIds.delete(message.id);
  }

  /**
   * Stores a webhook's new state, keeping the indexes in step: the active ones (the global
   * and the client's caps), the client's ended ones in the order they ended, and the task's
   * latest ended ones.
   */
  private keep(task: TaskRecord, webhookId: string, subscription: Subscription): void {
    const previous = task.subscriptions.get(webhookId);
    task.subscriptions.set(webhookId, subscription);
    const client = this.clientRecord(subscription.client);
    if (subscription.state === 'active') {
      this.active.add(webhookId);
      client.active.set(webhookId, task.key);
      return;
    }
    if (previous?.state === 'ended') return;
    this.active.delete(webhookId);
    client.active.delete(webhookId);
    client.ended.set(webhookId, task.key);
    this.pruneEnded(task);
  }

  private clientRecord(client: string): ClientRecord {
    let record = this.clients.get(client);
    if (record === undefined) {
      record = { active: new Map(), ended: new Map() };
      this.clients.set(client, record);
    }
    return record;
  }

  /** Forgets the client's oldest ended webhooks until one more fits under `max`. */
  private makeRoom(client: ClientRecord, max: number): void {
    let excess = client.active.size + client.ended.size - max + 1;
    for (const [webhookId, taskKey] of client.ended) {
      if (excess <= 0) break;
      const task = this.tasks.get(taskKey);
      if (task === undefined) client.ended.delete(webhookId);
      else this.forget(task, webhookId);
      excess--;
    }
  }

  /** Keeps the task's latest MAX_ENDED_PER_TASK ended webhooks (by creation, for their logs); older ones go. */
  private pruneEnded(task: TaskRecord): void {
    const ended = [...task.subscriptions.values()]
      .filter((subscription) => subscription.state === 'ended')
      .sort((left, right) => left.createdAt - right.createdAt || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
    for (const subscription of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_PER_TASK))) this.forget(task, subscription.id);
  }

  /** Drops one webhook and its log; a task left without webhooks goes with it. */
  private forget(task: TaskRecord, webhookId: string): void {
    const subscription = task.subscriptions.get(webhookId);
    task.subscriptions.delete(webhookId);
    task.logs.delete(webhookId);
    this.active.delete(webhookId);
    if (subscription !== undefined) this.unindex(subscription.client, webhookId);
    if (task.subscriptions.size === 0) this.forgetTask(task);
  }

  private unindex(clientId: string, webhookId: string): void {
    const client = this.clients.get(clientId);
    if (client === undefined) return;
    client.active.delete(webhookId);
    client.ended.delete(webhookId);
    if (client.active.size === 0 && client.ended.size === 0) this.clients.delete(clientId);
  }

  private forgetTask(task: TaskRecord): void {
    this.tasks.delete(task.key);
    this.watchable.delete(task.key);
    for (const id of task.messageIds) this.messages.delete(id);
    for (const subscription of task.subscriptions.values()) {
      this.active.delete(subscription.id);
      this.unindex(subscription.client, subscription.id);
    }
  }

  private claimOf(task: TaskRecord): WatchClaim {
    return {
      taskKey: task.key,
      token: TOKEN,
      provider: task.provider,
      nativeId: task.nativeId,
      baseline: task.baseline,
      watchUntil: task.watchUntil,
      version: String(task.version),
      subscriptions: [...task.subscriptions.values()].filter(getsNewEvents),
    };
  }

  /** Drops what Redis would have expired: tasks not written for RETENTION_MS (the oldest first, so only those are looked at). */
  private prune(now: number): void {
    for (const task of this.tasks.values()) {
      if (task.writtenAt + RETENTION_MS >= now) break;
      this.forgetTask(task);
    }
  }
}
