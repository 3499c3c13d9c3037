/**
 * The Lua scripts' files: every script declares Redis 7 flags on its first line, so Redis
 * refuses a writing one as a whole while it is over maxmemory (none may say `allow-oom`),
 * and runs one marked `no-writes` even then (it must hold no write). Registration, OOM and
 * read-only behaviour are tested against a real Redis in test/webhooks/redis-limits.test.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { majorVersion, withoutFlags } from '../../src/fleet/redis.js';
import { REPO_ROOT } from '../hardening/support.js';

const SOURCE = join(REPO_ROOT, 'src');
const WRITE = /redis\.call\('(SET|HSET|HSETNX|HINCRBY|HDEL|ZADD|ZREM|ZREMRANGEBYSCORE|ZPOPMIN|RPUSH|LTRIM|DEL|PEXPIRE|INCR|PUBLISH)'/;
const scripts = readdirSync(SOURCE, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.lua'))
  .map((file) => ({ file, text: readFileSync(join(SOURCE, file), 'utf8') }));
// Functions put in after another script's first line (src/fleet/lua.ts), not scripts of their own.
const HELPERS = new Set(['webhooks/scripts/helpers.lua']);

test('the scripts live in scripts/ folders, one per file', () => {
  assert.ok(scripts.length >= 20, `${scripts.length} scripts`);
  for (const { file } of scripts) assert.match(file.split('\\').join('/'), /^[a-z-]+\/scripts\/[a-z-]+\.lua$/);
});

test('every script starts with #!lua flags: none allows OOM, and one that writes is not marked no-writes', () => {
  for (const { file, text } of scripts) {
    if (HELPERS.has(file.split('\\').join('/'))) {
      assert.doesNotMatch(text, /^#!/, `${file} is put inside other scripts`);
      continue;
    }
    const [first] = text.split('\n');
    assert.match(first!, /^#!lua( flags=no-writes)?$/, `${file}: its first line`);
    assert.doesNotMatch(text, /allow-oom/, file);
    if (first!.includes('no-writes')) assert.doesNotMatch(text, WRITE, `${file} is marked no-writes`);
  }
});

test('every script that takes arguments decodes one JSON table', () => {
  for (const { file, text } of scripts) {
    assert.doesNotMatch(text, /ARGV\[[2-9]/, `${file}: one argument, not several`);
    if (text.includes('ARGV[1]')) assert.match(text, /local args = cjson\.decode\(ARGV\[1\]\)/, file);
  }
});

test('on a server older than Redis 7, a script goes without its flags line and stays valid Lua', () => {
  assert.equal(majorVersion('6.2.14'), 6);
  assert.equal(majorVersion('7.0.15'), 7);
  for (const { file, text } of scripts) {
    if (HELPERS.has(file.split('\\').join('/'))) continue;
    const plain = withoutFlags(text);
    assert.doesNotMatch(plain, /^#!/, file);
    assert.equal(plain, text.slice(text.indexOf('\n') + 1), `${file}: only the first line goes`);
  }
  assert.equal(withoutFlags('return 1'), 'return 1', 'a script without flags is left as it is');
});
