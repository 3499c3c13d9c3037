/**
 * The archive across a fleet of real processes: two gateway replicas (the production
 * entry) on one redis-server, archiving into one S3 store (a real s3rver on loopback),
 * result files on a CDN origin that counts its requests. A task both replicas see is
 * copied once (one CDN fetch, one upload); a replica killed in the middle of a copy is
 * taken over by the other once its lease runs out, and the file ends up whole (sha256).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { syntheticAsset } from '../../src/simulators/media/synthetic.js';
import { download, getTask, sha256, waitArchived } from '../helpers/archive.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

const LEASE_MS = 2000;
const cleanups: Array<() => Promise<void> | void> = [];
let cdn: Cdn;
let s3: TestS3;
let fleet: Fleet;

function syntheticDigest(size: number): string {
  const asset = syntheticAsset(size);
  return sha256(Buffer.concat([...asset.chunks(0, size)]));
}

function succeededAt(url: string) {
  return { raw: { status: 200, body: { id: 'x', status: 'completed', created_at: 1775831525, output: [{ content: [{ type: 'video', url }] }] } } };
}

/** Uploads of one key that reached the store (a single PUT, or the parts of a multipart one). */
function uploadsOf(path: string): number {
  return s3.requests().filter((request) => (request.method === 'PUT' || request.method === 'POST') && request.path.split('?')[0] === path && !request.path.includes('partNumber')).length;
}

before(async () => {
  const closable = { after: (cleanup: () => Promise<void> | void) => void cleanups.unshift(cleanup) };
  cdn = await startCdn();
  cleanups.unshift(() => cdn.close());
  s3 = await startS3(closable);
  fleet = await startFleet(closable, {
    replicas: 2,
    env: s3.env('fleet'),
    configFile: {
      content: { allowHosts: [new URL(cdn.url).host] },
      archive: { forcePathStyle: true, leaseMs: LEASE_MS },
      // Short, so the second replica looks the task up itself (and queues it too) while the first copies.
      cache: { terminalTtlMs: 300 },
    },
  });
});
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

test('a task both replicas see succeeded is copied once: one fetch of its file, one upload', async () => {
  const [first, second] = fleet.replicas as [(typeof fleet.replicas)[0], (typeof fleet.replicas)[0]];
  const size = 1100 * 1024;
  // The origin pauses a second after the first bytes: the copy is still running when the other replica asks.
  fleet.simulators.vtrix.setTask('task_fa0001', succeededAt(cdn.signedUrl(`synthetic-${size}.bin`, 600_000, { stallAfterBytes: 65_536, stallMs: 1500 })));
  assert.equal((await getTask(first.url, 'task_fa0001')).task.status, 'succeeded');
  await new Promise((resolve) => setTimeout(resolve, 400));
  const fromSecond = await getTask(second.url, 'task_fa0001');
  assert.equal(fromSecond.task.archived_at, null, 'still copying');
  assert.equal(fleet.simulators.vtrix.hits('task_fa0001'), 2, 'each replica asked the provider itself');
  const archived = await waitArchived(second.url, 'task_fa0001');
  assert.deepEqual((await waitArchived(first.url, 'task_fa0001')).archived_at, archived.archived_at);
  // Both replicas keep sweeping the queue; give them a few rounds to prove none copies again.
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
  assert.equal(cdn.hits(`synthetic-${size}.bin`), 1, 'the file was fetched once');
  assert.equal(uploadsOf('/archive/fleet/tasks/vtrix/task_fa0001/0'), 1, 'the file was uploaded once');
  assert.equal(uploadsOf('/archive/fleet/tasks/vtrix/task_fa0001/task.json'), 1, 'the record was written once');
  for (const replica of [first, second]) {
    const file = await download(`${replica.url}/tasks/task_fa0001/content`);
    assert.equal(file.statusCode, 200);
    assert.equal(sha256(file.bytes), syntheticDigest(size));
  }
  const ranged = await download(`${second.url}/tasks/task_fa0001/content`, { range: 'bytes=1000-1999' });
  assert.equal(ranged.statusCode, 206);
  assert.ok(
    await s3.received((request) => request.method === 'GET' && request.path.split('?')[0] === '/archive/fleet/tasks/vtrix/task_fa0001/0' && request.range === 'bytes=1000-1999'),
    'the range went to the store as a ranged GET',
  );
  assert.equal(cdn.hits(`synthetic-${size}.bin`), 1, 'and the CDN was not asked');
});

test('a replica killed mid-copy is taken over by the other once its lease runs out', async () => {
  const [doomed, survivor] = fleet.replicas as [(typeof fleet.replicas)[0], (typeof fleet.replicas)[0]];
  const size = 1200 * 1024;
  const name = `synthetic-${size}.bin`;
  // Each transfer stalls for 3 s after its first 64 KiB: the first replica is killed during the stall.
  fleet.simulators.vtrix.setTask('task_fa0002', succeededAt(cdn.signedUrl(name, 600_000, { stallAfterBytes: 65_536, stallMs: 3000 })));
  assert.equal((await getTask(doomed.url, 'task_fa0002')).task.status, 'succeeded');
  const deadline = Date.now() + 10_000;
  while (!cdn.requests(name).some((request) => request.state === 'streaming' && request.status === 200) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Well inside the stall: the first 64 KiB are out, the rest is 3 s away.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(cdn.requests(name).map((request) => request.state), ['streaming'], 'the first replica is copying');
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  const archived = await waitArchived(survivor.url, 'task_fa0002', 30_000);
  assert.notEqual(archived.archived_at, null);
  assert.deepEqual(
    cdn.requests(name).map((request) => request.state),
    ['aborted', 'completed'],
    'the dead replica\'s transfer was cut; the survivor fetched the file whole',
  );
  assert.equal(uploadsOf('/archive/fleet/tasks/vtrix/task_fa0002/0'), 1, 'one upload reached the store');
  const file = await download(`${survivor.url}/tasks/task_fa0002/content`);
  assert.equal(sha256(file.bytes), syntheticDigest(size));
});
