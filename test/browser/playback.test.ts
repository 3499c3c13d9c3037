/**
 * What a browser does, in real headless Chromium: a page on another origin, with client
 * keys on and CORS for that origin, gets links from its own backend (which holds the
 * key), follows the task with EventSource until the end (and the browser then stops
 * reconnecting), plays the video through the gateway with range requests, and seeks. No
 * key ever reaches the page. Assertions are on what the gateway logged and what the file's
 * origin received, not only on what the page says.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { launchBrowser } from '../helpers/browser.js';
import { startSimulators, withPollInterval, type Simulators } from '../helpers/stack.js';

const CLIENT_KEY = 'app-backend-key-5d1e';

interface LoggedRequest {
  method: string;
  url: string;
  statusCode: number;
}

interface Setup {
  gateway: string;
  app: string;
  cdn: Cdn;
  simulators: Simulators;
  /** The request lines the gateway logged, in order (a request is logged once it is answered). */
  logged: LoggedRequest[];
  /** Content requests the gateway counted (when it started answering), by outcome. */
  contentAnswers: (outcome: string) => Promise<number>;
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>app</title></head>
<body><video playsinline muted></video>
<script>
  const TERMINAL = ['succeeded', 'failed', 'canceled'];
  window.startFollowing = (taskId) => { window.following = window.follow(taskId); };
  window.follow = async (taskId) => {
    const links = await (await fetch('/api/links?task=' + encodeURIComponent(taskId))).json();
    const seen = { events: [], errors: 0 };
    window.seen = seen;
    const final = await new Promise((resolve) => {
      const source = new EventSource(links.events_url);
      window.source = source;
      source.addEventListener('task', (message) => {
        const task = JSON.parse(message.data);
        seen.events.push({ id: message.lastEventId, status: task.status, progress: task.progress });
        if (TERMINAL.includes(task.status)) resolve(task);
      });
      // The ordinary end of the stream also fires 'error'; the browser then reconnects by itself.
      source.addEventListener('error', () => { seen.errors += 1; });
    });
    return { links, final };
  };
  window.sourceState = () => window.source.readyState;
  const video = document.querySelector('video');
  const until = (check) => new Promise((resolve) => { const poll = () => (check() ? resolve() : setTimeout(poll, 25)); poll(); });
  window.play = async (url) => {
    video.src = url;
    await video.play();
    await until(() => video.readyState >= 3 && video.currentTime > 0.3);
    return { readyState: video.readyState, currentTime: video.currentTime, duration: video.duration };
  };
  window.seek = async (time) => {
    const seeked = new Promise((resolve) => video.addEventListener('seeked', resolve, { once: true }));
    video.currentTime = time;
    await seeked;
    await until(() => video.readyState >= 2);
    return { readyState: video.readyState, currentTime: video.currentTime };
  };
  window.fetchStatus = async (url, key) => {
    const response = await fetch(url, key === undefined ? {} : { headers: { authorization: 'Bearer ' + key } });
    return response.status;
  };
</script></body></html>`;

async function listenOn(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The gateway (keys and CORS on), the provider simulators, a file origin, and the app: its page and its backend. */
async function setUp(t: TestContext): Promise<Setup> {
  const cdn = await startCdn();
  t.after(() => cdn.close());
  const { simulators, env } = await startSimulators(t);

  // The app's own origin: the page, and a backend route that mints links with the client key.
  let gateway = '';
  const appServer = createServer((incoming, outgoing) => {
    const url = new URL(incoming.url ?? '/', 'http://app.invalid');
    if (url.pathname === '/api/links') {
      const task = url.searchParams.get('task') ?? '';
      request(`${gateway}/tasks/${encodeURIComponent(task)}/links`, { method: 'POST', headers: { authorization: `Bearer ${CLIENT_KEY}` } })
        .then(async (minted) => outgoing.writeHead(minted.statusCode, { 'content-type': 'application/json' }).end(await minted.body.text()))
        .catch(() => outgoing.writeHead(502).end());
      return;
    }
    outgoing.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  });
  const app = await listenOn(appServer);
  t.after(() => new Promise<void>((resolve) => appServer.close(() => resolve())));

  const logged: LoggedRequest[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (line.includes('"request completed"')) logged.push(JSON.parse(line) as LoggedRequest);
      }
      done();
    },
  });
  const config = loadConfig({ ...env, TASKGATE_API_KEYS: CLIENT_KEY, TASKGATE_CORS_ORIGINS: app, LOG_LEVEL: 'info' });
  const cdnPort = Number(new URL(cdn.url).port);
  const gatewayApp: FastifyInstance = await buildApp(
    { ...withPollInterval(config, 250), content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port: cdnPort }] } },
    { logger: { level: 'info', stream } },
  );
  t.after(() => gatewayApp.close());
  gateway = await gatewayApp.listen({ port: 0, host: '127.0.0.1' });
  const contentAnswers = async (outcome: string) => {
    const text = (await gatewayApp.inject({ url: '/metrics' })).body;
    const line = text.split('\n').find((candidate) => candidate.startsWith(`taskgate_content_requests_total{provider="vtrix",outcome="${outcome}"}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };
  return { gateway, app, cdn, simulators, logged, contentAnswers };
}

/** The provider's answer for a vtrix task: running, or succeeded with its video at `videoUrl`. */
function pinVtrix(simulators: Simulators, id: string, videoUrl?: string): void {
  const body =
    videoUrl === undefined
      ? { id, status: 'in_progress', progress: 0.3, created_at: 1775831525 }
      : { id, status: 'completed', created_at: 1775831525, output: [{ content: [{ type: 'video', url: videoUrl }] }] };
  simulators.vtrix.setTask(id, { raw: { status: 200, body } });
}

