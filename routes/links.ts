/**
 * POST /tasks/{id}/links: an app's backend (holding a client key) mints expiring links for
 * one task, for its browser: no key ever reaches the page.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { linkSet, type LinkSigner } from '../src/links.js';
import type { TaskService } from '../src/tasks/service.js';
import { LinkSetSchema, OptionalLinkRequestSchema } from '../schemas/links.js';
import { TaskParamsSchema } from '../schemas/params.js';
import { CLIENT_AUTH, jsonResponse, REQUEST_ID_HEADER } from './documentation.js';
import { problemResponses } from './problem-responses.js';
import { publicOrigin, TASK_ROUTE_CONFIG, type ViewSettings } from './task-replies.js';

export interface LinkRoutesOptions {
  service: TaskService;
  views: ViewSettings;
  links: LinkSigner;
}

const linkRoutes: FastifyPluginAsyncZod<LinkRoutesOptions> = async (app, { service, views, links }) => {
  app.post(
    '/tasks/:id/links',
    {
      config: TASK_ROUTE_CONFIG,
      schema: {
        operationId: 'createTaskLinks',
        tags: ['tasks'],
        summary: 'Mint browser links for a task',
        description: [
          'For an app backend holding a client key: answers URLs of this task (status, events, content) that work without `Authorization` until they expire, for this task only, and only while the key that minted them is configured. Hand them to the browser: `EventSource(events_url)`, `<video src=content_url>`.',
          'The task is not looked up (no provider call); an id no rule routes is a 404 at once. Links minted on an open gateway need no key anyway and stop working once keys are configured.',
        ].join('\n\n'),
        security: CLIENT_AUTH,
        params: TaskParamsSchema,
        body: OptionalLinkRequestSchema,
        // src/openapi.ts marks the request body as not required (no body: the defaults).
        'x-optional-body': true,
        response: {
          201: jsonResponse(LinkSetSchema, 'The links, each carrying the token', { headers: { 'x-request-id': REQUEST_ID_HEADER } }),
          ...problemResponses(['invalid_task_id', 'invalid_request', 'unauthorized', 'no_provider_for_task_id', 'rate_limited'], [413, 415]),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      service.router.resolve(id);
      const minted = links.mint(id, request.body.ttl_seconds, request.clientKeyId);
      return reply.code(201).send(linkSet(id, minted, publicOrigin(request, views)));
    },
  );
};

export default linkRoutes;
