/**
 * `POST /mcp`: the gateway as an MCP server over Streamable HTTP, driven by the SDK's own
 * client against a listening gateway on the simulators. The tool list and its schemas,
 * each tool's answer and its failures as tool results, progress during a wait, the waiter
 * freed when the client leaves, and the `/tasks` authentication and limits in front.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request } from 'undici';
import { LinkSetSchema } from '../../schemas/links.js';
import { TASK_ID_PATTERN } from '../../schemas/params.js';
import { TaskSchema } from '../../schemas/task.js';
import { assertProblem, header } from '../hardening/support.js';
import { eventually, listen } from '../helpers/http.js';
import { startStack, withPollInterval, type Stack, type StackOptions } from '../helpers/stack.js';
import { assertRisingProgress, assertToolProblem, callTool, callWithProgress, pinRisingTask } from './support.js';

const KEYS = 'mcp-key-one-7d1e,mcp-key-two-93ab';
const [KEY_ONE, KEY_TWO] = KEYS.split(',') as [string, string];
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const LIST_TOOLS = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

interface McpGateway {
  url: string;
  stack: Stack;
  /** An SDK client connected to `/mcp` with this key (none: no Authorization), closed when the test ends. */
  connect(key?: string): Promise<Client>;
}

/** A listening gateway with client keys on, polling its simulators every 50 ms. */
async function startMcpGateway(t: TestContext, options: StackOptions = {}): Promise<McpGateway> {
  const stack = await startStack(t, {
    timeScale: 0.05,
    ...options,
    env: { TASKGATE_API_KEYS: KEYS, ...options.env },
    configure: (config) => withPollInterval(options.configure ? options.configure(config) : config, 50),
  });
  const url = await listen(stack.app);
  const connect = async (key?: string) => {
    const headers: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
    const client = new Client({ name: 'taskgate-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
    t.after(() => client.close());
    return client;
  };
  return { url, stack, connect };
}

async function getJson(url: string, key?: string): Promise<{ statusCode: number; body: unknown }> {
  const response = await request(url, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  return { statusCode: response.statusCode, body: await response.body.json() };
}

test('tools/list offers get_task, wait_for_task and get_result_link with the public schemas; no download over HTTP', async (t) => {
  const client = await (await startMcpGateway(t)).connect(KEY_ONE);
  const { tools } = await client.listTools();
  assert.deepEqual(
    tools.map((tool) => tool.name),
    ['get_task', 'wait_for_task', 'get_result_link'],
  );
  const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
  for (const tool of tools) {
    const id = tool.inputSchema.properties?.['id'] as { type: string; pattern: string };
    assert.deepEqual({ type: id.type, pattern: id.pattern }, { type: 'string', pattern: TASK_ID_PATTERN.source }, tool.name);
    assert.deepEqual(tool.inputSchema.required, ['id'], tool.name);
    assert.equal(tool.outputSchema?.type, 'object', tool.name);
    assert.equal(tool.inputSchema['additionalProperties'], false, tool.name);
  }
  assert.deepEqual(byName['wait_for_task']!.inputSchema.properties?.['timeout_seconds'], {
    type: 'integer',
    minimum: 0,
    maximum: 600,
    default: 50,
    description: 'How long to wait for the task to finish, in seconds (0-600; 0: look once); keep it under the request timeout of your MCP client',
  });
  const ttl = byName['get_result_link']!.inputSchema.properties?.['ttl_seconds'] as Record<string, unknown>;
  assert.deepEqual([ttl['minimum'], ttl['maximum'], ttl['default']], [60, 86_400, 900]);
  assert.equal(byName['get_task']!.annotations?.readOnlyHint, true);
});

test('get_task answers the Task exactly as GET /tasks/{id} sends it, with a one-line summary', async (t) => {
  const gateway = await startMcpGateway(t);
  gateway.stack.vtrix.setTask('task_mcpget01', { variant: 'model', timeline: [{ atMs: 0, status: 'failed' }] });
  const client = await gateway.connect(KEY_ONE);
  const outcome = await callTool(client, 'get_task', { id: 'task_mcpget01' });
  assert.equal(outcome.isError, false);
  const direct = await getJson(`${gateway.url}/tasks/task_mcpget01`, KEY_ONE);
  assert.equal(direct.statusCode, 200);
  assert.deepEqual(outcome.structured, direct.body);
  const task = TaskSchema.parse(outcome.structured);
  assert.equal(outcome.texts[0], `task_mcpget01 (vtrix): failed, ${task.error!.code}: ${task.error!.message}`);
  assert.deepEqual(JSON.parse(outcome.texts[1]!), direct.body);
});

test('failures are tool results with the problem code: a bad id, an unknown task, an id no provider owns', async (t) => {
  const client = await (await startMcpGateway(t)).connect(KEY_ONE);
  for (const id of ['bad id!', '', 'x'.repeat(513)]) {
    assertToolProblem(await callTool(client, 'get_task', { id }), 'invalid_task_id');
    assertToolProblem(await callTool(client, 'wait_for_task', { id, timeout_seconds: 1 }), 'invalid_task_id');
    assertToolProblem(await callTool(client, 'get_result_link', { id }), 'invalid_task_id');
  }
  assertToolProblem(await callTool(client, 'get_task', {}), 'invalid_task_id');
  const missing = await callTool(client, 'get_task', { id: 'task_mcp_missing_01' });
  assertToolProblem(missing, 'task_not_found');
  assert.equal(missing.structured?.['detail'], 'No provider among vtrix, gravitex has this task.');
  assertToolProblem(await callTool(client, 'wait_for_task', { id: 'task_mcp_missing_01', timeout_seconds: 5 }), 'task_not_found');
  assertToolProblem(await callTool(client, 'get_result_link', { id: 'nope-nope' }), 'no_provider_for_task_id');
  assertToolProblem(await callTool(client, 'wait_for_task', { id: 'task_abc001', timeout_seconds: 601 }), 'invalid_request');
  assertToolProblem(await callTool(client, 'get_result_link', { id: 'task_abc001', ttl_seconds: 5 }), 'invalid_request');
  assertToolProblem(await callTool(client, 'get_task', { id: 'task_abc001', extra: true }), 'invalid_request');
});

test('wait_for_task sends rising progress notifications and ends with the succeeded task', async (t) => {
  const gateway = await startMcpGateway(t);
  pinRisingTask(gateway.stack.vtrix, 'task_mcpwait01', 4000);
  const client = await gateway.connect(KEY_ONE);
  const { outcome, progress } = await callWithProgress(client, 'wait_for_task', { id: 'task_mcpwait01', timeout_seconds: 60 });
  assert.equal(outcome.isError, false);
  assert.equal(outcome.structured?.['finished'], true);
  const task = TaskSchema.parse(outcome.structured?.['task']);
  assert.equal(task.status, 'succeeded');
  assert.equal(outcome.texts[0], `task_mcpwait01 (vtrix): succeeded 100%, ${task.url}`);
  assertRisingProgress(progress, 'task_mcpwait01');
});

test('wait_for_task at its timeout answers the latest state as not finished, not as an error', async (t) => {
  const gateway = await startMcpGateway(t);
  gateway.stack.vtrix.setTask('task_mcpslow01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 30 }] });
  const client = await gateway.connect(KEY_ONE);
  const outcome = await callTool(client, 'wait_for_task', { id: 'task_mcpslow01', timeout_seconds: 1 });
  assert.equal(outcome.isError, false);
  assert.equal(outcome.structured?.['finished'], false);
  assert.equal(TaskSchema.parse(outcome.structured?.['task']).status, 'in_progress');
  assert.equal(outcome.texts[0], 'not finished after 1 s: task_mcpslow01 (vtrix): in_progress 30%');
  const once = await callTool(client, 'wait_for_task', { id: 'task_mcpslow01', timeout_seconds: 0 });
  assert.equal(once.structured?.['finished'], false, 'timeout 0 looks once');
});

test('a client that leaves during a wait frees its place among the waiters', async (t) => {
  const gateway = await startMcpGateway(t);
  gateway.stack.vtrix.setTask('task_mcpgone01', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  const client = await gateway.connect(KEY_ONE);
  const { watcher } = gateway.stack.app.taskService;
  const pending = client.callTool({ name: 'wait_for_task', arguments: { id: 'task_mcpgone01', timeout_seconds: 600 } });
  pending.catch(() => {});
  assert.ok(await eventually(() => watcher.waiters === 1, 5000), `waiters: ${watcher.waiters}`);
  await client.close();
  assert.ok(await eventually(() => watcher.waiters === 0 && watcher.pollLoops === 0, 5000), `waiters: ${watcher.waiters}`);
});

test('get_result_link mints links as POST /tasks/{id}/links does, with the calling client key', async (t) => {
  const gateway = await startMcpGateway(t);
  gateway.stack.vtrix.setTask('task_mcplink01', { variant: 'model', timeline: [{ atMs: 0, status: 'succeeded' }] });
  const client = await gateway.connect(KEY_TWO);
  const outcome = await callTool(client, 'get_result_link', { id: 'task_mcplink01', ttl_seconds: 120 });
  assert.equal(outcome.isError, false, JSON.stringify(outcome));
  const links = LinkSetSchema.parse(outcome.structured);
  const posted = await request(`${gateway.url}/tasks/task_mcplink01/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY_TWO}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttl_seconds: 120 }),
  });
  assert.equal(posted.statusCode, 201);
  const fromRoute = LinkSetSchema.parse(await posted.body.json());
  const withoutToken = (url: string) => url.replace(/token=[^&]+/, 'token=…');
  for (const field of ['task_url', 'events_url', 'content_url'] as const) assert.equal(withoutToken(links[field]), withoutToken(fromRoute[field]), field);
  assert.equal(links.task_id, 'task_mcplink01');
  assert.equal(outcome.texts[0], `${links.content_url} (until ${links.expires_at})`);
  // The token carries the tag of the key that called the tool (as the route's does), and opens the task without any key.
  const tagOf = (url: string) => decodeURIComponent(/token=([^&]+)/.exec(url)![1]!).split('.')[1];
  assert.equal(tagOf(links.task_url), tagOf(fromRoute.task_url));
  const opened = await getJson(links.task_url);
  assert.equal(opened.statusCode, 200);
  assert.equal((opened.body as { status: string }).status, 'succeeded');
});

test('/mcp takes the /tasks client key: without one it is a 401 problem, and the SDK client cannot connect', async (t) => {
  const gateway = await startMcpGateway(t);
  const { app } = gateway.stack;
  const anonymous = await app.inject({ method: 'POST', url: '/mcp', headers: MCP_HEADERS, payload: LIST_TOOLS });
  assertProblem(anonymous, 401, 'unauthorized');
  assert.equal(header(anonymous, 'www-authenticate'), 'Bearer realm="taskgate"');
  const wrong = await app.inject({ method: 'POST', url: '/mcp', headers: { ...MCP_HEADERS, authorization: 'Bearer not-a-key' }, payload: LIST_TOOLS });
  assertProblem(wrong, 401, 'unauthorized');
  await assert.rejects(gateway.connect(), /401/);
  const allowed = await app.inject({ method: 'POST', url: '/mcp', headers: { ...MCP_HEADERS, authorization: `Bearer ${KEY_ONE}` }, payload: LIST_TOOLS });
  assert.equal(allowed.statusCode, 200);
  assert.match(header(allowed, 'content-type') ?? '', /^text\/event-stream/);
});

test('failed authentications on /mcp are throttled per address, and its requests count against the rate limit', async (t) => {
  const gateway = await startMcpGateway(t, { env: { TASKGATE_RATE_LIMIT: '3' }, configure: (config) => ({ ...config, authFailuresPerMinute: 2 }) });
  const { app } = gateway.stack;
  const post = (headers: Record<string, string>, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/mcp', headers: { ...MCP_HEADERS, ...headers }, payload: LIST_TOOLS, remoteAddress });
  assertProblem(await post({ authorization: 'Bearer guess-1' }, '10.1.0.1'), 401, 'unauthorized');
  assertProblem(await post({ authorization: 'Bearer guess-2' }, '10.1.0.1'), 401, 'unauthorized');
  // The right key from that address is refused too until its window ends: guessing cannot go on.
  assertProblem(await post({ authorization: `Bearer ${KEY_ONE}` }, '10.1.0.1'), 429, 'rate_limited');

  const statuses: number[] = [];
  for (let index = 0; index < 4; index++) statuses.push((await post({ authorization: `Bearer ${KEY_TWO}` }, '10.1.0.2')).statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  assertProblem(await post({ authorization: `Bearer ${KEY_TWO}` }, '10.1.0.2'), 429, 'rate_limited');
});

test('GET and DELETE /mcp are 405 problems (no sessions), and a body that is no JSON-RPC message is a 400 problem', async (t) => {
  const gateway = await startMcpGateway(t);
  const { app } = gateway.stack;
  const authorization = `Bearer ${KEY_ONE}`;
  for (const method of ['GET', 'DELETE'] as const) {
    const response = await app.inject({ method, url: '/mcp', headers: { authorization, accept: 'text/event-stream' } });
    assertProblem(response, 405, 'method_not_allowed');
    assert.equal(header(response, 'allow'), 'POST');
  }
  const notJsonRpc = await app.inject({ method: 'POST', url: '/mcp', headers: { ...MCP_HEADERS, authorization }, payload: JSON.stringify({ hello: 'world' }) });
  assertProblem(notJsonRpc, 400, 'invalid_request');
  const text = await app.inject({ method: 'POST', url: '/mcp', headers: { ...MCP_HEADERS, authorization, 'content-type': 'text/plain' }, payload: LIST_TOOLS });
  assertProblem(text, 415, 'unsupported_media_type');
});
