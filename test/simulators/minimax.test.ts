import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { useClockedSimulator } from '../helpers/clocked-simulator.js';
import { fileIdOfTask, profile, RATE_LIMITED_BODY, taskIdOfFile } from '../../src/providers/minimax/simulator.js';
import { describeTask, type Phase } from '../../src/simulators/index.js';

const KEY = 'mm-test-key';
const START = Date.parse('2026-04-10T14:32:05Z');
const START_SECONDS = START / 1000;
const EXAMPLE_ID = '361720188367060';
// In MiniMax's share of digit ids (the other digit-id providers hold the rest).
const TASK_ID = '361799900000002';

interface BaseResp {
  status_code: number;
  status_msg: string;
}
interface QueryBody {
  task_id: string;
  status: string;
  file_id?: string | number;
  video_width?: number;
  video_height?: number;
  base_resp: BaseResp;
}
interface FileBody {
  file: { file_id: string | number; bytes: number; created_at: number; filename: string; purpose: string; download_url: string } | null;
  base_resp: BaseResp;
}

const LIFE: Phase[] = [
  { atMs: 0, status: 'queued' },
  { atMs: 1000, status: 'in_progress' },
  { atMs: 2000, status: 'succeeded' },
];
const DONE: Phase[] = [{ atMs: 0, status: 'succeeded' }];
const OK = { status_code: 0, status_msg: 'success' };

