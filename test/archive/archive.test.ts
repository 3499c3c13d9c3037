/**
 * The result archive on one gateway, against the simulators and a CDN origin whose signed
 * links expire on the test's clock: a succeeded task is copied once in the background,
 * its URLs are the gateway's from the first answer, `/content` serves the stored bytes
 * (sha256 compared, ranges, validators) after the provider's link has expired, the task
 * is answered from the archive once its provider forgets it or fails, a stale link is
 * refreshed once, an oversized file is skipped, and every path that sees a task succeed
 * (a long-poll, a batch, a webhook watch) starts its copy.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { recordKey } from '../../src/archive/keys.js';
import { parseAllowHosts } from '../../src/content/address-guard.js';
import { loadAsset } from '../../src/simulators/media/assets.js';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { syntheticBytes } from '../../src/simulators/media/synthetic.js';
import { assertProblem } from '../hardening/support.js';
import { download, getTask, sample, sha256, startArchiveStack, waitArchived, type ArchiveStack } from '../helpers/archive.js';
import { startReceiver } from '../helpers/receiver.js';
import { withPollInterval } from '../helpers/stack.js';

const VIDEO = loadAsset('sample.webm');
const IMAGE = loadAsset('thumbnail.webp');
const DAY_MS = 24 * 60 * 60 * 1000;

/** A vtrix task (its model variant) that succeeded with these outputs. */
function succeededWith(...outputs: Array<{ type: string; url: string }>) {
  return { raw: { status: 200, body: { id: 'x', status: 'completed', created_at: 1775831525, output: [{ content: outputs }] } } };
}

let cdnClock = Date.now();
let cdn: Cdn;
before(async () => {
  cdn = await startCdn({ now: () => cdnClock });
});
after(() => cdn.close());

