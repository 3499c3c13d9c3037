/**
 * The 405 and its `Allow` list follow Fastify's own router (`findRoute`): a path is known
 * to a method exactly when the router would serve it, parameter patterns included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import problems, { allowedMethods, routerErrorHandler } from '../../src/plugins/problems.js';

async function appWithRoutes() {
  const app = Fastify({ frameworkErrors: routerErrorHandler, routerOptions: { maxParamLength: 20 } });
  await app.register(problems);
  app.get('/items/:id(^\\d+)', async () => ({ ok: true }));
  app.put('/items/:id(^\\d+)', async () => ({ ok: true }));
  app.get('/files/*', async (_request, reply) => reply.callNotFound());
  // @fastify/cors registers a preflight for every path: that alone makes no path known.
  app.options('*', async () => '');
  app.get('/tasks/:id', { config: { badUrlCode: 'invalid_task_id' } }, async () => ({ ok: true }));
  await app.ready();
  return app;
}

test('the Allow list is the methods whose route the router finds for the path', async (t) => {
  const app = await appWithRoutes();
  t.after(() => app.close());
  assert.deepEqual(allowedMethods(app, '/items/12').sort(), ['GET', 'HEAD', 'PUT']);
  // The parameter's own pattern decides: no route serves /items/abc, whatever the method.
  assert.deepEqual(allowedMethods(app, '/items/abc'), []);
  assert.deepEqual(allowedMethods(app, '/nothing'), []);
  const post = await app.inject({ method: 'POST', url: '/items/12' });
  assert.equal(post.statusCode, 405);
  assert.equal(JSON.parse(post.body).code, 'method_not_allowed');
  assert.deepEqual(String(post.headers.allow).split(', ').sort(), ['GET', 'HEAD', 'PUT']);
  const unknown = await app.inject({ method: 'POST', url: '/items/abc' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(JSON.parse(unknown.body).code, 'not_found');
  // A GET route that found nothing under it is a 404 for GET, a 405 for another method.
  assert.equal((await app.inject({ url: '/files/missing.js' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'DELETE', url: '/files/missing.js' })).statusCode, 405);
});

test('a URL the router rejects takes the code its route chose', async (t) => {
  const app = await appWithRoutes();
  t.after(() => app.close());
  for (const url of ['/tasks/%ZZ', '/tasks/%E4%BB', `/tasks/${'a'.repeat(40)}`]) {
    const answer = await app.inject({ url });
    assert.equal(answer.statusCode, 400, url);
    assert.equal(JSON.parse(answer.body).code, 'invalid_task_id', url);
  }
  const other = await app.inject({ url: '/items/%ZZ' });
  assert.equal(other.statusCode, 400);
  assert.equal(JSON.parse(other.body).code, 'invalid_request');
});
