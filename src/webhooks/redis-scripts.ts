/**
 * The Lua scripts of the Redis webhook store (src/webhooks/redis-store.ts; the scripts in
 * src/webhooks/scripts/) as TypeScript sees them: each script's argument table, the
 * context every script that may end or forget a webhook gets, and the schemas their
 * replies are read with (a field that does not parse is skipped, never trusted).
 */
import { z } from 'zod';
import { luaScript } from '../fleet/lua.js';
import type { RedisKey } from '../fleet/redis.js';
import { WEBHOOK_EVENTS } from '../../schemas/webhooks.js';
import { TASK_STATUSES } from '../../schemas/task.js';
import type { AttemptNext, Baseline, EndReason, NewMessage, Subscription } from './model.js';

export const SubscriptionSchema: z.ZodType<Subscription> = z.object({
  id: z.string(),
  taskId: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  createdAt: z.number(),
  origin: z.string(),
  client: z.string(),
  state: z.enum(['active', 'ended']),
  endedReason: z.enum(['finished', 'gone', 'deleted', 'expired', 'task_not_found']).optional(),
  final: z.boolean(),
  pending: z.number(),
});
export const BaselineSchema: z.ZodType<Baseline> = z.object({ status: z.enum(TASK_STATUSES), progress: z.number().nullable() });
export const MessageMetaSchema = z.object({
  id: z.string(),
  webhookId: z.string(),
  taskKey: z.string(),
  event: z.enum(WEBHOOK_EVENTS),
  url: z.string(),
  target: z.string(),
  createdAt: z.number(),
});

export type MessageFields = { id: string; meta: string; body: string; createdAt: number; target: string };

/** Where things are and what time it is, for every script that may end or forget a webhook (helpers.lua). */
export interface ScriptContext {
  active: RedisKey;
  watching: RedisKey;
  duePrefix: string;
  dueTargets: RedisKey;
  pending: RedisKey;
  clientPrefix: string;
  logPrefix: string;
  taskPrefix: string;
  now: number;
  retention: number;
  keepEnded: number;
}

export const SCRIPTS = {
  register: luaScript<{
    ctx: ScriptContext;
    webhook: Subscription;
    taskKey: string;
    maxPerTask: number;
    maxInAll: number;
    maxPerClient: number;
    baseline: string;
    provider: string;
    nativeId: string;
    watchUntil: number;
    terminal: boolean;
    messages: MessageFields[];
  }>('webhooks', 'register', 'helpers'),
  list: luaScript<{ logPrefix: string; client: string }>('webhooks', 'list'),
  end: luaScript<{ ctx: ScriptContext; taskKeys: string[]; webhookId: string; client: string; reason: EndReason }>('webhooks', 'end', 'helpers'),
  claimWatches: luaScript<{ now: number; leaseMs: number; limit: number; token: string; taskPrefix: string }>('webhooks', 'claim-watches'),
  reloadWatch: luaScript<{ token: string }>('webhooks', 'reload-watch'),
  renewWatches: luaScript<{ leaseUntil: number; token: string; taskPrefix: string; taskKeys: string[] }>('webhooks', 'renew-watches'),
  releaseWatches: luaScript<{ claimableAt: number; token: string; taskPrefix: string; taskKeys: string[] }>('webhooks', 'release-watches'),
  recordChange: luaScript<{
    ctx: ScriptContext;
    token: string;
    version: string;
    baseline: string;
    terminal: boolean;
    claimMax: number;
    leaseMs: number;
    taskKey: string;
    messageToken: string;
    finals: string[];
    messages: Array<MessageFields & { webhookId: string }>;
  }>('webhooks', 'record-change', 'helpers'),
  finishWatch: luaScript<{ ctx: ScriptContext; token: string; taskKey: string; reason: EndReason }>('webhooks', 'finish-watch', 'helpers'),
  claimDue: luaScript<{
    ctx: ScriptContext;
    leaseMs: number;
    limit: number;
    busyCount: number;
    perTarget: number;
    busy: Readonly<Record<string, number>>;
    token: string;
    messagePrefix: string;
  }>('webhooks', 'claim-due', 'helpers'),
  finishAttempt: luaScript<{
    ctx: ScriptContext;
    token: string;
    delivery: string;
    next: AttemptNext['kind'];
    retryAt: number;
    messageId: string;
    webhookId: string;
    taskKey: string;
    target: string;
    logMax: number;
  }>('webhooks', 'finish-attempt', 'helpers'),
  releaseMessages: luaScript<{ ctx: ScriptContext; messagePrefix: string; messages: Array<{ token: string; id: string; target: string }> }>('webhooks', 'release-messages', 'helpers'),
  queueStats: luaScript('webhooks', 'queue-stats'),
};

export function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function hashOf(flat: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (!Array.isArray(flat)) return map;
  for (let index = 0; index + 1 < flat.length; index += 2) map.set(String(flat[index]), String(flat[index + 1]));
  return map;
}

export function metaOf(message: NewMessage) {
  return { id: message.id, webhookId: message.webhookId, taskKey: message.taskKey, event: message.event, url: message.url, target: message.target, createdAt: message.createdAt };
}

/** A message as the scripts store it: its meta as JSON text, kept verbatim. */
export function messageFields(message: NewMessage): MessageFields {
  return { id: message.id, meta: JSON.stringify(metaOf(message)), body: message.body, createdAt: message.createdAt, target: message.target };
}
