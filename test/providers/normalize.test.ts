import { inspect } from 'node:util';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGatewayError } from '../../src/errors.js';
import {
  classifyHttpError,
  errorTexts,
  getHeader,
  parseJsonBody,
  retryAfterSeconds,
} from '../../src/providers/http.js';
import { getProvider, PROVIDERS } from '../../src/providers/index.js';
import {
  COMMON_STATUS_WORDS,
  finalizeTask as finalizeWith,
  resolveResultUrl,
  StatusTable,
  toOutputType,
  toProgress,
  toRfc3339,
  toTaskError,
} from '../../src/providers/normalize.js';
import type { TaskDraft } from '../../src/providers/types.js';

const COMMON = new StatusTable(COMMON_STATUS_WORDS);
const toTaskStatus = (word: string) => COMMON.statusOf(word);
const knownTaskStatus = (word: string) => COMMON.known(word);
const finalizeTask = (provider: string, draft: TaskDraft) => finalizeWith(provider, COMMON, draft);
import type { UpstreamResponse } from '../../src/upstream/types.js';

describe('status mapping', () => {
  it('maps every word of the common table, case-insensitively', () => {
    const table = {
      queued: ['queued', 'pending', 'in_queue', 'submitted', 'not_start', 'starting'],
      in_progress: ['in_progress', 'processing', 'running', 'unknown'],
      succeeded: ['succeeded', 'completed', 'success'],
      failed: ['failed', 'failure', 'error'],
      canceled: ['canceled', 'cancelled'],
    } as const;
    for (const [status, words] of Object.entries(table)) {
      for (const word of words) {
        assert.equal(toTaskStatus(word), status, word);
        assert.equal(toTaskStatus(word.toUpperCase()), status, word.toUpperCase());
      }
    }
  });

  it('maps a word outside the table to in_progress and says it is not known', () => {
    for (const word of ['WEIRD_STATE', '', 'constructor', '__proto__', 'toString']) {
      assert.equal(toTaskStatus(word), 'in_progress', word);
      assert.equal(knownTaskStatus(word), undefined, word);
    }
  });

  it('keeps each provider to its own words: one table never changes another', () => {
    const own = new StatusTable({ succeeded: ['succeed'], failed: ['Fail'], queued: ['5'] });
    assert.equal(own.statusOf('SUCCEED'), 'succeeded');
    assert.equal(own.statusOf('fail'), 'failed');
    assert.equal(own.statusOf('5'), 'queued');
    assert.equal(own.known('completed'), undefined, "a common word is not this provider's");
    assert.equal(COMMON.known('succeed'), undefined, "this provider's word is not a common one");
    assert.equal(COMMON.known('fail'), undefined);
  });
});

describe('toRfc3339', () => {
  it('reads numbers below 1e11 as Unix seconds and above as milliseconds', () => {
    assert.equal(toRfc3339(1775831525), '2026-04-10T14:32:05Z');
    assert.equal(toRfc3339(1768000000000), '2026-01-09T23:06:40Z');
    assert.equal(toRfc3339(1768000000123), '2026-01-09T23:06:40Z', 'whole seconds: the fraction is dropped');
    assert.equal(toRfc3339(1768000000999), '2026-01-09T23:06:40Z', 'dropped, not rounded up');
    assert.equal(toRfc3339('1775831525'), '2026-04-10T14:32:05Z');
  });

  it('converts ISO 8601 strings to UTC, reading a zone-less time as UTC', () => {
    assert.equal(toRfc3339('2026-04-10T14:32:05Z'), '2026-04-10T14:32:05Z');
    assert.equal(toRfc3339('2026-04-10T16:32:05+02:00'), '2026-04-10T14:32:05Z');
    assert.equal(toRfc3339('2026-04-10T14:32:05.250-0130'), '2026-04-10T16:02:05Z');
    assert.equal(toRfc3339('2026-04-10 14:32:05'), '2026-04-10T14:32:05Z');
    assert.equal(toRfc3339('2026-04-10'), '2026-04-10T00:00:00Z');
  });

  it('gives null for absent, zero, negative or unparsable times', () => {
    const unusable = [undefined, null, 0, '0', -5, Number.NaN, Number.POSITIVE_INFINITY, 1e20, true, {}];
    const unparsable = ['', 'yesterday', '2026-02-31T00:00:00Z', '2026-04-10T24:00:00Z', '0000-01-01T00:00:00+01:00'];
    for (const value of [...unusable, ...unparsable]) {
      assert.equal(toRfc3339(value), null, inspect(value));
    }
  });
});

