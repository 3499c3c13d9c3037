/**
 * The WebhookStore of fleet mode: everything in Redis under the fleet prefix, so webhooks
 * survive a restart or the loss of a replica. Each step is one Lua script (atomic; in
 * src/webhooks/scripts/, registered once per connection, see src/fleet/lua.ts), and
 * sorted sets of "claimable after" times make the leases: `webhook:watching` (tasks;
 * whoever holds a task's lease watches it and records its changes) and one
 * `webhook:due:<receiver origin>` per receiver (message ids; whoever claims one makes
 * that attempt), with `webhook:due-targets` holding each receiver by its earliest time. A replica that dies simply stops
 * pushing its scores forward, and its tasks and attempts come due for the others.
 *
 * Keys (all under the prefix, each with a TTL of RETENTION_MS refreshed on write):
 * `webhook:task:<provider>:<native id>` a hash (provider, native id, baseline, owner,
 * version, watch window, one `sub:<webhook id>` JSON per webhook), `webhook:log:<webhook
 * id>` a list, `webhook:message:<message id>` a hash (meta, body, attempts, claim token),
 * the sorted sets `webhook:watching`, `webhook:due`, `webhook:pending` (by event time) and
 * `webhook:active` (the fleet's active webhooks, for the global cap), and per client
 * `webhook:client:<client>:active` (by expiry) and `…:ended` (by when each ended) of
 * `<webhook id>:<task>` entries, so its cap is two counts and its oldest ended webhook
 * the first entry. Scripts address keys they derive from ids they read, so this store
 * wants one Redis (or a primary with replicas), not a cluster. The scripts' argument
 * tables and reply schemas are in src/webhooks/redis-scripts.ts.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { LuaScript } from '../fleet/lua.js';
import { UNAVAILABLE, type FleetRedis, type RedisKey } from '../fleet/redis.js';
import { WebhookDeliverySchema } from '../../schemas/webhooks.js';
import { MAX_ENDED_PER_TASK, MAX_LOG_ENTRIES, RETENTION_MS, getsNewEvents, taskKeyOf } from './model.js';
import type {
  AttemptNext,
  Change,
  ChangeOutcome,
  ClaimedMessage,
  EndReason,
  RegisterOutcome,
  Registration,
  Subscription,
  TargetBudget,
  WatchClaim,
  WebhookDelivery,
} from './model.js';
import { BaselineSchema, hashOf, MessageMetaSchema, messageFields, parseJson, SCRIPTS, SubscriptionSchema, type ScriptContext } from './redis-scripts.js';
import type { QueueStats, WebhookStore } from './store.js';

/** The deadline of one webhook step while Redis is up (a dead Redis answers UNAVAILABLE at once); below ioredis's own 1-s backstop. */
const COMMAND_TIMEOUT_MS = 900;

function unavailable(): GatewayError {
  return new GatewayError('service_unavailable', { retryAfter: 5, detail: 'Webhooks are kept in Redis, and Redis is unavailable right now; retry shortly.' });
}

/** Redis's answers when it will not write: out of memory (noeviction), a read-only replica, a failed snapshot, too few replicas. */
const WRITES_REFUSED = /^(OOM|READONLY|MISCONF|NOREPLICAS)\b/;

function writesRefused(): GatewayError {
  return new GatewayError('service_unavailable', {
    retryAfter: 30,
    detail: 'Webhooks are kept in Redis, and Redis refuses writes right now (out of memory, or read-only), so this one could not be kept; retry later.',
  });
}

/** Task ids per script call (bounded script arguments). */
const IDS_PER_CALL = 500;

function taskKeyBatches(claims: readonly WatchClaim[]): string[][] {
  const batches: string[][] = [];
  for (let start = 0; start < claims.length; start += IDS_PER_CALL) batches.push(claims.slice(start, start + IDS_PER_CALL).map((claim) => claim.taskKey));
  return batches;
}

export class RedisWebhookStore implements WebhookStore {
  readonly durable = true;
  /** This replica's claim token of watched tasks. */
  private readonly token = randomUUID();
  private readonly watching: RedisKey;
  private readonly dueTargets: RedisKey;
  private readonly pending: RedisKey;
  private readonly active: RedisKey;

