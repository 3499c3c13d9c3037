/**
 * Private outputs and removed files, with a provider defined here ("keeper") whose
 * upstream is a real HTTP server on loopback: inline media is archived through
 * `openInline` (asked of the provider anew), a file on the provider's own origin is
 * fetched with the key (and only there); once the provider says the files were removed,
 * the task keeps its outputs and `/content` serves the kept copies, not a 410.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { readTaskBody } from '../../src/providers/http.js';
import { resolveResultUrl } from '../../src/providers/normalize.js';
import type { ProviderDefinition, TaskDraft } from '../../src/providers/types.js';
import { json } from '../helpers/stack.js';

const KEY = 'keeper-key-5d20b1';
const INLINE = Buffer.from('inline bytes the provider only hands out in its answer');
const OWN = Buffer.alloc(300_000, 42);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const Body = z.object({ status: z.string(), removed: z.boolean().optional() });

function keeper(counts: { inline: number }): ProviderDefinition {
  return {
    name: 'keeper',
    title: 'a provider with private outputs',
    credentials: [{ setting: 'apiKey', env: 'KEEPER_API_KEY', secret: true }],
    defaultBaseUrl: undefined,
    cadenceMs: 5000,
    idRules: [{ prefix: 'kp_', order: 1 }],
    nativeIds: { pattern: /^kp_\w+$/, description: 'kp_ and letters', example: 'kp_one' },
    statuses: { succeeded: ['done'] },
    connect({ settings }) {
      return {
        authorize: () => ({ authorization: `Bearer ${settings.credentials['apiKey']}` }),
        async lookup(nativeId, call): Promise<TaskDraft> {
          const body = readTaskBody(await call.request({ path: `/tasks/${nativeId}`, template: '/tasks/{id}' }), { provider: 'keeper', isNotFound: (response) => response.statusCode === 404, schema: Body });
          const draft: TaskDraft = { provider_task_id: nativeId, provider_status: body.status, progress: null, outputs: [], error: null, model: null, created_at: null, completed_at: null };
          if (body.removed === true) return { ...draft, filesRemoved: true };
          const own = resolveResultUrl(`/files/${nativeId}.webm`, settings.baseUrl)!;
          return { ...draft, outputs: [{ type: 'video', url: 'inline:0', private: true }, { type: 'video', url: own }] };
        },
        async openInline() {
          counts.inline++;
          return { contentType: 'video/mp4', bytes: INLINE };
        },
      };
    },
  };
}

test('inline and own-origin outputs are archived, and served from the archive once the provider removed them', async (t) => {
  const requests: Array<{ path: string; authorization: string | undefined }> = [];
  const removed = new Set<string>();
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    requests.push({ path, authorization: request.headers.authorization });
    if (request.headers.authorization !== `Bearer ${KEY}`) return void response.writeHead(401).end();
    if (path.startsWith('/files/')) return void response.writeHead(200, { 'content-type': 'video/webm', 'content-length': String(OWN.length) }).end(OWN);
    const id = path.slice('/tasks/'.length);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(removed.has(id) ? { status: 'done', removed: true } : { status: 'done' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const folder = mkdtempSync(join(tmpdir(), 'taskgate-archive-private-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const counts = { inline: 0 };
  const provider = keeper(counts);
  const config = loadConfig({ KEEPER_API_KEY: KEY, KEEPER_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, TASKGATE_ARCHIVE: `file://${folder}` }, [provider]);
  const app = await buildApp({ ...config, cache: { ...config.cache, terminalTtlMs: 100 } }, { logger: false, providers: [provider] });
  t.after(() => app.close());

  const first = json<{ outputs: Array<{ url: string }>; archived_at: string | null }>(await app.inject({ url: '/tasks/kp_one' }));
  assert.deepEqual(first.outputs.map((output) => output.url), ['http://localhost:80/tasks/kp_one/content?output=0', 'http://localhost:80/tasks/kp_one/content?output=1']);
  let archived = first;
  const deadline = Date.now() + 10_000;
  while (archived.archived_at === null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    archived = json(await app.inject({ url: '/tasks/kp_one' }));
  }
  assert.notEqual(archived.archived_at, null);
  assert.equal(counts.inline, 1, 'the inline bytes were asked of the provider once, for the copy');
  const downloads = requests.filter((request) => request.path.startsWith('/files/'));
  assert.equal(downloads.length, 1);
  assert.equal(downloads[0]!.authorization, `Bearer ${KEY}`, 'the key goes to the provider\'s own origin');

  // The provider deletes the files: its answer has none, yet the task keeps them.
  removed.add('kp_one');
  await new Promise((resolve) => setTimeout(resolve, 150));
  const statusCalls = requests.filter((request) => request.path === '/tasks/kp_one').length;
  const kept = json<{ outputs: Array<{ url: string }>; archived_at: string | null; url: string }>(await app.inject({ url: '/tasks/kp_one' }));
  assert.equal(requests.filter((request) => request.path === '/tasks/kp_one').length, statusCalls + 1, 'the provider was asked, and said the files are gone');
  assert.equal(kept.outputs.length, 2);
  assert.equal(kept.archived_at, archived.archived_at);
  assert.equal(kept.url, 'http://localhost:80/tasks/kp_one/content?output=0');
  const inline = await app.inject({ url: '/tasks/kp_one/content?output=0' });
  assert.equal(inline.statusCode, 200);
  assert.equal(inline.headers['content-type'], 'video/mp4');
  assert.equal(sha256(inline.rawPayload), sha256(INLINE));
  const own = await app.inject({ url: '/tasks/kp_one/content?output=1', headers: { range: 'bytes=1000-1999' } });
  assert.equal(own.statusCode, 206);
  assert.deepEqual(own.rawPayload, OWN.subarray(1000, 2000));
  assert.equal(counts.inline, 1, 'served from the archive, not asked of the provider again');
  assert.equal(requests.filter((request) => request.path.startsWith('/files/')).length, 1);
});