describe('toProgress', () => {
  it('reads vtrix values up to 1 as fractions and larger ones as percentages', () => {
    assert.equal(toProgress(0.42, 'fraction-up-to-one'), 42);
    assert.equal(toProgress(1, 'fraction-up-to-one'), 100);
    assert.equal(toProgress(0, 'fraction-up-to-one'), 0);
    assert.equal(toProgress(10, 'fraction-up-to-one'), 10);
    assert.equal(toProgress('0.5', 'fraction-up-to-one'), 50);
  });

  it('reads other progress as a percentage, "30%" as 30, rounded and clamped', () => {
    assert.equal(toProgress(0.42, 'percent'), 0);
    assert.equal(toProgress(37, 'percent'), 37);
    assert.equal(toProgress('30%', 'percent'), 30);
    assert.equal(toProgress(' 1% ', 'fraction-up-to-one'), 1);
    assert.equal(toProgress(33.5, 'percent'), 34);
    assert.equal(toProgress(250, 'percent'), 100);
    assert.equal(toProgress(-3, 'percent'), 0);
  });

  it('gives null when progress is absent or not a number', () => {
    for (const value of [undefined, null, '', 'half', '30%%', Number.NaN, true, [], {}]) {
      assert.equal(toProgress(value, 'percent'), null, inspect(value));
    }
  });
});

describe('toTaskError', () => {
  it('turns a bare string into code task_failed', () => {
    assert.deepEqual(toTaskError('Video generation failed'), { code: 'task_failed', message: 'Video generation failed' });
  });

  it('reads code (numbers as strings) and message or error_message from an object', () => {
    assert.deepEqual(toTaskError({ code: 2014001, message: 'bad input' }), { code: '2014001', message: 'bad input' });
    assert.deepEqual(toTaskError({ code: 'failed', error_message: 'gone' }), { code: 'failed', message: 'gone' });
    assert.deepEqual(toTaskError({ message: 'only a message' }), { code: 'task_failed', message: 'only a message' });
    assert.deepEqual(toTaskError({ code: 7 }), { code: '7', message: 'The provider reported a failure without details' });
  });

  it('gives null when there is no detail', () => {
    for (const value of [undefined, null, '', '   ', {}, { code: '', message: '' }, [], 5]) {
      assert.equal(toTaskError(value), null, JSON.stringify(value));
    }
  });
});

describe('resolveResultUrl', () => {
  const base = 'https://api.gravitex.ai';

  it('keeps absolute http(s) URLs and resolves relative ones against the base URL', () => {
    assert.equal(resolveResultUrl('https://cdn.example/a.mp4?sig=1', base), 'https://cdn.example/a.mp4?sig=1');
    assert.equal(resolveResultUrl('/v1/videos/task_1/content', base), 'https://api.gravitex.ai/v1/videos/task_1/content');
    assert.equal(resolveResultUrl('//cdn.example/a.mp4', base), 'https://cdn.example/a.mp4');
  });

  it('rejects other schemes, prose and non-strings', () => {
    const rejected = ['ftp://x/a.mp4', 'data:video/mp4;base64,AA', 'javascript:alert(1)', 'see the dashboard', '', null, 42];
    for (const value of rejected) {
      assert.equal(resolveResultUrl(value, base), null, String(value));
    }
  });
});

describe('toOutputType', () => {
  it('maps video/image/audio and their _url forms, anything else to file', () => {
    assert.equal(toOutputType('video'), 'video');
    assert.equal(toOutputType('video_url'), 'video');
    assert.equal(toOutputType('IMAGE'), 'image');
    assert.equal(toOutputType('image_url'), 'image');
    assert.equal(toOutputType('audio'), 'audio');
    assert.equal(toOutputType('audio_url'), 'audio');
    assert.equal(toOutputType('text'), 'file');
    assert.equal(toOutputType(undefined), 'file');
  });
});