/** What the test page defines on its window. */
interface PageApi {
  startFollowing(id: string): void;
  following: Promise<{ links: Record<string, string>; final: { status: string; content_url: string } }>;
  seen: { events: Array<{ id: string; status: string }>; errors: number };
  sourceState(): number;
  play(url: string): Promise<{ readyState: number; currentTime: number; duration: number }>;
  seek(time: number): Promise<{ readyState: number; currentTime: number }>;
  fetchStatus(url: string, key?: string): Promise<number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a page on another origin follows a task to the end, plays and seeks its video through the gateway, with no key in the page', async (t) => {
  // First, so it is closed first (after-hooks run in the order they were added): a request the
  // page still holds open (the stalled file) would otherwise keep the gateway's close waiting.
  const browser = await launchBrowser(t);
  const { gateway, app, cdn, simulators, logged, contentAnswers } = await setUp(t);
  const id = 'task_browser01';
  pinVtrix(simulators, id);

  const page = await browser.newPage();
  const authorizations: string[] = [];
  page.on('request', (sent) => {
    const header = sent.headers()['authorization'];
    if (header !== undefined) authorizations.push(header);
  });
  await page.goto(app);
  await page.evaluate((task) => (globalThis as unknown as PageApi).startFollowing(task), id);
  await page.waitForFunction(() => (globalThis as unknown as PageApi).seen?.events.length >= 1);
  // Now the provider finishes. The file stalls after its first 40 kB (Chromium reads in 32 KiB
  // blocks: about 2 s of the 4 s video play): seeking past that needs a new range request.
  pinVtrix(simulators, id, cdn.signedUrl('sample.webm', 600_000, { stallAfterBytes: 40_000 }));
  const { links, final } = await page.evaluate(() => (globalThis as unknown as PageApi).following);

  assert.equal(final.status, 'succeeded');
  const seen = await page.evaluate(() => (globalThis as unknown as PageApi).seen);
  assert.ok(seen.events.length >= 2, `a running state, then the terminal one: ${JSON.stringify(seen.events)}`);
  assert.ok(seen.events.every((event) => event.id !== ''), 'every event has an id');
  assert.ok(final.content_url.startsWith(`${gateway}/tasks/${id}/content?token=`), final.content_url);
  for (const url of Object.values(links)) assert.ok(!url.includes(CLIENT_KEY), 'no key in a link');

  // (a) EventSource reconnects once after the stream ends, gets 204, and stops for good.
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline && (await page.evaluate(() => (globalThis as unknown as PageApi).sourceState())) !== 2) await sleep(100);
  assert.equal(await page.evaluate(() => (globalThis as unknown as PageApi).sourceState()), 2, 'EventSource is CLOSED');
  // About 10 s after the terminal event in all: no further reconnect.
  await sleep(7000);
  const streams = logged.filter((entry) => entry.url.startsWith(`/tasks/${id}/events`));
  assert.deepEqual(streams.map((entry) => entry.statusCode), [200, 204], 'one stream, one reconnect answered 204, nothing after');

  // (b) The video plays through the gateway with ranges.
  const played = await page.evaluate((url) => (globalThis as unknown as PageApi).play(url), final.content_url).catch((error: unknown) => {
    throw new Error(`${String(error)}; file origin saw: ${JSON.stringify(cdn.requests())}`);
  });
  assert.ok(played.readyState >= 3, `readyState ${played.readyState}`);
  assert.ok(played.currentTime > 0.3, `currentTime ${played.currentTime}`);
  assert.ok(Math.abs(played.duration - 4) < 0.2, `duration ${played.duration}`);
  assert.ok((await contentAnswers('206')) >= 1, 'the gateway answered the range with 206');
  assert.ok(cdn.requests('sample.webm').some((entry) => entry.range?.startsWith('bytes=') === true), 'the range reached the file origin');

  // A seek past what was received is a new range request, answered 206.
  const rangesBefore = cdn.requests('sample.webm').length;
  const seeked = await page.evaluate(() => (globalThis as unknown as PageApi).seek(3.5));
  assert.ok(Math.abs(seeked.currentTime - 3.5) < 0.3, `currentTime ${seeked.currentTime}`);
  const later = cdn.requests('sample.webm').slice(rangesBefore);
  const start = (range: string | undefined) => Number(/^bytes=(\d+)-/.exec(range ?? '')?.[1] ?? 0);
  assert.ok(later.some((entry) => start(entry.range) > 0), `a range from the middle: ${JSON.stringify(later.map((entry) => entry.range))}`);
  assert.ok((await contentAnswers('206')) >= 2, 'the seek was another 206 through the gateway');

  assert.deepEqual(authorizations, [], 'the page never sent a key');
});

test('a cached answer is not reused for a request without the key (Vary: Authorization)', async (t) => {
  const browser = await launchBrowser(t);
  const { gateway, app, simulators, logged } = await setUp(t);
  const id = 'task_browser02';
  simulators.vtrix.setTask(id, { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
  const page = await browser.newPage();
  await page.goto(app);
  const url = `${gateway}/tasks/${id}`;
  assert.equal(await page.evaluate(([target, key]) => (globalThis as unknown as PageApi).fetchStatus(target!, key), [url, CLIENT_KEY]), 200);
  assert.equal(await page.evaluate((target) => (globalThis as unknown as PageApi).fetchStatus(target), url), 401);
  const gets = logged.filter((entry) => entry.method === 'GET' && entry.url === `/tasks/${id}`).map((entry) => entry.statusCode);
  assert.deepEqual(gets, [200, 401], 'the keyless request reached the gateway');
});
