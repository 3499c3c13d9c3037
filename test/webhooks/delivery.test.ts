/**
 * Webhook delivery on one gateway: real receivers on loopback, the provider
 * simulators, and the `standardwebhooks` package's `Webhook.verify` as the independent
 * judge of every signature. Cadence, retry delays and timeouts are short (TASKGATE_CONFIG's
 * `webhooks.*`), so each test runs in seconds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { TaskSchema } from '../../schemas/task.js';
import { CreatedWebhookSchema, WebhookEventBodySchema, WebhookListSchema, WebhookSchema } from '../../schemas/webhooks.js';
import { metricValue } from '../hardening/support.js';
import { startReceiver, type ReceivedDelivery } from '../helpers/receiver.js';
import { json } from '../helpers/stack.js';
import { registerWebhook, startWebhookStack, type WebhookStack } from '../helpers/webhook-stack.js';

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/**
 * Verifies the delivery as its receiver would, with the reference implementation and the
 * webhook's own secret (from its 201 answer); answers the parsed body.
 */
function verified(secret: string, delivery: ReceivedDelivery) {
  const headers = {
    'webhook-id': String(delivery.headers['webhook-id']),
    'webhook-timestamp': String(delivery.headers['webhook-timestamp']),
    'webhook-signature': String(delivery.headers['webhook-signature']),
  };
  return WebhookEventBodySchema.parse(new Webhook(secret).verify(delivery.body, headers));
}

/** The secret of the webhook a 201 answer registered. */
function secretOf(answer: { statusCode: number; body: string }): string {
  assert.equal(answer.statusCode, 201, answer.body);
  return CreatedWebhookSchema.parse(json(answer)).secret;
}

async function webhooksOf(stack: WebhookStack, taskId: string) {
  const answer = await stack.app.inject({ url: `/tasks/${encodeURIComponent(taskId)}/webhooks` });
  assert.equal(answer.statusCode, 200, answer.body);
  return WebhookListSchema.parse(json(answer)).webhooks;
}

test('without TASKGATE_WEBHOOK_SECRET every webhook route answers 503 webhooks_not_configured', async (t) => {
  const { app } = await startWebhookStack(t, { secret: null });
  const answers = [
    await registerWebhook(app, 'task_abc001', { url: 'https://hooks.example/taskgate' }),
    await app.inject({ url: '/tasks/task_abc001/webhooks' }),
    await app.inject({ method: 'DELETE', url: '/tasks/task_abc001/webhooks/wh_x' }),
  ];
  for (const answer of answers) {
    assert.equal(answer.statusCode, 503, answer.body);
    assert.equal(json(answer).code, 'webhooks_not_configured');
    assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  }
});

test('one signed delivery per terminal event: succeeded, failed and canceled, each the Task as GET shows it', async (t) => {
  const stack = await startWebhookStack(t);
  const receiver = await startReceiver(t);
  const outcomes = [
    { id: 'task_wh_ends_succeeded', status: 'succeeded' as const },
    { id: 'task_wh_ends_failed', status: 'failed' as const },
    { id: 'task_wh_ends_canceled', status: 'canceled' as const },
  ];
  const secrets = new Map<string, string>();
  for (const outcome of outcomes) {
    stack.simulators.vtrix.setTask(outcome.id, {
      timeline: [
        { atMs: 0, status: 'in_progress', progress: 10 },
        { atMs: 600, status: outcome.status },
      ],
    });
    const answer = await registerWebhook(stack.app, `vtrix:${outcome.id}`, { url: `${receiver.url}/${outcome.id}` });
    assert.equal(answer.statusCode, 201, answer.body);
    const created = CreatedWebhookSchema.parse(json(answer));
    secrets.set(outcome.id, created.secret);
    assert.match(created.id, /^wh_[A-Za-z0-9_-]{16,}$/);
    assert.deepEqual(created.events, ['task.succeeded', 'task.failed', 'task.canceled']);
    assert.equal(created.task_id, `vtrix:${outcome.id}`);
  }
  for (const outcome of outcomes) {
    const [delivery] = await receiver.waitFor(`/${outcome.id}`, 1);
    const body = verified(secrets.get(outcome.id)!, delivery!);
    assert.equal(body.type, `task.${outcome.status}`);
    assert.equal(delivery!.headers['content-type'], 'application/json');
    assert.match(String(delivery!.headers['webhook-id']), /^msg_/);
    const viaGet = await stack.app.inject({ url: `/tasks/vtrix:${outcome.id}` });
    assert.deepEqual(body.data, TaskSchema.parse(json(viaGet)));
  }
  // Several cadences later: still exactly one delivery each.
  await sleep(1000);
  for (const outcome of outcomes) {
    assert.equal(receiver.at(`/${outcome.id}`).length, 1, outcome.id);
    const [webhook] = await webhooksOf(stack, `vtrix:${outcome.id}`);
    assert.equal(webhook!.state, 'ended');
    assert.equal(webhook!.deliveries.length, 1);
    assert.deepEqual({ ...webhook!.deliveries[0]!, at: undefined }, {
      event: `task.${outcome.status}`,
      webhook_id: receiver.at(`/${outcome.id}`)[0]!.headers['webhook-id'],
      attempt: 1,
      at: undefined,
      status_code: 200,
      error: null,
      next_attempt_at: null,
    });
  }
});