describe('finalizeTask', () => {
  const draft: TaskDraft = {
    provider_task_id: 't1',
    provider_status: 'running',
    progress: 40,
    outputs: [],
    error: { code: 'x', message: 'stale' },
    model: null,
    created_at: null,
    completed_at: null,
  };

  it('clears the error of a task that has not failed', () => {
    const state = finalizeTask('vtrix', draft);
    assert.equal(state.status, 'in_progress');
    assert.equal(state.error, null);
    assert.equal(state.progress, 40);
  });

  it('sets progress 100 and url to the first video when succeeded', () => {
    const state = finalizeTask('vtrix', {
      ...draft,
      provider_status: 'success',
      progress: 3,
      outputs: [
        { type: 'image', url: 'https://cdn.example/cover.png' },
        { type: 'video', url: 'https://cdn.example/v.mp4' },
      ],
    });
    assert.equal(state.status, 'succeeded');
    assert.equal(state.progress, 100);
    assert.equal(state.url, 'https://cdn.example/v.mp4');
  });

  it('uses the first output as url when there is no video', () => {
    const outputs = [{ type: 'audio' as const, url: 'https://cdn.example/a.mp3' }];
    const state = finalizeTask('vtrix', { ...draft, provider_status: 'completed', outputs });
    assert.equal(state.url, 'https://cdn.example/a.mp3');
  });

  it('gives a failed task without error the generic failure error', () => {
    const state = finalizeTask('gravitex', { ...draft, provider_status: 'FAILURE', error: null });
    assert.deepEqual(state.error, { code: 'task_failed', message: 'The provider reported a failure without details' });
  });

  it('lets the provider decide the status itself, and keeps its cadence', () => {
    const state = finalizeTask('gemini', { ...draft, provider_status: 'done', status: 'failed', error: { code: 'content_filtered', message: 'filtered' }, cadenceMs: 900 });
    assert.equal(state.status, 'failed');
    assert.deepEqual(state.error, { code: 'content_filtered', message: 'filtered' });
    assert.equal(state.cadenceMs, 900);
  });

  it('keeps private outputs whatever their url, and a succeeded task whose files were removed', () => {
    const inline = finalizeTask('vertex', { ...draft, provider_status: 'done', status: 'succeeded', outputs: [{ type: 'video', url: 'inline:0', private: true }] });
    assert.deepEqual(inline.outputs, [{ type: 'video', url: 'inline:0', private: true }]);
    assert.equal(inline.url, 'inline:0');
    const removed = finalizeTask('replicate', { ...draft, provider_status: 'succeeded', outputs: [], filesRemoved: true });
    assert.equal(removed.status, 'succeeded');
    assert.equal(removed.filesRemoved, true);
    assert.equal(removed.url, null);
    // Removed files do not excuse a failed task's missing error, nor mark a running one.
    assert.equal(finalizeTask('replicate', { ...draft, provider_status: 'processing', filesRemoved: true }).filesRemoved, undefined);
  });

  it('throws upstream_invalid_response for a succeeded task without an absolute http(s) url', () => {
    for (const outputs of [[], [{ type: 'video' as const, url: '/relative.mp4' }]]) {
      assert.throws(
        () => finalizeTask('gravitex', { ...draft, provider_status: 'succeeded', outputs }),
        (error) => isGatewayError(error) && error.code === 'upstream_invalid_response' && error.provider === 'gravitex',
      );
    }
  });

  it('is pure: it changes nothing it is given, keeps an unmapped word, and equal drafts give equal states', () => {
    const deepFreeze = <T>(value: T): T => {
      if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) deepFreeze(item);
      return Object.freeze(value);
    };
    const outputs = [{ type: 'video' as const, url: 'https://cdn.example/v.mp4' }, { type: 'video' as const, url: '/relative.mp4' }];
    const frozen = deepFreeze({ ...draft, provider_status: 'WEIRD_STATE', error: { code: 'x', message: 'm' }, outputs });
    // Strict mode: any write to a frozen input throws.
    const first = finalizeTask('vtrix', frozen);
    assert.equal(first.status, 'in_progress');
    assert.equal(first.provider_status, 'WEIRD_STATE');
    assert.deepEqual(first.outputs, [outputs[0]], 'the unusable output is left out of a new array');
    assert.notEqual(first.outputs, frozen.outputs);
    assert.deepEqual(finalizeTask('vtrix', structuredClone(frozen)), first);
    const succeeded = finalizeTask('vtrix', deepFreeze({ ...draft, provider_status: 'completed', outputs }));
    assert.equal(succeeded.progress, 100);
  });
});

