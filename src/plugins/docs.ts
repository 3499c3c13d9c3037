/**
 * The OpenAPI document (`/openapi.json`, generated from the routes' zod schemas) and the
 * interactive docs (`/docs`). Registered before the routes so swagger sees them all.
 *
 * The docs (@fastify/swagger-ui, @fastify/static and what they load) are not needed to
 * answer anything else, and loading them was a fifth of the start-up (BENCHMARKS.md, "Start-up"): they
 * live in a small Fastify instance of their own, made at the first `/docs` request, and
 * this app passes those requests to it (its answers come back through this app's hooks:
 * request id, CORS, problem+json for what it does not have).
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import fastifySwagger from '@fastify/swagger';
import { GatewayError } from '../errors.js';
import { swaggerOptions } from '../openapi.js';

export interface DocsOptions {
  version: string;
}

const DOCS_PREFIX = '/docs';
/** What a browser sends that changes the docs' answer (caching, ranges); nothing else goes in. */
const PASSED_REQUEST_HEADERS = ['accept', 'if-none-match', 'if-modified-since', 'range', 'if-range'] as const;
/** Set by Node for this app's own answer; the inner answer's would be wrong or doubled. */
const DROPPED_ANSWER_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length']);

async function makeDocsApp(app: FastifyInstance): Promise<FastifyInstance> {
  const { default: fastifySwaggerUi } = await import('@fastify/swagger-ui');
  const docs = Fastify({ logger: false });
  // The UI's /docs/json and /docs/yaml serve this app's document, as it stands once every route is in.
  await docs.register(fastifySwagger, { mode: 'static', specification: { document: app.swagger() as never } });
  await docs.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });
  await docs.ready();
  return docs;
}

const docs: FastifyPluginAsync<DocsOptions> = async (app, { version }) => {
  await app.register(fastifySwagger, swaggerOptions(version));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  let docsApp: Promise<FastifyInstance> | undefined;
  const serveDocs = async (request: FastifyRequest, reply: FastifyReply) => {
    docsApp ??= makeDocsApp(app);
    const headers: Record<string, string> = {};
    for (const name of PASSED_REQUEST_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    // A HEAD is this route's GET without the body (Fastify strips it, keeping the length).
    const answer = await (await docsApp).inject({ method: 'GET', url: request.url, headers });
    if (answer.statusCode === 404) throw new GatewayError('not_found', { detail: 'No route matches this path; see /docs.' });
    reply.code(answer.statusCode);
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !DROPPED_ANSWER_HEADERS.has(name)) reply.header(name, value);
    }
    return answer.rawPayload.length === 0 ? reply.send() : reply.send(answer.rawPayload);
  };
  app.get(DOCS_PREFIX, { schema: { hide: true } }, serveDocs);
  app.get(`${DOCS_PREFIX}/*`, { schema: { hide: true } }, serveDocs);
  app.addHook('onClose', async () => {
    if (docsApp !== undefined) await (await docsApp).close();
  });
};

export default fastifyPlugin(docs, { name: 'taskgate-docs' });
