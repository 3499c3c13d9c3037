/**
 * The routes' validator compiler gives the answers fastify-type-provider-zod's gives: its
 * shortcuts (params tested against their patterns, empty queries, headers that name none
 * of the schema's) only ever say "valid, unchanged" where zod says valid with equal data,
 * and leave everything else to zod, errors included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import { validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod';
import fc from 'fast-check';
import { z } from 'zod';
import { LinkTokenQuerySchema } from '../../schemas/links.js';
import { TaskParamsSchema, TaskRequestHeadersSchema, WaitQuerySchema } from '../../schemas/params.js';
import { validatorCompiler } from '../../src/fast/validation.js';

type Part = 'params' | 'querystring' | 'headers' | 'body';

function compilers(schema: z.ZodType, httpPart: Part) {
  const route = { schema, httpPart, method: 'GET', url: '/tasks/:id' } as unknown as FastifyRouteSchemaDef<z.ZodType>;
  return { ours: validatorCompiler(route), zods: zodValidatorCompiler(route) };
}

/** Same verdict; where ours says `true` (unchanged), zod's value equals the input's own keys. */
function assertSame(schema: z.ZodType, httpPart: Part, data: Record<string, unknown>): void {
  const { ours, zods } = compilers(schema, httpPart);
  const mine = ours(data) as unknown;
  const theirs = zods(data) as { value?: Record<string, unknown>; error?: unknown };
  if (mine === true) {
    assert.ok(theirs.error === undefined && theirs.value !== undefined, `zod refused what the shortcut let through: ${JSON.stringify(data)}`);
    for (const [key, value] of Object.entries(theirs.value)) assert.equal(value, data[key], key);
    return;
  }
  assert.deepEqual(mine, theirs, JSON.stringify(data));
}

describe('the routes validator compiler', () => {
  it('tests task ids against their pattern, and leaves every bad id to zod (with its error)', () => {
    for (const id of ['task_abc001', 'vtrix:d758n65e878c73cmdg20', 'a', 'x'.repeat(512), 'models/veo-3/operations/op1']) assertSame(TaskParamsSchema, 'params', { id });
    for (const id of ['', 'x'.repeat(513), 'bad id', 'a//b', '/a', 'a/../b', 'ü']) {
      assertSame(TaskParamsSchema, 'params', { id });
      assert.ok((compilers(TaskParamsSchema, 'params').ours({ id }) as { error?: unknown }).error !== undefined, id);
    }
    assertSame(TaskParamsSchema, 'params', { id: 'task_1', extra: 'x' });
    assert.equal(compilers(TaskParamsSchema, 'params').ours({ id: 'task_1' }), true, 'the shortcut is taken');
  });

  it('passes an empty query as it is, and parses every other one with zod', () => {
    const query = WaitQuerySchema.extend(LinkTokenQuerySchema.shape);
    assert.equal(compilers(query, 'querystring').ours({}), true);
    for (const data of [{ wait: '5' }, { wait: '61' }, { wait: '0x10' }, { token: 'abc' }, { other: '1' }]) {
      const { ours, zods } = compilers(query, 'querystring');
      assert.deepEqual(ours(data), zods(data), JSON.stringify(data));
    }
  });

  it('never hands headers back when they are what was sent, and refuses what zod refuses', () => {
    const headers = { host: 'gate', accept: '*/*' };
    assert.equal(compilers(TaskRequestHeadersSchema, 'headers').ours(headers), true, 'none of the schema\'s headers: no zod');
    assertSame(TaskRequestHeadersSchema, 'headers', { ...headers, prefer: 'wait=5', 'if-none-match': '"abc"' });
    const withArray = { ...headers, prefer: ['wait=1', 'wait=2'] };
    const { ours, zods } = compilers(TaskRequestHeadersSchema, 'headers');
    assert.deepEqual(ours(withArray), zods(withArray));
    assert.ok((ours(withArray) as { error?: unknown }).error !== undefined);
  });

  it('gives zod\'s answers on generated ids, queries and headers', () => {
    const query = WaitQuerySchema.extend(LinkTokenQuerySchema.shape);
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^[a-z]{1,6}:[A-Za-z0-9_./-]{0,20}$/), fc.constantFrom('', 'x'.repeat(513), 'a//b', 'ü'));
    fc.assert(
      fc.property(
        text,
        fc.dictionary(fc.constantFrom('wait', 'token', 'other'), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
        fc.dictionary(fc.constantFrom('host', 'accept', 'prefer', 'if-none-match', 'x-request-id'), fc.string({ maxLength: 10 }), { maxKeys: 4 }),
        (id, search, headers) => {
          assertSame(TaskParamsSchema, 'params', { id });
          assertSame(query, 'querystring', search);
          assertSame(TaskRequestHeadersSchema, 'headers', headers);
        },
      ),
      { numRuns: 300 },
    );
  });
});
