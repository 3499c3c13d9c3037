/**
 * The archive's copy queue, in this process and in Redis (a real redis-server, two
 * connections standing for two replicas), run by one contract: tasks queued once, oldest
 * first; one claim at a time per task until released or expired; a retention turn once
 * per interval. In Redis the queue is the fleet's and a stored task is announced to the
 * other replicas.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InProcessCopyQueue, RedisCopyQueue, type CopyQueue } from '../../src/archive/queue.js';
import { connectReplicas, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
const closers: Array<() => Promise<void> | void> = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const close of closers) await close();
  await redis.stop();
});

let prefixes = 0;
async function redisPair(): Promise<[RedisCopyQueue, RedisCopyQueue]> {
  const prefix = `tgqueue${++prefixes}:`;
  const [first, second] = await connectReplicas({ after: (close) => void closers.push(close) }, { url: redis.url, prefix }, 2);
  return [new RedisCopyQueue(first!, 'replica-a'), new RedisCopyQueue(second!, 'replica-b')];
}

const subjects: Array<{ name: string; pair: () => Promise<[CopyQueue, CopyQueue]> }> = [
  {
    name: 'in this process',
    pair: () => {
      const queue = new InProcessCopyQueue();
      return Promise.resolve([queue, queue]);
    },
  },
  { name: 'in Redis', pair: redisPair },
];

for (const subject of subjects) {
  describe(`the copy queue ${subject.name}`, () => {
    it('keeps each task once, first seen first, until it is removed', async () => {
      const [one, other] = await subject.pair();
      await one.add('vtrix:b', 2000);
      await other.add('vtrix:a', 1000);
      await other.add('vtrix:b', 5000);
      assert.deepEqual(await one.oldest(10), [
        { key: 'vtrix:a', seenAt: 1000 },
        { key: 'vtrix:b', seenAt: 2000 },
      ]);
      assert.deepEqual(await other.stats(), { depth: 2, oldestSeenAt: 1000 });
      await one.remove('vtrix:a');
      assert.deepEqual(await other.oldest(1), [{ key: 'vtrix:b', seenAt: 2000 }]);
      await other.remove('vtrix:b');
      assert.deepEqual(await one.stats(), { depth: 0, oldestSeenAt: undefined });
    });

    it('lets one claim a task at a time, until it is released or its lease runs out', async () => {
      const [one, other] = await subject.pair();
      const claim = await one.claim('vtrix:c', 300);
      assert.ok(typeof claim === 'object', 'the first claim holds');
      assert.equal(await other.claim('vtrix:c', 300), 'taken');
      assert.equal(await one.renew('vtrix:c', claim.token, 300), true);
      await one.release('vtrix:c', claim.token);
      const second = await other.claim('vtrix:c', 150);
      assert.ok(typeof second === 'object', 'free again once released');
      assert.equal(await one.renew('vtrix:c', claim.token, 300), false, 'a released lease is not renewed');
      assert.ok(await waitFor(async () => typeof (await one.claim('vtrix:c', 1000)) === 'object', 3000), 'taken over once the lease ran out');
    });

    it('gives the retention sweep one turn per interval', async () => {
      const [one, other] = await subject.pair();
      assert.equal(await one.takeTurn('retention', 250), true);
      assert.equal(await other.takeTurn('retention', 250), false);
      assert.equal(await one.takeTurn('retention', 250), false);
      assert.ok(await waitFor(() => other.takeTurn('retention', 250), 3000), 'the next turn, once the interval passed');
    });
  });
}

describe('stored tasks announced through Redis', () => {
  it('announces a stored task to the other replicas, not to itself', async () => {
    const [one, other] = await redisPair();
    const heardByOther: string[] = [];
    const heardByOne: string[] = [];
    other.onStored((key) => heardByOther.push(key));
    one.onStored((key) => heardByOne.push(key));
    await new Promise((resolve) => setTimeout(resolve, 100));
    one.announceStored('vtrix:d');
    assert.ok(await waitFor(() => heardByOther.length === 1, 2000));
    assert.deepEqual(heardByOther, ['vtrix:d']);
    assert.deepEqual(heardByOne, []);
    one.close();
    other.close();
  });
});