  /** `onWritesRefused` hears Redis's refusal (its first words, e.g. `OOM command not allowed…`) when a client's step got a 503 for it. */
  constructor(
    private readonly redis: FleetRedis,
    private readonly onWritesRefused?: (reason: string) => void,
  ) {
    this.watching = redis.key('webhook', 'watching');
    this.dueTargets = redis.key('webhook', 'due-targets');
    this.pending = redis.key('webhook', 'pending');
    this.active = redis.key('webhook', 'active');
  }

  private context(now = Date.now()): ScriptContext {
    return {
      active: this.active,
      watching: this.watching,
      duePrefix: this.prefixOf('due'),
      dueTargets: this.dueTargets,
      pending: this.pending,
      clientPrefix: this.prefixOf('client'),
      logPrefix: this.prefixOf('log'),
      taskPrefix: this.prefixOf('task'),
      now,
      retention: RETENTION_MS,
      keepEnded: MAX_ENDED_PER_TASK,
    };
  }

  private clientKey(client: string, which: 'active' | 'ended'): RedisKey {
    return this.redis.key('webhook', 'client', client, which);
  }

  private taskHash(taskKey: string): RedisKey {
    return this.redis.key('webhook', 'task', taskKey);
  }

  private messageKey(messageId: string): RedisKey {
    return this.redis.key('webhook', 'message', messageId);
  }

  private logKey(webhookId: string): RedisKey {
    return this.redis.key('webhook', 'log', webhookId);
  }

  private prefixOf(kind: string): string {
    return this.redis.key('webhook', kind, '');
  }

  private run<Args extends object | undefined>(script: LuaScript<Args>, keys: readonly RedisKey[], args: Args): Promise<unknown> {
    // Not a status answer's hot path, and a step that timed out may still have happened: a longer deadline.
    return this.redis.runScript(script, keys, args, { timeoutMs: COMMAND_TIMEOUT_MS });
  }

  /**
   * `run` for a step a client waits on: Redis refusing to write is a 503 that says so (every
   * writing script is refused as a whole, before it writes anything: src/fleet/lua.ts).
   */
  private async runOrRefuse<Args extends object | undefined>(script: LuaScript<Args>, keys: readonly RedisKey[], args: Args): Promise<unknown> {
    try {
      return await this.redis.runScript(script, keys, args, { timeoutMs: COMMAND_TIMEOUT_MS, rejectReplyErrors: true });
    } catch (error) {
      if (error instanceof Error && WRITES_REFUSED.test(error.message)) {
        this.onWritesRefused?.(error.message);
        throw writesRefused();
      }
      throw error;
    }
  }

  async register(registration: Registration): Promise<RegisterOutcome> {
    const { subscription, messages } = registration;
    const reply = await this.runOrRefuse(SCRIPTS.register, [this.taskHash(taskKeyOf(registration.provider, registration.nativeId)), ...messages.map((message) => this.messageKey(message.id))], {
      ctx: this.context(),
      webhook: subscription,
      taskKey: taskKeyOf(registration.provider, registration.nativeId),
      maxPerTask: registration.maxPerTask,
      maxInAll: registration.maxSubscriptions,
      maxPerClient: registration.maxPerClient,
      baseline: JSON.stringify(registration.baseline),
      provider: registration.provider,
      nativeId: registration.nativeId,
      watchUntil: registration.watchUntil,
      terminal: registration.terminal,
      messages: messages.map(messageFields),
    });
    if (reply === 'registered' || reply === 'task_limit' || reply === 'global_limit' || reply === 'client_limit') return reply;
    throw unavailable();
  }

