/**
 * A webhook belongs to the client that registered it: its key on a keyed gateway, its
 * address on an open one. Another client does not see it listed (its target URL may carry
 * the receiver's own secret) and cannot end it (404, as if it did not exist).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebhookListSchema, WebhookSchema } from '../../schemas/webhooks.js';
import { json } from '../helpers/stack.js';
import { startWebhookStack } from '../helpers/webhook-stack.js';

const TASK = 'video_69095b4ce0048190893a01510c0c98b0';
const KEY_A = 'client-key-alpha-0123456789';
const KEY_B = 'client-key-bravo-0123456789';
const SECRET_URL = 'https://hooks.example/taskgate?token=receiver-secret-of-a';

const resolveHostname = () => Promise.resolve([{ address: '93.184.215.14', family: 4 }]);

test('keyed: key B neither lists nor deletes key A\'s webhook; key A does both', async (t) => {
  const { app } = await startWebhookStack(t, { env: { TASKGATE_API_KEYS: `${KEY_A},${KEY_B}` }, resolveHostname });
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const created = await app.inject({ method: 'POST', url: `/tasks/${TASK}/webhooks`, headers: as(KEY_A), payload: { url: SECRET_URL } });
  assert.equal(created.statusCode, 201, created.body);
  const { id } = WebhookSchema.parse(json(created));

  const listedForB = await app.inject({ url: `/tasks/${TASK}/webhooks`, headers: as(KEY_B) });
  assert.equal(listedForB.statusCode, 200);
  assert.deepEqual(WebhookListSchema.parse(json(listedForB)).webhooks, []);
  assert.doesNotMatch(listedForB.body, /receiver-secret-of-a/);

  const deletedByB = await app.inject({ method: 'DELETE', url: `/tasks/${TASK}/webhooks/${id}`, headers: as(KEY_B) });
  assert.equal(deletedByB.statusCode, 404, deletedByB.body);
  assert.equal(json(deletedByB).code, 'not_found');

  const listedForA = WebhookListSchema.parse(json(await app.inject({ url: `/tasks/${TASK}/webhooks`, headers: as(KEY_A) }))).webhooks;
  assert.deepEqual(listedForA.map((webhook) => [webhook.id, webhook.url]), [[id, SECRET_URL]]);
  const deletedByA = await app.inject({ method: 'DELETE', url: `/tasks/${TASK}/webhooks/${id}`, headers: as(KEY_A) });
  assert.equal(deletedByA.statusCode, 204, deletedByA.body);
});

test('open: a webhook belongs to the client address that registered it', async (t) => {
  const { app } = await startWebhookStack(t, { resolveHostname });
  const from = (address: string) => ({ remoteAddress: address });
  const created = await app.inject({ method: 'POST', url: `/tasks/${TASK}/webhooks`, ...from('198.51.100.7'), payload: { url: SECRET_URL } });
  assert.equal(created.statusCode, 201, created.body);
  const { id } = WebhookSchema.parse(json(created));

  const listedElsewhere = await app.inject({ url: `/tasks/${TASK}/webhooks`, ...from('203.0.113.9') });
  assert.deepEqual(WebhookListSchema.parse(json(listedElsewhere)).webhooks, []);
  const deletedElsewhere = await app.inject({ method: 'DELETE', url: `/tasks/${TASK}/webhooks/${id}`, ...from('203.0.113.9') });
  assert.equal(deletedElsewhere.statusCode, 404);

  const listedHere = await app.inject({ url: `/tasks/${TASK}/webhooks`, ...from('198.51.100.7') });
  assert.deepEqual(WebhookListSchema.parse(json(listedHere)).webhooks.map((webhook) => webhook.id), [id]);
  assert.equal((await app.inject({ method: 'DELETE', url: `/tasks/${TASK}/webhooks/${id}`, ...from('198.51.100.7') })).statusCode, 204);
});
