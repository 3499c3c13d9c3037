/**
 * `npm run demo -- --fleet 3` as a newcomer runs it: three replicas behind a round-robin
 * front, one throwaway Redis, no TASKGATE_LINK_SECRET. The browser page's flow (mint links
 * through its backend, follow `events_url`, play `content_url`) works, every request
 * landing on the next replica, because the replicas share their link secret through Redis.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { LinkSetSchema } from '../../schemas/links.js';
import { TaskSchema } from '../../schemas/task.js';
import { freePortPair, REPO_ROOT } from '../hardening/support.js';
import { readEventStream } from '../helpers/http.js';

const REPLICAS = 3;

test('the demo with --fleet 3: a link minted on one replica opens the task, its events and its video on the others', { timeout: 120_000 }, async (t) => {
  const port = await freePortPair();
  const demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--fleet', String(REPLICAS)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | string>((resolve) => demo.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  t.after(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  });
  let output = '';
  demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    demo.stdout.on('data', () => {
      if (output.includes('Ctrl-C to stop.')) resolve();
    });
    demo.once('exit', () => reject(new Error(`the demo exited before it started: ${output}`)));
  });
  assert.match(output, /redis\s+redis:\/\/127\.0\.0\.1:\d+ \(a throwaway redis-server\)/, output);
  const page = /browser demo\s+(http:\/\/\S+\/)/.exec(output)?.[1];
  assert.ok(page !== undefined, output);

  // What the page does: a task from its backend, then links minted through the front.
  const { id } = (await (await fetch(`${page}api/task`, { method: 'POST' })).json()) as { id: string };
  const minted = await fetch(`${page}api/links?task=${encodeURIComponent(id)}`);
  assert.equal(minted.status, 201, await minted.clone().text());
  const links = LinkSetSchema.parse(await minted.json());
  // Round robin: consecutive requests land on each replica in turn, twice over.
  for (let attempt = 0; attempt < 2 * REPLICAS; attempt++) {
    const status = await fetch(links.task_url);
    assert.equal(status.status, 200, `request ${attempt + 1}: ${await status.clone().text()}`);
    TaskSchema.parse(await status.json());
  }
  const events = await readEventStream(links.events_url);
  assert.equal(events.statusCode, 200);
  const last = TaskSchema.parse(JSON.parse(events.events.at(-1)!.data));
  assert.equal(last.status, 'succeeded', JSON.stringify(events.events.map((event) => event.data.slice(0, 80))));
  assert.match(last.content_url!, /\?token=/, 'the answer to a link carries its token');
  for (let attempt = 0; attempt < REPLICAS; attempt++) {
    const video = await fetch(last.content_url!);
    assert.equal(video.status, 200, `content request ${attempt + 1}: ${await video.clone().text()}`);
    assert.equal(video.headers.get('content-type'), 'video/webm');
    await video.arrayBuffer();
  }

  demo.kill('SIGINT');
  assert.equal(await exited, 0, output);
});
