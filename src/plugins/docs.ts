/**
 * The OpenAPI document (`/openapi.json`, generated from the routes' zod schemas) and the
 * interactive docs (`/docs`). Registered before the routes so swagger sees them all.
 */
import type { FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { swaggerOptions } from '../openapi.js';

export interface DocsOptions {
  version: string;
}

const docs: FastifyPluginAsync<DocsOptions> = async (app, { version }) => {
  await app.register(fastifySwagger, swaggerOptions(version));
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};

export default fastifyPlugin(docs, { name: 'taskgate-docs' });
