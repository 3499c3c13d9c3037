/**
 * The server bundle's undici (src/fast/undici-core.cjs, loaded without undici's index)
 * is undici's own: every value the gateway imports from undici is there, each the very
 * object the index exports, and a request through it gets the answer undici's gets.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';

const require = createRequire(import.meta.url);
const SRC = join(import.meta.dirname, '..', '..', 'src');
// Loaded before undici's index, which would otherwise install the request API itself.
const core = require('../../src/fast/undici-core.cjs') as Record<string, unknown> & { Agent: new () => { request: (...args: unknown[]) => unknown; close(): Promise<void> } };
const API_METHODS = ['request', 'stream', 'pipeline', 'connect', 'upgrade'] as const;
const prototype = (core.Dispatcher as { prototype: Record<string, unknown> }).prototype;
const apiAtLoad = Object.fromEntries(API_METHODS.map((name) => [name, prototype[name]]));

/** Names the server bundle's sources import from undici as values (the command line is bundled apart). */
function importedValues(): Map<string, string> {
  const names = new Map<string, string>();
  for (const file of readdirSync(SRC, { recursive: true, encoding: 'utf8' })) {
    const path = join(SRC, file);
    if (!file.endsWith('.ts') || file.startsWith('cli') || file.startsWith('simulators') || file.endsWith('simulator.ts')) continue;
    for (const [, list] of readFileSync(path, 'utf8').matchAll(/^import \{([^}]*)\} from 'undici';/gm)) {
      for (const item of list!.split(',').map((part) => part.trim())) {
        if (item !== '' && !item.startsWith('type ')) names.set(item.split(' as ')[0]!, relative(SRC, path));
      }
    }
  }
  return names;
}

test('every value the gateway imports from undici is the index\'s own object', () => {
  const undici = require('undici') as Record<string, unknown>;
  const api = require('undici/lib/api') as Record<string, unknown>;
  for (const name of API_METHODS) assert.equal(apiAtLoad[name], api[name], `dispatcher.${name} is undici's without the index`);
  const names = importedValues();
  assert.ok(names.has('Agent'), 'the scan finds the gateway\'s imports');
  for (const [name, file] of names) {
    assert.ok(core[name] !== undefined, `${file} imports ${name}, which the bundle's undici lacks`);
    assert.equal(core[name], undici[name], name);
  }
  for (const name of Object.keys(core)) assert.equal(core[name], undici[name], name);
});

test('a request through the bundle\'s undici gets the answer undici\'s gets', async (t) => {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      response.writeHead(request.url?.includes('missing') ? 404 : 200, { 'content-type': 'application/json', 'x-echo': request.headers['x-echo'] ?? '' });
      response.end(JSON.stringify({ method: request.method, url: request.url, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const undici = require('undici') as typeof import('undici');
  const ours = new core.Agent();
  const theirs = new undici.Agent();
  t.after(async () => {
    await Promise.all([ours.close(), theirs.close()]);
    server.close();
  });
  type Answer = { statusCode: number; headers: Record<string, unknown>; body: { text(): Promise<string> } };
  const read = async (answer: Answer) => ({
    status: answer.statusCode,
    echo: answer.headers['x-echo'],
    body: await answer.body.text(),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT'),
      fc.stringMatching(/^\/[a-z0-9/_-]{0,20}$/),
      fc.string({ maxLength: 30 }),
      fc.stringMatching(/^[a-z0-9 ]{0,12}$/),
      async (method, path, text, echo) => {
        const options = { method, headers: { 'x-echo': echo }, body: method === 'GET' ? undefined : text };
        // The request method as the bundle's undici installed it (the index has been loaded since).
        const mine = await read(await (apiAtLoad.request as (this: unknown, options: unknown) => Promise<Answer>).call(ours, { origin, path, ...options }));
        const reference = await read(await undici.request(`${origin}${path}`, { ...options, dispatcher: theirs }));
        assert.deepEqual(mine, reference);
      },
    ),
    { numRuns: 40 },
  );
});
