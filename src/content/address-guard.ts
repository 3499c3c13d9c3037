/**
 * The outbound address guard (SSRF protection) shared by result streaming and webhook
 * delivery: both fetch URLs the gateway did not choose. Two layers, one policy:
 *
 * - `checkTargetUrl`, the pre-flight: scheme, userinfo, `localhost` names, IP literals;
 * - `createGuardedAgent`, the connect-time check: every address DNS gives for the host is
 *   classified, and the socket may only use those checked addresses, so a name that
 *   resolves (or re-resolves, DNS rebinding) to an internal address never gets a packet.
 *
 * Hosts in an allow list (`content.allowHosts`, `webhooks.allowHosts`) and callers'
 * exemptions (a provider's own origin) skip the address rules, never the URL rules.
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP, isIPv6, type LookupFunction } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { z } from 'zod';
import { classifyAddress, describeAddressReason, type AddressReason } from './addresses.js';

export { classifyAddress, describeAddressReason, type AddressReason, type AddressVerdict } from './addresses.js';

export type UrlReason = 'invalid_url' | 'unsupported_scheme' | 'userinfo' | 'missing_host' | 'localhost' | 'insecure_scheme';
export type BlockReason = AddressReason | UrlReason;

const URL_REASON_TEXT: Record<UrlReason, string> = {
  invalid_url: 'the URL cannot be parsed',
  unsupported_scheme: 'only http and https URLs are fetched',
  userinfo: 'URLs with a user name or password are refused',
  missing_host: 'the URL has no host',
  localhost: 'localhost names are refused',
  insecure_scheme: 'only https is accepted for this host',
};

function describeReason(reason: BlockReason): string {
  return reason in URL_REASON_TEXT ? URL_REASON_TEXT[reason as UrlReason] : describeAddressReason(reason as AddressReason);
}

/**
 * A target the guard refuses. The message names the host only: URLs from providers and
 * clients carry signed query strings that must not reach logs or problem details. The
 * resolved `address` is kept for logs, out of the message, so answers do not map
 * internal DNS for whoever registered the URL.
 */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'TASKGATE_BLOCKED_ADDRESS';
  readonly reason: BlockReason;
  readonly host: string;
  readonly address: string | undefined;

  constructor(reason: BlockReason, host: string, address?: string) {
    super(host === '' ? `Refused target: ${describeReason(reason)}` : `Refused ${host}: ${describeReason(reason)}`);
    this.reason = reason;
    this.host = host;
    this.address = address;
  }
}

/** True for the guard's error, also when a client such as `fetch` wraps it as `cause`. */
export function isBlockedAddressError(value: unknown): value is BlockedAddressError {
  return value instanceof BlockedAddressError || (value instanceof Error && value.cause instanceof BlockedAddressError);
}

// ---------------------------------------------------------------------------------------
// Host names and allow lists

/** Lower case, IPv6 without brackets and compressed, no trailing dot: one spelling per host. */
export function canonicalHost(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  // Only a name with a colon can be IPv6: the others skip Node's IPv6 pattern, whose first
  // use alone costs milliseconds of a start-up (BENCHMARKS.md, "Start-up").
  if (host.includes(':') && isIPv6(host) && !host.includes('%')) host = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return host;
}

function effectivePort(protocol: string, port: string): number {
  if (port !== '') return Number(port);
  return protocol === 'https:' ? 443 : 80;
}

/** One allow-list entry: `port` undefined means every port. */
export interface AllowHost {
  host: string;
  port: number | undefined;
}

export class InvalidAllowHostError extends Error {
  override readonly name = 'InvalidAllowHostError';
  readonly entry: string;

  constructor(entry: string, problem: string) {
    super(`allowHosts entry ${JSON.stringify(entry)}: ${problem}`);
    this.entry = entry;
  }
}

const HOST_AND_PORT = /^(?<host>\[[^\]]*\]|[^:[\]]+)(?::(?<port>.*))?$/;
const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const SHAPE_HINT = 'write host or host:port (an IPv6 address in brackets, e.g. [::1]:8080)';

