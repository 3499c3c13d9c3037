/**
 * Durable webhooks need a Redis that keeps them. The gateway reads Redis's persistence
 * settings at boot and warns when it does not persist, and it notices when Redis lost its
 * data anyway (a marker key it keeps is gone after a restart): an error in the log and
 * `taskgate_redis_data_lost_total`. Real redis-servers, restarted on their port: one
 * without persistence (the loss is seen), one with AOF (nothing lost, nothing reported).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { WebhookListSchema } from '../../schemas/webhooks.js';
import { metricValue } from '../hardening/support.js';
import { adminClient, startRedis, waitFor, type RedisServerOptions } from '../helpers/redis.js';
import { json } from '../helpers/stack.js';
import { registerWebhook, startWebhookStack } from '../helpers/webhook-stack.js';

const RUNNING = 'task_wh_durable';
const resolveHostname = () => Promise.resolve([{ address: '93.184.215.14', family: 4 }]);

type Closable = { after(fn: () => Promise<void> | void): void };

async function gatewayOn(t: Closable, server: RedisServerOptions) {
  const redis = await startRedis(server);
  t.after(() => redis.stop());
  const lines: string[] = [];
  const stack = await startWebhookStack(t, {
    env: { REDIS_URL: redis.url, TASKGATE_REDIS_PREFIX: 'durable:' },
    resolveHostname,
    logger: { level: 'info', stream: { write: (line: string) => void lines.push(line) } },
  });
  stack.simulators.vtrix.setTask(RUNNING, { timeline: [{ atMs: 0, status: 'in_progress', progress: 5 }] });
  return { redis, app: stack.app, lines };
}

async function dataLost(app: FastifyInstance): Promise<number | undefined> {
  return metricValue((await app.inject({ url: '/metrics' })).body, 'taskgate_redis_data_lost_total');
}

async function webhookCount(app: FastifyInstance): Promise<number> {
  const answer = await app.inject({ url: `/tasks/vtrix:${RUNNING}/webhooks` });
  assert.equal(answer.statusCode, 200, answer.body);
  return WebhookListSchema.parse(json(answer)).webhooks.length;
}

/** Redis up again, as this gateway sees it (its listing answers instead of 503). */
async function redisBack(app: FastifyInstance): Promise<boolean> {
  return waitFor(async () => (await app.inject({ url: `/tasks/vtrix:${RUNNING}/webhooks` })).statusCode === 200, 10_000);
}

test('without persistence: a warning at boot, and a restart of Redis is noticed as lost data', async (t) => {
  const { redis, app, lines } = await gatewayOn(t, {});
  assert.ok(
    await waitFor(() => lines.some((line) => /Redis does not persist \(appendonly no, no snapshots\)/.test(line) && /"level":40/.test(line))),
    lines.join(''),
  );
  assert.equal((await registerWebhook(app, `vtrix:${RUNNING}`, { url: 'https://hooks.example/durable' })).statusCode, 201);
  assert.equal(await webhookCount(app), 1);
  assert.equal(await dataLost(app), 0);

  await redis.restart();
  assert.ok(await redisBack(app), 'the gateway reconnected');
  assert.ok(await waitFor(async () => (await dataLost(app)) === 1, 10_000), `taskgate_redis_data_lost_total: ${await dataLost(app)}`);
  assert.ok(lines.some((line) => /"level":50/.test(line) && /Redis has lost its data/.test(line)), 'an error in the log');
  assert.equal(await webhookCount(app), 0, 'what was lost: the webhook');
});

test('with AOF: no warning, and a restart of Redis loses nothing and reports nothing', async (t) => {
  const { redis, app, lines } = await gatewayOn(t, { args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  assert.ok(await waitFor(() => lines.some((line) => /Redis persists them \(appendonly yes\)/.test(line))), lines.join(''));
  assert.ok(!lines.some((line) => /does not persist|persists only by snapshots/.test(line)));
  assert.equal((await registerWebhook(app, `vtrix:${RUNNING}`, { url: 'https://hooks.example/durable' })).statusCode, 201);
  const admin = adminClient(t, redis.url);
  const marker = 'durable:fleet:data-marker';
  const before = { value: await admin.get(marker), ttl: await admin.pttl(marker) };
  assert.ok(before.value !== null && before.ttl > 0, 'the gateway keeps its marker');

  await redis.restart();
  assert.ok(await redisBack(app), 'the gateway reconnected');
  assert.equal(await webhookCount(app), 1, 'the webhook survived');
  // The look made on reconnecting renewed the marker (a longer time left than before the restart) and found its value.
  assert.ok(await waitFor(async () => (await admin.pttl(marker)) > before.ttl, 10_000), 'the marker was looked at since the restart');
  assert.equal(await admin.get(marker), before.value);
  assert.equal(await dataLost(app), 0);
  assert.ok(!lines.some((line) => /Redis has lost its data/.test(line)));
});
