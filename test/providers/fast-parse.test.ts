/**
 * The fast first check of upstream bodies gives zod's answers: on every recorded 2xx body
 * of every provider it decides (so the fast path is the one taken) and returns what zod
 * returns; on generated bodies it either leaves the decision to zod or agrees with it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { fastParse } from '../../src/providers/fast-parse.js';
import { GravitexBodySchema } from '../../src/providers/gravitex/schema.js';
import { OpenAiVideoSchema } from '../../src/providers/openai/schema.js';
import { VtrixBodySchema } from '../../src/providers/vtrix/schema.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const BODY_SCHEMAS: ReadonlyArray<[string, z.ZodType]> = [
  ['vtrix', VtrixBodySchema],
  ['gravitex', GravitexBodySchema],
  ['openai', OpenAiVideoSchema],
];

/** The recorded 2xx bodies of a provider (error fixtures are `error-*`). */
function taskFixtures(provider: string): Array<[string, unknown]> {
  return readdirSync(join(FIXTURES, provider))
    .filter((file) => file.endsWith('.json') && !file.startsWith('error-'))
    .map((file) => [file, JSON.parse(readFileSync(join(FIXTURES, provider, file), 'utf8')) as unknown]);
}

/** zod's verdict and the fast one agree, or the fast check left it to zod. */
function assertAgrees(schema: z.ZodType, value: unknown): void {
  const fast = fastParse(schema, value);
  if (fast === undefined) return;
  const parsed = schema.safeParse(value);
  assert.equal(fast.ok, parsed.success, `fast ${fast.ok ? 'accepted' : 'refused'} what zod ${parsed.success ? 'accepted' : 'refused'}: ${JSON.stringify(value)}`);
  if (fast.ok && parsed.success) assert.deepEqual(fast.value, parsed.data, JSON.stringify(value));
}

const scalar = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('in_progress', 'completed', 'SUCCESS', '30%', 'https://cdn.example/v.mp4', 'video'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const FIELDS = ['id', 'task_id', 'status', 'progress', 'created_at', 'output', 'content', 'type', 'url', 'error', 'code', 'message', 'data', 'outputs', 'video_url'];
const { body } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('body'), fc.array(tie('value'), { maxLength: 3 })),
  body: fc.dictionary(fc.constantFrom(...FIELDS), tie('value'), { maxKeys: 7 }),
}));

/** A recorded body with one field replaced, removed or added. */
function mutated(base: unknown): fc.Arbitrary<unknown> {
  const record = base as Record<string, unknown>;
  const keys = Object.keys(record);
  return fc.tuple(fc.constantFrom(...keys, ...FIELDS), fc.option(fc.oneof(scalar, body), { nil: undefined })).map(([key, value]) => {
    const copy: Record<string, unknown> = { ...record };
    if (value === undefined) delete copy[key];
    else copy[key] = value;
    return copy;
  });
}

describe('the fast check of upstream bodies', () => {
  for (const [provider, schema] of BODY_SCHEMAS) {
    it(`${provider}: decides every recorded 2xx body, with zod's result`, () => {
      const fixtures = taskFixtures(provider);
      assert.ok(fixtures.length >= 3, `${provider} has task fixtures`);
      for (const [file, value] of fixtures) {
        const fast = fastParse(schema, value);
        assert.ok(fast?.ok === true, `${provider}/${file} was not decided as valid`);
        assert.deepEqual(fast.value, schema.parse(value), `${provider}/${file}`);
      }
    });

    it(`${provider}: agrees with zod on generated and mutated bodies`, () => {
      const recorded = taskFixtures(provider).map(([, value]) => value);
      fc.assert(
        fc.property(fc.oneof(body, fc.constantFrom(...recorded).chain(mutated), scalar), (value) => assertAgrees(schema, value)),
        { numRuns: 600 },
      );
    });
  }

  it('leaves to zod what it does not model (checks, refinements, other kinds of nodes)', () => {
    assert.equal(fastParse(z.string().min(3), 'ab'), undefined);
    assert.equal(fastParse(z.looseObject({ n: z.number().int() }), { n: 1 }), undefined);
    assert.equal(fastParse(z.object({ when: z.iso.datetime() }), { when: 'x' }), undefined);
    assert.equal(fastParse(z.string().refine((text) => text !== 'x'), 'y'), undefined);
    assert.equal(fastParse(z.strictObject({ a: z.string() }), { a: 'x' }), undefined);
  });

  it('drops unknown keys of plain objects, keeps them in loose ones, and applies transforms', () => {
    assert.deepEqual(fastParse(z.object({ a: z.string() }), { a: 'x', b: 1 }), { ok: true, value: { a: 'x' } });
    assert.deepEqual(fastParse(z.looseObject({ a: z.string() }), { a: 'x', b: 1 }), { ok: true, value: { a: 'x', b: 1 } });
    const wrapped = z.looseObject({ a: z.string() }).transform((value) => ({ inner: value }));
    assert.deepEqual(fastParse(wrapped, { a: 'x' }), { ok: true, value: { inner: { a: 'x' } } });
    assert.deepEqual(fastParse(z.string().nullish().catch(null), 5), { ok: true, value: null });
    assert.deepEqual(fastParse(z.looseObject({ a: z.string() }), { a: 5 }), { ok: false });
  });
});
