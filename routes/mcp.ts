/**
 * POST /mcp: the gateway as an MCP server (Model Context Protocol, Streamable HTTP) for AI
 * agents, with the tools of src/mcp/tools.ts over the gateway's own TaskService. It is
 * stateless, as the SDK describes it: each POST gets its own server and transport, so any
 * replica answers any request, and there is no session to resume or end (GET and DELETE
 * are 405). Authentication and rate limits are the `/tasks` routes' (src/plugins/task-api.ts).
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LinkSigner } from '../src/links.js';
import type { TaskService } from '../src/tasks/service.js';
import { McpMessageSchema } from '../schemas/mcp.js';
import { CLIENT_AUTH } from './documentation.js';
import { refuseUndecodableBody } from './json-body.js';
import { problemResponses } from './problem-responses.js';
import { clientOf } from '../src/client-identity.js';
import { publicOrigin, type ViewSettings } from './task-replies.js';

export interface McpRoutesOptions {
  service: TaskService;
  views: ViewSettings;
  links: LinkSigner;
  /** The server version the MCP handshake reports. */
  version: string;
}

/**
 * The SDK and the tools are loaded at the first `POST /mcp`, not at start-up (the bundle
 * keeps them unevaluated until then): evaluated at start-up they cost 30-40 ms of it
 * (median 244 → 284 ms to the first 200 on Node 24, `scripts/bench/compare.ts --path
 * startup`); loaded here, start-up is as before (215 → 218 ms).
 */
const loadMcp = (() => {
  let loading: Promise<[typeof import('../src/mcp/tools.js'), typeof import('../src/mcp/in-process.js'), typeof import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js')]> | undefined;
  return () => {
    loading ??= Promise.all([
      import('../src/mcp/tools.js'),
      import('../src/mcp/in-process.js'),
      import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'),
    ]);
    return loading;
  };
})();

/** A `wait_for_task` call is held open until the task ends: its duration is not a latency. */
function isWaitCall(request: FastifyRequest): boolean {
  const body = request.body as { method?: unknown; params?: { name?: unknown } } | undefined;
  return body?.method === 'tools/call' && body.params?.name === 'wait_for_task';
}

/** The request as the SDK's web-standard transport reads it (the body is handed over parsed). */
function webRequest(request: FastifyRequest, origin: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return new Request(`${origin}/mcp`, { method: request.method, headers });
}

const MCP_RESPONSE = {
  description:
    'A `text/event-stream` answering the request: the MCP progress notifications of the call, if the client asked for them (`_meta.progressToken`), then its JSON-RPC response, then the end of the stream. A protocol error (an unknown method or tool) is a JSON-RPC error in that response; a failed tool call is a result with `isError: true` carrying the problem\'s `code` and `detail`.',
  content: {
    'text/event-stream': {
      schema: { type: 'string' },
      example:
        'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":40,"total":100,"message":"task_abc001: in_progress 40%"}}\n\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"task_abc001 (vtrix): succeeded 100%, https://…"}],"structuredContent":{"finished":true,"task":{"id":"task_abc001","status":"succeeded","progress":100,…}}}}\n\n',
    },
  },
};

const mcpRoutes: FastifyPluginAsyncZod<McpRoutesOptions> = async (app, { service, views, links, version }) => {
  // The body must be JSON: a text/plain body is a 415, not a string the schema then refuses.
  app.removeContentTypeParser('text/plain');

  app.post(
    '/mcp',
    {
      onRequest: refuseUndecodableBody,
      config: { held: isWaitCall },
      schema: {
        operationId: 'postMcpMessage',
        tags: ['agents'],
        summary: 'The gateway as an MCP server, for AI agents',
        description: [
          'The Model Context Protocol over Streamable HTTP, stateless: send each JSON-RPC message as a `POST` with `Accept: application/json, text/event-stream`; any MCP client does this for you. No session is kept, so `GET` and `DELETE /mcp` are 405 `method_not_allowed`.',
          'Tools: `get_task {id}` (the Task), `wait_for_task {id, timeout_seconds ≤ 600}` (waits for the end, with progress notifications), `get_result_link {id, ttl_seconds}` (browser links, as `POST /tasks/{id}/links`). Ids are checked as in `GET /tasks/{id}`; every failure of a tool is a result with `isError: true` and the problem\'s `code` and `detail`.',
          'The same client key as `/tasks` (`Authorization: Bearer <key>` when the operator sets `TASKGATE_API_KEYS`) and the same rate limit: each `POST` counts one request.',
        ].join('\n\n'),
        security: CLIENT_AUTH,
        body: McpMessageSchema,
        response: {
          200: MCP_RESPONSE as never,
          202: z.null().describe('A notification or a response from the client: accepted, nothing to answer'),
          ...problemResponses(['invalid_request', 'unauthorized', 'unsupported_media_type', 'rate_limited'], [413]),
        },
      },
    },
    async (request, reply) => {
      const origin = publicOrigin(request, views);
      const [{ createToolServer }, { InProcessBackend }, { WebStandardStreamableHTTPServerTransport }] = await loadMcp();
      const backend = new InProcessBackend({ service, links, view: { origin }, clientKeyId: request.clientKeyId, client: clientOf(request), log: request.log });
      const server = createToolServer(backend, { version });
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      // Closing the server aborts its calls in progress: a wait ends, its place among the waiters is freed.
      reply.raw.once('close', () => {
        server.close().catch((error: unknown) => request.log.warn({ err: error }, 'MCP server did not close cleanly'));
      });
      await server.connect(transport);
      return reply.send(await transport.handleRequest(webRequest(request, origin), { parsedBody: request.body }));
    },
  );
};

export default mcpRoutes;
