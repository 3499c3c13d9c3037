/**
 * The one `Retry-After` parser (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 */

// A provider asking for more than a day is more likely broken than serious.
const MAX_RETRY_AFTER_SECONDS = 86_400;

/**
 * Whole seconds to wait, at least 0 and at most a day; undefined when absent or unparsable.
 * An HTTP-date counts from `nowMs`.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
  let seconds: number;
  if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else {
    // All three HTTP-date forms start with a day name; this keeps V8's lenient Date.parse
    // from reading "-5" or "7.5" as a calendar date.
    const dateMs = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isNaN(dateMs)) return undefined;
    seconds = Math.ceil((dateMs - nowMs) / 1000);
  }
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, seconds));
}