describe('minimax simulator', () => {
  const clocked = useClockedSimulator('minimax', KEY, START);
  const { poll, pollAt } = clocked;
  async function get<Body>(path: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) {
    const response = await request(`${clocked.simulator.url}${path}`, { headers });
    return { status: response.statusCode, body: (await response.body.json()) as Body };
  }
  const retrieve = <Body = FileBody>(fileId: string, headers?: Record<string, string>) => get<Body>(`/v1/files/retrieve?file_id=${fileId}`, headers);

  it('refuses a missing key with 1004 and a wrong one with 2049, in an HTTP 200, on both calls', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
    const loginFail = { base_resp: { status_code: 1004, status_msg: "login fail: Please carry the API secret key in the 'Authorization' field of the request header" } };
    for (const headers of [{}, { authorization: `Basic ${KEY}` }, { authorization: 'Bearer ' }] as Array<Record<string, string>>) {
      assert.deepEqual(await get(`/v1/query/video_generation?task_id=${TASK_ID}`, headers), { status: 200, body: loginFail });
      assert.deepEqual(await retrieve(fileIdOfTask(TASK_ID), headers), { status: 200, body: loginFail });
    }
    const wrongKey = { status: 200, body: { base_resp: { status_code: 2049, status_msg: 'invalid api key' } } };
    assert.deepEqual(await poll(TASK_ID, 'mm-other-key'), wrongKey);
    assert.deepEqual(await retrieve(fileIdOfTask(TASK_ID), { authorization: 'Bearer mm-other-key' }), wrongKey);
  });

  it('answers the query through a task\'s life: Queueing, Processing, then Success with a string file_id', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'documented', timeline: LIFE });
    const [queued, running, done] = await pollAt<QueryBody>(TASK_ID, [0, 1000, 2000]);
    assert.deepEqual(queued, { task_id: TASK_ID, status: 'Queueing', base_resp: OK });
    assert.deepEqual(running, { task_id: TASK_ID, status: 'Processing', base_resp: OK });
    assert.equal(done?.status, 'Success');
    assert.equal(done?.file_id, fileIdOfTask(TASK_ID));
    assert.equal(typeof done?.video_width, 'number');
    assert.deepEqual(done?.base_resp, OK);
  });

  it('retrieves a succeeded task\'s file (file_id a number) and counts both calls as hits of the task', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
    clocked.now = START + 5000;
    const query = (await poll<QueryBody>(TASK_ID)).body;
    const { status, body } = await retrieve(String(query.file_id));
    assert.equal(status, 200);
    assert.deepEqual(body, {
      file: {
        file_id: Number(fileIdOfTask(TASK_ID)),
        bytes: body.file?.bytes,
        // The task's clock starts at its first poll: it was done then.
        created_at: START_SECONDS + 5,
        filename: 'output.mp4',
        purpose: 'video_generation',
        download_url: `${clocked.simulator.url}/files/${TASK_ID}.webm`,
      },
      base_resp: OK,
    });
    assert.ok(Number.isInteger(body.file?.bytes) && (body.file?.bytes ?? 0) > 0);
    assert.equal(clocked.simulator.hits(TASK_ID), 2);
  });

  it('drifted: file_id a number in the query and a string in the retrieval', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'drifted', timeline: DONE });
    const query = (await poll<QueryBody>(TASK_ID)).body;
    assert.equal(query.file_id, Number(fileIdOfTask(TASK_ID)));
    assert.equal((await retrieve(fileIdOfTask(TASK_ID))).body.file?.file_id, fileIdOfTask(TASK_ID));
  });

  it('retrieve_fails: the query says Success, the retrieval answers an API error', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'retrieve_fails', timeline: DONE });
    assert.equal((await poll<QueryBody>(TASK_ID)).body.status, 'Success');
    assert.deepEqual(await retrieve(fileIdOfTask(TASK_ID)), { status: 200, body: { file: null, base_resp: { status_code: 1000, status_msg: 'unknown error' } } });
  });

  it('has no file for a task that has not succeeded', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'documented', timeline: LIFE });
    assert.deepEqual((await retrieve(fileIdOfTask(TASK_ID))).body, { file: null, base_resp: { status_code: 2013, status_msg: 'invalid params, file not exist' } });
  });

  it('reports a failed task as Fail, with or without a reason in base_resp', async () => {
    const reasons = new Set<string>();
    for (let index = 0; index < 12; index++) {
      const id = `3617999000001${String(index).padStart(2, '0')}`;
      clocked.simulator.setTask(id, { timeline: [{ atMs: 0, status: 'failed' }] });
      const { body } = await poll<QueryBody>(id);
      assert.deepEqual([body.status, body.file_id], ['Fail', undefined]);
      reasons.add(JSON.stringify(body.base_resp));
    }
    assert.deepEqual([...reasons].sort(), [
      JSON.stringify(OK),
      JSON.stringify({ status_code: 1026, status_msg: 'video generation failed: the output did not pass the content review' }),
    ].sort());
  });

  it('tells a default story that starts Preparing, then Queueing, the same on every run', async () => {
    const plan = await describeTask('minimax', TASK_ID);
    assert.deepEqual(plan, await describeTask('minimax', TASK_ID));
    assert.deepEqual(plan?.timeline.slice(0, 2).map((phase) => [phase.status, phase.providerStatus]), [['queued', 'Preparing'], ['queued', undefined]]);
    const [first, second] = await pollAt<QueryBody>(TASK_ID, [0, plan?.timeline[1]?.atMs ?? 0]);
    assert.deepEqual([first?.status, second?.status], ['Preparing', 'Queueing']);
  });

  it('draws only the variants that have a file by default; a failing retrieval is pinned', async () => {
    const variants = new Set<string | undefined>();
    for (let index = 0; index < 160; index++) variants.add((await describeTask('minimax', `36179990000${String(index).padStart(4, '0')}`))?.variant);
    variants.delete(undefined); // ids of the other digit-id providers' shares
    assert.deepEqual([...variants].sort(), ['documented', 'drifted']);
  });

  it('tells the documented example\'s story: Processing, then Success 6 s later with its documented file', async () => {
    const [running, done] = await pollAt<QueryBody>(EXAMPLE_ID, [0, 6000]);
    assert.deepEqual(running, { task_id: EXAMPLE_ID, status: 'Processing', base_resp: OK });
    assert.deepEqual([done?.status, done?.file_id], ['Success', '361721749176519']);
    const { body } = await retrieve('361721749176519');
    assert.equal(body.file?.file_id, 361721749176519);
    assert.equal(body.file?.download_url, `https://video-product.cdn.minimax.io/inference_output/video/2026-01-31/${EXAMPLE_ID}/output.mp4`);
  });

  it('answers an unknown task in an HTTP 200 whose status_msg says it does not exist', async () => {
    clocked.simulator.setTask(TASK_ID, { missing: true });
    const notExist = { task_id: '', status: '', base_resp: { status_code: 2013, status_msg: 'invalid params, task not exist' } };
    for (const id of [TASK_ID, '12345678901234', '1234567890123456789']) assert.deepEqual(await poll(id), { status: 200, body: notExist }, id);
    const noId = await get<QueryBody>('/v1/query/video_generation');
    assert.deepEqual([noId.status, noId.body.base_resp.status_code], [200, 2013]);
  });

  it('owns its share of 15 to 18 digit ids', async () => {
    // Its share of them: the other digit-id providers hold the rest.
    for (const id of ['361799900000005', '401047179385389007']) assert.equal((await poll<QueryBody>(id)).body.task_id, id, id);
    assert.equal((await poll<QueryBody>('361720188367061')).body.base_resp.status_code, 2013, 'not in its share');
  });

  it('answers an injected rate limit the MiniMax way (HTTP 200, base_resp 1002), on either call, then recovers', async () => {
    clocked.simulator.setTask(TASK_ID, { variant: 'documented', timeline: DONE });
    clocked.simulator.injectFault(TASK_ID, { kind: 'rate_limit', times: 2 });
    assert.deepEqual(await poll(TASK_ID), { status: 200, body: RATE_LIMITED_BODY });
    assert.deepEqual(await retrieve(fileIdOfTask(TASK_ID)), { status: 200, body: RATE_LIMITED_BODY });
    assert.equal((await poll<QueryBody>(TASK_ID)).body.status, 'Success');
    assert.equal(RATE_LIMITED_BODY.base_resp.status_code, 1002);
  });

  it('answers an unknown path with a 404', async () => {
    const { status, body } = await get<QueryBody>('/v1/query/video_generation/361720188367060');
    assert.deepEqual([status, body.base_resp.status_code], [404, 1000]);
  });
});

describe('minimax simulator ids', () => {
  it('maps a file id back to its task id, for every id length', () => {
    for (const id of ['1234567890', '361720188367060', '401047179385389059', '9999999999999999999', EXAMPLE_ID]) {
      const fileId = fileIdOfTask(id);
      assert.match(fileId, /^\d+$/);
      assert.notEqual(fileId, id);
      assert.equal(taskIdOfFile(fileId), id);
    }
    assert.equal(fileIdOfTask(EXAMPLE_ID), '361721749176519');
  });

  it('makes sample ids of 15 digits, distinct per seed, the same every time, and owned', () => {
    const sampleId = profile.sampleId!;
    const ids = new Set<string>();
    for (let index = 0; index < 2000; index++) {
      const id = sampleId(`seed-${index}`);
      assert.match(id, /^\d{15}$/);
      assert.ok(profile.owns(id));
      ids.add(id);
    }
    assert.equal(ids.size, 2000);
    assert.equal(sampleId('seed-7'), sampleId('seed-7'));
  });
});
