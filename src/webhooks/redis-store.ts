/**
 * The WebhookStore of fleet mode: everything in Redis under the fleet prefix, so webhooks
 * survive a restart or the loss of a replica. Each step is one Lua script (atomic), and
 * two sorted sets of "claimable after" times make the leases: `webhook:watching` (task ids;
 * whoever holds a task's lease watches it and records its changes) and `webhook:due`
 * (message ids; whoever claims one makes that attempt). A replica that dies simply stops
 * pushing its scores forward, and its tasks and attempts come due for the others.
 *
 * Keys (all under the prefix, each with a TTL of RETENTION_MS refreshed on write):
 * `webhook:task:<task id>` a hash (provider, native id, baseline, owner, version, watch
 * window, one `sub:<webhook id>` JSON per webhook), `webhook:log:<webhook id>` a list,
 * `webhook:message:<message id>` a hash (meta, body, attempts, claim token), and the sorted
 * sets `webhook:watching`, `webhook:due`, `webhook:pending` (by event time) and
 * `webhook:active` (the fleet's active webhooks, for the global cap). Scripts address the
 * per-task and per-message keys of the ids they read from the sorted sets, so this store
 * wants one Redis (or a primary with replicas), not a cluster.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { UNAVAILABLE, type FleetRedis, type RedisKey } from '../fleet/redis.js';
import { WEBHOOK_EVENTS, WebhookDeliverySchema } from '../../schemas/webhooks.js';
import { TASK_STATUSES } from '../../schemas/task.js';
import { MAX_ENDED_PER_TASK, MAX_LOG_ENTRIES, RETENTION_MS, getsNewEvents } from './model.js';
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

/** The deadline of one webhook step while Redis is up (a dead Redis answers UNAVAILABLE at once); below ioredis's own 1-s backstop. */
const COMMAND_TIMEOUT_MS = 900;

const SubscriptionSchema: z.ZodType<Subscription> = z.object({
  id: z.string(),
  taskId: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  createdAt: z.number(),
  origin: z.string(),
  state: z.enum(['active', 'ended']),
  endedReason: z.enum(['finished', 'gone', 'deleted', 'expired', 'task_not_found']).optional(),
  final: z.boolean(),
  pending: z.number(),
});
const BaselineSchema: z.ZodType<Baseline> = z.object({ status: z.enum(TASK_STATUSES), progress: z.number().nullable() });
const MessageMetaSchema = z.object({
  id: z.string(),
  webhookId: z.string(),
  taskId: z.string(),
  event: z.enum(WEBHOOK_EVENTS),
  url: z.string(),
  createdAt: z.number(),
});

// Shared by the scripts: decode a webhook, and end it (out of the global count).
const LUA_HELPERS = `
local function decoded(text) if text then return cjson.decode(text) end return nil end
local function endSub(sub, reason, activeKey)
  sub.state = 'ended'
  sub.endedReason = reason
  redis.call('ZREM', activeKey, sub.id)
end
`;

