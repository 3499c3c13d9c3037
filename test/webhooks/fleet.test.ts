/**
 * Webhooks in fleet mode with real processes: two gateway processes
 * of the production entry on one redis-server, the simulators and a receiver in this
 * process. A replica that registered a webhook is killed (SIGKILL) and the other delivers;
 * 1,000 webhooks over 100 tasks registered round-robin are each delivered exactly once,
 * with each task polled once per cadence for the fleet. Runs in the order written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { CreatedWebhookSchema, WebhookEventBodySchema, WebhookListSchema } from '../../schemas/webhooks.js';
import { metricValue, type GatewayProcess } from '../hardening/support.js';
import { ask, metricsOf, startFleet, type Fleet } from '../helpers/fleet.js';
import { startReceiver, type ReceivedDelivery, type Receiver } from '../helpers/receiver.js';
import { adminClient, keysUnder } from '../helpers/redis.js';
import { newWebhookSecret } from '../helpers/webhook-stack.js';

const CADENCE_MS = 500;
const SECRET = newWebhookSecret();
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

const cleanups: Array<() => Promise<void> | void> = [];
const closable = { after: (cleanup: () => Promise<void> | void) => void cleanups.unshift(cleanup) };
let fleet: Fleet;
let receiver: Receiver;

before(async () => {
  receiver = await startReceiver(closable);
  fleet = await startFleet(closable, {
    replicas: 2,
    env: { TASKGATE_WEBHOOK_SECRET: SECRET, TASKGATE_RATE_LIMIT: '0', LOG_LEVEL: 'info' },
    configFile: {
      providers: { vtrix: { pollIntervalMs: CADENCE_MS }, gravitex: { pollIntervalMs: CADENCE_MS } },
      webhooks: { retryDelaysMs: [300], timeoutMs: 2000, allowHosts: ['127.0.0.1'] },
    },
  });
});
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

function live(): GatewayProcess[] {
  return fleet.replicas.filter((replica) => replica.child.exitCode === null && replica.child.signalCode === null);
}

/** Each webhook's secret from its 201 answer, by the receiver path it was registered for. */
const secrets = new Map<string, string>();

/** Verified with the secret the registering replica gave: whichever replica delivers derives the same one. */
function verified(delivery: ReceivedDelivery) {
  const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [name, String(delivery.headers[name])]));
  const secret = secrets.get(delivery.path);
  assert.ok(secret, `a secret for ${delivery.path}`);
  return WebhookEventBodySchema.parse(new Webhook(secret).verify(delivery.body, headers));
}

