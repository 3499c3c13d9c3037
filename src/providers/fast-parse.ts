/**
 * A cheaper first check of an upstream body against its provider's zod schema: for the
 * part of zod the adapters' schemas use (objects, strings, numbers, unions, nullish,
 * arrays, `.catch()` and one-argument transforms), it decides from the parsed JSON itself
 * whether zod would accept the body and what zod would return, without zod's per-node
 * bookkeeping (profiled: the schema parse was the largest step of a pass-through lookup:
 * BENCHMARKS.md). Whatever it cannot decide (a check, a refinement, another kind of node)
 * it leaves to zod, so the answers are zod's either way; test/providers/fast-parse.test.ts
 * holds it to that on every fixture and on generated bodies.
 */
import type { z } from 'zod';

/** `undefined`: zod must decide (the fast check cannot); otherwise zod's own verdict and output. */
export type FastVerdict = { ok: true; value: unknown } | { ok: false } | undefined;

type Check = (value: unknown) => FastVerdict;

const FAIL: FastVerdict = Object.freeze({ ok: false });
const UNDECIDED: Check = () => undefined;

interface Def {
  type: string;
  checks?: readonly unknown[];
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  options?: readonly z.ZodType[];
  element?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  transform?: (value: unknown) => unknown;
  catchValue?: () => unknown;
}

const ok = (value: unknown): FastVerdict => ({ ok: true, value });

/** Objects as JSON.parse makes them; anything more exotic is zod's to judge. */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** A node with nothing but its type (no checks, formats or patterns that only zod evaluates). */
function isBare(def: Def): boolean {
  return Object.keys(def).every((key) => key === 'type' || (key === 'checks' && (def.checks?.length ?? 0) === 0));
}

/** The fast check of one schema node; UNDECIDED for anything it does not model exactly. */
function compile(schema: z.ZodType): Check {
  const def = schema._zod.def as unknown as Def;
  switch (def.type) {
    case 'string':
      return isBare(def) ? (value) => (typeof value === 'string' ? ok(value) : FAIL) : UNDECIDED;
    case 'number':
      return isBare(def) ? (value) => (typeof value === 'number' && Number.isFinite(value) ? ok(value) : FAIL) : UNDECIDED;
    case 'optional':
      return wrap(def.innerType, (inner) => (value) => (value === undefined ? ok(undefined) : inner(value)));
    case 'nullable':
      return wrap(def.innerType, (inner) => (value) => (value === null ? ok(null) : inner(value)));
    case 'catch':
      // `.catch(null)`: zod's catch value when the inner node fails (a one-argument-free callback only).
      if (def.catchValue === undefined || def.catchValue.length !== 0) return UNDECIDED;
      return wrap(def.innerType, (inner) => (value) => {
        const verdict = inner(value);
        return verdict === undefined || verdict.ok ? verdict : ok(def.catchValue!());
      });
    case 'union':
      return compileUnion(def.options ?? []);
    case 'array':
      return def.checks === undefined || def.checks.length === 0 ? wrap(def.element, compileArray) : UNDECIDED;
    case 'object':
      return compileObject(def);
    case 'pipe':
      return compilePipe(def);
    default:
      return UNDECIDED;
  }
}

function wrap(inner: z.ZodType | undefined, build: (inner: Check) => Check): Check {
  if (inner === undefined) return UNDECIDED;
  const check = compile(inner);
  return check === UNDECIDED ? UNDECIDED : build(check);
}

/** zod's union: the first option that accepts the value; undecided as soon as an earlier option is. */
function compileUnion(options: readonly z.ZodType[]): Check {
  const checks = options.map(compile);
  if (checks.length === 0 || checks.includes(UNDECIDED)) return UNDECIDED;
  return (value) => {
    for (const check of checks) {
      const verdict = check(value);
      if (verdict === undefined || verdict.ok) return verdict;
    }
    return FAIL;
  };
}

function compileArray(element: Check): Check {
  return (value) => {
    if (!Array.isArray(value)) return FAIL;
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const verdict = element(value[index]);
      if (verdict === undefined || !verdict.ok) return verdict;
      if (verdict.value !== value[index]) (copy ??= [...value])[index] = verdict.value;
    }
    return ok(copy ?? value);
  };
}

/**
 * Objects: every known key checked, unknown keys kept (loose) or dropped (plain). The
 * value itself is returned when nothing in it changed: zod's output is a copy with equal
 * contents, and the adapters only read what they are given.
 */
function compileObject(def: Def): Check {
  if (def.shape === undefined) return UNDECIDED;
  const catchall = def.catchall === undefined ? 'strip' : (def.catchall._zod.def as unknown as Def).type === 'unknown' ? 'keep' : undefined;
  if (catchall === undefined) return UNDECIDED;
  const keys = Object.keys(def.shape);
  const checks = keys.map((key) => compile(def.shape![key]!));
  if (checks.includes(UNDECIDED)) return UNDECIDED;
  const known = new Set(keys);
  return (value) => {
    if (!isJsonObject(value)) return typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : FAIL;
    let copy: Record<string, unknown> | undefined;
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index]!;
      const present = Object.hasOwn(value, key);
      const verdict = checks[index]!(present ? value[key] : undefined);
      if (verdict === undefined || !verdict.ok) return verdict;
      // An absent optional key stays absent, as in zod's output.
      if (present && verdict.value !== value[key]) (copy ??= { ...value })[key] = verdict.value;
      else if (!present && verdict.value !== undefined) (copy ??= { ...value })[key] = verdict.value;
    }
    if (catchall === 'strip') {
      for (const key of Object.keys(value)) {
        if (known.has(key)) continue;
        copy ??= { ...value };
        delete copy[key];
      }
    }
    return ok(copy ?? value);
  };
}

/** `schema.transform(fn)`: the input checked, then zod's transform applied (only those that take the value alone). */
function compilePipe(def: Def): Check {
  if (def.in === undefined || def.out === undefined) return UNDECIDED;
  const input = compile(def.in);
  const out = def.out._zod.def as unknown as Def;
  if (input === UNDECIDED || out.type !== 'transform' || out.transform === undefined || out.transform.length > 1) return UNDECIDED;
  const transform = out.transform;
  return (value) => {
    const verdict = input(value);
    return verdict === undefined || !verdict.ok ? verdict : ok(transform(verdict.value));
  };
}

const compiled = new WeakMap<z.ZodType, Check>();

/** The fast verdict of `schema` on `value` (undefined: ask zod). */
export function fastParse(schema: z.ZodType, value: unknown): FastVerdict {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = compile(schema);
    compiled.set(schema, check);
  }
  return check(value);
}