test('the delivered Task carries the registering request\'s origin in content_url', async (t) => {
  const stack = await startWebhookStack(t);
  const receiver = await startReceiver(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const answer = await stack.app.inject({
    method: 'POST',
    url: `/tasks/${id}/webhooks`,
    headers: { host: 'gateway.example:8443' },
    payload: { url: `${receiver.url}/origin` },
  });
  const secret = secretOf(answer);
  const [delivery] = await receiver.waitFor('/origin', 1);
  const body = verified(secret, delivery!);
  assert.equal(body.type, 'task.succeeded');
  assert.equal(body.data.content_url, `http://gateway.example:8443/tasks/${id}/content`);
});

test('each webhook signs with its own secret: its receiver verifies, another webhook\'s secret and the gateway\'s do not', async (t) => {
  const stack = await startWebhookStack(t);
  const receiver = await startReceiver(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const first = CreatedWebhookSchema.parse(json(await registerWebhook(stack.app, id, { url: `${receiver.url}/tenant-a` })));
  const second = CreatedWebhookSchema.parse(json(await registerWebhook(stack.app, id, { url: `${receiver.url}/tenant-b` })));
  for (const created of [first, second]) {
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'whsec_ and the base64 of 32 bytes');
    assert.notEqual(created.secret, stack.secret);
  }
  assert.notEqual(first.secret, second.secret);
  const [toFirst] = await receiver.waitFor('/tenant-a', 1);
  const [toSecond] = await receiver.waitFor('/tenant-b', 1);
  assert.equal(verified(first.secret, toFirst!).type, 'task.succeeded');
  assert.equal(verified(second.secret, toSecond!).type, 'task.succeeded');
  assert.throws(() => verified(second.secret, toFirst!), /No matching signature found/, 'signed for another webhook');
  assert.throws(() => verified(first.secret, toSecond!), /No matching signature found/);
  assert.throws(() => verified(stack.secret, toFirst!), /No matching signature found/, 'the gateway\'s own secret signs nothing');
  // Shown once: the list does not carry it.
  const listed = await stack.app.inject({ url: `/tasks/${id}/webhooks` });
  assert.doesNotMatch(listed.body, /whsec_/);
});

test('task.updated on every change of status or progress, the terminal one included', async (t) => {
  const stack = await startWebhookStack(t);
  const receiver = await startReceiver(t);
  const id = 'task_wh_updates';
  stack.simulators.vtrix.setTask(id, {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'queued' },
      { atMs: 700, status: 'in_progress', progress: 20 },
      { atMs: 1400, status: 'in_progress', progress: 60 },
      { atMs: 2100, status: 'succeeded' },
    ],
  });
  const secret = secretOf(await registerWebhook(stack.app, `vtrix:${id}`, { url: `${receiver.url}/updates`, events: ['task.updated', 'task.succeeded'] }));
  const deliveries = await receiver.waitFor('/updates', 4);
  await sleep(800);
  const bodies = receiver.at('/updates').map((delivery) => verified(secret, delivery));
  const updates = bodies.filter((body) => body.type === 'task.updated').map((body) => `${body.data.status}:${body.data.progress}`);
  assert.deepEqual(updates.sort(), ['in_progress:20', 'in_progress:60', 'succeeded:100'].sort());
  assert.deepEqual(bodies.filter((body) => body.type === 'task.succeeded').length, 1);
  assert.equal(bodies.length, 4, 'nothing more than the three changes and the terminal event');
  // Each event is its own message.
  assert.equal(new Set(deliveries.map((delivery) => delivery.headers['webhook-id'])).size, 4);
});

