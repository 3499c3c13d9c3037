/**
 * The in-process cache layer's entries die at their time to live even when the event loop
 * is busy: a reused running answer must not outlive its cadence by the lag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalCache } from '../../src/fleet/in-process-store.js';
import { busyFor } from '../helpers/busy.js';

test('an entry read while the event loop is busy is gone once its time to live has passed', () => {
  const cache = new LocalCache<string>(10);
  cache.set('task', 'answer', 50).catch(assert.fail);
  assert.equal(cache.peekLocal('task'), 'answer', 'fresh at first');
  busyFor(80);
  assert.equal(cache.peekLocal('task'), undefined, 'expired by the clock, though no timer could run');
});
