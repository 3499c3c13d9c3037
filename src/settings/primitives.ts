/**
 * The value shapes settings are made of (durations, counts, URLs), shared by the settings
 * schema and the settings that live beside what they configure (tracing's).
 */
import { z } from 'zod';

/** The longest delay a Node timer holds (2^31-1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2_147_483_647;

export const wholeNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A count that 0 would make meaningless. */
export const positiveNumber = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
/** A duration that 0 would make meaningless. */
export const durationMs = z.number().int().min(1).max(MAX_TIMER_MS);
export const optionalDurationMs = z.number().int().min(0).max(MAX_TIMER_MS);

export const httpUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
  .refine((value) => {
    // Runs after a failed URL check too (zod checks are not fatal): only judge real URLs.
    const url = URL.canParse(value) ? new URL(value) : undefined;
    return url === undefined || (url.username === '' && url.password === '');
  }, 'must not contain credentials (user:password@): give keys in their own variables')
  .transform((value) => value.replace(/\/+$/, ''));

export const keyValues = z.record(z.string(), z.string());

/**
 * How an environment variable's text becomes a setting's value. A table of settings names
 * its kind; src/config.ts holds the readers, so the tables stay plain data.
 */
export type EnvKind = 'text' | 'wholeNumber' | 'number' | 'boolean' | 'list' | 'keyValues' | 'origins';

/** One environment variable and the setting (a path into the settings) it sets. */
export interface EnvSetting {
  variable: string;
  path: readonly string[];
  kind: EnvKind;
}