describe('a gateway with the archive in a folder', () => {
  let stack: ArchiveStack;
  const closers: Array<() => Promise<void> | void> = [];
  before(async () => {
    stack = await startArchiveStack({ after: (close: () => Promise<void> | void) => closers.push(close) }, {
      cdn,
      configure: (config) => withPollInterval({ ...config, cache: { ...config.cache, terminalTtlMs: 300 } }, 100),
    });
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('copies a succeeded task once, hands out gateway URLs from the first answer, and serves the stored bytes after the link expired', async () => {
    const start = cdnClock;
    stack.vtrix.setTask('task_ar0001', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 5_000) }, { type: 'image', url: cdn.signedUrl('thumbnail.webp', 5_000) }));
    const { task: first } = await getTask(stack.base, 'task_ar0001');
    const content = `${stack.base}/tasks/task_ar0001/content`;
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(first.outputs, [
      { type: 'video', url: `${content}?output=0` },
      { type: 'image', url: `${content}?output=1` },
    ]);
    assert.equal(first.url, `${content}?output=0`);
    assert.equal(first.content_url, content);

    const archived = await waitArchived(stack.base, 'task_ar0001');
    assert.deepEqual(archived.outputs, first.outputs, 'the URLs never change');
    assert.match(archived.archived_at!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(Date.parse(archived.expires_at!) - Date.parse(archived.archived_at!), 30 * DAY_MS, 'kept for retentionDays (30)');
    assert.equal(cdn.hits('sample.webm'), 1, 'the video was fetched once, by the copy');
    assert.equal(cdn.hits('thumbnail.webp'), 1);

    // The provider's links die; the archive still has the files.
    cdnClock = start + 60_000;
    try {
      const video = await download(`${content}?output=0`);
      assert.equal(video.statusCode, 200);
      assert.equal(sha256(video.bytes), sha256(VIDEO.bytes!));
      assert.equal(video.headers['content-type'], 'video/webm');
      assert.equal(video.headers['content-length'], String(VIDEO.size));
      assert.equal(video.headers['etag'], `"${Buffer.from(sha256(VIDEO.bytes!), 'hex').toString('base64url')}"`);
      assert.equal(new Date(String(video.headers['last-modified'])).toISOString().slice(0, 16), archived.archived_at!.slice(0, 16));
      assert.equal(video.headers['accept-ranges'], 'bytes');
      const image = await download(`${content}?output=1`);
      assert.equal(sha256(image.bytes), sha256(IMAGE.bytes!));
      assert.equal(image.headers['content-type'], 'image/webp');
      assert.equal(cdn.hits('sample.webm'), 1, 'served from the archive, not the CDN');
    } finally {
      cdnClock = start;
    }
    // What is stored beside the files: the task, each file's digest, size, type and source.
    const record = JSON.parse(readFileSync(join(stack.folder!, ...recordKey('vtrix', 'task_ar0001').split('/')), 'utf8')) as {
      files: Array<{ outcome: string; sha256: string; size: number; contentType: string; source: string }>;
    };
    assert.deepEqual(
      record.files.map((file) => [file.outcome, file.sha256, file.size, file.contentType, new URL(file.source).pathname]),
      [
        ['stored', sha256(VIDEO.bytes!), VIDEO.size, 'video/webm', '/sample.webm'],
        ['stored', sha256(IMAGE.bytes!), IMAGE.size, 'image/webp', '/thumbnail.webp'],
      ],
    );
    const metrics = (await stack.app.inject({ url: '/metrics' })).body;
    assert.equal(sample(metrics, 'taskgate_archive_files_total', { provider: 'vtrix', outcome: 'stored' }), 2);
    assert.equal(sample(metrics, 'taskgate_archive_bytes_total', { provider: 'vtrix', outcome: 'stored' }), VIDEO.size + IMAGE.size);
    assert.equal(sample(metrics, 'taskgate_archive_pending_tasks'), 0);
  });

  it('serves ranges, If-Range and HEAD from the stored file', async () => {
    stack.vtrix.setTask('task_ar0002', succeededWith({ type: 'video', url: cdn.signedUrl('synthetic-3m.bin', 60_000) }));
    await getTask(stack.base, 'task_ar0002');
    await waitArchived(stack.base, 'task_ar0002');
    const url = `${stack.base}/tasks/task_ar0002/content`;
    const size = 3 * 1024 * 1024;
    const whole = await download(url, {}, 'HEAD');
    assert.equal(whole.statusCode, 200);
    assert.equal(whole.headers['content-length'], String(size));
    assert.equal(whole.bytes.length, 0);
    const etag = String(whole.headers['etag']);
    const first = 2 * 1024 * 1024 + 5;
    const ranged = await download(url, { range: `bytes=${first}-${first + 9999}` });
    assert.equal(ranged.statusCode, 206);
    assert.equal(ranged.headers['content-range'], `bytes ${first}-${first + 9999}/${size}`);
    assert.deepEqual(ranged.bytes, syntheticBytes(first, first + 10_000));
    const tail = await download(url, { range: 'bytes=-100' });
    assert.deepEqual(tail.bytes, syntheticBytes(size - 100, size));
    assert.equal((await download(url, { range: 'bytes=0-99', 'if-range': etag })).statusCode, 206);
    const changed = await download(url, { range: 'bytes=0-99', 'if-range': '"another"' });
    assert.equal(changed.statusCode, 200);
    assert.equal(changed.bytes.length, size);
    const past = await request(url, { headers: { range: `bytes=${size}-` } });
    assertProblem({ statusCode: past.statusCode, headers: past.headers, body: await past.body.text() }, 416, 'invalid_request');
    assert.equal(past.headers['content-range'], `bytes */${size}`);
    assert.equal(cdn.hits('synthetic-3m.bin'), 1, 'only the copy reached the CDN');
  });

  it('answers for an archived task its provider forgot, or cannot answer for', async () => {
    stack.vtrix.setTask('task_ar0003', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }));
    await getTask(stack.base, 'task_ar0003');
    const archived = await waitArchived(stack.base, 'task_ar0003');
    // The terminal cache (300 ms here) has let go of it: each lookup asks the provider.
    stack.vtrix.setTask('task_ar0003', { missing: true });
    await new Promise((resolve) => setTimeout(resolve, 350));
    const hits = stack.vtrix.hits('task_ar0003');
    const forgotten = await getTask(stack.base, 'task_ar0003');
    assert.equal(forgotten.statusCode, 200);
    assert.deepEqual(forgotten.task, archived);
    assert.equal(stack.vtrix.hits('task_ar0003'), hits + 1, 'the provider was asked, and said it has no such task');
    const video = await download(`${stack.base}/tasks/task_ar0003/content`);
    assert.equal(sha256(video.bytes), sha256(VIDEO.bytes!));
    // The provider fails (5xx after retries): still the archived task.
    stack.vtrix.setTask('task_ar0004', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }));
    await getTask(stack.base, 'task_ar0004');
    await waitArchived(stack.base, 'task_ar0004');
    await new Promise((resolve) => setTimeout(resolve, 350));
    stack.vtrix.injectFault('task_ar0004', { kind: 'status', status: 503 });
    const failing = await getTask(stack.base, 'task_ar0004');
    stack.vtrix.clearFaults('task_ar0004');
    assert.equal(failing.statusCode, 200);
    assert.notEqual(failing.task.archived_at, null);
    // A task the archive never had is still the provider's 404.
    stack.vtrix.setTask('task_ar_never', { missing: true });
    assertProblem(await stack.app.inject({ url: '/tasks/task_ar_never' }), 404, 'task_not_found');
  });

  it('starts the copy from every path that sees a task succeed: a poll loop (long-poll), a batch', async () => {
    stack.vtrix.setTask('task_ar0005', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }, { atMs: 200, status: 'succeeded' }], resultUrl: cdn.signedUrl('sample.webm', 60_000) });
    const waited = await request(`${stack.base}/tasks/task_ar0005?wait=10`);
    assert.equal(((await waited.body.json()) as { status: string }).status, 'succeeded');
    stack.vtrix.setTask('task_ar0006', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }));
    const batch = await stack.app.inject({ method: 'POST', url: '/tasks/batch', payload: { ids: ['task_ar0006'] } });
    assert.equal(batch.statusCode, 200);
    for (const id of ['task_ar0005', 'task_ar0006']) await waitArchived(stack.base, id);
  });
});

