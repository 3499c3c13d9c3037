/**
 * What a client can make the gateway hold through webhooks, and that it stays bounded:
 * the per-task cap counted per upstream task whatever spelling of its id was used.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json } from '../helpers/stack.js';
import { registerWebhook, startWebhookStack } from '../helpers/webhook-stack.js';

const resolveHostname = () => Promise.resolve([{ address: '93.184.215.14', family: 4 }]);

test('the per-task cap (10) is per upstream task: its aliases do not add places', async (t) => {
  const stack = await startWebhookStack(t, { resolveHostname });
  const id = 'task_wh_alias';
  stack.simulators.vtrix.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 5 }] });
  for (let index = 0; index < 10; index++) {
    // Half under the bare id, half under the qualified one: both spell the same vtrix task.
    const spelling = index % 2 === 0 ? id : `vtrix:${id}`;
    const answer = await registerWebhook(stack.app, spelling, { url: `https://hooks.example/alias/${index}` });
    assert.equal(answer.statusCode, 201, answer.body);
  }
  for (const spelling of [id, `vtrix:${id}`]) {
    const eleventh = await registerWebhook(stack.app, spelling, { url: 'https://hooks.example/alias/10' });
    assert.equal(eleventh.statusCode, 409, `${spelling}: ${eleventh.body}`);
    assert.equal(json(eleventh).code, 'webhook_limit_reached');
  }
  // Listed under either spelling: they are the webhooks of one task.
  for (const spelling of [id, `vtrix:${id}`]) {
    const listed = await stack.app.inject({ url: `/tasks/${encodeURIComponent(spelling)}/webhooks` });
    assert.equal((json(listed).webhooks as unknown[]).length, 10, spelling);
  }
});