// KEYS: task, active, watching, due, pending, message keys…
// ARGV: now, webhook id, webhook JSON, max per task, max in all, baseline, provider, native id,
// watch until, retention, terminal, active until, task id, log prefix, max ended, then 4 per message (id, meta, body, created at).
const REGISTER = `${LUA_HELPERS}
local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local fields = redis.call('HGETALL', KEYS[1])
local active = 0
local ended = {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) == 'sub:' then
    local sub = cjson.decode(fields[i + 1])
    if sub.state == 'active' then active = active + 1 else table.insert(ended, sub) end
  end
end
if active >= tonumber(ARGV[4]) then return 'task_limit' end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 'global_limit' end
local sub = cjson.decode(ARGV[3])
local messages = #KEYS - 5
sub.pending = messages
if ARGV[11] == '1' then
  sub.final = true
  if messages == 0 then sub.state = 'ended' sub.endedReason = 'finished' else sub.endedReason = 'finished' end
end
redis.call('HSET', KEYS[1], 'sub:' .. ARGV[2], cjson.encode(sub), 'provider', ARGV[7], 'native', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSETNX', KEYS[1], 'baseline', ARGV[6])
if sub.state == 'active' then redis.call('ZADD', KEYS[2], ARGV[12], ARGV[2]) end
if ARGV[11] ~= '1' then
  local watchUntil = tonumber(redis.call('HGET', KEYS[1], 'watch_until') or '0')
  if tonumber(ARGV[9]) > watchUntil then redis.call('HSET', KEYS[1], 'watch_until', ARGV[9]) end
  redis.call('ZADD', KEYS[3], 'NX', now, ARGV[13])
end
for index = 1, messages do
  local at = 16 + (index - 1) * 4
  local key = KEYS[5 + index]
  redis.call('HSET', key, 'meta', ARGV[at + 1], 'body', ARGV[at + 2], 'attempts', 0)
  redis.call('PEXPIRE', key, retention)
  redis.call('ZADD', KEYS[4], now, ARGV[at])
  redis.call('ZADD', KEYS[5], ARGV[at + 3], ARGV[at])
end
local keep = tonumber(ARGV[15])
if #ended > keep then
  table.sort(ended, function(left, right) return left.createdAt < right.createdAt end)
  for i = 1, #ended - keep do
    redis.call('HDEL', KEYS[1], 'sub:' .. ended[i].id)
    redis.call('DEL', ARGV[14] .. ended[i].id)
  end
end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], retention) end
return 'registered'`;

// KEYS: task. ARGV: log prefix. Each webhook's JSON with its log.
const LIST = `
local fields = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) == 'sub:' then
    table.insert(out, {fields[i + 1], redis.call('LRANGE', ARGV[1] .. string.sub(fields[i], 5), 0, -1)})
  end
end
return out`;

// KEYS: task, active. ARGV: webhook id, reason.
const END = `${LUA_HELPERS}
local sub = decoded(redis.call('HGET', KEYS[1], 'sub:' .. ARGV[1]))
if not sub then return 0 end
if sub.state == 'active' then
  sub.final = true
  endSub(sub, ARGV[2], KEYS[2])
  redis.call('HSET', KEYS[1], 'sub:' .. ARGV[1], cjson.encode(sub))
  redis.call('HINCRBY', KEYS[1], 'version', 1)
end
return 1`;

// KEYS: watching. ARGV: now, lease, limit, token, task prefix. Each claimed task's id and hash.
const CLAIM_WATCHES = `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[5] .. id
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HSET', key, 'owner', ARGV[4])
    table.insert(out, {id, redis.call('HGETALL', key)})
  end
end
return out`;

// KEYS: task. ARGV: token.
const RELOAD_WATCH = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return false end
return redis.call('HGETALL', KEYS[1])`;

// KEYS: watching. ARGV: new score, token, task prefix, task ids… Answers the ids no longer ours.
const RENEW_WATCHES = `
local lost = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', ARGV[3] .. id, 'owner') == ARGV[2] and redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
  else
    table.insert(lost, id)
  end
end
return lost`;

// KEYS: watching. ARGV: claimable at, token, task prefix, task ids…
const RELEASE_WATCHES = `
for i = 4, #ARGV do
  local key = ARGV[3] .. ARGV[i]
  if redis.call('HGET', key, 'owner') == ARGV[2] then
    redis.call('HDEL', key, 'owner')
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
  end
end
return 1`;

// KEYS: task, watching, due, pending, active, message keys…
// ARGV: token, version, baseline, terminal, now, retention, claim max, lease, task id, message token,
// finals count, finals…, then 5 per message (id, meta, body, created at, webhook id).
const RECORD_CHANGE = `${LUA_HELPERS}
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {'lost'} end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] then return {'stale'} end
local now = tonumber(ARGV[5])
local retention = tonumber(ARGV[6])
local claimMax = tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'baseline', ARGV[3])
local subs = {}
local function sub(id)
  if subs[id] == nil then subs[id] = decoded(redis.call('HGET', KEYS[1], 'sub:' .. id)) or false end
  return subs[id]