function normalizeAllowedName(entry: string, name: string): string {
  let hostname: string;
  try {
    // The same WHATWG normalization target URLs get (case, IDNA, IPv4 spellings).
    hostname = new URL(`http://${name}/`).hostname;
  } catch {
    throw new InvalidAllowHostError(entry, `${JSON.stringify(name)} is not a valid host name`);
  }
  const host = canonicalHost(hostname);
  const valid = isIP(host) === 4 || (host.length <= 253 && host.split('.').every((label) => DNS_LABEL.test(label)));
  if (!valid) throw new InvalidAllowHostError(entry, `${JSON.stringify(name)} is not a valid host name`);
  return host;
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`, case-insensitively. */
export function parseAllowHost(entry: string): AllowHost {
  const text = entry.trim();
  const fail = (problem: string) => new InvalidAllowHostError(entry, problem);
  if (text === '') throw fail('it is empty');
  if (text.includes('://')) throw fail(`${SHAPE_HINT}, not a URL`);
  if (text.includes('*')) throw fail('wildcards are not supported; list each host');
  if (text.includes('@')) throw fail('user names are not part of a host');
  if (/[/?#\\\s]/.test(text)) throw fail(`${SHAPE_HINT}, nothing else (no path, query or spaces)`);
  const match = HOST_AND_PORT.exec(text);
  const name = match?.groups?.host;
  if (match === null || name === undefined) throw fail(SHAPE_HINT);
  let host: string;
  if (name.startsWith('[')) {
    const inner = name.slice(1, -1);
    if (!isIPv6(inner) || inner.includes('%')) throw fail(`${name} is not an IPv6 address`);
    host = canonicalHost(inner);
  } else {
    host = normalizeAllowedName(entry, name);
  }
  const portText = match.groups?.port;
  if (portText === undefined) return { host, port: undefined };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) throw fail(`port ${JSON.stringify(portText)} is not a number from 1 to 65535`);
  return { host, port };
}

export function parseAllowHosts(entries: readonly string[]): AllowHost[] {
  return entries.map(parseAllowHost);
}

/** For TASKGATE_CONFIG: each entry parsed, a bad one reported with the reason. */
export const allowHostSchema = z.string().transform((entry, context): AllowHost => {
  try {
    return parseAllowHost(entry);
  } catch (error) {
    context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});

export const allowHostsSchema = z.array(allowHostSchema);

export function isAllowedHost(allowHosts: readonly AllowHost[], hostname: string, port: number): boolean {
  const host = canonicalHost(hostname);
  return allowHosts.some((entry) => entry.host === host && (entry.port === undefined || entry.port === port));
}

/** A caller's exemption, asked with the canonical host, the effective port and `http:`/`https:`. */
export type IsExempt = (hostname: string, port: number, protocol: string) => boolean;

/** Exempts exactly these origins (scheme, host and port), e.g. the providers' base URLs. */
export function exemptOrigins(origins: readonly (string | URL)[]): IsExempt {
  const exempt = new Set(
    origins.map((origin) => {
      const url = new URL(origin);
      return `${url.protocol}//${canonicalHost(url.hostname)}:${effectivePort(url.protocol, url.port)}`;
    }),
  );
  return (hostname, port, protocol) => exempt.has(`${protocol}//${canonicalHost(hostname)}:${port}`);
}

export interface AddressPolicy {
  /** Hosts that skip the address rules (`content.allowHosts`, `webhooks.allowHosts`). */
  allowHosts: readonly AllowHost[];
  /** Per-call exemption from the address rules, e.g. `exemptOrigins([provider base URLs])`. */
  isExempt?: IsExempt;
}

export interface TargetUrlPolicy extends AddressPolicy {
  /** Content: true. Webhooks: false, so plain `http:` only reaches allowed or exempt hosts. */
  allowPlainHttp: boolean;
}

function isTrusted(policy: AddressPolicy, host: string, port: number, protocol: string): boolean {
  return isAllowedHost(policy.allowHosts, host, port) || (policy.isExempt?.(host, port, protocol) ?? false);
}

function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

// ---------------------------------------------------------------------------------------
// The pre-flight check

/**
 * Checks a URL before anything is sent and returns it parsed (a copy when given a URL).
 * Host names that are not literals are only judged at connect time, by the guarded agent.
 */
export function checkTargetUrl(url: string | URL, policy: TargetUrlPolicy): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new BlockedAddressError('invalid_url', '');
  }
  const { protocol } = target;
  const host = canonicalHost(target.hostname);
  if (protocol !== 'http:' && protocol !== 'https:') throw new BlockedAddressError('unsupported_scheme', host);
  if (target.username !== '' || target.password !== '') throw new BlockedAddressError('userinfo', host);
  if (host === '') throw new BlockedAddressError('missing_host', '');
  if (isTrusted(policy, host, effectivePort(protocol, target.port), protocol)) return target;
  // What the host is comes before the scheme: "a loopback address" tells the sender of
  // http://127.0.0.1:9000 what to change, "only https" would not.
  if (isLocalhostName(host)) throw new BlockedAddressError('localhost', host);
  if (isIP(host) !== 0) {
    const verdict = classifyAddress(host);
    if (!verdict.allowed) throw new BlockedAddressError(verdict.reason, host, host);
  }
  if (protocol === 'http:' && !policy.allowPlainHttp) throw new BlockedAddressError('insecure_scheme', host);
  return target;
}

