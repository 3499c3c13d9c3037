/**
 * The two archive stores, a folder and S3 (a real s3rver on loopback through the AWS SDK),
 * run one contract: what is written is read back byte for byte (sha256), ranges read only
 * their bytes (S3: a ranged GET reaches the store), listings come in key order, a write
 * whose body fails leaves nothing behind, deletes are idempotent.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { archiveSettingsSchema } from '../../src/archive/settings.js';
import { openArchiveStore } from '../../src/archive/open-store.js';
import type { ArchiveStore } from '../../src/archive/store.js';
import { syntheticAsset, syntheticBytes } from '../../src/simulators/media/synthetic.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

const MB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A synthetic file of `size` bytes as a stream, and its digest. */
function synthetic(size: number): { body: Readable; digest: string } {
  const digest = createHash('sha256');
  for (const chunk of syntheticAsset(size).chunks(0, size)) digest.update(chunk);
  return { body: Readable.from(syntheticAsset(size).chunks(0, size)), digest: digest.digest('hex') };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listAll(store: ArchiveStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}

interface Subject {
  name: string;
  open(): Promise<ArchiveStore>;
  /** Whether the store itself was asked for this range (S3 only). */
  askedFor?(range: string): Promise<boolean>;
}

let s3: TestS3;
const folders: string[] = [];
before(async () => {
  s3 = await startS3(undefined);
});
after(async () => {
  await s3.stop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const subjects: Subject[] = [
  {
    name: 'the folder store',
    open: () => {
      const folder = mkdtempSync(join(tmpdir(), 'taskgate-archive-'));
      folders.push(folder);
      const settings = archiveSettingsSchema.parse({ url: `file://${folder}/store` });
      return openArchiveStore(settings.url!, settings);
    },
  },
  {
    name: 'the S3 store',
    open: () => {
      const settings = archiveSettingsSchema.parse({
        url: `s3://${s3.bucket}/contract-${folders.length}-${Date.now()}`,
        forcePathStyle: true,
        s3: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: 'us-east-1', endpoint: s3.endpoint },
      });
      return openArchiveStore(settings.url!, settings);
    },
    askedFor: (range) => s3.received((request) => request.method === 'GET' && request.range === range),
  },
];

for (const subject of subjects) {
  describe(subject.name, () => {
    let store: ArchiveStore;
    before(async () => {
      store = await subject.open();
    });
    after(() => store.close());

    it('reads back a small object, and nothing for a key never written', async () => {
      await store.write('tasks/vtrix/a%2Eb/task.json', Readable.from([Buffer.from('{"a":1}')]), 'application/json');
      assert.equal((await store.read('tasks/vtrix/a%2Eb/task.json'))?.toString(), '{"a":1}');
      assert.equal(await store.read('tasks/vtrix/nothing/task.json'), undefined);
      await assert.rejects(store.open('tasks/vtrix/nothing/0'));
    });

    it('streams a file of several parts in and out unchanged, and serves a range of it alone', async () => {
      const size = 20 * MB + 12_345;
      const { body, digest } = synthetic(size);
      await store.write('tasks/vtrix/big/0', body, 'application/octet-stream');
      assert.equal(sha256(await readAll(await store.open('tasks/vtrix/big/0'))), digest);
      const first = 13 * MB + 7;
      const slice = await readAll(await store.open('tasks/vtrix/big/0', { first, last: first + 99_999 }));
      assert.deepEqual(slice, syntheticBytes(first, first + 100_000));
      if (subject.askedFor !== undefined) assert.ok(await subject.askedFor(`bytes=${first}-${first + 99_999}`), 'the store got the range itself');
    });

    it('lists keys under a prefix in key order', async () => {
      for (const key of ['index/0000000000002~vtrix~b', 'index/0000000000001~vtrix~a', 'index/0000000000010~vtrix~c', 'tasks/other/x/0']) {
        await store.write(key, Readable.from([Buffer.alloc(0)]), 'application/octet-stream');
      }
      assert.deepEqual(await listAll(store, 'index/'), ['index/0000000000001~vtrix~a', 'index/0000000000002~vtrix~b', 'index/0000000000010~vtrix~c']);
      assert.deepEqual(await listAll(store, 'tasks/vtrix/big/'), ['tasks/vtrix/big/0']);
      assert.deepEqual(await listAll(store, 'nowhere/'), []);
    });

    it('leaves nothing behind when the body fails half-way', async () => {
      const failing = new Readable({
        read() {
          this.push(syntheticBytes(0, 9 * MB));
          this.destroy(new Error('the source went away'));
        },
      });
      await assert.rejects(store.write('tasks/vtrix/broken/0', failing, 'application/octet-stream'));
      assert.deepEqual(await listAll(store, 'tasks/vtrix/broken/'), []);
      assert.equal(await store.read('tasks/vtrix/broken/0'), undefined);
    });

    it('deletes keys, missing ones included', async () => {
      await store.delete(['tasks/vtrix/big/0', 'tasks/vtrix/a%2Eb/task.json', 'tasks/vtrix/never/0']);
      assert.deepEqual(await listAll(store, 'tasks/vtrix/'), []);
      assert.equal(await store.read('tasks/vtrix/a%2Eb/task.json'), undefined);
    });
  });
}
