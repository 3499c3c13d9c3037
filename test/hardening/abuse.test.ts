/**
 * Hostile input, sent as raw bytes on real sockets: every request that reaches Fastify
 * gets a clear 4xx problem+json; what Node's HTTP parser refuses first gets its documented
 * 4xx (or a closed socket) and the gateway keeps answering; nothing reaches a provider.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TaskSchema } from '../../schemas/task.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { listen } from '../helpers/http.js';
import { assertAnyProblem, assertProblem, rawRequest, type RawAnswer } from './support.js';

const DONE = [{ atMs: 0, status: 'succeeded' as const }];

interface HostileCase {
  name: string;
  /** A path (GET with Host and Connection: close) or a whole raw request. */
  request: string | Buffer | { method?: string; path: string; headers?: string[]; body?: string };
  status: number;
  code: string;
  /** Extra check of the answer. */
  check?: (answer: RawAnswer) => void;
}

function toBytes(request: HostileCase['request']): string | Buffer {
  if (typeof request === 'string') return `GET ${request} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n`;
  if (Buffer.isBuffer(request)) return request;
  const body = request.body ?? '';
  const length = request.body === undefined ? [] : [`Content-Length: ${Buffer.byteLength(body)}`];
  const lines = [`${request.method ?? 'GET'} ${request.path} HTTP/1.1`, 'Host: gateway', ...(request.headers ?? []), ...length, 'Connection: close'];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const noHeader = (name: string) => (answer: RawAnswer) => assert.equal(answer.headers[name], undefined, `${name} must not be set`);
const bodyLacks = (text: string) => (answer: RawAnswer) => assert.ok(!answer.body.includes(text), answer.body);

/** Requests Fastify sees: each must be a 4xx problem+json with this code. */
const PROBLEM_CORPUS: HostileCase[] = [
  // Path traversal and encoded slashes
  { name: 'encoded traversal', request: '/tasks/..%2F..%2Fetc%2Fpasswd', status: 400, code: 'invalid_task_id' },
  { name: 'double-encoded traversal', request: '/tasks/..%252F..%252Fetc%252Fpasswd', status: 400, code: 'invalid_task_id' },
  { name: 'encoded slash in an id only one-segment providers take', request: '/tasks/task_a%2Fb', status: 400, code: 'invalid_task_id' },
  { name: 'double-encoded slash', request: '/tasks/task_a%252Fb', status: 400, code: 'invalid_task_id' },
  { name: 'encoded backslash', request: '/tasks/task_a%5Cb', status: 400, code: 'invalid_task_id' },
  { name: 'dot-dot native id', request: '/tasks/vtrix:..', status: 400, code: 'invalid_task_id' },
  { name: 'dot native id', request: '/tasks/vtrix:.', status: 400, code: 'invalid_task_id' },
  { name: 'dot-dot native id at gravitex', request: '/tasks/gravitex:..', status: 400, code: 'invalid_task_id' },
  { name: 'raw traversal out of /tasks', request: '/tasks/../healthz', status: 404, code: 'not_found' },
  // Control characters
  { name: 'encoded NUL', request: '/tasks/task_a%00b', status: 400, code: 'invalid_task_id' },
  { name: 'only an encoded NUL', request: '/tasks/%00', status: 400, code: 'invalid_task_id' },
  {
    name: 'encoded CRLF header injection',
    request: '/tasks/task_a%0D%0ASet-Cookie:%20session=evil',
    status: 400,
    code: 'invalid_task_id',
    check: noHeader('set-cookie'),
  },
  { name: 'encoded LF', request: '/tasks/task_a%0Ab', status: 400, code: 'invalid_task_id' },
  { name: 'encoded tab', request: '/tasks/task_a%09b', status: 400, code: 'invalid_task_id' },
  // Length
  { name: '513-character id', request: `/tasks/${'a'.repeat(513)}`, status: 400, code: 'invalid_task_id' },
  { name: 'qualified id over 512 characters', request: `/tasks/vtrix:${'a'.repeat(507)}`, status: 400, code: 'invalid_task_id' },
  // Slashes (sent as %2F) are allowed inside ids, but no empty or dot segment: no provider path can be walked.
  { name: 'encoded slash at the start', request: '/tasks/%2Ftask_a', status: 400, code: 'invalid_task_id' },
  { name: 'encoded double slash', request: '/tasks/models%2F%2Foperations', status: 400, code: 'invalid_task_id' },
  { name: 'encoded dot segment', request: '/tasks/models%2F.%2Foperations', status: 400, code: 'invalid_task_id' },
  { name: 'encoded slash in a one-segment native id', request: '/tasks/vtrix:task_a%2Fb', status: 400, code: 'invalid_task_id' },
  { name: '1000-character id', request: `/tasks/task_${'9'.repeat(995)}`, status: 400, code: 'invalid_task_id' },
  // Non-ASCII and look-alikes
  { name: 'encoded CJK id', request: '/tasks/%E4%BB%BB%E5%8A%A1', status: 400, code: 'invalid_task_id' },
  { name: 'encoded Latin look-alike', request: '/tasks/ta%C5%9Fk_abc001', status: 400, code: 'invalid_task_id' },
  { name: 'fullwidth colon', request: '/tasks/vtrix%EF%BC%9Atask_abc001', status: 400, code: 'invalid_task_id' },
  { name: 'zero-width space', request: '/tasks/task_abc%E2%80%8B001', status: 400, code: 'invalid_task_id' },
  { name: 'encoded emoji', request: '/tasks/task_%F0%9F%92%A3', status: 400, code: 'invalid_task_id' },
  // Other id tricks
  { name: 'path parameter', request: '/tasks/task_abc001;jsessionid=1', status: 400, code: 'invalid_task_id' },
  { name: 'space in the id', request: '/tasks/task%20abc001', status: 400, code: 'invalid_task_id' },
  {
    name: 'script in the id is not reflected',
    request: '/tasks/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    status: 400,
    code: 'invalid_task_id',
    check: bodyLacks('<script>'),
  },
  { name: 'empty native id', request: '/tasks/vtrix:', status: 400, code: 'invalid_task_id' },
  { name: 'unknown provider', request: '/tasks/acme:task_abc001', status: 404, code: 'no_provider_for_task_id' },
  { name: 'prototype key as provider', request: '/tasks/__proto__:task_abc001', status: 404, code: 'no_provider_for_task_id' },
  { name: 'prototype key as id', request: '/tasks/__proto__', status: 404, code: 'no_provider_for_task_id' },
  { name: 'constructor as provider', request: '/tasks/constructor:x', status: 404, code: 'no_provider_for_task_id' },
  // Bad `wait` values
  ...['-1', '1e3', '61', 'abc', '5s', '1.5', 'Infinity', 'NaN', '%00', '99999999999999999999', '-0.5', '60.0001'].map(
    (value): HostileCase => ({ name: `wait=${value}`, request: `/tasks/task_abc001?wait=${value}`, status: 400, code: 'invalid_request' }),
  ),
  { name: 'wait given twice', request: '/tasks/task_abc001?wait=1&wait=2', status: 400, code: 'invalid_request' },
  { name: 'wait given a thousand times (7 KB query)', request: `/tasks/task_abc001?${'wait=1&'.repeat(1000)}`, status: 400, code: 'invalid_request' },
  { name: 'a bad wait on the SSE route is ignored, the bad id is not', request: '/tasks/task%20x/events?wait=-1', status: 400, code: 'invalid_task_id' },
  // Bad Prefer values
  ...['wait=abc', 'wait=-5', 'wait=99', 'wait=1e1', 'wait="61"', 'wait=', 'respond-async, wait=0x10'].map(
    (value): HostileCase => ({
      name: `Prefer: ${value}`,
      request: { path: '/tasks/task_abc001', headers: [`Prefer: ${value}`] },
      status: 400,
      code: 'invalid_request',
    }),
  ),
  // Method tampering
  {
    name: 'POST with X-HTTP-Method-Override: GET',
    request: { method: 'POST', path: '/tasks/task_abc001', headers: ['X-HTTP-Method-Override: GET'], body: '' },
    status: 405,
    code: 'method_not_allowed',
  },
  {
    name: 'POST with _method=GET in the query',
    request: { method: 'POST', path: '/tasks/task_abc001?_method=GET', body: '' },
    status: 405,
    code: 'method_not_allowed',
  },
  { name: 'TRACE', request: { method: 'TRACE', path: '/tasks/task_abc001' }, status: 405, code: 'method_not_allowed', check: bodyLacks('Host: gateway') },
  { name: 'OPTIONS without CORS', request: { method: 'OPTIONS', path: '/tasks/task_abc001' }, status: 405, code: 'method_not_allowed' },
  { name: 'DELETE', request: { method: 'DELETE', path: '/tasks/task_abc001' }, status: 405, code: 'method_not_allowed' },
  {
    name: 'PUT with a JSON body',
    request: { method: 'PUT', path: '/tasks/task_abc001', headers: ['Content-Type: application/json'], body: '{"status":"succeeded"}' },
    status: 405,
    code: 'method_not_allowed',
  },
  { name: 'PATCH on the SSE route', request: { method: 'PATCH', path: '/tasks/task_abc001/events', body: '' }, status: 405, code: 'method_not_allowed' },
  // Paths next to the real ones
  { name: 'upper-case path', request: '/TASKS/task_abc001', status: 404, code: 'not_found' },
  { name: 'doubled slash', request: '//tasks/task_abc001', status: 404, code: 'not_found' },
  { name: 'extra segment', request: '/tasks/task_abc001/events/extra', status: 404, code: 'not_found' },
  { name: 'empty id', request: '/tasks/', status: 400, code: 'invalid_task_id' },
  // Headers the gateway must not trust
  {
    name: 'X-Request-Id with markup is replaced, not echoed',
    request: { path: '/tasks/task%20x', headers: ['X-Request-Id: <img src=x onerror=alert(1)>'] },
    status: 400,
    code: 'invalid_task_id',
    check: (answer) => {
      assert.ok(!answer.raw.includes('<img'), 'the bad request id is not reflected');
      assert.match(answer.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    },
  },
  {
    name: 'an 8 KB X-Request-Id is replaced',
    request: { path: '/tasks/task%20x', headers: [`X-Request-Id: ${'r'.repeat(8000)}`] },
    status: 400,
    code: 'invalid_task_id',
    check: (answer) => assert.ok((answer.headers['x-request-id'] ?? '').length <= 128),
  },
];

interface NodeLevelCase {
  name: string;
  bytes: string | Buffer;
  /** The status Node's parser (through the gateway's clientErrorHandler) answers; 0 = socket closed. */
  status: number;
}

const get = (path: string, headers: string[] = []) => `GET ${path} HTTP/1.1\r\nHost: gateway\r\n${headers.map((line) => `${line}\r\n`).join('')}Connection: close\r\n\r\n`;

/** Requests Node's HTTP parser rejects before Fastify sees them. */
const NODE_LEVEL_CORPUS: NodeLevelCase[] = [
  { name: 'raw NUL in the path', bytes: get('/tasks/task_a\0b'), status: 400 },
  { name: 'raw UTF-8 in the path', bytes: Buffer.concat([Buffer.from('GET /tasks/'), Buffer.from('任务'), Buffer.from(' HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n')]), status: 400 },
  { name: 'raw space in the path', bytes: 'GET /tasks/task abc HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n', status: 400 },
  { name: 'bare CR inside a header value', bytes: get('/tasks/task_abc001', ['X-Note: a\rb']), status: 400 },
  { name: 'bare LF header injection', bytes: 'GET /tasks/task_abc001 HTTP/1.1\r\nHost: gateway\r\nX-Note: a\nX-Injected: yes\r\nConnection: close\r\n\r\n', status: 400 },
  { name: 'obsolete line folding', bytes: get('/tasks/task_abc001', ['X-Note: a', ' folded']), status: 400 },
  { name: 'space in a header name', bytes: get('/tasks/task_abc001', ['X Note: 1']), status: 400 },
  { name: 'a 20 KB header', bytes: get('/tasks/task_abc001', [`X-Big: ${'a'.repeat(20_000)}`]), status: 431 },
  { name: 'a 20 KB Authorization header', bytes: get('/tasks/task_abc001', [`Authorization: Bearer ${'k'.repeat(20_000)}`]), status: 431 },
  { name: 'a 20 KB query string', bytes: get(`/tasks/task_abc001?q=${'a'.repeat(20_000)}`), status: 431 },
  { name: 'a lower-case method', bytes: 'get /tasks/task_abc001 HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n', status: 400 },
  { name: 'an invented method', bytes: 'BREW /tasks/task_abc001 HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n', status: 400 },
  { name: 'no Host header', bytes: 'GET /tasks/task_abc001 HTTP/1.1\r\nConnection: close\r\n\r\n', status: 400 },
  { name: 'two Content-Length headers', bytes: 'POST /tasks/task_abc001 HTTP/1.1\r\nHost: gateway\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab', status: 400 },
  { name: 'Transfer-Encoding with Content-Length (smuggling)', bytes: 'POST /tasks/task_abc001 HTTP/1.1\r\nHost: gateway\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n', status: 400 },
  { name: 'an HTTP/2 preface on the HTTP/1 port', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 400 },
  { name: 'CONNECT tunnelling', bytes: 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', status: 0 },
];

describe('abuse corpus', () => {
  let stack: Stack | undefined;
  let port = 0;
  const closers: Array<() => Promise<void> | void> = [];
  before(async () => {
    stack = await startStack({ after: (fn: () => Promise<void> | void) => closers.push(fn) });
    port = Number(new URL(await listen(stack.app)).port);
  });
  after(async () => {
    for (const close of closers) await close();
  });

  for (const hostile of PROBLEM_CORPUS) {
    test(`${hostile.name} → ${hostile.status} ${hostile.code}`, async () => {
      const answer = await rawRequest(port, toBytes(hostile.request));
      assertProblem(answer, hostile.status, hostile.code);
      hostile.check?.(answer);
    });
  }

  for (const hostile of NODE_LEVEL_CORPUS) {
    test(`${hostile.name} → ${hostile.status === 0 ? 'connection closed' : hostile.status} at the HTTP parser, and the gateway still answers`, async () => {
      const answer = await rawRequest(port, hostile.bytes);
      assert.equal(answer.statusCode, hostile.status, answer.raw.slice(0, 200));
      // the HTTP parser's own refusals are problem+json too.
      if (hostile.status !== 0) assertAnyProblem(answer);
      const health = await rawRequest(port, get('/healthz'));
      assert.equal(health.statusCode, 200);
    });
  }

  test('none of it reached a provider', () => {
    assert.ok(stack);
    assert.equal(stack.vtrix.hits(), 0);
    assert.equal(stack.gravitex.hits(), 0);
  });
});

test('harmless extras are ignored, not obeyed', async (t) => {
  const { app, vtrix } = await startStack(t);
  vtrix.setTask('task_x0001', { variant: 'model', timeline: [{ atMs: 0, status: 'in_progress', progress: 10 }] });
  const port = Number(new URL(await listen(app)).port);
  // A method override header on a GET does not turn it into anything else.
  const overridden = await rawRequest(port, get('/tasks/vtrix:task_x0001', ['X-HTTP-Method-Override: DELETE']));
  assert.equal(overridden.statusCode, 200);
  assert.equal(TaskSchema.parse(JSON.parse(overridden.body)).id, 'vtrix:task_x0001');
  // A JSON body on a GET is not read as parameters: no 60 s wait.
  const started = Date.now();
  const body = '{"wait":60,"id":"../../etc/passwd"}';
  const withBody = await rawRequest(
    port,
    `GET /tasks/vtrix:task_x0001 HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  assert.equal(withBody.statusCode, 200);
  assert.ok(Date.now() - started < 1000);
  // An absolute-form target is served by this gateway, never fetched from that host.
  const absolute = await rawRequest(port, get('http://evil.example/tasks/vtrix:task_x0001'));
  assert.equal(absolute.statusCode, 200);
  assert.equal(TaskSchema.parse(JSON.parse(absolute.body)).provider, 'vtrix');
});

test(
  'URLs Fastify itself rejects (bad percent-encoding, ids over maxParamLength) are problem+json too',
  async (t) => {
    const { app, vtrix, gravitex } = await startStack(t);
    const port = Number(new URL(await listen(app)).port);
    for (const path of ['/tasks/%ZZ', '/tasks/task_abc%', '/tasks/%E4%BB', `/tasks/${'a'.repeat(2000)}`]) {
      const answer = await rawRequest(port, get(path));
      assert.ok([400, 414].includes(answer.statusCode), `${path}: ${answer.statusCode}`);
      const problem = assertAnyProblem(answer);
      assert.ok(['invalid_task_id', 'invalid_request'].includes(problem.code), problem.code);
      assert.ok(problem.detail.length < 300, 'the detail does not echo a 2000-character URL');
    }
    assert.equal(vtrix.hits() + gravitex.hits(), 0);
  },
);

test(
  '`wait` must be written as a plain integer',
  async (t) => {
    const { app, vtrix } = await startStack(t);
    // A terminal task: if a value is wrongly accepted, the answer still comes at once.
    vtrix.setTask('task_w0001', { variant: 'model', timeline: DONE });
    for (const value of ['0x10', '', '%205', '%2B5', '1e1', '5.0', '0b11']) {
      assertProblem(await app.inject({ url: `/tasks/vtrix:task_w0001?wait=${value}` }), 400, 'invalid_request');
    }
  },
);
