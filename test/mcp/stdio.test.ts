/**
 * `taskgate mcp`: the command line as an MCP server over stdio (the very bundle that
 * ships), driven by the SDK's own client against a real gateway on the simulators and
 * their CDN. The same tools as `POST /mcp` plus `download_result`, which saves inside
 * `--dir` only; stdout carries MCP messages only; the process ends when its client leaves.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request } from 'undici';
import { startCdn, type Cdn } from '../../src/simulators/media/cdn.js';
import { LinkSetSchema } from '../../schemas/links.js';
import { TaskSchema } from '../../schemas/task.js';
import { cliBundle, cliEnvironment, runCli, startGateway, type Gateway } from '../helpers/cli.js';
import { eventually } from '../helpers/http.js';
import { assertRisingProgress, assertToolProblem, callTool, callWithProgress, ChildProcessTransport, pinRisingTask } from './support.js';

const KEY = 'mcp-stdio-key-51c0';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let cdn: Cdn;
before(async () => {
  cdn = await startCdn();
});
after(() => cdn.close());

/** A gateway with a client key, fetching result files from the CDN, over fast simulators. */
async function startKeyedGateway(t: TestContext): Promise<Gateway> {
  const port = Number(new URL(cdn.url).port);
  return startGateway(t, {
    timeScale: 0.05,
    env: { TASKGATE_API_KEYS: KEY },
    configure: (config) => ({ ...config, content: { ...config.content, allowHosts: [{ host: '127.0.0.1', port }] } }),
  });
}

function temporaryFolder(t: TestContext): string {
  const folder = realpathSync(mkdtempSync(join(tmpdir(), 'taskgate-mcp-')));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

/** `taskgate mcp --dir <dir>` started by the SDK's stdio transport, as an agent host starts it. */
async function connectStdio(t: TestContext, gateway: Gateway, dir: string): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [await cliBundle(), 'mcp', '--dir', dir],
    env: { TASKGATE_URL: gateway.url, TASKGATE_API_KEY: KEY, TZ: 'UTC' },
    stderr: 'pipe',
  });
  const stderr: Buffer[] = [];
  transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const client = new Client({ name: 'taskgate-test', version: '1.0.0' });
  await client.connect(transport);
  t.after(() => client.close());
  return { client, stderr: () => Buffer.concat(stderr).toString('utf8') };
}

/** A succeeded vtrix task whose outputs are these CDN files. */
function pinSucceeded(gateway: Gateway, id: string, files: Array<{ type: string; name: string }>): void {
  const content = files.map((file) => ({ type: file.type, url: cdn.signedUrl(file.name, 600_000) }));
  gateway.stack.vtrix.setTask(id, { raw: { status: 200, body: { id, status: 'completed', created_at: 1775831525, output: [{ content }] } } });
}

