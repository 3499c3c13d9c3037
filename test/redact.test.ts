/**
 * The redactor's first look (src/redact.ts, mayHold): one search for all the secrets it
 * holds must say what asking for each secret in turn would say, whatever characters the
 * secrets are made of (a regular expression's own included), and the redaction it lets
 * through must cut every secret out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { REDACTED, SecretRedactor } from '../src/redact.js';

/** Letters of keys and tokens, and every character a regular expression reads as its own. */
const CHARS = ['a', 'b', 'K', '7', '-', '_', '.', '*', '+', '?', '^', '$', '{', '}', '(', ')', '|', '[', ']', '/', ' ', '"'];
const text = (maxLength: number) => fc.array(fc.constantFrom(...CHARS), { maxLength }).map((chars) => chars.join(''));

describe('redact: any secret in a text', () => {
  it('mayHold says what asking for each secret in turn says', () => {
    fc.assert(
      fc.property(fc.array(text(12).filter((secret) => secret.length >= 4), { maxLength: 6 }), fc.array(fc.constantFrom(...CHARS), { maxLength: 40 }), fc.nat(), (secrets, chars, pick) => {
        const redactor = new SecretRedactor(secrets);
        // Half the texts hold one of the secrets somewhere.
        const inner = secrets.length > 0 && pick % 2 === 0 ? secrets[pick % secrets.length]! : '';
        const body = `${chars.slice(0, pick % (chars.length + 1)).join('')}${inner}${chars.slice(pick % (chars.length + 1)).join('')}`;
        const expected = secrets.length > 0 && (body.includes('\\') || secrets.some((secret) => body.includes(secret)));
        assert.equal(redactor.mayHold(body), expected, JSON.stringify({ secrets, body }));
        if (expected) for (const secret of secrets) assert.ok(!redactor.text(body).includes(secret) || REDACTED.includes(secret), JSON.stringify({ secret, body }));
      }),
      { numRuns: 3000 },
    );
  });

  it('a token learned at run time is searched for too, and none is searched for in an empty redactor', () => {
    const redactor = new SecretRedactor([]);
    assert.equal(redactor.mayHold('{"token":"eyJ.minted.token"}'), false);
    redactor.add('eyJ.minted.token');
    assert.equal(redactor.mayHold('{"token":"eyJ.minted.token"}'), true);
    assert.equal(redactor.mayHold('{"token":"eyJxmintedxtoken"}'), false, 'the dots of a token are dots, not any character');
  });
});
