/**
 * Webhooks of a task (docs/webhooks.md): register one, list them with their delivery
 * logs, end one. HTTP in and out only; src/webhooks/ does the work.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GatewayError } from '../src/errors.js';
import { taskKeyOf, type Subscription } from '../src/webhooks/model.js';
import type { Webhooks } from '../src/webhooks/index.js';
import { clientOf } from '../src/client-identity.js';
import type { TaskService } from '../src/tasks/service.js';
import { TaskParamsSchema } from '../schemas/params.js';
import {
  CreatedWebhookSchema,
  MAX_WEBHOOKS_PER_TASK,
  WebhookListSchema,
  WebhookParamsSchema,
  WebhookRequestSchema,
  type CreatedWebhook,
  type Webhook,
  type WebhookStatus,
} from '../schemas/webhooks.js';
import { CLIENT_AUTH, jsonResponse, REQUEST_ID_HEADER } from './documentation.js';
import { refuseUndecodableBody } from './json-body.js';
import { problemResponses, TASK_LOOKUP_CODES } from './problem-responses.js';
import { publicOrigin, TASK_ROUTE_CONFIG, type ViewSettings } from './task-replies.js';

export interface WebhookRoutesOptions {
  service: TaskService;
  views: ViewSettings;
  /** Undefined: TASKGATE_WEBHOOK_SECRET is unset and every route answers 503 webhooks_not_configured. */
  webhooks: Webhooks | undefined;
}

const NOT_CONFIGURED = 'This gateway sends no webhooks: TASKGATE_WEBHOOK_SECRET is not set.';
const SIGNING = [
  'Each delivery is a `POST` of `{"type", "timestamp", "data": <Task>}` (`WebhookEventBody`) signed per Standard Webhooks: `webhook-id` (the same on every retry of one event), `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` keyed by the base64-decoded `secret` of this webhook (`whsec_…`, in the 201 answer only: keep it with the webhook). Verify it, and drop a `webhook-id` you have already processed: delivery is at least once. Every webhook has its own secret: a body signed for another webhook does not verify.',
  'Any 2xx within 15 s is a success. Anything else is retried with jittered backoff (about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h) for up to 24 h; a 410 ends the webhook at once. Redirects are not followed.',
].join('\n\n');

function rfc3339(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Where the id may route to, without a lookup: the webhooks of every spelling of the task are found. */
function taskKeysOf(service: TaskService, id: string): string[] {
  return service.router.resolve(id).candidates.map((candidate) => taskKeyOf(candidate.provider, candidate.nativeId));
}

function webhookOf(subscription: Subscription): Webhook {
  return {
    id: subscription.id,
    task_id: subscription.taskId,
    url: subscription.url,
    events: subscription.events,
    created_at: rfc3339(subscription.createdAt),
  };
}

const webhookRoutes: FastifyPluginAsyncZod<WebhookRoutesOptions> = async (app, { service, views, webhooks }) => {
  const configured = (): Webhooks => {
    if (webhooks === undefined) throw new GatewayError('webhooks_not_configured', { detail: NOT_CONFIGURED });
    return webhooks;
  };
  const common = ['invalid_task_id', 'unauthorized', 'no_provider_for_task_id', 'rate_limited', 'service_unavailable', 'webhooks_not_configured'] as const;

  app.post(
    '/tasks/:id/webhooks',
    {
      onRequest: refuseUndecodableBody,
      config: TASK_ROUTE_CONFIG,
      schema: {
        operationId: 'createTaskWebhook',
        tags: ['webhooks'],
        summary: 'Be told when a task finishes',
        description: [
          `For a backend instead of polling: the gateway watches the task (one shared poll loop, whatever else waits on it) and POSTs each event to \`url\`. At most ${MAX_WEBHOOKS_PER_TASK} active webhooks per task. A task that is already terminal is delivered at once. \`data\` is the Task as \`GET /tasks/{id}\` would show this request.`,
          'The task is looked up first (its lookup errors are this answer\'s). `url` must be `https` (plain `http` only to hosts in `webhooks.allowHosts`) and must not reach an internal address (loopback, private, link-local, metadata…): refused with 400 `invalid_request`, here and again at every delivery.',
          SIGNING,
        ].join('\n\n'),
        security: CLIENT_AUTH,
        params: TaskParamsSchema,
        body: WebhookRequestSchema,
        response: {
          201: jsonResponse(CreatedWebhookSchema, 'The webhook, registered, with its signing secret (shown only here)', { headers: { 'x-request-id': REQUEST_ID_HEADER } }),
          ...problemResponses([...TASK_LOOKUP_CODES, 'webhook_limit_reached', 'quota_exceeded', 'webhooks_not_configured', 'unsupported_media_type'], [413]),
        },
      },
    },
    async (request, reply) => {
      const hooks = configured();
      const origin = publicOrigin(request, views);
      const snapshot = await service.getTask(request.params.id);
      const { subscription, secret } = await hooks.dispatcher.register(snapshot, { url: request.body.url, events: request.body.events, origin, client: clientOf(request) });
      const created: CreatedWebhook = { ...webhookOf(subscription), secret };
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/tasks/:id/webhooks',
    {
      config: TASK_ROUTE_CONFIG,
      schema: {
        operationId: 'listTaskWebhooks',
        tags: ['webhooks'],
        summary: 'The webhooks of a task, with their delivery logs',
        description:
          'Every webhook this client (its key; its address when the gateway is open) registered on this task, whatever spelling of its id it used, oldest first, active and ended, each with its attempts: when, which event and `webhook-id`, the receiver\'s status or the error, and when the next retry is due. Other clients\' webhooks are not shown. The task itself is not looked up.',
        security: CLIENT_AUTH,
        params: TaskParamsSchema,
        response: {
          200: jsonResponse(WebhookListSchema, 'The webhooks', { headers: { 'x-request-id': REQUEST_ID_HEADER } }),
          ...problemResponses(common),
        },
      },
    },
    async (request) => {
      const hooks = configured();
      const listed = await hooks.store.list(taskKeysOf(service, request.params.id), clientOf(request));
      const statuses: WebhookStatus[] = listed.map(({ subscription, deliveries }) => ({
        ...webhookOf(subscription),
        state: subscription.state,
        deliveries,
      }));
      return { webhooks: statuses };
    },
  );

  app.delete(
    '/tasks/:id/webhooks/:webhook_id',
    {
      config: TASK_ROUTE_CONFIG,
      schema: {
        operationId: 'deleteTaskWebhook',
        tags: ['webhooks'],
        summary: 'End a webhook',
        description: 'Nothing more is delivered to it, retries included; it stays listed (as `ended`) with its log. Ending one that has ended already is a 204 too; a webhook another client registered is a 404.',
        security: CLIENT_AUTH,
        params: WebhookParamsSchema,
        response: {
          204: z.null().describe('Ended'),
          ...problemResponses([...common, 'not_found']),
        },
      },
    },
    async (request, reply) => {
      const hooks = configured();
      const { id, webhook_id: webhookId } = request.params;
      if (!(await hooks.store.end(taskKeysOf(service, id), webhookId, clientOf(request), 'deleted'))) {
        throw new GatewayError('not_found', { detail: `Task ${id} has no webhook ${webhookId} of yours.` });
      }
      return reply.code(204).send(null);
    },
  );
};

export default webhookRoutes;
