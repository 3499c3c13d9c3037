/**
 * Every cache of the gateway whose entries have a time to live: an LRU that reads the
 * clock on every lookup. lru-cache's default keeps one clock reading until a 1 ms timer
 * clears it, and a busy event loop fires that timer late, so an entry would outlive its
 * time to live by the lag (a running task's answer reused past its cadence, told
 * `poll_after_ms` 0); reading the clock also spares the timer each reading scheduled.
 */
import { LRUCache } from 'lru-cache';

export function expiringCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(options: LRUCache.Options<K, V, unknown>): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, ttlResolution: 0 });
}