describe('copies that need care', () => {
  it('a link that expired before its copy is asked of the provider once more, then copied from the fresh one', async (t) => {
    const stack = await startArchiveStack(t, { cdn, archive: { concurrency: 1 } });
    // The one copy slot is held by a file whose origin pauses 1.5 s after its first bytes.
    stack.vtrix.setTask('task_ar0101', succeededWith({ type: 'video', url: cdn.signedUrl('synthetic-256k.bin', 60_000, { stallAfterBytes: 1024, stallMs: 1500 }) }));
    stack.vtrix.setTask('task_ar0102', succeededWith({ type: 'video', url: cdn.signedUrl('sample.mp4', 1_000) }));
    await getTask(stack.base, 'task_ar0101');
    await getTask(stack.base, 'task_ar0102');
    // While task_ar0102 waits for the slot, its link expires and its provider would sign a new one.
    const start = cdnClock;
    cdnClock = start + 5_000;
    try {
      const fresh = cdn.signedUrl('sample.mp4', 60_000);
      stack.vtrix.setTask('task_ar0102', succeededWith({ type: 'video', url: fresh }));
      const hits = stack.vtrix.hits('task_ar0102');
      await waitArchived(stack.base, 'task_ar0101');
      const archived = await waitArchived(stack.base, 'task_ar0102');
      assert.equal(archived.outputs[0]!.url, `${stack.base}/tasks/task_ar0102/content?output=0`);
      assert.equal(stack.vtrix.hits('task_ar0102') - hits >= 1, true, 'the provider was asked for a fresh URL');
      assert.deepEqual(
        cdn.requests('sample.mp4').map((entry) => entry.status),
        [403, 200],
        'the expired link once, then the fresh one',
      );
      const video = await download(`${stack.base}/tasks/task_ar0102/content`);
      assert.equal(sha256(video.bytes), sha256(loadAsset('sample.mp4').bytes!));
    } finally {
      cdnClock = start;
    }
  });

  it('a link that stays dead is asked of the provider once, and the output is lost', async (t) => {
    const stack = await startArchiveStack(t, { cdn, archive: { retryDelaysMs: [50] } });
    const start = cdnClock;
    stack.vtrix.setTask('task_ar0103', succeededWith({ type: 'image', url: cdn.signedUrl('thumbnail.jpg', 1_000) }));
    cdnClock = start + 5_000;
    try {
      const before = cdn.hits('thumbnail.jpg');
      await getTask(stack.base, 'task_ar0103');
      const asked = stack.vtrix.hits('task_ar0103');
      let metrics = '';
      const deadline = Date.now() + 10_000;
      while (sample(metrics, 'taskgate_archive_files_total', { provider: 'vtrix', outcome: 'lost' }) < 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        metrics = (await stack.app.inject({ url: '/metrics' })).body;
      }
      assert.equal(sample(metrics, 'taskgate_archive_files_total', { provider: 'vtrix', outcome: 'lost' }), 1);
      assert.equal(stack.vtrix.hits('task_ar0103'), asked + 1, 'the provider was asked once more for a fresh URL');
      assert.equal(cdn.hits('thumbnail.jpg') - before, 1, 'its answer had the same dead link: not fetched again');
      const { task } = await getTask(stack.base, 'task_ar0103');
      assert.equal(task.archived_at, null, 'not every output is stored');
      assertProblem(await stack.app.inject({ url: '/tasks/task_ar0103/content' }), 410, 'content_expired', 'vtrix');
    } finally {
      cdnClock = start;
    }
  });

  it('a file over archive.maxFileBytes is not archived, says so in the metrics, and is still served by the provider', async (t) => {
    const stack = await startArchiveStack(t, { cdn, archive: { maxFileBytes: 64 * 1024 } });
    stack.vtrix.setTask('task_ar0104', succeededWith({ type: 'video', url: cdn.signedUrl('synthetic-1m.bin', 60_000) }));
    await getTask(stack.base, 'task_ar0104');
    let metrics = '';
    const deadline = Date.now() + 10_000;
    while (sample(metrics, 'taskgate_archive_files_total', { provider: 'vtrix', outcome: 'too_large' }) < 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      metrics = (await stack.app.inject({ url: '/metrics' })).body;
    }
    assert.equal(sample(metrics, 'taskgate_archive_files_total', { provider: 'vtrix', outcome: 'too_large' }), 1);
    assert.equal(sample(metrics, 'taskgate_archive_files_total', { provider: 'vtrix', outcome: 'stored' }), 0);
    const video = await download(`${stack.base}/tasks/task_ar0104/content`);
    assert.equal(video.statusCode, 200);
    assert.deepEqual(video.bytes.subarray(0, 4096), syntheticBytes(0, 4096));
    assert.equal(cdn.requests('synthetic-1m.bin').at(-1)?.state, 'completed', 'streamed from the provider');
  });

  it('client keys and link tokens work as before: archived files need one, and a link\'s URLs carry its token', async (t) => {
    const key = 'archive-client-key-7f3a91';
    const stack = await startArchiveStack(t, { cdn, env: { TASKGATE_API_KEYS: key } });
    const auth = { authorization: `Bearer ${key}` };
    stack.vtrix.setTask('task_ar0106', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }));
    assert.equal((await request(`${stack.base}/tasks/task_ar0106`, { headers: auth })).statusCode, 200);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const task = (await (await request(`${stack.base}/tasks/task_ar0106`, { headers: auth })).body.json()) as { archived_at: string | null };
      if (task.archived_at !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal((await download(`${stack.base}/tasks/task_ar0106/content`)).statusCode, 401, 'no key, no file');
    const minted = await request(`${stack.base}/tasks/task_ar0106/links`, { method: 'POST', headers: auth });
    const links = (await minted.body.json()) as { task_url: string; content_url: string };
    const linked = (await (await request(links.task_url)).body.json()) as { archived_at: string | null; outputs: Array<{ url: string }> };
    assert.notEqual(linked.archived_at, null);
    const token = new URL(links.task_url).searchParams.get('token')!;
    assert.equal(new URL(linked.outputs[0]!.url).searchParams.get('token'), token, 'the output URL carries the link\'s token');
    const video = await download(linked.outputs[0]!.url);
    assert.equal(video.statusCode, 200);
    assert.equal(sha256(video.bytes), sha256(VIDEO.bytes!));
    assert.equal((await download(links.content_url, { range: 'bytes=0-99' })).statusCode, 206);
  });

  it('webhook deliveries carry the gateway URLs', async (t) => {
    const receiver = await startReceiver(t);
    const stack = await startArchiveStack(t, {
      cdn,
      env: { TASKGATE_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` },
      configure: (config) => ({ ...config, webhooks: { ...config.webhooks, allowHosts: parseAllowHosts(['127.0.0.1']) } }),
    });
    stack.vtrix.setTask('task_ar0105', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }));
    const registered = await stack.app.inject({ method: 'POST', url: '/tasks/task_ar0105/webhooks', payload: { url: `${receiver.url}/hook` }, headers: { host: new URL(stack.base).host } });
    assert.equal(registered.statusCode, 201, registered.body);
    const [delivery] = await receiver.waitFor('/hook', 1);
    const data = (JSON.parse(delivery!.body) as { data: { url: string; outputs: Array<{ url: string }> } }).data;
    assert.equal(data.url, `${stack.base}/tasks/task_ar0105/content?output=0`);
    assert.deepEqual(data.outputs.map((output) => output.url), [`${stack.base}/tasks/task_ar0105/content?output=0`]);
  });
});

describe('retention', () => {
  it('deletes a task and its files past retentionDays; then the provider answers, and /content is 410 once its link is dead too', async (t) => {
    let now = Date.now();
    const stack = await startArchiveStack(t, { cdn, archive: { retentionDays: 1, sweepIntervalMs: 100, retryDelaysMs: [50] }, archiveClock: () => now, configure: (config) => ({ ...config, cache: { ...config.cache, terminalTtlMs: 200 } }) });
    const start = cdnClock;
    stack.vtrix.setTask('task_ar0201', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }));
    await getTask(stack.base, 'task_ar0201');
    const archived = await waitArchived(stack.base, 'task_ar0201');
    assert.equal(Date.parse(archived.expires_at!) - Date.parse(archived.archived_at!), DAY_MS);
    // A day and a bit later: the provider forgot the task, its link is dead, the sweep runs.
    stack.vtrix.setTask('task_ar0201', { missing: true });
    now += DAY_MS + 60_000;
    cdnClock = start + DAY_MS;
    try {
      let metrics = '';
      const deadline = Date.now() + 10_000;
      while (sample(metrics, 'taskgate_archive_expired_tasks_total') < 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        metrics = (await stack.app.inject({ url: '/metrics' })).body;
      }
      assert.equal(sample(metrics, 'taskgate_archive_expired_tasks_total'), 1);
      const { readdirSync } = await import('node:fs');
      assert.deepEqual(readdirSync(stack.folder!).flatMap((entry) => readdirSync(join(stack.folder!, entry))), [], 'no task folder and no index marker is left');
      await new Promise((resolve) => setTimeout(resolve, 250));
      assertProblem(await stack.app.inject({ url: '/tasks/task_ar0201' }), 404, 'task_not_found', 'vtrix');
    } finally {
      cdnClock = start;
    }
  });

  it('past retention, a task its provider still has is served by the provider, and a dead link is 410 content_expired', async (t) => {
    let now = Date.now();
    const stack = await startArchiveStack(t, { cdn, archive: { retentionDays: 1, sweepIntervalMs: 100, retryDelaysMs: [50] }, archiveClock: () => now, configure: (config) => ({ ...config, cache: { ...config.cache, terminalTtlMs: 200 } }) });
    const start = cdnClock;
    stack.vtrix.setTask('task_ar0202', succeededWith({ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }));
    await getTask(stack.base, 'task_ar0202');
    await waitArchived(stack.base, 'task_ar0202');
    now += DAY_MS + 60_000;
    cdnClock = start + DAY_MS;
    try {
      const deadline = Date.now() + 10_000;
      while (sample((await stack.app.inject({ url: '/metrics' })).body, 'taskgate_archive_expired_tasks_total') < 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
      const { statusCode, task } = await getTask(stack.base, 'task_ar0202');
      assert.equal(statusCode, 200);
      assert.equal(task.archived_at, null, 'no longer archived');
      assertProblem(await stack.app.inject({ url: '/tasks/task_ar0202/content' }), 410, 'content_expired', 'vtrix');
    } finally {
      cdnClock = start;
    }
  });
});