end
local finals = tonumber(ARGV[11])
local claimed = 0
for index = 1, #KEYS - 5 do
  local at = 12 + finals + (index - 1) * 5
  local key = KEYS[5 + index]
  local take = claimed < claimMax
  redis.call('HSET', key, 'meta', ARGV[at + 1], 'body', ARGV[at + 2], 'attempts', take and 1 or 0)
  local due = now
  if take then
    redis.call('HSET', key, 'token', ARGV[10])
    claimed = claimed + 1
    due = now + tonumber(ARGV[8])
  end
  redis.call('PEXPIRE', key, retention)
  redis.call('ZADD', KEYS[3], due, ARGV[at])
  redis.call('ZADD', KEYS[4], ARGV[at + 3], ARGV[at])
  local owner = sub(ARGV[at + 4])
  if owner then owner.pending = (owner.pending or 0) + 1 end
end
for i = 1, finals do
  local final = sub(ARGV[11 + i])
  if final and final.state == 'active' then
    final.final = true
    if final.pending == 0 then endSub(final, 'finished', KEYS[5]) else final.endedReason = 'finished' end
  end
end
for id, value in pairs(subs) do
  if value then redis.call('HSET', KEYS[1], 'sub:' .. id, cjson.encode(value)) end
end
if ARGV[4] == '1' then
  redis.call('HDEL', KEYS[1], 'owner')
  redis.call('ZREM', KEYS[2], ARGV[9])
end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], retention) end
return {'recorded', claimed}`;

// KEYS: task, watching, active. ARGV: token, task id, reason.
const FINISH_WATCH = `${LUA_HELPERS}
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'owner')
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) == 'sub:' then
    local sub = cjson.decode(fields[i + 1])
    if sub.state == 'active' and not sub.final then
      sub.final = true
      if sub.pending == 0 then endSub(sub, ARGV[3], KEYS[3]) else sub.endedReason = ARGV[3] end
      redis.call('HSET', KEYS[1], fields[i], cjson.encode(sub))
    end
  end
end
return 1`;

// KEYS: due, pending. ARGV: now, lease, limit, token, message prefix, task prefix.
// Each claimed message: id, meta, body, attempt. Messages of ended webhooks are dropped unsent.
const CLAIM_DUE = `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[5] .. id
  local meta = redis.call('HGET', key, 'meta')
  local live = false
  if meta then
    local message = cjson.decode(meta)
    local text = redis.call('HGET', ARGV[6] .. message.taskId, 'sub:' .. message.webhookId)
    live = text and cjson.decode(text).state == 'active'
  end
  if live then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HSET', key, 'token', ARGV[4])
    table.insert(out, {id, meta, redis.call('HGET', key, 'body'), redis.call('HINCRBY', key, 'attempts', 1)})
  else
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
  end
end
return out`;

// KEYS: message, task, due, pending, active, log.
// ARGV: token, delivery JSON, next (done, gone, retry, abandoned), retry at, message id, webhook id, log max, retention.
const FINISH_ATTEMPT = `${LUA_HELPERS}
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local retention = tonumber(ARGV[8])
redis.call('RPUSH', KEYS[6], ARGV[2])
redis.call('LTRIM', KEYS[6], -tonumber(ARGV[7]), -1)
redis.call('PEXPIRE', KEYS[6], retention)
if ARGV[3] == 'retry' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
  redis.call('HDEL', KEYS[1], 'token')
  return 1
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('ZREM', KEYS[4], ARGV[5])
local sub = decoded(redis.call('HGET', KEYS[2], 'sub:' .. ARGV[6]))
if sub then
  sub.pending = math.max(0, (sub.pending or 0) - 1)
  if sub.state == 'active' then
    if ARGV[3] == 'gone' then
      endSub(sub, 'gone', KEYS[5])
      redis.call('HINCRBY', KEYS[2], 'version', 1)
    elseif sub.final and sub.pending == 0 then
      endSub(sub, sub.endedReason or 'finished', KEYS[5])
    end
  end
  redis.call('HSET', KEYS[2], 'sub:' .. ARGV[6], cjson.encode(sub))
  redis.call('PEXPIRE', KEYS[2], retention)
