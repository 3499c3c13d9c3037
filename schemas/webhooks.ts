/**
 * Webhooks (docs/webhooks.md): what a backend registers on a task, what it can read
 * back (each webhook's state and delivery log), and the body each delivery POSTs.
 */
import { z } from 'zod';
import { TaskParamsSchema } from './params.js';
import { TaskSchema } from './task.js';

export const TERMINAL_EVENTS = ['task.succeeded', 'task.failed', 'task.canceled'] as const;
export const WEBHOOK_EVENTS = [...TERMINAL_EVENTS, 'task.updated'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const MAX_WEBHOOKS_PER_TASK = 10;
/** A target URL longer than this is not a receiver's address. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

const EventSchema = z.enum(WEBHOOK_EVENTS).describe('`task.succeeded`, `task.failed`, `task.canceled`, or `task.updated` (every change of status or progress, the terminal one included)');
const timestamp = (what: string) => z.string().meta({ format: 'date-time' }).describe(`${what}, RFC 3339 UTC`);

export const WebhookRequestSchema = z
  .object({
    url: z
      .string()
      .min(1)
      .max(MAX_WEBHOOK_URL_LENGTH)
      .meta({ format: 'uri' })
      .describe('Where to POST the events: `https` (plain `http` only to hosts the operator allows), never an internal address'),
    events: z
      .array(EventSchema)
      .min(1)
      .max(WEBHOOK_EVENTS.length)
      .refine((events) => new Set(events).size === events.length, 'must not repeat an event')
      .default(() => [...TERMINAL_EVENTS])
      .describe('The events to deliver; default: the three terminal ones'),
  })
  .strict()
  .meta({ id: 'WebhookRequest', description: 'A webhook to register on a task.' });

export const WebhookSchema = z
  .object({
    id: z.string().describe('The webhook\'s id, `wh_…`'),
    task_id: z.string().describe('The task id as given in the path'),
    url: z.string().meta({ format: 'uri' }).describe('The target URL'),
    events: z.array(EventSchema),
    created_at: timestamp('When it was registered'),
  })
  // Not a component of its own: the spec has its two shapes, CreatedWebhook and WebhookStatus.
  .describe('A webhook registered on a task.');
export type Webhook = z.infer<typeof WebhookSchema>;

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z
    .string()
    .describe("This webhook's own signing secret, `whsec_` + base64 of 32 bytes (Standard Webhooks): its deliveries are signed with it. Shown in this answer only: keep it with the webhook"),
}).meta({ id: 'CreatedWebhook', description: 'A webhook just registered, with its signing secret.' });
export type CreatedWebhook = z.infer<typeof CreatedWebhookSchema>;

export const WebhookDeliverySchema = z
  .object({
    event: EventSchema,
    webhook_id: z.string().describe('The `webhook-id` header of this event: the same on every attempt of one event, `msg_…`'),
    attempt: z.number().int().min(1).describe('1 for the first attempt of the event, 2 for its first retry…'),
    at: timestamp('When the attempt was made'),
    status_code: z.number().int().nullable().describe('The receiver\'s HTTP status; null when no answer came'),
    error: z.string().nullable().describe('Why the attempt failed without a status (timeout, refused target, connection error), or that a redirect was not followed; null otherwise'),
    next_attempt_at: timestamp('When the event is tried again').nullable().describe('When the event is tried again, RFC 3339 UTC; null when it is done (delivered, 410, or given up after 24 h)'),
  })
  .meta({ id: 'WebhookDelivery', description: 'One delivery attempt of one event.' });
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>;

export const WebhookStatusSchema = WebhookSchema.extend({
  state: z
    .enum(['active', 'ended'])
    .describe('`ended`: nothing more will be delivered (its events were delivered or given up, the receiver answered 410, it was deleted, or its 24 h passed)'),
  deliveries: z.array(WebhookDeliverySchema).describe('Its attempts, oldest first (the latest 50)'),
}).meta({ id: 'WebhookStatus', description: 'A webhook with its state and delivery log.' });
export type WebhookStatus = z.infer<typeof WebhookStatusSchema>;

export const WebhookListSchema = z
  .object({ webhooks: z.array(WebhookStatusSchema).describe('Oldest first; ended ones too (the latest 10 of them)') })
  .meta({ id: 'WebhookList', description: 'The webhooks of a task.' });

export const WebhookParamsSchema = TaskParamsSchema.extend({
  // Not validated by shape (a bad path parameter reads as a bad task id): an id that is not one of ours is simply not found.
  webhook_id: z.string().describe('The webhook\'s id, `wh_…`'),
});

export const WebhookEventBodySchema = z
  .object({
    type: EventSchema,
    timestamp: timestamp('When the gateway saw the change (millisecond precision)'),
    data: TaskSchema,
  })
  .meta({
    id: 'WebhookEventBody',
    description:
      'What each delivery POSTs (`Content-Type: application/json`), signed per Standard Webhooks: `webhook-id` (the same on every retry of one event), `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` keyed by the base64-decoded `secret` of the webhook (`CreatedWebhook`). `data` is the Task as `GET /tasks/{id}` shows it, its URLs on the origin of the request that registered the webhook.',
  });
