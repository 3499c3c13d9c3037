import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { GatewayError } from '../src/errors.js';
import { PROVIDERS } from '../src/providers/index.js';
import { Router } from '../src/routing.js';

const config = loadConfig({});
const router = new Router(config.routes, new Map(PROVIDERS.map((definition) => [definition.name, definition])));
const providersOf = (id: string) => [...new Set(router.resolve(id).candidates.map((candidate) => candidate.provider))];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof GatewayError ? error.code : 'not a GatewayError';
  }
  return undefined;
}

test('default rules: video_ to gravitex then openai, 20-char xid to vtrix, task_ to vtrix then gravitex', () => {
  assert.deepEqual(providersOf('video_69095b4ce0048190893a01510c0c98b0'), ['gravitex', 'openai']);
  assert.deepEqual(providersOf('d758n65e878c73cmdg20'), ['vtrix']);
  assert.deepEqual(providersOf('task_abc001'), ['vtrix', 'gravitex']);
});

test('an xid-looking id with letters past v, or of another length, is not vtrix', () => {
  assert.equal(codeOf(() => router.resolve('d758n65e878c73cmdgzz')), 'no_provider_for_task_id');
  assert.equal(codeOf(() => router.resolve('d758n65e878c73cmdg2')), 'no_provider_for_task_id');
});

test('qualified ids name their provider and keep everything after the first colon', () => {
  assert.deepEqual(router.resolve('gravitex:task_abc001'), { candidates: [{ provider: 'gravitex', nativeId: 'task_abc001' }], nativeId: 'task_abc001', qualified: true });
  assert.deepEqual(router.resolve('vtrix:a:b').nativeId, 'a:b');
  assert.equal(codeOf(() => router.resolve('acme:1')), 'no_provider_for_task_id');
  assert.equal(codeOf(() => router.resolve('vtrix:')), 'invalid_task_id');
  assert.equal(codeOf(() => router.resolve(':abc')), 'no_provider_for_task_id');
});

test('ids are 1-512 characters of [A-Za-z0-9._:/@-]', () => {
  assert.equal(codeOf(() => router.resolve('')), 'invalid_task_id');
  assert.equal(codeOf(() => router.resolve(`task_${'a'.repeat(507)}`)), undefined);
  assert.equal(codeOf(() => router.resolve(`task_${'a'.repeat(508)}`)), 'invalid_task_id');
  for (const bad of ['a b', 'ä', 'a\u0000', 'a%2F', 'a\r\nb', 'a?b', 'a#b']) assert.equal(codeOf(() => router.resolve(bad)), 'invalid_task_id', bad);
});

test("a native id of a form its provider cannot have is a 400 naming the form, before anything goes upstream", () => {
  assert.equal(codeOf(() => router.resolve('vtrix:a/b')), 'invalid_task_id');
  assert.throws(() => router.resolve('vtrix:..'), /a vtrix task id is one path segment/);
  assert.throws(() => router.resolve('vtrix:a/b'), (error) => error instanceof GatewayError && error.detail.includes('e.g. task_abc001'));
});