test('a task that is already terminal is delivered at once', async (t) => {
  const stack = await startWebhookStack(t);
  const receiver = await startReceiver(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const secret = secretOf(await registerWebhook(stack.app, id, { url: `${receiver.url}/done`, events: ['task.succeeded', 'task.updated'] }));
  const deliveries = await receiver.waitFor('/done', 2, 5000);
  const types = deliveries.map((delivery) => verified(secret, delivery).type).sort();
  assert.deepEqual(types, ['task.succeeded', 'task.updated']);
  assert.equal(stack.simulators.gravitex.hits(id), 1, 'the terminal task was looked up once');
});

test('failed attempts are retried with the same webhook-id until a 2xx, and each is logged', async (t) => {
  const stack = await startWebhookStack(t, { retryDelaysMs: [150, 300] });
  const receiver = await startReceiver(t);
  receiver.respond('/flaky', (index) => (index < 2 ? 500 : 204));
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const secret = secretOf(await registerWebhook(stack.app, id, { url: `${receiver.url}/flaky` }));
  const deliveries = await receiver.waitFor('/flaky', 3, 10_000);
  const ids = deliveries.map((delivery) => delivery.headers['webhook-id']);
  assert.equal(new Set(ids).size, 1, `one webhook-id across retries: ${ids.join(', ')}`);
  for (const delivery of deliveries) assert.equal(verified(secret, delivery).type, 'task.succeeded');
  // The delays come from webhooks.retryDelaysMs (jittered by at most a fifth).
  assert.ok(deliveries[1]!.receivedAt - deliveries[0]!.receivedAt >= 150 * 0.8 - 20);
  assert.ok(deliveries[2]!.receivedAt - deliveries[1]!.receivedAt >= 300 * 0.8 - 20);
  await sleep(700);
  assert.equal(receiver.at('/flaky').length, 3);
  const [webhook] = await webhooksOf(stack, id);
  assert.equal(webhook!.state, 'ended');
  assert.deepEqual(
    webhook!.deliveries.map((delivery) => [delivery.attempt, delivery.status_code, delivery.next_attempt_at === null, delivery.webhook_id]),
    [
      [1, 500, false, ids[0]],
      [2, 500, false, ids[0]],
      [3, 204, true, ids[0]],
    ],
  );
  const metrics = (await stack.app.inject({ url: '/metrics' })).body;
  assert.equal(metricValue(metrics, 'taskgate_webhook_deliveries_total', { outcome: 'failed' }), 2);
  assert.equal(metricValue(metrics, 'taskgate_webhook_deliveries_total', { outcome: 'delivered' }), 1);
  assert.equal(metricValue(metrics, 'taskgate_webhook_queue_depth'), 0);
});

test('a 410 ends the webhook at once: no retry, no later event', async (t) => {
  const stack = await startWebhookStack(t, { retryDelaysMs: [100] });
  const receiver = await startReceiver(t);
  receiver.respond('/gone', () => 410);
  const id = 'task_wh_gone';
  stack.simulators.vtrix.setTask(id, {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'in_progress', progress: 10 },
      { atMs: 500, status: 'in_progress', progress: 50 },
      { atMs: 1000, status: 'in_progress', progress: 80 },
      { atMs: 1500, status: 'succeeded' },
    ],
  });
  const answer = await registerWebhook(stack.app, `vtrix:${id}`, { url: `${receiver.url}/gone`, events: ['task.updated', 'task.succeeded'] });
  assert.equal(answer.statusCode, 201, answer.body);
  await receiver.waitFor('/gone', 1);
  await sleep(2200);
  assert.equal(receiver.at('/gone').length, 1, 'nothing after the 410');
  const [webhook] = await webhooksOf(stack, `vtrix:${id}`);
  assert.equal(webhook!.state, 'ended');
  assert.deepEqual(webhook!.deliveries.map((delivery) => [delivery.status_code, delivery.next_attempt_at]), [[410, null]]);
});

test('a receiver that never answers is timed out (webhooks.timeoutMs) and tried again', async (t) => {
  const stack = await startWebhookStack(t, { timeoutMs: 400, retryDelaysMs: [100] });
  const receiver = await startReceiver(t);
  receiver.respond('/hang', (index) => (index === 0 ? 'hang' : 200));
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const answer = await registerWebhook(stack.app, id, { url: `${receiver.url}/hang` });
  assert.equal(answer.statusCode, 201, answer.body);
  const deliveries = await receiver.waitFor('/hang', 2, 10_000);
  assert.ok(deliveries[1]!.receivedAt - deliveries[0]!.receivedAt >= 400, 'the retry came after the timeout');
  await sleep(300);
  const [webhook] = await webhooksOf(stack, id);
  const [first, second] = webhook!.deliveries;
  assert.equal(first!.status_code, null);
  assert.match(first!.error ?? '', /no answer within 400 ms/);
  assert.equal(second!.status_code, 200);
  const metrics = (await stack.app.inject({ url: '/metrics' })).body;
  assert.equal(metricValue(metrics, 'taskgate_webhook_deliveries_total', { outcome: 'timeout' }), 1);
});