function response(statusCode: number, body: string, headers: UpstreamResponse['headers'] = {}): UpstreamResponse {
  return { statusCode, headers, body };
}

describe('shared upstream HTTP helpers (http.ts)', () => {
  const options = { provider: 'vtrix', isNotFound: (answer: UpstreamResponse) => answer.statusCode === 404 };

  it('finds a header whatever its case, taking the first of repeated values', () => {
    assert.equal(getHeader({ 'Retry-After': '7' }, 'retry-after'), '7');
    assert.equal(getHeader({ 'retry-after': ['3', '9'] }, 'Retry-After'), '3');
    assert.equal(getHeader({ other: 'x' }, 'retry-after'), undefined);
  });

  it('reads Retry-After as seconds or an HTTP date, at least 1, else 5', () => {
    const now = Date.parse('2026-04-10T14:32:05Z');
    assert.equal(retryAfterSeconds('7', now), 7);
    assert.equal(retryAfterSeconds('0', now), 1);
    assert.equal(retryAfterSeconds('Fri, 10 Apr 2026 14:32:35 GMT', now), 30);
    assert.equal(retryAfterSeconds('Fri, 10 Apr 2026 14:00:00 GMT', now), 1);
    for (const invalid of [undefined, '', '-5', '7.5', 'soon']) {
      assert.equal(retryAfterSeconds(invalid, now), 5, String(invalid));
    }
  });

  it('classifies non-2xx answers by the error table (docs/errors.md)', () => {
    const cases: Array<[number, string]> = [
      [401, 'upstream_auth_failed'],
      [403, 'upstream_auth_failed'],
      [429, 'upstream_rate_limited'],
      [404, 'task_not_found'],
      [400, 'upstream_error'],
      [418, 'upstream_error'],
      [500, 'upstream_error'],
      [503, 'upstream_error'],
      [302, 'upstream_error'],
    ];
    for (const [statusCode, code] of cases) {
      const error = classifyHttpError(response(statusCode, 'body'), options);
      assert.equal(error.code, code, String(statusCode));
      assert.equal(error.provider, 'vtrix');
    }
  });

  it('rejects a body that is not JSON with a fixed detail', () => {
    assert.throws(
      () => parseJsonBody(response(200, '<!doctype html><title>502</title>'), 'gravitex'),
      (error) =>
        isGatewayError(error) &&
        error.code === 'upstream_invalid_response' &&
        error.detail === 'gravitex returned a body that is not valid JSON',
    );
    assert.deepEqual(parseJsonBody(response(200, '\uFEFF{"a":1}'), 'gravitex'), { a: 1 });
  });

  it('collects the error texts of the shapes both providers send', () => {
    const notExist = { code: 'task_not_exist', message: 'task_not_exist', data: null };
    assert.deepEqual(errorTexts(notExist), ['task_not_exist', 'task_not_exist']);
    assert.deepEqual(errorTexts({ error: { code: 1002, message: 'rate limited' } }), ['rate limited']);
    assert.deepEqual(errorTexts({ error: 'task does not exist' }), ['task does not exist']);
    assert.deepEqual(errorTexts('text'), []);
  });
});

describe('provider registry', () => {
  it('starts with the seed providers and the OpenAI family, names each once, and finds each by exact name', () => {
    const names = PROVIDERS.map((provider) => provider.name);
    assert.deepEqual(names.slice(0, 3), ['vtrix', 'gravitex', 'openai']);
    assert.equal(new Set(names).size, names.length);
    for (const name of names) {
      assert.match(name, /^[a-z][a-z0-9]*$/, 'a name is one lower-case word (it is a qualified-id prefix and an env prefix)');
      assert.equal(getProvider(name)?.name, name);
    }
    assert.equal(getProvider('OpenAI'), undefined);
    assert.equal(getProvider('constructor'), undefined);
  });
});
