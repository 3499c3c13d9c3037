/**
 * Browser links: tokens minted with a client key, accepted for one task on its status,
 * events and content, until they expire and while the minting key is configured.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../src/app.js';
import { keyTag, LinkSigner } from '../../src/links.js';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { LinkSetSchema } from '../../schemas/links.js';
import { assertProblem } from '../hardening/support.js';
import { readEventStream, listen } from '../helpers/http.js';
import { json, startStack } from '../helpers/stack.js';

const SECRET = 'a-link-secret-of-at-least-32-characters!';
const KEYS = { TASKGATE_API_KEYS: 'backend-key,other-key', TASKGATE_LINK_SECRET: SECRET };
const asBackend = { authorization: 'Bearer backend-key' };

describe('link tokens', () => {
  const signer = new LinkSigner(SECRET, ['backend-key']);
  const now = Date.parse('2026-12-01T10:00:00Z');

  it('verify for the task they were minted for, until they expire', () => {
    const { token, expiresAtMs } = signer.mint('task_l0001', 900, 'key-1', now);
    assert.equal(expiresAtMs, now + 900_000);
    assert.equal(signer.verify(token, 'task_l0001', now + 899_000), true);
    assert.equal(signer.verify(token, 'task_l0001', now + 900_000), false, 'expired');
    assert.equal(signer.verify(token, 'task_l0002', now), false, 'another task');
    assert.equal(signer.verify(`${token.slice(0, -2)}AA`, 'task_l0001', now), false, 'tampered signature');
    const [expires, tag, signature] = token.split('.');
    assert.equal(signer.verify(`${Number(expires) + 3600}.${tag}.${signature}`, 'task_l0001', now), false, 'a longer life is not signed');
    for (const junk of ['', 'x', '1.2.3', `${token}.x`, token.replace('.', '..')]) assert.equal(signer.verify(junk, 'task_l0001', now), false, junk);
  });

  it('have one spelling: an expiry with a leading zero or a sign is not the one that was signed', () => {
    const { token } = signer.mint('task_l0001', 900, 'key-1', now);
    assert.equal(signer.verify(token, 'task_l0001', now), true, 'the control: the canonical token verifies');
    for (const respelled of [`0${token}`, `00${token}`, `+${token}`, ` ${token}`, token.replace(/^(\d+)/, '$1.0')]) {
      assert.equal(signer.verify(respelled, 'task_l0001', now), false, respelled.slice(0, 16));
    }
  });

  it('die with the key that minted them, and open links die once keys are configured', () => {
    const { token } = signer.mint('task_l0001', 900, 'key-1', now);
    assert.equal(new LinkSigner(SECRET, ['other-key']).verify(token, 'task_l0001', now), false);
    assert.equal(new LinkSigner(SECRET, ['other-key', 'backend-key']).verify(token, 'task_l0001', now), true, 'key order does not matter');
    const open = new LinkSigner(SECRET, []);
    const openToken = open.mint('task_l0001', 900, undefined, now).token;
    assert.equal(open.verify(openToken, 'task_l0001', now), true);
    assert.equal(signer.verify(openToken, 'task_l0001', now), false);
    assert.equal(new LinkSigner('another-secret-of-at-least-32-characters', ['backend-key']).verify(token, 'task_l0001', now), false, 'another secret');
  });

  it('carry a key tag that a dictionary of weak keys cannot match offline without the link secret', () => {
    const words = ['password', 'sunshine', 'letmein', 'dragon', 'monkey', 'qwerty', 'welcome', 'secret', 'admin', 'backend', 'taskgate', 'changeme', 'football', 'iloveyou', 'princess', 'shadow'];
    const endings = ['', '1', '12', '123', '1234', '!', '2024', '2025', '2026', '01', '99', '_key'];
    const dictionary = words.flatMap((word) => endings.flatMap((ending) => [`${word}${ending}`, `${word[0]!.toUpperCase()}${word.slice(1)}${ending}`]));
    const weakKey = 'sunshine1';
    assert.ok(dictionary.includes(weakKey), 'the dictionary holds the key, as an attacker\'s would');
    const weak = new LinkSigner(SECRET, ['a-strong-key-nobody-guesses-0f3b9', weakKey]);
    const tag = weak.mint('task_l0001', 900, 'key-2', now).token.split('.')[1]!;
    const sha256 = (text: string) => createHash('sha256').update(text).digest();
    // Every way a plain hash of a candidate could be written into the token: none matches.
    const plainTags = (candidate: string) => {
      const digest = sha256(candidate);
      return [digest.subarray(0, 12).toString('base64url'), digest.toString('base64url').slice(0, tag.length), digest.toString('hex').slice(0, tag.length), digest.subarray(0, 12).toString('base64')];
    };
    assert.equal(dictionary.filter((candidate) => plainTags(candidate).includes(tag)).length, 0, 'no plain hash of any dictionary key is the tag');
    // The attack the tag used to allow: against a plain SHA-256 prefix the dictionary finds the key at once.
    const oldTag = plainTags(weakKey)[0]!;
    assert.deepEqual(dictionary.filter((candidate) => plainTags(candidate)[0] === oldTag), [weakKey]);
    // An HMAC under any secret but the link secret matches nothing either.
    for (const guess of ['', 'secret', 'taskgate', 'another-secret-of-at-least-32-characters']) {
      assert.equal(dictionary.filter((candidate) => keyTag(Buffer.from(guess), candidate) === tag).length, 0, `secret guess ${JSON.stringify(guess)}`);
    }
    // The control: with the link secret, the dictionary does find it (so the test can tell).
    assert.deepEqual(dictionary.filter((candidate) => keyTag(Buffer.from(SECRET), candidate) === tag), [weakKey]);
  });
});

describe('POST /tasks/{id}/links on a keyed gateway', () => {
  let cdn: Cdn;
  before(async () => {
    cdn = await startCdn();
  });
  after(() => cdn.close());

  it('needs a client key and a sane ttl, and routes the id without asking any provider', async (t) => {
    const { app, vtrix, gravitex } = await startStack(t, { env: KEYS });
    assertProblem(await app.inject({ method: 'POST', url: '/tasks/task_l0101/links' }), 401, 'unauthorized');
    for (const ttl of [59, 86_401, 1.5, '900']) {
      const response = await app.inject({ method: 'POST', url: '/tasks/task_l0101/links', headers: asBackend, payload: { ttl_seconds: ttl } });
      assertProblem(response, 400, 'invalid_request');
    }
    assertProblem(await app.inject({ method: 'POST', url: '/tasks/no-such-shape/links', headers: asBackend }), 404, 'no_provider_for_task_id');
    const minted = await app.inject({ method: 'POST', url: '/tasks/task_l0101/links', headers: asBackend });
    assert.equal(minted.statusCode, 201, minted.body);
    const links = LinkSetSchema.parse(json(minted));
    assert.equal(links.task_id, 'task_l0101');
    const lifetime = Date.parse(links.expires_at) - Date.now();
    assert.ok(lifetime > 890_000 && lifetime <= 900_000, `default 900 s, got ${lifetime} ms`);
    assert.match(links.task_url, /^http:\/\/localhost:80\/tasks\/task_l0101\?token=[\w.-]+$/);
    assert.match(links.events_url, /^http:\/\/localhost:80\/tasks\/task_l0101\/events\?token=[\w.-]+$/);
    assert.match(links.content_url, /^http:\/\/localhost:80\/tasks\/task_l0101\/content\?token=[\w.-]+$/);
    assert.equal(vtrix.hits() + gravitex.hits(), 0);
  });

  it('lets a browser read status, events and content of that task only, and repeats the token on its URLs', async (t) => {
    const allowHosts = [{ host: '127.0.0.1', port: Number(new URL(cdn.url).port) }];
    const { app, vtrix } = await startStack(t, { env: KEYS, configure: (config) => ({ ...config, content: { ...config.content, allowHosts } }) });
    const base = await listen(app);
    vtrix.setTask('task_l0201', {
      raw: { status: 200, body: { id: 'task_l0201', status: 'completed', output: [{ content: [{ type: 'video', url: cdn.signedUrl('sample.webm', 60_000) }] }] } },
    });
    const minted = await app.inject({ method: 'POST', url: '/tasks/task_l0201/links', headers: asBackend, payload: { ttl_seconds: 120 } });
    const links = LinkSetSchema.parse(json(minted));
    const token = new URL(links.task_url).searchParams.get('token')!;
    const local = (url: string) => url.replace('http://localhost:80', '');

    const status = await app.inject({ url: local(links.task_url) });
    assert.equal(status.statusCode, 200, status.body);
    const task = json<{ content_url: string; url: string }>(status);
    assert.equal(task.content_url, `http://localhost:80/tasks/task_l0201/content?token=${encodeURIComponent(token)}`);

    const events = await readEventStream(`${base}${local(links.events_url)}`);
    assert.equal(events.statusCode, 200);
    assert.equal(JSON.parse(events.events[0]!.data).content_url, task.content_url.replace('http://localhost:80', base));

    const content = await app.inject({ url: local(links.content_url), headers: { range: 'bytes=0-9' } });
    assert.equal(content.statusCode, 206);
    assert.equal(content.rawPayload.length, 10);

    assertProblem(await app.inject({ url: `/tasks/task_l0202?token=${encodeURIComponent(token)}` }), 401, 'unauthorized');
    assertProblem(await app.inject({ url: `/tasks/task_l0201?token=${encodeURIComponent(token)}x` }), 401, 'unauthorized');
    // Only status, events and content take a token: not the batch, not minting more links.
    assertProblem(await app.inject({ method: 'POST', url: `/tasks/batch?token=${encodeURIComponent(token)}`, payload: { ids: ['task_l0201'] } }), 401, 'unauthorized');
    assertProblem(await app.inject({ method: 'POST', url: `/tasks/task_l0201/links?token=${encodeURIComponent(token)}` }), 401, 'unauthorized');
  });

  it('stops working once the minting key is removed from the gateway', async (t) => {
    const { app, config } = await startStack(t, { env: KEYS });
    const links = LinkSetSchema.parse(json(await app.inject({ method: 'POST', url: '/tasks/task_l0301/links', headers: asBackend })));
    const rotated = await buildApp({ ...config, apiKeys: ['other-key'] }, { logger: false });
    t.after(() => rotated.close());
    assertProblem(await rotated.inject({ url: links.task_url.replace('http://localhost:80', '') }), 401, 'unauthorized');
  });

  it('never writes a token into the log', async (t) => {
    const { config, vtrix } = await startStack(t, { env: KEYS });
    vtrix.setTask('task_l0401', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = await buildApp({ ...config, logLevel: 'info' }, { logger: { level: 'info', stream } });
    t.after(() => app.close());
    const links = LinkSetSchema.parse(json(await app.inject({ method: 'POST', url: '/tasks/task_l0401/links', headers: asBackend })));
    const token = new URL(links.task_url).searchParams.get('token')!;
    assert.equal((await app.inject({ url: links.task_url.replace('http://localhost:80', '') })).statusCode, 200);
    await app.inject({ url: `/tasks/task_l0401?token=${encodeURIComponent(token)}broken` });
    const log = lines.join('');
    assert.ok(log.includes('token=[redacted]'), 'the request line is logged, redacted');
    assert.ok(!log.includes(token.split('.')[2]!), 'no signature in the log');
  });
});

describe('links on an open gateway', () => {
  it('work without any key, and a bad token is still refused', async (t) => {
    const { app, vtrix } = await startStack(t);
    vtrix.setTask('task_l0501', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
    const links = LinkSetSchema.parse(json(await app.inject({ method: 'POST', url: '/tasks/task_l0501/links' })));
    const status = await app.inject({ url: links.task_url.replace('http://localhost:80', '') });
    assert.equal(status.statusCode, 200);
    assert.match(json<{ content_url: string }>(status).content_url, /\?token=/);
    assertProblem(await app.inject({ url: '/tasks/task_l0501?token=1.open.nope' }), 401, 'unauthorized');
    assert.equal((await app.inject({ url: '/tasks/task_l0501' })).statusCode, 200, 'no token: open');
  });
});