/** The bytes the gateway serves as the task's result file. */
async function servedBytes(gateway: Gateway, id: string, output?: number): Promise<Buffer> {
  const query = output === undefined ? '' : `?output=${output}`;
  const response = await request(`${gateway.url}/tasks/${id}/content${query}`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(response.statusCode, 200);
  return Buffer.from(await response.body.arrayBuffer());
}

test('over stdio: the tools of POST /mcp, defined identically, and download_result', async (t) => {
  const gateway = await startKeyedGateway(t);
  const { client, stderr } = await connectStdio(t, gateway, temporaryFolder(t));
  const { tools } = await client.listTools();
  assert.deepEqual(
    tools.map((tool) => tool.name),
    ['get_task', 'wait_for_task', 'get_result_link', 'download_result'],
  );
  const overHttp = new Client({ name: 'taskgate-test', version: '1.0.0' });
  await overHttp.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${KEY}` } } }));
  t.after(() => overHttp.close());
  assert.deepEqual(tools.slice(0, 3), (await overHttp.listTools()).tools);
  const download = tools[3]!;
  assert.deepEqual(download.inputSchema.required, ['id', 'path']);
  assert.deepEqual(download.inputSchema.properties?.['output_index'], {
    type: 'integer',
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: "Which of the task's outputs (0 first); omitted: its primary output",
  });
  assert.deepEqual(Object.keys(download.outputSchema?.['anyOf'] as object[]), ['0', '1']);
  assert.match(stderr(), /^taskgate mcp: serving http:\/\/127\.0\.0\.1:\d+ over stdio; downloads are saved in \//);
});

test('over stdio: get_task, get_result_link and their failures as tool results with the gateway\'s codes', async (t) => {
  const gateway = await startKeyedGateway(t);
  gateway.stack.vtrix.setTask('task_stdget01', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
  const { client } = await connectStdio(t, gateway, temporaryFolder(t));
  const outcome = await callTool(client, 'get_task', { id: 'task_stdget01' });
  assert.equal(outcome.isError, false);
  const direct = await request(`${gateway.url}/tasks/task_stdget01`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.deepEqual(outcome.structured, await direct.body.json());
  assert.equal(outcome.texts[0], `task_stdget01 (vtrix): succeeded 100%, ${TaskSchema.parse(outcome.structured).url}`);

  const links = await callTool(client, 'get_result_link', { id: 'task_stdget01', ttl_seconds: 300 });
  assert.equal(links.isError, false, JSON.stringify(links));
  const opened = await request(LinkSetSchema.parse(links.structured).task_url);
  assert.equal(opened.statusCode, 200, 'the link opens the task without a key');
  await opened.body.dump();

  assertToolProblem(await callTool(client, 'get_task', { id: 'bad id!' }), 'invalid_task_id');
  assertToolProblem(await callTool(client, 'download_result', { id: '../etc', path: 'x' }), 'invalid_task_id');
  assertToolProblem(await callTool(client, 'get_task', { id: 'task_std_missing_01' }), 'task_not_found');
  assertToolProblem(await callTool(client, 'get_result_link', { id: 'nope-nope' }), 'no_provider_for_task_id');
  assertToolProblem(await callTool(client, 'download_result', { id: 'task_std_missing_01', path: 'x.mp4' }), 'task_not_found');
});

test('over stdio: wait_for_task reports rising progress, and at its timeout answers not finished', async (t) => {
  const gateway = await startKeyedGateway(t);
  // Phases of 1.5 s: longer than the CLI's long-polls, so each one is seen.
  pinRisingTask(gateway.stack.vtrix, 'task_stdwait01', 30_000);
  gateway.stack.vtrix.setTask('task_stdslow01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }] });
  const { client } = await connectStdio(t, gateway, temporaryFolder(t));
  const { outcome, progress } = await callWithProgress(client, 'wait_for_task', { id: 'task_stdwait01', timeout_seconds: 60 });
  assert.equal(outcome.isError, false);
  assert.equal(outcome.structured?.['finished'], true);
  const task = TaskSchema.parse(outcome.structured?.['task']);
  assert.equal(task.status, 'succeeded');
  assertRisingProgress(progress, 'task_stdwait01');

  const slow = await callTool(client, 'wait_for_task', { id: 'task_stdslow01', timeout_seconds: 1 });
  assert.equal(slow.isError, false);
  assert.equal(slow.structured?.['finished'], false);
  assert.equal(slow.texts[0], 'not finished after 1 s: task_stdslow01 (vtrix): in_progress 30%');
});

test('download_result saves inside --dir the bytes the gateway serves, and answers path, size and sha256', async (t) => {
  const gateway = await startKeyedGateway(t);
  pinSucceeded(gateway, 'task_stddl001', [
    { type: 'video', name: 'sample.webm' },
    { type: 'image', name: 'thumbnail.jpg' },
  ]);
  const dir = temporaryFolder(t);
  const { client } = await connectStdio(t, gateway, dir);
  const video = await servedBytes(gateway, 'task_stddl001');
  const thumbnail = await servedBytes(gateway, 'task_stddl001', 1);

  const saved = await callTool(client, 'download_result', { id: 'task_stddl001', path: 'clips/first.webm' });
  assert.equal(saved.isError, false, JSON.stringify(saved));
  const file = join(dir, 'clips', 'first.webm');
  assert.deepEqual(saved.structured, { path: file, size: video.length, sha256: sha256(video) });
  assert.equal(sha256(readFileSync(file)), sha256(video));
  assert.equal(saved.texts[0], `saved ${file} (${video.length} bytes, sha256 ${sha256(video)})`);
  assert.deepEqual(readdirSync(join(dir, 'clips')), ['first.webm'], 'no part file left beside it');

  // An absolute path inside the folder is fine; another output by its index.
  const image = await callTool(client, 'download_result', { id: 'task_stddl001', output_index: 1, path: join(dir, 'thumb.jpg') });
  assert.deepEqual(image.structured, { path: join(dir, 'thumb.jpg'), size: thumbnail.length, sha256: sha256(thumbnail) });

  assertToolProblem(await callTool(client, 'download_result', { id: 'task_stddl001', path: 'clips/first.webm' }), 'file_exists');
  const replaced = await callTool(client, 'download_result', { id: 'task_stddl001', path: 'clips/first.webm', overwrite: true });
  assert.equal(replaced.structured?.['sha256'], sha256(video));
  assertToolProblem(await callTool(client, 'download_result', { id: 'task_stddl001', output_index: 7, path: 'none.bin' }), 'output_not_found');
  assertToolProblem(await callTool(client, 'download_result', { id: 'task_stddl001', path: 'clips' }), 'invalid_request');
});

test('download_result refuses a path that escapes --dir: .., an absolute path elsewhere, a link that leads out', async (t) => {
  const gateway = await startKeyedGateway(t);
  pinSucceeded(gateway, 'task_stddl002', [{ type: 'video', name: 'sample.webm' }]);
  const dir = temporaryFolder(t);
  const elsewhere = temporaryFolder(t);
  symlinkSync(elsewhere, join(dir, 'out'));
  symlinkSync(join(elsewhere, 'target.webm'), join(dir, 'linked.webm'));
  // A download writes its bytes to FILE.part first: a link there would be written through.
  symlinkSync(join(elsewhere, 'written-through'), join(dir, 'parted.webm.part'));
  mkdirSync(join(dir, 'inner'));
  const { client } = await connectStdio(t, gateway, dir);
  const escapes = ['../escaped.webm', 'inner/../../escaped.webm', join(elsewhere, 'absolute.webm'), 'out/through-link.webm', 'out/new/deeper.webm', 'linked.webm', 'parted.webm'];
  for (const path of escapes) {
    const outcome = await callTool(client, 'download_result', { id: 'task_stddl002', path });
    assertToolProblem(outcome, 'path_outside_folder');
    assert.match(String(outcome.structured?.['detail']), new RegExp(`files are saved inside ${dir} only`), path);
  }
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing was written outside the folder');
  assert.ok(!existsSync(join(dir, '..', 'escaped.webm')));
  assert.deepEqual(readdirSync(join(dir, 'inner')), []);
  // A path that only looks like it leaves (`..` inside the folder) is fine.
  const inside = await callTool(client, 'download_result', { id: 'task_stddl002', path: 'inner/../kept.webm' });
  assert.equal(inside.structured?.['path'], join(dir, 'kept.webm'));
});

test('the process writes only MCP messages to stdout and exits 0 when its client closes stdin, even mid-wait', { timeout: 60_000 }, async (t) => {
  const gateway = await startKeyedGateway(t);
  gateway.stack.vtrix.setTask('task_stdexit01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  const child = spawn(process.execPath, [await cliBundle(), 'mcp', '--gateway', gateway.url], {
    cwd: temporaryFolder(t),
    env: cliEnvironment({ TASKGATE_API_KEY: KEY }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const transport = new ChildProcessTransport(child);
  const client = new Client({ name: 'taskgate-test', version: '1.0.0' });
  await client.connect(transport);
  assert.equal((await callTool(client, 'get_task', { id: 'task_stdexit01' })).isError, false);
  const waiting = client.callTool({ name: 'wait_for_task', arguments: { id: 'task_stdexit01', timeout_seconds: 600 } });
  waiting.catch(() => {});
  const { watcher } = gateway.stack.app.taskService;
  assert.ok(await eventually(() => watcher.waiters === 1, 10_000), 'the wait reached the gateway');

  await client.close();
  assert.deepEqual(await exited, [0, null]);
  assert.ok(await eventually(() => watcher.waiters === 0, 5000), 'the held request was released');
  const lines = Buffer.concat(transport.stdout).toString('utf8').split('\n').filter((line) => line !== '');
  assert.ok(lines.length >= 2, `stdout: ${lines.length} lines`);
  for (const line of lines) assert.equal((JSON.parse(line) as { jsonrpc?: string }).jsonrpc, '2.0', line);
});

test('taskgate mcp: its help, and bad usage before anything starts', async () => {
  const help = await runCli(['mcp', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: taskgate mcp \[--dir DIR\]\n/);
  assert.equal((await runCli(['help', 'mcp'])).stdout, help.stdout);
  assert.match((await runCli(['--help'])).stdout, /\n {2}taskgate mcp \[--dir DIR\]\n/);
  const extra = await runCli(['mcp', 'task_abc001']);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^taskgate: usage: mcp takes no arguments/);
  const missing = await runCli(['mcp', '--dir', join(tmpdir(), 'taskgate-no-such-folder-2c9e')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^taskgate: usage: --dir must be an existing folder/);
  assert.equal(missing.stdout, '');
});