test('redirects are not followed: a 3xx is a failed attempt', async (t) => {
  const stack = await startWebhookStack(t, { retryDelaysMs: [100] });
  const receiver = await startReceiver(t);
  receiver.respond('/moved', (index) => (index === 0 ? 307 : 200));
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  assert.equal((await registerWebhook(stack.app, id, { url: `${receiver.url}/moved` })).statusCode, 201);
  await receiver.waitFor('/moved', 2);
  await sleep(300);
  const [webhook] = await webhooksOf(stack, id);
  assert.deepEqual(webhook!.deliveries.map((delivery) => [delivery.status_code, delivery.error]), [
    [307, 'redirect not followed'],
    [200, null],
  ]);
});

test('a target on a refused address, or plain http to a host not allowed, is rejected at registration', async (t) => {
  const names: Record<string, string> = { 'internal.example': '10.0.0.5', 'metadata.example': '169.254.169.254', 'public.example': '93.184.215.14' };
  const stack = await startWebhookStack(t, {
    resolveHostname: async (hostname) => {
      const address = names[hostname];
      if (address === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return [{ address, family: 4 }];
    },
  });
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const refused = [
    'https://10.1.2.3/hook',
    'https://[::1]:8443/hook',
    'https://169.254.169.254/latest/meta-data',
    'https://localhost/hook',
    'https://internal.example/hook',
    'https://metadata.example/hook',
    'https://nowhere.example/hook',
    'http://public.example/hook',
    'https://user:pass@public.example/hook',
    'ftp://public.example/hook',
    'not a url',
  ];
  for (const url of refused) {
    const answer = await registerWebhook(stack.app, id, { url });
    assert.equal(answer.statusCode, 400, `${url}: ${answer.body}`);
    assert.equal(json(answer).code, 'invalid_request', url);
    // The problem says why, without the internal address a name resolved to.
    const detail = json(answer).detail;
    assert.ok(typeof detail === 'string' && detail.length > 0, `${url}: a problem without a detail`);
    if (url.includes('.example')) {
      assert.match(detail, /[a-z]+\.example/, `${url}: the detail names the host`);
      assert.doesNotMatch(detail, /10\.0\.0\.5|169\.254/, url);
    }
  }
  assert.equal((await webhooksOf(stack, id)).length, 0);
  const allowed = await registerWebhook(stack.app, id, { url: 'https://public.example/hook' });
  assert.equal(allowed.statusCode, 201, allowed.body);
});

test('a loopback receiver on a port not in webhooks.allowHosts is refused for what it is, with the setting that allows it', async (t) => {
  // The stack allows 127.0.0.1 on every port; this one allows a single port only.
  const stack = await startWebhookStack(t, { allowHosts: ['127.0.0.1:9'] });
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  for (const url of ['http://127.0.0.1:8765/hook', 'https://127.0.0.1:8765/hook', 'http://localhost:8765/hook']) {
    const answer = await registerWebhook(stack.app, id, { url });
    assert.equal(answer.statusCode, 400, `${url}: ${answer.body}`);
    const detail = String(json(answer).detail);
    assert.match(detail, /loopback address|localhost names/, `${url}: ${detail}`);
    assert.doesNotMatch(detail, /only https/, `${url}: ${detail}`);
    assert.match(detail, /webhooks\.allowHosts/, `${url}: ${detail}`);
  }
  // A public host over plain http is still told to use https.
  const plain = await registerWebhook(stack.app, id, { url: 'http://hooks.example/hook' });
  assert.match(String(json(plain).detail), /only https/);
});

test('a target that resolves to a refused address at delivery gets no packet: blocked, logged and retried', async (t) => {
  let lookups = 0;
  const stack = await startWebhookStack(t, {
    retryDelaysMs: [150],
    resolveHostname: async (hostname) => {
      lookups++;
      // At registration the lookup fails for now (accepted, checked again at delivery); then the name points at loopback.
      if (lookups === 1) throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN' });
      return [{ address: '127.0.0.1', family: 4 }];
    },
  });
  const receiver = await startReceiver(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  const answer = await registerWebhook(stack.app, id, { url: `https://rebind.example:${receiver.port}/hook` });
  assert.equal(answer.statusCode, 201, answer.body);
  let logged: Awaited<ReturnType<typeof webhooksOf>> = [];
  for (let round = 0; round < 100 && (logged[0]?.deliveries.length ?? 0) < 2; round++) {
    await sleep(50);
    logged = await webhooksOf(stack, id);
  }
  const deliveries = logged[0]!.deliveries;
  assert.ok(deliveries.length >= 2, `attempts logged: ${JSON.stringify(deliveries)}`);
  for (const delivery of deliveries) {
    assert.equal(delivery.status_code, null);
    assert.match(delivery.error ?? '', /Refused rebind\.example: .*loopback/);
    assert.notEqual(delivery.next_attempt_at, null);
  }
  assert.equal(receiver.connections(), 0, 'no TCP connection reached the receiver on loopback');
  const metrics = (await stack.app.inject({ url: '/metrics' })).body;
  assert.ok((metricValue(metrics, 'taskgate_webhook_deliveries_total', { outcome: 'blocked' }) ?? 0) >= 2);
});

test('at most 10 active webhooks per task; DELETE ends one (204), which frees its place and stops its deliveries', async (t) => {
  const stack = await startWebhookStack(t);
  const receiver = await startReceiver(t);
  const id = 'task_wh_limit';
  stack.simulators.vtrix.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 5 }, { atMs: 1500, status: 'succeeded' }] });
  const created: string[] = [];
  for (let index = 0; index < 10; index++) {
    const answer = await registerWebhook(stack.app, `vtrix:${id}`, { url: `${receiver.url}/limit/${index}` });
    assert.equal(answer.statusCode, 201, answer.body);
    created.push(WebhookSchema.parse(json(answer)).id);
  }
  const eleventh = await registerWebhook(stack.app, `vtrix:${id}`, { url: `${receiver.url}/limit/10` });
  assert.equal(eleventh.statusCode, 409, eleventh.body);
  assert.equal(json(eleventh).code, 'webhook_limit_reached');

  const deleted = await stack.app.inject({ method: 'DELETE', url: `/tasks/vtrix:${id}/webhooks/${created[0]}` });
  assert.equal(deleted.statusCode, 204, deleted.body);
  assert.equal((await stack.app.inject({ method: 'DELETE', url: `/tasks/vtrix:${id}/webhooks/${created[0]}` })).statusCode, 204, 'ending an ended one');
  const unknown = await stack.app.inject({ method: 'DELETE', url: `/tasks/vtrix:${id}/webhooks/wh_unknown` });
  assert.equal(unknown.statusCode, 404);
  assert.equal(json(unknown).code, 'not_found');
  assert.equal((await registerWebhook(stack.app, `vtrix:${id}`, { url: `${receiver.url}/limit/10` })).statusCode, 201, 'the ended one frees its place');
  const listed = await webhooksOf(stack, `vtrix:${id}`);
  assert.equal(listed.length, 11);
  assert.deepEqual(listed[0]!.id, created[0]);
  assert.equal(listed[0]!.state, 'ended');
  assert.deepEqual(listed[0]!.deliveries, []);

  await receiver.waitFor('/limit/10', 1);
  for (let index = 1; index <= 10; index++) await receiver.waitFor(`/limit/${index}`, 1);
  await sleep(300);
  assert.equal(receiver.at('/limit/0').length, 0, 'the deleted webhook got nothing');
  // All 11 have ended: the task keeps the latest 10, and the deleted one (the oldest) is forgotten.
  const ended = await webhooksOf(stack, `vtrix:${id}`);
  assert.equal(ended.length, 10);
  assert.ok(ended.every((webhook) => webhook.state === 'ended' && webhook.id !== created[0]));
});

test('bad bodies are 400 invalid_request; unknown events, repeated events and a missing url are refused', async (t) => {
  const stack = await startWebhookStack(t);
  const id = 'video_69095b4ce0048190893a01510c0c98b0';
  for (const body of [{}, { url: 'https://public.example/', events: [] }, { url: 'https://public.example/', events: ['task.done'] }, { url: 'https://public.example/', events: ['task.failed', 'task.failed'] }, { url: 'https://public.example/', extra: 1 }]) {
    const answer = await registerWebhook(stack.app, id, body);
    assert.equal(answer.statusCode, 400, JSON.stringify(body));
    assert.equal(json(answer).code, 'invalid_request');
  }
  const badId = await stack.app.inject({ method: 'POST', url: '/tasks/bad%20id/webhooks', payload: { url: 'https://public.example/' } });
  assert.equal(json(badId).code, 'invalid_task_id');
});

test('the boot log says webhooks die with the process when there is no Redis', async (t) => {
  const lines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line) };
  await startWebhookStack(t, { logger: { level: 'info', stream } });
  assert.ok(
    lines.some((line) => /webhooks: .*kept in this process only and die with it/.test(line)),
    lines.join(''),
  );
});
