/**
 * The span of one task lookup at one provider (src/tasks/lookup.ts): how it was answered
 * (`taskgate.lookup.source`), and, when it joined an upstream call already in flight, a
 * link to the lookup that made that call (whose trace holds the attempts).
 */
import { createHash } from 'node:crypto';
import type { SpanOptions, TraceSpan, Tracer } from './api.js';

export type LookupSource = 'terminal_cache' | 'fresh_cache' | 'coalesced' | 'upstream';

/** The span of the lookup that made each upstream call in flight, found again by the call's promise. */
const callers = new WeakMap<Promise<unknown>, TraceSpan>();

const LOOKUP_SPAN: SpanOptions = {};

/** A source nobody listens to: tracing off, or a span the sampler dropped. */
const unheard = (): void => {};

/** A short one-way digest: the same task can be followed across traces without its id in them. */
export function taskIdHash(nativeId: string): string {
  return createHash('sha256').update(nativeId).digest('hex').slice(0, 16);
}

/**
 * Runs `lookup` inside a `taskgate.lookup` span; `lookup` calls `answeredBy` (synchronously)
 * with the way it is being answered.
 */
export function traceLookup<T>(
  tracer: Tracer,
  provider: string,
  nativeId: string,
  lookup: (answeredBy: (source: LookupSource) => void) => Promise<T>,
): Promise<T> {
  return tracer.inSpan('taskgate.lookup', LOOKUP_SPAN, (span) => {
    if (!span.isRecording()) return lookup(unheard);
    span.setAttributes({ 'taskgate.provider': provider, 'taskgate.task.id_hash': taskIdHash(nativeId) });
    let source: LookupSource | undefined;
    const answer = lookup((how) => {
      source = how;
      span.setAttributes({ 'taskgate.lookup.source': how });
    });
    if (source === 'upstream') callers.set(answer, span);
    const caller = source === 'coalesced' ? callers.get(answer) : undefined;
    if (caller !== undefined) span.link(caller);
    return answer;
  });
}

/**
 * The span of a lookup answered at once from this process's terminal cache (the hot path of
 * a finished task, src/tasks/lookup.ts's cachedTerminal): started and ended on the spot.
 */
export function traceCachedLookup(tracer: Tracer, provider: string, nativeId: string): void {
  const span = tracer.startSpan('taskgate.lookup', LOOKUP_SPAN);
  if (span.isRecording()) {
    span.setAttributes({ 'taskgate.provider': provider, 'taskgate.task.id_hash': taskIdHash(nativeId), 'taskgate.lookup.source': 'terminal_cache' });
  }
  span.end();
}
