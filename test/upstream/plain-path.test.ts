/**
 * The upstream client sends a plain path as it is, without parsing a URL for it
 * (src/upstream/client.ts, isPlainPath): that is only right when a URL would have written
 * the same path on the same origin. Checked against WHATWG URL on generated paths, dot
 * segments, percent-encoded dots and a second leading slash included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isPlainPath } from '../../src/upstream/client.js';

const BASE = 'http://upstream.example:8080';
/** Pieces a provider's path is made of, and the ones a URL would rewrite or resolve. */
const PIECES = ['/', 'v1', 'tasks', 'a', 'Z9', '.', '..', '%2e', '%2E', '%2F', '%20', '-', '_', '~', ':', '@', '!', '$', '&', "'", '(', ')', '*', '+', ',', ';', '=', ' ', '?', '#', '\\', '|', '^', '`', '{', '"', '<', 'é', '%'];

describe('upstream: plain paths', () => {
  it('a plain path is what a URL on the base origin writes, byte for byte', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }), (pieces) => {
        const path = `/${pieces.join('')}`;
        if (!isPlainPath(path)) return;
        const url = new URL(path, BASE);
        assert.equal(url.origin, BASE, path);
        assert.equal(`${url.pathname}${url.search}${url.hash}`, path);
      }),
      { numRuns: 5000 },
    );
  });

  it('sends the usual provider paths without a URL, and leaves the rest to one', () => {
    for (const path of ['/v1/tasks/task_abc001', '/v1beta/models/veo-3.0/operations/op-1', '/api/v3/tasks/cgt-2025', '/fal-ai/x/requests/9b1c%2F2']) {
      assert.equal(isPlainPath(path), true, path);
    }
    for (const path of ['/v1/tasks/..', '/v1/./tasks', '/v1/%2e%2E/x', '//elsewhere.example/x', '/v1/tasks?x=1', '/v1/a b', 'v1/tasks', '/é']) {
      assert.equal(isPlainPath(path), false, path);
    }
  });
});