  async list(taskKeys: readonly string[], client: string): Promise<Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }>> {
    const reply = await this.run(SCRIPTS.list, [...new Set(taskKeys)].map((taskKey) => this.taskHash(taskKey)), { logPrefix: this.prefixOf('log'), client });
    if (!Array.isArray(reply)) throw unavailable();
    const listed: Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }> = [];
    for (const entry of reply as unknown[]) {
      if (!Array.isArray(entry)) continue;
      const subscription = SubscriptionSchema.safeParse(parseJson(entry[0]));
      if (!subscription.success) continue;
      const deliveries = (Array.isArray(entry[1]) ? entry[1] : []).flatMap((text: unknown) => {
        const parsed = WebhookDeliverySchema.safeParse(parseJson(text));
        return parsed.success ? [parsed.data] : [];
      });
      listed.push({ subscription: subscription.data, deliveries });
    }
    return listed.sort((left, right) => left.subscription.createdAt - right.subscription.createdAt);
  }

  async end(taskKeys: readonly string[], webhookId: string, client: string, reason: EndReason): Promise<boolean> {
    const unique = [...new Set(taskKeys)];
    const reply = await this.runOrRefuse(SCRIPTS.end, unique.map((taskKey) => this.taskHash(taskKey)), { ctx: this.context(), taskKeys: unique, webhookId, client, reason });
    if (reply === UNAVAILABLE) throw unavailable();
    return reply === 1;
  }

  async activeCount(client: string): Promise<number> {
    // Entries score their expiry: those past it belong to webhooks that expired with their tasks.
    const reply = await this.redis.run((connection) => connection.zcount(this.clientKey(client, 'active'), `(${Date.now()}`, '+inf'));
    if (reply === UNAVAILABLE) throw unavailable();
    return reply;
  }

  async claimWatches(limit: number, leaseMs: number): Promise<WatchClaim[]> {
    const reply = await this.run(SCRIPTS.claimWatches, [this.watching], { now: Date.now(), leaseMs, limit, token: this.token, taskPrefix: this.prefixOf('task') });
    if (!Array.isArray(reply)) return [];
    const claims: WatchClaim[] = [];
    for (const entry of reply as unknown[]) {
      if (!Array.isArray(entry)) continue;
      const claim = this.claimOf(String(entry[0]), hashOf(entry[1]));
      if (claim !== undefined) claims.push(claim);
    }
    return claims;
  }

  async reloadWatch(claim: WatchClaim): Promise<WatchClaim | undefined | 'unavailable'> {
    const reply = await this.run(SCRIPTS.reloadWatch, [this.taskHash(claim.taskKey)], { token: this.token });
    if (reply === UNAVAILABLE) return 'unavailable';
    return Array.isArray(reply) ? this.claimOf(claim.taskKey, hashOf(reply)) : undefined;
  }

  async renewWatches(claims: readonly WatchClaim[], leaseMs: number): Promise<string[] | 'unavailable'> {
    const lost: string[] = [];
    for (const taskKeys of taskKeyBatches(claims)) {
      const reply = await this.run(SCRIPTS.renewWatches, [this.watching], { leaseUntil: Date.now() + leaseMs, token: this.token, taskPrefix: this.prefixOf('task'), taskKeys });
      if (!Array.isArray(reply)) return 'unavailable';
      lost.push(...(reply as unknown[]).map(String));
    }
    return lost;
  }

  async releaseWatches(claims: readonly WatchClaim[], delayMs: number): Promise<void> {
    for (const taskKeys of taskKeyBatches(claims)) {
      await this.run(SCRIPTS.releaseWatches, [this.watching], { claimableAt: Date.now() + delayMs, token: this.token, taskPrefix: this.prefixOf('task'), taskKeys });
    }
  }

  async recordChange(claim: WatchClaim, change: Change): Promise<ChangeOutcome> {
    const messageToken = randomUUID();
    const reply = await this.run(SCRIPTS.recordChange, [this.taskHash(claim.taskKey), ...change.messages.map((message) => this.messageKey(message.id))], {
      ctx: this.context(),
      token: this.token,
      version: claim.version,
      baseline: JSON.stringify(change.baseline),
      terminal: change.terminal,
      claimMax: change.claim.max,
      leaseMs: change.claim.leaseMs,
      taskKey: claim.taskKey,
      messageToken,
      finals: change.finals,
      messages: change.messages.map((message) => ({ ...messageFields(message), webhookId: message.webhookId })),
    });
    if (!Array.isArray(reply)) return { outcome: 'unavailable' };
    const [outcome, claimedCount] = reply as unknown[];
    if (outcome === 'lost' || outcome === 'stale') return { outcome };
    const count = typeof claimedCount === 'number' ? claimedCount : 0;
    return { outcome: 'recorded', claimed: change.messages.slice(0, count).map((message) => ({ ...message, attempt: 1, token: messageToken })) };
  }

  async finishWatch(claim: WatchClaim, reason: EndReason): Promise<void> {
    await this.run(SCRIPTS.finishWatch, [this.taskHash(claim.taskKey)], { ctx: this.context(), token: this.token, taskKey: claim.taskKey, reason });
  }

  async claimDue(limit: number, leaseMs: number, targets: TargetBudget): Promise<ClaimedMessage[]> {
    const token = randomUUID();
    const reply = await this.run(SCRIPTS.claimDue, [this.dueTargets, this.pending], {
      ctx: this.context(),
      leaseMs,
      limit,
      busyCount: Object.keys(targets.busy).length,
      perTarget: targets.perTarget,
      busy: targets.busy,
      token,
      messagePrefix: this.prefixOf('message'),
    });
    if (!Array.isArray(reply)) return [];
    const claimed: ClaimedMessage[] = [];
    for (const entry of reply as unknown[]) {
      if (!Array.isArray(entry)) continue;
      const meta = MessageMetaSchema.safeParse(parseJson(entry[1]));
      if (!meta.success || typeof entry[2] !== 'string') continue;
      claimed.push({ ...meta.data, body: entry[2], attempt: Number(entry[3]), token });
    }
    return claimed;
  }

  async finishAttempt(message: ClaimedMessage, delivery: WebhookDelivery, next: AttemptNext): Promise<boolean> {
    const reply = await this.run(SCRIPTS.finishAttempt, [this.messageKey(message.id), this.taskHash(message.taskKey), this.logKey(message.webhookId)], {
      ctx: this.context(),
      token: message.token,
      delivery: JSON.stringify(delivery),
      next: next.kind,
      retryAt: next.kind === 'retry' ? next.at : 0,
      messageId: message.id,
      webhookId: message.webhookId,
      taskKey: message.taskKey,
      target: message.target,
      logMax: MAX_LOG_ENTRIES,
    });
    return reply !== UNAVAILABLE;
  }

  async releaseMessages(messages: readonly ClaimedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.run(SCRIPTS.releaseMessages, [this.dueTargets], {
      ctx: this.context(),
      messagePrefix: this.prefixOf('message'),
      messages: messages.map((message) => ({ token: message.token, id: message.id, target: message.target })),
    });
  }

  async queueStats(): Promise<QueueStats | undefined> {
    const reply = await this.run(SCRIPTS.queueStats, [this.pending], undefined);
    if (!Array.isArray(reply)) return undefined;
    const [depth, oldest] = reply as [unknown, unknown];
    const score = Array.isArray(oldest) ? Number(oldest[1]) : Number.NaN;
    return { depth: Number(depth) || 0, oldestCreatedAt: Number.isFinite(score) ? score : undefined };
  }

  private claimOf(taskKey: string, hash: Map<string, string>): WatchClaim | undefined {
    const provider = hash.get('provider');
    const nativeId = hash.get('native');
    if (provider === undefined || nativeId === undefined) return undefined;
    const baseline = BaselineSchema.safeParse(parseJson(hash.get('baseline')));
    const subscriptions: Subscription[] = [];
    for (const [field, text] of hash) {
      if (!field.startsWith('sub:')) continue;
      const parsed = SubscriptionSchema.safeParse(parseJson(text));
      if (parsed.success && getsNewEvents(parsed.data)) subscriptions.push(parsed.data);
    }
    return {
      taskKey,
      token: this.token,
      provider,
      nativeId,
      baseline: baseline.success ? baseline.data : undefined,
      watchUntil: Number(hash.get('watch_until') ?? 0),
      version: hash.get('version') ?? '0',
      subscriptions,
    };
  }
}
