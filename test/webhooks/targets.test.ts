/**
 * A receiver that hangs holds only its share of the delivery slots
 * (`webhooks.perTargetConcurrency`), so another client's receiver is delivered while it
 * hangs. Counted, not timed: the hanging receiver never has more requests than its share,
 * and the other delivery arrives while all of them still hang (the attempt timeout is a
 * minute; the test gives the other delivery far less).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { registerWebhook, startWebhookStack } from '../helpers/webhook-stack.js';

const FINISHED = 'video_69095b4ce0048190893a01510c0c98b0';
const DONE = [{ atMs: 0, status: 'succeeded' as const }];

test('30 webhooks on a hanging receiver take 2 of the 6 slots; another receiver is delivered meanwhile', async (t) => {
  const stack = await startWebhookStack(t, { concurrency: 6, perTargetConcurrency: 2, timeoutMs: 60_000, retryDelaysMs: [600_000] });
  const hanging = await startReceiver(t);
  const prompt = await startReceiver(t);
  for (let index = 0; index < 30; index++) {
    // Ten finished tasks with three webhooks each (a task takes ten at most): each delivered at once.
    const task = `task_wh_hang_${index % 10}`;
    stack.simulators.vtrix.setTask(task, { timeline: DONE });
    hanging.respond(`/hang/${index}`, () => 'hang');
    const answer = await registerWebhook(stack.app, `vtrix:${task}`, { url: `${hanging.url}/hang/${index}` });
    assert.equal(answer.statusCode, 201, answer.body);
  }
  assert.ok(await waitFor(() => hanging.deliveries.length === 2, 10_000), `${hanging.deliveries.length} requests reached the hanging receiver`);

  const answer = await registerWebhook(stack.app, FINISHED, { url: `${prompt.url}/prompt` });
  assert.equal(answer.statusCode, 201, answer.body);
  await prompt.waitFor('/prompt', 1, 10_000);
  assert.equal(hanging.deliveries.length, 2, 'the hanging receiver never had more than its share in flight');
});
