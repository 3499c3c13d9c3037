/**
 * A bounded memo for pure functions on the hot paths (the same inputs come back on every
 * poll of a task: its timestamps, its id, the request's Host). Emptied, not evicted, when
 * full: cheaper than an LRU, and a cold start costs one computation per input again.
 */
export class Memo<Key, Value> {
  private readonly entries = new Map<Key, Value>();

  constructor(private readonly limit: number) {}

  /** `compute(key)`, remembered; a `compute` that throws remembers nothing. */
  get(key: Key, compute: (key: Key) => Value): Value {
    const known = this.entries.get(key);
    if (known !== undefined || this.entries.has(key)) return known as Value;
    const value = compute(key);
    if (this.entries.size >= this.limit) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