// ---------------------------------------------------------------------------------------
// The connect-time check

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Every address a host name resolves to; injectable so tests never ask real DNS. */
export type ResolveHostname = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const resolveWithSystem: ResolveHostname = (hostname) => dns.lookup(hostname, { all: true });

/** Socket settings of the guarded connector; anything that could bypass it (socketPath, lookup) is absent. */
export interface GuardedConnectOptions {
  /** Connect timeout in ms, DNS included (undici's default 10 s). */
  timeout?: number;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  autoSelectFamily?: boolean;
  autoSelectFamilyAttemptTimeout?: number;
  maxCachedSessions?: number;
  tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'minVersion'>;
}

type ConnectorFactory = (options: buildConnector.BuildOptions) => buildConnector.connector;

/** Pool settings passed to the undici Agent; the connection-making ones belong in `connect`. */
export type GuardedAgentPoolOptions = Omit<
  Agent.Options,
  'connect' | 'factory' | 'socketPath' | 'tls' | 'connectTimeout' | 'autoSelectFamily' | 'autoSelectFamilyAttemptTimeout' | 'maxCachedSessions' | 'allowH2'
>;

const BYPASSING_AGENT_OPTIONS = ['connect', 'factory', 'socketPath'] as const;

export interface GuardedAgentOptions extends AddressPolicy {
  resolveHostname?: ResolveHostname;
  connect?: GuardedConnectOptions;
  agent?: GuardedAgentPoolOptions;
  /** Makes the socket connector from the settled options (undici's `buildConnector`); tests wrap it. */
  buildConnector?: ConnectorFactory;
}

function notFound(hostname: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
}

function wantedFamily(family: Parameters<LookupFunction>[1]['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

/**
 * A `net.connect` lookup over `resolveHostname`. With `check`, one refused address refuses
 * the host (an attacker's DNS chooses the order, and happy eyeballs may use any of them);
 * the socket then only ever sees addresses that were classified.
 */
function lookupThrough(resolveHostname: ResolveHostname, check: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolveHostname(hostname).then(
      (resolved) => {
        const addresses: LookupAddress[] = resolved.map(({ address }) => ({ address, family: isIP(address) }));
        if (check) {
          for (const { address } of addresses) {
            const verdict = classifyAddress(address);
            if (!verdict.allowed) return callback(new BlockedAddressError(verdict.reason, canonicalHost(hostname), address), '');
          }
        }
        const family = wantedFamily(options.family);
        const usable = addresses.filter((entry) => entry.family !== 0 && (family === 0 || entry.family === family));
        const first = usable[0];
        if (first === undefined) return callback(notFound(hostname), '');
        if (options.all === true) return callback(null, usable);
        return callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), ''),
    );
  };
}

/**
 * An undici connector that applies the address rules to every connection: IP-literal
 * hosts are classified here (net does no lookup for them), names through the lookup
 * given to the socket. A refusal fails the request with `BlockedAddressError`.
 */
export function createGuardedConnector(options: GuardedAgentOptions): buildConnector.connector {
  const resolveHostname = options.resolveHostname ?? resolveWithSystem;
  const makeConnector = options.buildConnector ?? buildConnector;
  const { tls, ...socketOptions } = options.connect ?? {};
  for (const key of ['socketPath', 'path', 'lookup'] as const) {
    if (key in socketOptions) throw new TypeError(`the guarded connector does not accept connect.${key}`);
  }
  const base = { ...tls, ...socketOptions };
  const guarded = makeConnector({ ...base, lookup: lookupThrough(resolveHostname, true) });
  const trusted = makeConnector({ ...base, lookup: lookupThrough(resolveHostname, false) });
  const refuse = (callback: buildConnector.Callback, error: BlockedAddressError) => queueMicrotask(() => callback(error, null));

  return (connectOptions, callback) => {
    const { protocol } = connectOptions;
    const host = canonicalHost(connectOptions.hostname);
    if (protocol !== 'http:' && protocol !== 'https:') return refuse(callback, new BlockedAddressError('unsupported_scheme', host));
    if (isTrusted(options, host, effectivePort(protocol, connectOptions.port), protocol)) return trusted(connectOptions, callback);
    if (isIP(host) !== 0) {
      const verdict = classifyAddress(host);
      if (!verdict.allowed) return refuse(callback, new BlockedAddressError(verdict.reason, host, host));
    }
    return guarded(connectOptions, callback);
  };
}

/** An undici Agent (pool settings in `agent`) whose every connection goes through the guard. */
export function createGuardedAgent(options: GuardedAgentOptions): Agent {
  const poolOptions: Record<string, unknown> = { ...options.agent };
  for (const key of BYPASSING_AGENT_OPTIONS) {
    if (key in poolOptions) throw new TypeError(`the guarded agent does not accept agent.${key}`);
  }
  return new Agent({ ...options.agent, connect: createGuardedConnector(options) });
}
