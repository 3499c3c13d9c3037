/**
 * The demo's "app": a page on its own origin that starts a task, follows it live with
 * EventSource and then plays its video through the gateway, and the small backend such a
 * page needs (it holds the client key, if the gateway wants one, and mints browser links).
 * No key reaches the page: it only ever sees link URLs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface DemoPageOptions {
  /** The gateway's base URL as the browser reaches it. */
  gateway: string;
  /** The client key the backend mints links with (the gateway's first key), if any. */
  apiKey: string | undefined;
  /** Starts a new simulated task and answers its id. */
  newTask: () => string;
  host: string;
  port: number;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>taskgate demo</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  progress { width: 100%; height: 1.2rem; }
  video { width: 100%; margin-top: 1rem; background: #000; }
  code { background: #f3f3f3; padding: 0 .3rem; }
  #log { font: 13px ui-monospace, monospace; white-space: pre-wrap; color: #555; }
</style></head>
<body>
<h1>taskgate: from status to video</h1>
<p>This page lives on another origin than the gateway and holds no key. Its backend mints
<code>POST /tasks/{id}/links</code>; the page follows <code>events_url</code> with
<code>EventSource</code>, then plays <code>content_url</code> in a <code>&lt;video&gt;</code>.</p>
<button id="start">Start a task</button>
<p>Task <code id="task">-</code>: <strong id="status">-</strong></p>
<progress id="progress" max="100" value="0"></progress>
<video id="video" controls muted playsinline hidden></video>
<div id="log"></div>
<script>
  const $ = (id) => document.getElementById(id);
  const log = (line) => { $('log').textContent += line + '\\n'; };
  $('start').onclick = async () => {
    $('start').disabled = true;
    $('video').hidden = true;
    const { id } = await (await fetch('/api/task', { method: 'POST' })).json();
    $('task').textContent = id;
    const links = await (await fetch('/api/links?task=' + encodeURIComponent(id))).json();
    log('links expire at ' + links.expires_at);
    const source = new EventSource(links.events_url);
    source.addEventListener('task', (message) => {
      const task = JSON.parse(message.data);
      $('status').textContent = task.status;
      $('progress').value = task.progress ?? 0;
      log(task.status + (task.progress === null ? '' : ' ' + task.progress + '%'));
      if (task.status === 'succeeded') {
        $('video').src = task.content_url;
        $('video').hidden = false;
        $('video').play();
      }
      if (['succeeded', 'failed', 'canceled'].includes(task.status)) $('start').disabled = false;
    });
    // 'error' also fires when the stream ends; the browser's reconnect then gets 204 and stops.
    source.addEventListener('error', (message) => { if (message.data) log('problem: ' + message.data); });
  };
</script></body></html>`;

export async function startDemoPage(options: DemoPageOptions): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((incoming, outgoing) => {
    const url = new URL(incoming.url ?? '/', 'http://demo.invalid');
    if (url.pathname === '/api/task' && incoming.method === 'POST') {
      outgoing.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: options.newTask() }));
      return;
    }
    if (url.pathname === '/api/links') {
      const task = url.searchParams.get('task') ?? '';
      const headers = options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
      request(`${options.gateway}/tasks/${encodeURIComponent(task)}/links`, { method: 'POST', headers })
        .then(async (minted) => outgoing.writeHead(minted.statusCode, { 'content-type': 'application/json' }).end(await minted.body.text()))
        .catch(() => outgoing.writeHead(502).end());
      return;
    }
    outgoing.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  }).catch(async (error: NodeJS.ErrnoException) => {
    // The preferred port is taken: any free one will do for a demo page.
    if (error.code !== 'EADDRINUSE') throw error;
    await new Promise<void>((resolve) => server.listen(0, options.host, () => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