end
return 1`;

// KEYS: due. ARGV: now, message prefix, then token and id per message.
const RELEASE_MESSAGES = `
for i = 3, #ARGV, 2 do
  local key = ARGV[2] .. ARGV[i + 1]
  if redis.call('HGET', key, 'token') == ARGV[i] then
    redis.call('HDEL', key, 'token')
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i + 1])
  end
end
return 1`;

const QUEUE_STATS = `return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')}`;

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function hashOf(flat: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (!Array.isArray(flat)) return map;
  for (let index = 0; index + 1 < flat.length; index += 2) map.set(String(flat[index]), String(flat[index + 1]));
  return map;
}

function unavailable(): GatewayError {
  return new GatewayError('service_unavailable', { retryAfter: 5, detail: 'Webhooks are kept in Redis, and Redis is unavailable right now; retry shortly.' });
}

/** Task ids per script call (bounded script arguments). */
const IDS_PER_CALL = 500;

function taskIdBatches(claims: readonly WatchClaim[]): string[][] {
  const batches: string[][] = [];
  for (let start = 0; start < claims.length; start += IDS_PER_CALL) batches.push(claims.slice(start, start + IDS_PER_CALL).map((claim) => claim.taskId));
  return batches;
}

export class RedisWebhookStore implements WebhookStore {
  readonly durable = true;
  /** This replica's claim token of watched tasks. */
  private readonly token = randomUUID();
  private readonly watching: RedisKey;
  private readonly due: RedisKey;
  private readonly pending: RedisKey;
  private readonly active: RedisKey;

  constructor(private readonly redis: FleetRedis) {
    this.watching = redis.key('webhook', 'watching');
    this.due = redis.key('webhook', 'due');
    this.pending = redis.key('webhook', 'pending');
    this.active = redis.key('webhook', 'active');
  }

