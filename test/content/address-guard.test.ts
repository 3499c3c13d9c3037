/**
 * The outbound address guard: the classifier and the pre-flight URL check as tables, the
 * allow-list parser, and the connect-time check against a real loopback server that counts
 * hits. DNS is always the test's own resolver, and every connector the guard builds is
 * wrapped in a safety net that refuses any non-loopback destination before a packet
 * leaves, so even a broken guard cannot reach the network.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { BlockList, isIP, type AddressInfo, type LookupFunction } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildConnector, fetch, request, type Agent } from 'undici';
import {
  BlockedAddressError,
  allowHostsSchema,
  checkTargetUrl,
  classifyAddress,
  createGuardedAgent,
  exemptOrigins,
  isAllowedHost,
  isBlockedAddressError,
  parseAllowHost,
  parseAllowHosts,
  type BlockReason,
  type GuardedAgentOptions,
  type ResolveHostname,
  type TargetUrlPolicy,
} from '../../src/content/address-guard.js';

const CONTENT_POLICY: TargetUrlPolicy = { allowHosts: [], allowPlainHttp: true };
const WEBHOOK_POLICY: TargetUrlPolicy = { allowHosts: [], allowPlainHttp: false };

function verdictOf(url: string, policy: TargetUrlPolicy = CONTENT_POLICY): 'allowed' | BlockReason {
  try {
    checkTargetUrl(url, policy);
    return 'allowed';
  } catch (error) {
    assert.ok(error instanceof BlockedAddressError, `unexpected error for ${url}: ${String(error)}`);
    assert.equal(error.code, 'TASKGATE_BLOCKED_ADDRESS');
    return error.reason;
  }
}

describe('classifyAddress', () => {
  const cases: [string, 'allowed' | BlockReason][] = [
    ['0.0.0.0', 'unspecified'],
    ['0.255.255.255', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['100.63.255.255', 'allowed'],
    ['100.64.0.0', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.0', 'allowed'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.255', 'loopback'],
    ['169.254.0.1', 'link_local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['172.15.255.255', 'allowed'],
    ['172.16.0.0', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'allowed'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['192.88.99.1', 'reserved'],
    ['192.168.0.1', 'private'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.20.0.0', 'allowed'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['8.8.8.8', 'allowed'],
    ['93.184.216.34', 'allowed'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:A9FE:A9FE', 'metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:8.8.8.8', 'allowed'],
    ['::127.0.0.1', 'loopback'],
    ['::8.8.8.8', 'reserved'],
    ['::ffff:0:10.0.0.1', 'private'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::8.8.8.8', 'allowed'],
    ['64:ff9b:1::1', 'private'],
    ['100::1', 'reserved'],
    ['2001:db8::1', 'documentation'],
    ['2001::1', 'reserved'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:808:808::1', 'allowed'],
    ['fc00::1', 'private'],
    ['fdff:ffff::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf::1', 'link_local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['1234::1', 'reserved'],
    ['2606:4700::1', 'allowed'],
    ['2a00:1450:4001::200e', 'allowed'],
    ['example.com', 'invalid_address'],
    ['0177.0.0.1', 'invalid_address'],
    ['', 'invalid_address'],
  ];
  for (const [ip, expected] of cases) {
    test(`${ip || '(empty)'} → ${expected}`, () => {
      const verdict = classifyAddress(ip);
      assert.equal(verdict.allowed ? 'allowed' : verdict.reason, expected);
    });
  }
});

describe('checkTargetUrl: URL spellings under the content policy', () => {
  const cases: [string, 'allowed' | BlockReason][] = [
    // IPv4 spellings the WHATWG parser folds into 127.0.0.1
    ['http://2130706433/', 'loopback'],
    ['http://017700000001/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://0x7f.0.0.1/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://127.0.0.1./', 'loopback'],
    ['http://%31%32%37.0.0.1/', 'loopback'],
    ['http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/', 'loopback'],
    ['http:\\\\127.0.0.1\\x', 'loopback'],
    ['http://127.255.255.254:8080/x', 'loopback'],
    // IPv6 literals
    ['http://[::1]/', 'loopback'],
    ['http://[0:0:0:0:0:0:0:1]:8080/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:7f00:1]/', 'loopback'],
    ['http://[0:0:0:0:0:ffff:a9fe:a9fe]/', 'metadata'],
    ['http://[::ffff:169.254.169.254]/latest/meta-data/', 'metadata'],
    ['http://[::127.0.0.1]/', 'loopback'],
    ['http://[64:ff9b::10.0.0.1]/', 'private'],
    ['http://[fe80::1]/', 'link_local'],
    ['http://[fe80::1%25eth0]/', 'invalid_url'], // the WHATWG parser refuses zone ids
    ['http://[fc00::1]/', 'private'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://[2001:db8::1]/', 'documentation'],
    // unspecified
    ['http://0.0.0.0/', 'unspecified'],
    ['http://0/', 'unspecified'],
    ['http://[::]/', 'unspecified'],
    // localhost by name
    ['http://localhost/', 'localhost'],
    ['http://LOCALHOST./', 'localhost'],
    ['http://foo.localhost/', 'localhost'],
    ['http://a.b.LocalHost:8080/x?y=1', 'localhost'],
    // private, link-local, metadata, CGNAT and the rest
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://169.254.1.1/', 'link_local'],
    ['http://100.64.0.1/', 'cgnat'],
    ['http://10.0.0.1/', 'private'],
    ['http://10.255.255.255/', 'private'],
    ['http://172.16.0.1/', 'private'],
    ['http://172.20.10.5/', 'private'],
    ['http://172.31.255.255/', 'private'],
    ['http://172.32.0.1/', 'allowed'],
    ['http://172.15.255.255/', 'allowed'],
    ['http://192.168.1.1/', 'private'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://239.255.255.250:1900/', 'multicast'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://240.0.0.1/', 'reserved'],
    ['http://198.18.0.1/', 'reserved'],
    ['http://192.0.2.1/', 'documentation'],
    ['http://203.0.113.5/', 'documentation'],
    // userinfo and schemes
    ['http://user:pw@example.com/', 'userinfo'],
    ['http://user@example.com/', 'userinfo'],
    ['https://:secret@example.com/', 'userinfo'],
    ['ftp://example.com/file', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['data:text/plain,hello', 'unsupported_scheme'],
    ['javascript:alert(1)', 'unsupported_scheme'],
    ['gopher://127.0.0.1:6379/_INFO', 'unsupported_scheme'],
    ['ws://example.com/', 'unsupported_scheme'],
    ['not a url', 'invalid_url'],
    ['http://256.0.0.1/', 'invalid_url'],
    // public targets (classified only, never connected to)
    ['http://93.184.216.34/', 'allowed'],
    ['http://[2606:4700::1]/', 'allowed'],
    ['http://[::ffff:8.8.8.8]/', 'allowed'],
    ['https://cdn.example/output.mp4?sig=abc', 'allowed'],
    ['https://example.com.:443/x', 'allowed'],
    ['HTTPS://Example.COM/Path', 'allowed'],
  ];
  for (const [url, expected] of cases) {
    test(`${url} → ${expected}`, () => assert.equal(verdictOf(url), expected));
  }

  test('the table covers at least 40 spellings', () => assert.ok(cases.length >= 40));
});

describe('checkTargetUrl: policy', () => {
  test('an allowed host skips the address rules, on its port only when it names one', () => {
    const policy: TargetUrlPolicy = { allowHosts: parseAllowHosts(['localhost:8080', '127.0.0.1']), allowPlainHttp: true };
    assert.equal(verdictOf('http://localhost:8080/video.mp4', policy), 'allowed');
    assert.equal(verdictOf('http://LOCALHOST:8080/', policy), 'allowed');
    assert.equal(verdictOf('http://localhost:8081/', policy), 'localhost');
    assert.equal(verdictOf('http://localhost/', policy), 'localhost');
    // Every spelling of 127.0.0.1, on every port, is the allowed host.
    assert.equal(verdictOf('http://2130706433:9000/', policy), 'allowed');
    assert.equal(verdictOf('http://127.0.0.2/', policy), 'loopback');
  });

  test('an allowed host still gets the scheme and userinfo rules', () => {
    const policy: TargetUrlPolicy = { allowHosts: parseAllowHosts(['localhost:8080']), allowPlainHttp: true };
    assert.equal(verdictOf('http://user:pw@localhost:8080/', policy), 'userinfo');
    assert.equal(verdictOf('ftp://localhost:8080/', policy), 'unsupported_scheme');
  });

  test('an allowed IPv6 host matches any spelling of it', () => {
    const policy: TargetUrlPolicy = { allowHosts: parseAllowHosts(['[::1]:8080']), allowPlainHttp: true };
    assert.equal(verdictOf('http://[0:0:0:0:0:0:0:1]:8080/', policy), 'allowed');
    assert.equal(verdictOf('http://[::1]:8081/', policy), 'loopback');
  });

  test('webhooks: https only, except for allowed hosts', () => {
    assert.equal(verdictOf('http://hooks.example/taskgate', WEBHOOK_POLICY), 'insecure_scheme');
    assert.equal(verdictOf('https://hooks.example/taskgate', WEBHOOK_POLICY), 'allowed');
    assert.equal(verdictOf('https://10.0.0.1/', WEBHOOK_POLICY), 'private');
    const allowed: TargetUrlPolicy = { allowHosts: parseAllowHosts(['receiver.internal']), allowPlainHttp: false };
    assert.equal(verdictOf('http://receiver.internal:9000/hook', allowed), 'allowed');
    assert.equal(verdictOf('http://other.internal/hook', allowed), 'insecure_scheme');
  });

  test('an exempt origin skips the address rules for its scheme, host and port only', () => {
    const policy: TargetUrlPolicy = { allowHosts: [], allowPlainHttp: true, isExempt: exemptOrigins(['http://127.0.0.1:9999']) };
    assert.equal(verdictOf('http://127.0.0.1:9999/v1/videos/video_1/content', policy), 'allowed');
    assert.equal(verdictOf('http://2130706433:9999/', policy), 'allowed');
    assert.equal(verdictOf('http://127.0.0.1:9998/', policy), 'loopback');
    assert.equal(verdictOf('https://127.0.0.1:9999/', policy), 'loopback');
    assert.equal(verdictOf('http://u:p@127.0.0.1:9999/', policy), 'userinfo');
  });

  test('exemptOrigins fills in default ports and ignores the path', () => {
    const isExempt = exemptOrigins(['https://API.Gravitex.ai/', new URL('http://sim.test/v1')]);
    assert.equal(isExempt('api.gravitex.ai', 443, 'https:'), true);
    assert.equal(isExempt('api.gravitex.ai.', 443, 'https:'), true);
    assert.equal(isExempt('api.gravitex.ai', 80, 'http:'), false);
    assert.equal(isExempt('sim.test', 80, 'http:'), true);
    assert.equal(isExempt('sim.test', 8080, 'http:'), false);
  });

  test('the error names the host, never the path or query', () => {
    assert.throws(
      () => checkTargetUrl('http://169.254.169.254/latest/meta-data/iam?token=SECRET123', CONTENT_POLICY),
      (thrown: unknown) => {
        assert.ok(thrown instanceof BlockedAddressError);
        assert.equal(thrown.reason, 'metadata');
        assert.equal(thrown.host, '169.254.169.254');
        assert.match(thrown.message, /169\.254\.169\.254/);
        assert.doesNotMatch(thrown.message, /SECRET123|latest|token/);
        return true;
      },
    );
    assert.throws(() => checkTargetUrl('javascript:fetch("https://x?token=SECRET123")', CONTENT_POLICY), (thrown: unknown) => {
      assert.ok(thrown instanceof BlockedAddressError);
      assert.doesNotMatch(thrown.message, /SECRET123/);
      return true;
    });
  });

  test('returns the parsed URL, a copy when given one', () => {
    const input = new URL('https://cdn.example/a.mp4?sig=1');
    const checked = checkTargetUrl(input, CONTENT_POLICY);
    assert.notEqual(checked, input);
    assert.equal(checked.href, input.href);
    assert.equal(checkTargetUrl('HTTPS://CDN.example:443/a', CONTENT_POLICY).href, 'https://cdn.example/a');
  });
});

describe('allowHosts parsing', () => {
  const valid: [string, { host: string; port: number | undefined }][] = [
    ['example.com', { host: 'example.com', port: undefined }],
    ['Example.COM', { host: 'example.com', port: undefined }],
    ['example.com.', { host: 'example.com', port: undefined }],
    ['  api.example:443 ', { host: 'api.example', port: 443 }],
    ['sim_vtrix:8080', { host: 'sim_vtrix', port: 8080 }],
    ['127.0.0.1:65535', { host: '127.0.0.1', port: 65535 }],
    ['127.1', { host: '127.0.0.1', port: undefined }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[0:0:0:0:0:0:0:1]', { host: '::1', port: undefined }],
    ['[FD00:EC2::254]:1', { host: 'fd00:ec2::254', port: 1 }],
    ['b\u00fccher.example', { host: 'xn--bcher-kva.example', port: undefined }],
  ];
  for (const [entry, expected] of valid) {
    test(`${JSON.stringify(entry)} parses`, () => assert.deepEqual(parseAllowHost(entry), expected));
  }

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['::1', /brackets/],
    ['::1:8080', /brackets/],
    ['http://example.com', /not a URL/],
    ['example.com:0', /1 to 65535/],
    ['example.com:65536', /1 to 65535/],
    ['example.com:http', /1 to 65535/],
    ['example.com:', /1 to 65535/],
    ['example.com:80:80', /1 to 65535/],
    ['*.example.com', /wildcards/],
    ['user@example.com', /user names/],
    ['example.com/path', /nothing else/],
    ['exa mple.com', /nothing else/],
    ['[::1', /brackets/],
    ['[example.com]:80', /not an IPv6 address/],
    ['[fe80::1%eth0]', /not an IPv6 address/],
    ['-bad.example', /not a valid host name/],
    ['bad..example', /not a valid host name/],
  ];
  for (const [entry, message] of invalid) {
    test(`${JSON.stringify(entry)} is refused`, () => {
      assert.throws(
        () => parseAllowHost(entry),
        (thrown: unknown) => {
          assert.ok(thrown instanceof Error && thrown.name === 'InvalidAllowHostError');
          assert.match(thrown.message, message);
          assert.ok(thrown.message.includes(JSON.stringify(entry)), thrown.message);
          return true;
        },
      );
    });
  }

  test('the zod schema reports the bad entry at its index with the reason', () => {
    const result = allowHostsSchema.safeParse(['ok.example', 'bad.example:0']);
    assert.equal(result.success, false);
    assert.deepEqual(result.error?.issues.map((issue) => issue.path), [[1]]);
    assert.match(result.error?.issues[0]?.message ?? '', /"bad\.example:0".*1 to 65535/);
    assert.deepEqual(allowHostsSchema.parse(['A.example:80']), [{ host: 'a.example', port: 80 }]);
  });

  test('matching is case-insensitive, ignores a trailing dot and honours the port', () => {
    const allowHosts = parseAllowHosts(['example.com:443', 'any.example']);
    assert.equal(isAllowedHost(allowHosts, 'EXAMPLE.com.', 443), true);
    assert.equal(isAllowedHost(allowHosts, 'example.com', 80), false);
    assert.equal(isAllowedHost(allowHosts, 'any.example', 1), true);
    assert.equal(isAllowedHost(allowHosts, 'sub.any.example', 1), false);
  });
});

describe('the guarded agent (connect time)', () => {
  let server: Server;
  let port = 0;
  let hits = 0;
  /** Destinations the safety net stopped: must stay empty, else the guard let one through. */
  const escapes: string[] = [];
  /** The `all` flag of every lookup net made: happy eyeballs asks for all addresses. */
  const lookupAll: boolean[] = [];
  const agents: Agent[] = [];

  const loopback = new BlockList();
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  loopback.addAddress('::1', 'ipv6');
  const isLoopback = (address: string) => loopback.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

  /** Wraps undici's connector so nothing but loopback is ever connected to, guard or no guard. */
  const loopbackOnlyConnector: NonNullable<GuardedAgentOptions['buildConnector']> = (options) => {
    const guardLookup = (options as { lookup: LookupFunction }).lookup;
    const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
      lookupAll.push(lookupOptions.all === true);
      return guardLookup(hostname, lookupOptions, (error, address, family) => {
        const addresses = typeof address === 'string' ? [address] : address.map((entry) => entry.address);
        const outside = error === null ? addresses.filter((entry) => !isLoopback(entry)) : [];
        if (outside.length > 0) {
          escapes.push(...outside);
          return callback(new Error(`test safety net: refused to connect to ${outside.join(', ')}`), '');
        }
        return callback(error, address, family);
      });
    };
    const connect = buildConnector({ ...options, lookup });
    return (connectOptions, callback) => {
      if (isIP(connectOptions.hostname) !== 0 && !isLoopback(connectOptions.hostname)) {
        escapes.push(connectOptions.hostname);
        return callback(new Error(`test safety net: refused to connect to ${connectOptions.hostname}`), null);
      }
      return connect(connectOptions, callback);
    };
  };

  const answers: Record<string, string[]> = {
    'rebind.test': ['127.0.0.1'],
    'allowed.test': ['127.0.0.1', '127.0.0.2'],
    'mixed.test': ['93.184.216.34', '127.0.0.1'],
    'mixed-private-first.test': ['10.0.0.7', '93.184.216.34'],
    'mapped.test': ['::ffff:127.0.0.1'],
  };
  const resolved: string[] = [];
  const resolveHostname: ResolveHostname = async (hostname) => {
    resolved.push(hostname);
    const addresses = answers[hostname];
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: isIP(address) }));
  };

  function guardedAgent(options: Partial<GuardedAgentOptions> = {}): Agent {
    const agent = createGuardedAgent({ allowHosts: [], resolveHostname, buildConnector: loopbackOnlyConnector, ...options });
    agents.push(agent);
    return agent;
  }

  async function get(url: string, dispatcher: Agent): Promise<string> {
    const response = await request(url, { dispatcher });
    return `${response.statusCode} ${await response.body.text()}`;
  }

  async function refusal(url: string, dispatcher: Agent): Promise<BlockedAddressError> {
    const error = await request(url, { dispatcher }).then(
      () => assert.fail(`${url} was fetched`),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof BlockedAddressError, `expected BlockedAddressError, got ${String(error)}`);
    return error;
  }

  before(async () => {
    server = createServer((_request, response) => {
      hits += 1;
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.deepEqual(escapes, [], 'the safety net had to stop a non-loopback connection');
  });

  test('a name that resolves to loopback is refused at connect time, though the pre-flight passes it', async () => {
    const before = hits;
    const url = `http://rebind.test:${port}/content?token=SECRET`;
    assert.equal(checkTargetUrl(url, CONTENT_POLICY).hostname, 'rebind.test');
    const error = await refusal(url, guardedAgent());
    assert.equal(error.reason, 'loopback');
    assert.equal(error.host, 'rebind.test');
    assert.equal(error.address, '127.0.0.1');
    assert.doesNotMatch(error.message, /SECRET|content/);
    assert.equal(hits - before, 0);
  });

  test('the same name in the allow list reaches the server', async () => {
    const before = hits;
    const agent = guardedAgent({ allowHosts: parseAllowHosts(['rebind.test']) });
    assert.equal(await get(`http://rebind.test:${port}/`, agent), '200 ok');
    assert.equal(hits - before, 1);
  });

  test('an allow-list entry with another port does not exempt the host', async () => {
    const before = hits;
    const agent = guardedAgent({ allowHosts: parseAllowHosts([`rebind.test:${port === 65535 ? 1 : port + 1}`]) });
    assert.equal((await refusal(`http://rebind.test:${port}/`, agent)).reason, 'loopback');
    assert.equal(hits - before, 0);
  });

  test('a literal loopback address is refused unless exempt', async () => {
    const before = hits;
    assert.equal((await refusal(`http://127.0.0.1:${port}/`, guardedAgent())).reason, 'loopback');
    assert.equal((await refusal(`http://[::ffff:7f00:1]:${port}/`, guardedAgent())).reason, 'loopback');
    assert.equal(hits - before, 0);

    const exemptByOrigin = guardedAgent({ isExempt: exemptOrigins([`http://127.0.0.1:${port}`]) });
    assert.equal(await get(`http://127.0.0.1:${port}/`, exemptByOrigin), '200 ok');
    const asked: [string, number, string][] = [];
    const exemptByCallback = guardedAgent({
      isExempt: (hostname, exemptPort, protocol) => {
        asked.push([hostname, exemptPort, protocol]);
        return true;
      },
    });
    assert.equal(await get(`http://127.0.0.1:${port}/`, exemptByCallback), '200 ok');
    assert.deepEqual(asked, [['127.0.0.1', port, 'http:']]);
    assert.equal(hits - before, 2);
  });

  test('a lookup answering several addresses is refused when any of them is refused', async () => {
    const before = hits;
    const agent = guardedAgent();
    const mixed = await refusal(`http://mixed.test:${port}/`, agent);
    assert.equal(mixed.reason, 'loopback');
    assert.equal(mixed.address, '127.0.0.1');
    const privateFirst = await refusal(`http://mixed-private-first.test:${port}/`, agent);
    assert.equal(privateFirst.reason, 'private');
    assert.equal(privateFirst.address, '10.0.0.7');
    assert.equal(hits - before, 0);
  });

  test('an IPv4-mapped loopback answer is refused', async () => {
    const before = hits;
    assert.equal((await refusal(`http://mapped.test:${port}/`, guardedAgent())).reason, 'loopback');
    assert.equal(hits - before, 0);
  });

  test('the check holds with and without happy eyeballs (lookup with and without all)', async () => {
    const before = hits;
    lookupAll.length = 0;
    for (const autoSelectFamily of [true, false]) {
      const refusing = guardedAgent({ connect: { autoSelectFamily } });
      assert.equal((await refusal(`http://rebind.test:${port}/`, refusing)).reason, 'loopback');
      const allowed = guardedAgent({ connect: { autoSelectFamily }, allowHosts: parseAllowHosts(['allowed.test']) });
      assert.equal(await get(`http://allowed.test:${port}/`, allowed), '200 ok');
    }
    assert.deepEqual([...new Set(lookupAll)].sort(), [false, true]);
    assert.equal(hits - before, 2);
  });

  test('every new connection is checked again: a second request on a fresh socket is refused too', async () => {
    const before = hits;
    const agent = guardedAgent();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      assert.equal((await refusal(`http://rebind.test:${port}/?attempt=${attempt}`, agent)).reason, 'loopback');
    }
    assert.equal(resolved.filter((name) => name === 'rebind.test').length >= 2, true);
    assert.equal(hits - before, 0);
  });

  test('a DNS failure is passed on as it is, not as a refusal', async () => {
    const error = await request(`http://unknown.test:${port}/`, { dispatcher: guardedAgent() }).then(
      () => assert.fail('fetched'),
      (thrown: unknown) => thrown,
    );
    assert.ok(!(error instanceof BlockedAddressError));
    assert.equal((error as { code?: string }).code, 'ENOTFOUND');
  });

  test('fetch wraps the refusal as its cause, which isBlockedAddressError recognises', async () => {
    const error = await fetch(`http://rebind.test:${port}/`, { dispatcher: guardedAgent() }).then(
      () => assert.fail('fetched'),
      (thrown: unknown) => thrown,
    );
    assert.ok(!(error instanceof BlockedAddressError));
    assert.equal(isBlockedAddressError(error), true);
    assert.equal(isBlockedAddressError(new Error('other')), false);
  });

  test('pool options pass through to the Agent', async () => {
    const silent = createServer(() => {
      // Never answers: only the agent's headersTimeout ends the request.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    try {
      const agent = guardedAgent({ allowHosts: parseAllowHosts(['rebind.test']), agent: { headersTimeout: 300 } });
      const started = Date.now();
      const error = await request(`http://rebind.test:${silentPort}/`, { dispatcher: agent }).then(
        () => assert.fail('answered'),
        (thrown: unknown) => thrown,
      );
      assert.equal((error as { code?: string }).code, 'UND_ERR_HEADERS_TIMEOUT');
      assert.ok(Date.now() - started < 5000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('options that would bypass the guard are refused', () => {
    assert.throws(() => createGuardedAgent({ allowHosts: [], agent: { factory: () => undefined } as never }), /agent\.factory/);
    assert.throws(() => createGuardedAgent({ allowHosts: [], connect: { socketPath: '/x' } as never }), /connect\.socketPath/);
    assert.throws(() => createGuardedAgent({ allowHosts: [], connect: { lookup: () => undefined } as never }), /connect\.lookup/);
  });
});
