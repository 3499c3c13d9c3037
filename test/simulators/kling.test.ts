import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { mintJwt } from '../../src/providers/kling/token.js';
import { holdsShare } from '../../src/simulators/timeline.js';
import { loadProfile, startSimulator, type Phase, type Simulator } from '../../src/simulators/index.js';

const ACCESS_KEY = 'sim-ak-41c9';
const SECRET_KEY = 'sim-sk-7f03d2b5';
const START = Date.parse('2026-03-29T17:24:36Z');
const EXAMPLE = '867283741759111202';

interface Envelope {
  code: number;
  message: string;
  request_id: string;
  data?: {
    task_id: string;
    task_status: string;
    task_status_msg: string;
    task_info: { external_task_id?: string };
    task_result?: { videos: Array<{ id: string; url: string; duration: string; watermark_url?: string }> };
    watermark_info?: { enabled: boolean };
    created_at: number;
    updated_at: number;
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const token = () => mintJwt({ accessKey: ACCESS_KEY, secretKey: SECRET_KEY }, nowSeconds());

/** A JWT of chosen parts, signed with `secret`: for the tokens Kling refuses. */
function craftedJwt(header: object, claims: object, secret = SECRET_KEY): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const HS256 = { alg: 'HS256', typ: 'JWT' };
const validClaims = () => ({ iss: ACCESS_KEY, exp: nowSeconds() + 1800, nbf: nowSeconds() - 5 });

describe('kling simulator', () => {
  let simulator: Simulator;
  let clock = START;
  before(async () => {
    simulator = await startSimulator({ provider: 'kling', credentials: { accessKey: ACCESS_KEY, secretKey: SECRET_KEY }, now: () => clock });
  });
  after(() => simulator.close());
  beforeEach(() => {
    simulator.reset();
    clock = START;
  });

  async function get(path: string, authorization: string | null = `Bearer ${token()}`) {
    const response = await request(`${simulator.url}${path}`, { headers: authorization === null ? {} : { authorization } });
    return { status: response.statusCode, body: (await response.body.json()) as Envelope };
  }
  const status = (nativeId: string, authorization?: string | null) => {
    const slash = nativeId.indexOf('/');
    return get(`/v1/videos/${nativeId.slice(0, slash)}/${encodeURIComponent(nativeId.slice(slash + 1))}`, authorization);
  };

  it('names its environment and refuses nothing signed right', async () => {
    assert.deepEqual(simulator.env, { KLING_BASE_URL: simulator.url, KLING_ACCESS_KEY: ACCESS_KEY, KLING_SECRET_KEY: SECRET_KEY });
    assert.equal((await status(`image2video/${EXAMPLE}`)).status, 200);
    assert.equal((await status(`image2video/${EXAMPLE}`, simulator.clientHeaders['authorization'])).status, 200, 'the direct client headers hold a valid token');
  });

  it('checks the JWT exactly, answering Kling\'s 401 codes', async () => {
    const cases: Array<[string, string | null, number]> = [
      ['no header', null, 1001],
      ['an empty header', '', 1001],
      ['not a Bearer token', `Basic ${token()}`, 1002],
      ['not a JWT', 'Bearer abc.def', 1002],
      ['alg none', `Bearer ${craftedJwt({ alg: 'none', typ: 'JWT' }, validClaims())}`, 1002],
      ['alg HS512', `Bearer ${craftedJwt({ alg: 'HS512', typ: 'JWT' }, validClaims())}`, 1002],
      ['no typ', `Bearer ${craftedJwt({ alg: 'HS256' }, validClaims())}`, 1002],
      ['no exp', `Bearer ${craftedJwt(HS256, { iss: ACCESS_KEY, nbf: nowSeconds() - 5 })}`, 1002],
      ['another access key', `Bearer ${craftedJwt(HS256, { ...validClaims(), iss: 'someone-else' })}`, 1000],
      ['signed with another secret', `Bearer ${craftedJwt(HS256, validClaims(), 'not-the-secret')}`, 1000],
      ['a signature cut short', `Bearer ${token().slice(0, -2)}`, 1000],
      ['nbf in the future', `Bearer ${craftedJwt(HS256, { ...validClaims(), nbf: nowSeconds() + 60 })}`, 1003],
      ['exp in the past', `Bearer ${craftedJwt(HS256, { ...validClaims(), exp: nowSeconds() - 1 })}`, 1004],
    ];
    for (const [what, authorization, code] of cases) {
      const { status: httpStatus, body } = await status(`image2video/${EXAMPLE}`, authorization);
      assert.deepEqual([httpStatus, body.code], [401, code], what);
      assert.equal(typeof body.message, 'string');
      assert.match(body.request_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(body.data, undefined);
    }
    assert.equal(simulator.hits(`image2video/${EXAMPLE}`), cases.length, 'refused calls count as hits');
  });

  it("tells the docs' example task: image2video, processing with its external id, succeed 10 s later", async () => {
    const running = await status(`image2video/${EXAMPLE}`);
    assert.deepEqual([running.status, running.body.code, running.body.message], [200, 0, 'SUCCEED']);
    assert.deepEqual(running.body.data, {
      task_id: EXAMPLE,
      task_status: 'processing',
      task_status_msg: '',
      task_info: { external_task_id: 'job-42' },
      created_at: START,
      updated_at: START,
    });
    clock = START + 10_000;
    const done = (await status(`image2video/${EXAMPLE}`)).body.data;
    assert.equal(done?.task_status, 'succeed');
    assert.equal(done?.updated_at, START + 10_000);
    assert.equal(done?.task_result?.videos.length, 1);
    assert.equal(done?.task_result?.videos[0]?.url, `${simulator.url}/files/image2video%2F${EXAMPLE}.webm`);
    assert.match(done?.task_result?.videos[0]?.id ?? '', /^\d{18}$/);
  });

  it('answers a task at another action than its own with HTTP 404, code 1203', async () => {
    const { status: httpStatus, body } = await status(`text2video/${EXAMPLE}`);
    assert.deepEqual([httpStatus, body.code, body.message], [404, 1203, 'Requested resource does not exist']);
    assert.equal(simulator.hits(`text2video/${EXAMPLE}`), 1);
    const unknownPath = await get('/v1/images/generations/1');
    assert.deepEqual([unknownPath.status, unknownPath.body.code], [404, 1203]);
  });

  it('renders the words of each phase, failures with a reason, and the watermarked variant', async () => {
    const id = 'text2video/812345678901234567';
    const life: Phase[] = [
      { atMs: 0, status: 'queued' },
      { atMs: 1000, status: 'in_progress', progress: 40 },
      { atMs: 2000, status: 'succeeded' },
    ];
    simulator.setTask(id, { variant: 'watermarked', timeline: life });
    const words: string[] = [];
    for (const offset of [0, 1000, 2000]) {
      clock = START + offset;
      words.push((await status(id)).body.data?.task_status ?? '');
    }
    assert.deepEqual(words, ['submitted', 'processing', 'succeed']);
    const done = (await status(id)).body.data;
    assert.deepEqual(done?.watermark_info, { enabled: true });
    assert.equal(done?.task_result?.videos[0]?.watermark_url, `${simulator.url}/files/text2video%2F812345678901234567-watermark.webm`);
    simulator.setTask(id, { variant: 'plain', timeline: [{ atMs: 0, status: 'failed' }] });
    const failed = (await status(id)).body.data;
    assert.equal(failed?.task_status, 'failed');
    assert.ok(['Failure to pass the risk control system', 'Generation timeout', 'Image quality too low'].includes(failed?.task_status_msg ?? ''));
    assert.equal(failed?.task_result, undefined);
    assert.equal(failed?.watermark_info, undefined);
  });

  it('the expiring-token story: the token of the first call stays expired (1004), a new one is served', async () => {
    const id = 'text2video/867283741759111004';
    const first = `Bearer ${craftedJwt(HS256, { ...validClaims(), nbf: nowSeconds() - 6 })}`;
    assert.deepEqual([(await status(id, first)).status, (await status(id, first)).body.code], [401, 1004]);
    assert.equal((await status(`image2video/${EXAMPLE}`, first)).body.code, 1004, 'expired for every task');
    const second = await status(id, `Bearer ${token()}`);
    assert.deepEqual([second.status, second.body.data?.task_status], [200, 'succeed']);
  });

  it('tells the same story of an id every time, at one action of the two', async () => {
    const profile = await loadProfile('kling');
    const other = await startSimulator({ provider: 'kling', credentials: { accessKey: ACCESS_KEY, secretKey: SECRET_KEY }, now: () => clock });
    try {
      // Digit ids in Kling's share (the other digit-id providers hold the rest): each at one action.
      const taskIds = Array.from({ length: 40 }, (_, index) => `8120000000000000${String(index).padStart(2, '0')}`).filter((taskId) =>
        holdsShare('digits', 'kling', taskId),
      );
      assert.ok(taskIds.length >= 4, 'about a quarter of digit ids are Kling\'s');
      for (const taskId of taskIds.slice(0, 4)) {
        const owners = ['text2video', 'image2video'].filter((action) => profile.owns(`${action}/${taskId}`));
        assert.equal(owners.length, 1, taskId);
        const mine = await status(`${owners[0]}/${taskId}`);
        const response = await request(`${other.url}/v1/videos/${owners[0]}/${taskId}`, { headers: { authorization: `Bearer ${token()}` } });
        const theirs = (await response.body.json()) as Envelope;
        assert.deepEqual({ ...theirs, data: { ...theirs.data, task_result: undefined } }, { ...mine.body, data: { ...mine.body.data, task_result: undefined } });
      }
    } finally {
      await other.close();
    }
  });

  it('sampleId: 18 digits after the action that owns them, distinct per seed', async () => {
    const profile = await loadProfile('kling');
    const ids = ['bench-0', 'bench-1', 'bench-2', 'x'].map((seed) => profile.sampleId!(seed));
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) {
      assert.match(id, /^(text2video|image2video)\/\d{18}$/);
      assert.ok(profile.owns(id), id);
      assert.equal((await status(id)).status, 200);
      // The benchmarks' direct client: the whole id in one segment, with the headers the simulator names.
      assert.equal((await get(`${profile.taskPathPrefix}${encodeURIComponent(id)}`, simulator.clientHeaders['authorization'])).status, 200);
      const otherAction = id.startsWith('text2video/') ? id.replace('text2video/', 'image2video/') : id.replace('image2video/', 'text2video/');
      assert.equal((await status(otherAction)).status, 404);
    }
    assert.equal(profile.sampleId!('bench-1'), ids[1], 'the same seed, the same id');
  });
});