  private taskKey(taskId: string): RedisKey {
    return this.redis.key('webhook', 'task', taskId);
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

  private eval(script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    // Not a status answer's hot path, and a step that timed out may still have happened: a longer deadline.
    return this.redis.run((client) => client.eval(script, keys.length, ...keys, ...args.map(String)), { timeoutMs: COMMAND_TIMEOUT_MS });
  }

  async register(registration: Registration): Promise<RegisterOutcome> {
    const { subscription, messages } = registration;
    const now = Date.now();
    const reply = await this.eval(
      REGISTER,
      [this.taskKey(subscription.taskId), this.active, this.watching, this.due, this.pending, ...messages.map((message) => this.messageKey(message.id))],
      [
        now,
        subscription.id,
        JSON.stringify(subscription),
        registration.maxPerTask,
        registration.maxSubscriptions,
        JSON.stringify(registration.baseline),
        registration.provider,
        registration.nativeId,
        registration.watchUntil,
        RETENTION_MS,
        registration.terminal ? '1' : '0',
        now + RETENTION_MS,
        subscription.taskId,
        this.prefixOf('log'),
        MAX_ENDED_PER_TASK,
        ...messages.flatMap((message) => [message.id, JSON.stringify(metaOf(message)), message.body, message.createdAt]),
      ],
    );
    if (reply === 'registered' || reply === 'task_limit' || reply === 'global_limit') return reply;
    throw unavailable();
  }

  async list(taskId: string): Promise<Array<{ subscription: Subscription; deliveries: WebhookDelivery[] }>> {
    const reply = await this.eval(LIST, [this.taskKey(taskId)], [this.prefixOf('log')]);
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

  async end(taskId: string, webhookId: string, reason: EndReason): Promise<boolean> {
    const reply = await this.eval(END, [this.taskKey(taskId), this.active], [webhookId, reason]);
    if (reply === UNAVAILABLE) throw unavailable();
    return reply === 1;
  }

  async claimWatches(limit: number, leaseMs: number): Promise<WatchClaim[]> {
    const reply = await this.eval(CLAIM_WATCHES, [this.watching], [Date.now(), leaseMs, limit, this.token, this.prefixOf('task')]);
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
    const reply = await this.eval(RELOAD_WATCH, [this.taskKey(claim.taskId)], [this.token]);
    if (reply === UNAVAILABLE) return 'unavailable';
    return Array.isArray(reply) ? this.claimOf(claim.taskId, hashOf(reply)) : undefined;
  }

  async renewWatches(claims: readonly WatchClaim[], leaseMs: number): Promise<string[] | 'unavailable'> {
    const lost: string[] = [];
    for (const ids of taskIdBatches(claims)) {
      const reply = await this.eval(RENEW_WATCHES, [this.watching], [Date.now() + leaseMs, this.token, this.prefixOf('task'), ...ids]);
      if (!Array.isArray(reply)) return 'unavailable';
      lost.push(...(reply as unknown[]).map(String));
    }
    return lost;
  }

  async releaseWatches(claims: readonly WatchClaim[], delayMs: number): Promise<void> {
    for (const ids of taskIdBatches(claims)) await this.eval(RELEASE_WATCHES, [this.watching], [Date.now() + delayMs, this.token, this.prefixOf('task'), ...ids]);
  }

  async recordChange(claim: WatchClaim, change: Change): Promise<ChangeOutcome> {
    const messageToken = randomUUID();
    const reply = await this.eval(
      RECORD_CHANGE,
      [this.taskKey(claim.taskId), this.watching, this.due, this.pending, this.active, ...change.messages.map((message) => this.messageKey(message.id))],
      [
        this.token,
        claim.version,
        JSON.stringify(change.baseline),
        change.terminal ? '1' : '0',
        Date.now(),
        RETENTION_MS,
        change.claim.max,
        change.claim.leaseMs,
        claim.taskId,
        messageToken,
        change.finals.length,
        ...change.finals,
        ...change.messages.flatMap((message) => [message.id, JSON.stringify(metaOf(message)), message.body, message.createdAt, message.webhookId]),
      ],
    );
    if (!Array.isArray(reply)) return { outcome: 'unavailable' };
    const [outcome, claimedCount] = reply as unknown[];
    if (outcome === 'lost' || outcome === 'stale') return { outcome };
    const count = typeof claimedCount === 'number' ? claimedCount : 0;
    return { outcome: 'recorded', claimed: change.messages.slice(0, count).map((message) => ({ ...message, attempt: 1, token: messageToken })) };
  }

  async finishWatch(claim: WatchClaim, reason: EndReason): Promise<void> {
    await this.eval(FINISH_WATCH, [this.taskKey(claim.taskId), this.watching, this.active], [this.token, claim.taskId, reason]);
  }

  async claimDue(limit: number, leaseMs: number): Promise<ClaimedMessage[]> {
    const token = randomUUID();
    const reply = await this.eval(CLAIM_DUE, [this.due, this.pending], [Date.now(), leaseMs, limit, token, this.prefixOf('message'), this.prefixOf('task')]);
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
    const reply = await this.eval(
      FINISH_ATTEMPT,
      [this.messageKey(message.id), this.taskKey(message.taskId), this.due, this.pending, this.active, this.logKey(message.webhookId)],
      [message.token, JSON.stringify(delivery), next.kind, next.kind === 'retry' ? next.at : 0, message.id, message.webhookId, MAX_LOG_ENTRIES, RETENTION_MS],
    );
    return reply !== UNAVAILABLE;
  }

  async releaseMessages(messages: readonly ClaimedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.eval(RELEASE_MESSAGES, [this.due], [Date.now(), this.prefixOf('message'), ...messages.flatMap((message) => [message.token, message.id])]);
  }

  async queueStats(): Promise<QueueStats | undefined> {
    const reply = await this.eval(QUEUE_STATS, [this.pending], []);
    if (!Array.isArray(reply)) return undefined;
    const [depth, oldest] = reply as [unknown, unknown];
    const score = Array.isArray(oldest) ? Number(oldest[1]) : Number.NaN;
    return { depth: Number(depth) || 0, oldestCreatedAt: Number.isFinite(score) ? score : undefined };
  }

  private claimOf(taskId: string, hash: Map<string, string>): WatchClaim | undefined {
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
      taskId,
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

function metaOf(message: NewMessage) {
  return { id: message.id, webhookId: message.webhookId, taskId: message.taskId, event: message.event, url: message.url, createdAt: message.createdAt };
}
