/**
 * Browser links in fleet mode without TASKGATE_LINK_SECRET: every replica signs with one
 * random secret kept in Redis (created once, with a TTL), so a link minted on one replica
 * opens on any other; a replica that starts while Redis is unavailable signs with its own
 * secret until Redis answers, then with the fleet's, and still accepts what it minted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { STDERR_LOG } from '../../src/background.js';
import { RedisTaskStore } from '../../src/fleet/redis-store.js';
import { SHARED_SECRET_TTL_MS } from '../../src/fleet/shared-secret.js';
import { LinkSigner, startLinkSigner } from '../../src/links.js';
import { adminClient, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

const PREFIX = 'tg-links:';
const KEYS = ['backend-key-of-the-app-1', 'backend-key-of-the-app-2'];
// Errors still reach stderr: a background failure in these tests is worth seeing.
const quiet = { warn: () => {}, info: () => {}, error: STDERR_LOG.error };
const closers: Array<() => Promise<void> | void> = [];
const t = { after: (close: () => Promise<void> | void) => closers.push(close) };

let server: TestRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  for (const close of closers.reverse()) await close();
  await server.stop();
});

async function replicaStore(connectTimeoutMs = 1000): Promise<RedisTaskStore> {
  const config = loadConfig({ REDIS_URL: server.url, TASKGATE_REDIS_PREFIX: PREFIX });
  const store = await RedisTaskStore.create({ ...config, redis: { ...config.redis, connectTimeoutMs } }, { onHealthChange: () => {} });
  t.after(() => store.close());
  return store;
}

test('replicas share one random secret kept in Redis, created once, with a TTL: a link from one verifies on the others', async () => {
  const stores = await Promise.all([replicaStore(), replicaStore(), replicaStore()]);
  const signers = await Promise.all(stores.map(async (store) => {
    const started = await startLinkSigner({ secret: undefined, clientKeys: KEYS, store, log: quiet });
    t.after(started.stop);
    return started.signer;
  }));
  const [first, second, third] = await Promise.all(stores.map((store) => store.sharedSecret('link')));
  assert.equal(first?.length, 32);
  assert.ok(first.equals(second!) && first.equals(third!), 'one secret for all');
  const admin = adminClient(t, server.url);
  const keys = await admin.keys(`${PREFIX}secret:*`);
  assert.deepEqual(keys, [`${PREFIX}secret:link`]);
  const ttl = await admin.pttl(keys[0]!);
  assert.ok(ttl > 0 && ttl <= SHARED_SECRET_TTL_MS, `PTTL ${ttl}`);
  for (const [index, minter] of signers.entries()) {
    const token = minter.mint('task_fleet01', 300, 'key-2').token;
    for (const verifier of signers) assert.equal(verifier.verify(token, 'task_fleet01'), true, `minted on replica ${index + 1}`);
    assert.equal(signers[(index + 1) % 3]!.verify(token, 'task_fleet02'), false, 'still for its task only');
  }
  // The control: a replica with a secret of its own (the old behaviour) refuses them.
  assert.equal(new LinkSigner(undefined, KEYS).verify(signers[0]!.mint('task_fleet01', 300, 'key-1').token, 'task_fleet01'), false);
});

test('a replica that starts while Redis is unavailable signs with its own secret, then adopts the fleet\'s and keeps accepting its own links', async () => {
  const running = await replicaStore();
  const fleet = await startLinkSigner({ secret: undefined, clientKeys: KEYS, store: running, log: quiet });
  t.after(fleet.stop);
  const late = await replicaStore(300);
  server.pause();
  let resumed = false;
  try {
    const warnings: string[] = [];
    const started = await startLinkSigner({ secret: undefined, clientKeys: KEYS, store: late, log: { warn: (message: string) => warnings.push(message), info: () => {}, error: STDERR_LOG.error }, retryMs: 50 });
    t.after(started.stop);
    assert.match(warnings.join('\n'), /Redis is unavailable/);
    const ownLink = started.signer.mint('task_fleet03', 300, 'key-1').token;
    assert.equal(fleet.signer.verify(ownLink, 'task_fleet03'), false, 'signed with its own secret meanwhile');
    server.resume();
    resumed = true;
    assert.ok(await waitFor(() => fleet.signer.verify(started.signer.mint('task_fleet03', 300, 'key-1').token, 'task_fleet03'), 10_000), 'now signs with the fleet\'s secret');
    assert.equal(started.signer.verify(ownLink, 'task_fleet03'), true, 'and still accepts the link it minted alone');
    assert.equal(started.signer.verify(fleet.signer.mint('task_fleet03', 300, 'key-2').token, 'task_fleet03'), true);
  } finally {
    if (!resumed) server.resume();
  }
});