async function register(replica: GatewayProcess, taskId: string, body: { url: string }) {
  const answer = await ask(replica, `/tasks/${encodeURIComponent(taskId)}/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(answer.statusCode, 201, answer.body);
  const created = CreatedWebhookSchema.parse(JSON.parse(answer.body));
  secrets.set(new URL(body.url).pathname, created.secret);
  return created;
}

async function watchedBy(replica: GatewayProcess): Promise<number> {
  return metricValue(await metricsOf(replica), 'taskgate_active_waiters', { kind: 'webhook' }) ?? 0;
}

async function kill(replica: GatewayProcess): Promise<void> {
  replica.child.kill('SIGKILL');
  await replica.exited;
}

test('the boot log says webhooks are kept in Redis', () => {
  for (const replica of fleet.replicas) assert.ok(replica.stdout().some((line) => line.includes('webhooks: subscriptions and pending deliveries are kept in Redis')));
});

test('register on one replica, kill it (SIGKILL): the other watches the task and delivers, once', async () => {
  const id = 'task_whfleet_takeover';
  fleet.simulators.vtrix.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }, { atMs: 8000, status: 'succeeded' }] });
  const [first, second] = live();
  const created = await register(first!, `vtrix:${id}`, { url: `${receiver.url}/takeover` });
  // The registering replica takes the watch at once.
  let held = 0;
  for (let round = 0; round < 50 && held === 0; round++) {
    held = await watchedBy(first!);
    if (held === 0) await sleep(100);
  }
  assert.equal(held, 1, 'the registering replica watches the task');
  assert.equal(await watchedBy(second!), 0);
  await kill(first!);

  const [delivery] = await receiver.waitFor('/takeover', 1, 40_000);
  const body = verified(delivery!);
  assert.equal(body.type, 'task.succeeded');
  assert.equal(body.data.id, `vtrix:${id}`);
  await sleep(CADENCE_MS * 4);
  assert.equal(receiver.at('/takeover').length, 1, 'delivered once');
  const listed = await ask(second!, `/tasks/vtrix:${id}/webhooks`);
  const [webhook] = WebhookListSchema.parse(JSON.parse(listed.body)).webhooks;
  assert.equal(webhook!.id, created.id);
  assert.equal(webhook!.state, 'ended');
  assert.deepEqual(webhook!.deliveries.map((entry) => [entry.attempt, entry.status_code, entry.webhook_id]), [[1, 200, delivery!.headers['webhook-id']]]);
});

test('retries outlive the replica that made the first attempt: the same webhook-id from the other one', async () => {
  const replacement = await fleet.addReplica();
  const [first] = live().filter((replica) => replica !== replacement);
  // Fails until the test says otherwise.
  let accept = false;
  receiver.respond('/retried', () => (accept ? 200 : 503));
  await register(replacement, 'video_69095b4ce0048190893a01510c0c98b0', { url: `${receiver.url}/retried` });
  await receiver.waitFor('/retried', 1);
  await kill(replacement);
  accept = true;
  const deliveries = await receiver.waitFor('/retried', 2, 40_000);
  assert.equal(new Set(deliveries.map((delivery) => delivery.headers['webhook-id'])).size, 1);
  assert.equal(verified(deliveries.at(-1)!).type, 'task.succeeded');
  await sleep(1000);
  assert.equal(receiver.at('/retried').length, deliveries.length);
  assert.equal(await ask(first!, '/healthz').then((answer) => answer.statusCode), 200);
});

test('1,000 webhooks over 100 tasks, registered round-robin on two replicas: each delivered exactly once, each task polled once per cadence', async () => {
  await fleet.addReplica();
  const replicas = live();
  assert.equal(replicas.length, 2);
  const { vtrix } = fleet.simulators;
  const tasks = Array.from({ length: 100 }, (_, index) => `task_whmany_${String(index).padStart(3, '0')}`);
  // Each task's story starts at its first poll and ends (succeeded) this many ms later.
  const endsAtMs = (index: number) => 4000 + (index % 10) * 300;
  for (const [index, id] of tasks.entries()) {
    vtrix.setTask(id, { timeline: [{ atMs: 0, status: 'in_progress', progress: 5 }, { atMs: endsAtMs(index), status: 'succeeded' }] });
  }
  const jobs = tasks.flatMap((id) => Array.from({ length: 10 }, (_, copy) => ({ id, copy })));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < jobs.length) {
        const job = jobs[next]!;
        const replica = replicas[next % replicas.length]!;
        next++;
        await register(replica, `vtrix:${job.id}`, { url: `${receiver.url}/many/${job.id}/${job.copy}` });
      }
    }),
  );
  // While the tasks run: the watched set, the fleet's count and the webhooks all expire.
  await assertWebhookKeysExpire(['task:', 'watching', 'active']);
  for (const id of tasks) for (let copy = 0; copy < 10; copy++) await receiver.waitFor(`/many/${id}/${copy}`, 1, 40_000);
  const hitsWhenDelivered = tasks.map((id) => vtrix.hits(id));
  await sleep(CADENCE_MS * 4);
  for (const [index, id] of tasks.entries()) {
    for (let copy = 0; copy < 10; copy++) {
      const got = receiver.at(`/many/${id}/${copy}`);
      assert.equal(got.length, 1, `${id} #${copy}: ${got.length} deliveries`);
      assert.equal(verified(got[0]!).type, 'task.succeeded');
    }
    // One poll per cadence for the whole fleet, from the first poll until the one that saw
    // it succeed (ten webhooks on two replicas, their registrations' lookups included): a
    // second poller, or a poll loop per webhook, would need several times as many.
    const hits = vtrix.hits(id);
    const bound = Math.ceil(endsAtMs(index) / CADENCE_MS) + 2;
    assert.ok(hits <= bound, `${id}: ${hits} upstream calls for a story of ${endsAtMs(index)} ms at a ${CADENCE_MS}-ms cadence (at most ${bound})`);
    assert.equal(hits, hitsWhenDelivered[index], `${id}: polled again after it had succeeded`);
  }
  for (const replica of replicas) assert.equal(metricValue(await metricsOf(replica), 'taskgate_webhook_queue_depth'), 0);
});

/** Every webhook key has a TTL, and these kinds exist right now. */
async function assertWebhookKeysExpire(kinds: readonly string[]): Promise<void> {
  const admin = adminClient(closable, fleet.redis.url);
  const keys = await keysUnder(admin, `${fleet.prefix}webhook:`);
  for (const kind of kinds) assert.ok(keys.some((key) => key.startsWith(`${fleet.prefix}webhook:${kind}`)), `no webhook:${kind} key`);
  const ttls = await Promise.all(keys.map((key) => admin.pttl(key)));
  // -1: no expiry; -2 would only mean it expired since the SCAN.
  assert.deepEqual(keys.filter((_, index) => ttls[index] === -1), [], 'keys without a TTL');
  assert.deepEqual((await keysUnder(admin, '')).filter((key) => !key.startsWith(fleet.prefix)), [], 'keys outside the prefix');
}

test('every webhook key left once all is delivered (webhooks, logs) is under the prefix and expires', async () => {
  await assertWebhookKeysExpire(['task:', 'log:']);
});
