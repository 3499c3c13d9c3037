/**
 * The pure address classifier behind the outbound guard: given one literal IP, may the
 * gateway open a connection to it on behalf of a URL it did not choose? Ranges follow the
 * IANA IPv4/IPv6 special-purpose registries; IPv6 forms that carry an IPv4 address
 * (mapped, compatible, SIIT, NAT64, 6to4) are judged by the address they carry.
 */
import { isIP } from 'node:net';

export type AddressReason =
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'metadata'
  | 'reserved'
  | 'documentation'
  | 'broadcast'
  | 'invalid_address';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: AddressReason };

const ALLOWED: AddressVerdict = Object.freeze({ allowed: true });

function refused(reason: AddressReason): AddressVerdict {
  return { allowed: false, reason };
}

interface Range<Value extends number | bigint> {
  base: Value;
  prefixLength: number;
  reason: AddressReason;
}

function ipv4Range(cidr: string, reason: AddressReason): Range<number> {
  const [base = '', prefixLength = '32'] = cidr.split('/');
  return { base: parseIpv4(base), prefixLength: Number(prefixLength), reason };
}

// Exact metadata addresses come first so they are reported as such, not as their range.
const IPV4_RANGES: readonly Range<number>[] = [
  ipv4Range('169.254.169.254', 'metadata'), // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
  ipv4Range('169.254.170.2', 'metadata'), // AWS ECS task credentials
  ipv4Range('169.254.170.23', 'metadata'), // AWS EKS pod identity
  ipv4Range('100.100.100.200', 'metadata'), // Alibaba Cloud
  ipv4Range('168.63.129.16', 'metadata'), // Azure WireServer: a public-looking address only Azure hosts reach
  ipv4Range('0.0.0.0/8', 'unspecified'),
  ipv4Range('10.0.0.0/8', 'private'),
  ipv4Range('100.64.0.0/10', 'cgnat'),
  ipv4Range('127.0.0.0/8', 'loopback'),
  ipv4Range('169.254.0.0/16', 'link_local'),
  ipv4Range('172.16.0.0/12', 'private'),
  ipv4Range('192.0.0.0/24', 'reserved'),
  ipv4Range('192.0.2.0/24', 'documentation'),
  ipv4Range('192.88.99.0/24', 'reserved'),
  ipv4Range('192.168.0.0/16', 'private'),
  ipv4Range('198.18.0.0/15', 'reserved'),
  ipv4Range('198.51.100.0/24', 'documentation'),
  ipv4Range('203.0.113.0/24', 'documentation'),
  ipv4Range('224.0.0.0/4', 'multicast'),
  ipv4Range('255.255.255.255', 'broadcast'),
  ipv4Range('240.0.0.0/4', 'reserved'),
];

/** What to do with an IPv6 range: refuse it, or judge the IPv4 address it embeds. */
type Ipv6Rule =
  | (Range<bigint> & { kind: 'refuse' })
  | { kind: 'embedded'; base: bigint; prefixLength: number; shift: bigint; whenPublic: AddressVerdict };

function ipv6Range(cidr: string, reason: AddressReason): Ipv6Rule {
  const [base = '', prefixLength = '128'] = cidr.split('/');
  return { kind: 'refuse', base: parseIpv6(base), prefixLength: Number(prefixLength), reason };
}

function embeddedIpv4(cidr: string, bitOffset: number, whenPublic: AddressVerdict): Ipv6Rule {
  const [base = '', prefixLength = '128'] = cidr.split('/');
  return { kind: 'embedded', base: parseIpv6(base), prefixLength: Number(prefixLength), shift: BigInt(128 - 32 - bitOffset), whenPublic };
}

const IPV6_RANGES: readonly Ipv6Rule[] = [
  ipv6Range('::', 'unspecified'),
  ipv6Range('::1', 'loopback'),
  embeddedIpv4('::ffff:0:0/96', 96, ALLOWED), // IPv4-mapped: the socket really talks IPv4
  // IPv4-compatible (deprecated) and SIIT-translated forms have no legitimate public use.
  embeddedIpv4('::/96', 96, refused('reserved')),
  embeddedIpv4('::ffff:0:0:0/96', 96, refused('reserved')),
  embeddedIpv4('64:ff9b::/96', 96, ALLOWED), // NAT64 well-known prefix: public IPv4 via a translator
  ipv6Range('64:ff9b:1::/48', 'private'), // local-use NAT64, RFC 8215
  ipv6Range('100::/64', 'reserved'), // discard-only
  ipv6Range('fd00:ec2::254', 'metadata'), // AWS IMDS over IPv6
  ipv6Range('fd00:ec2::23', 'metadata'), // AWS EKS pod identity over IPv6
  ipv6Range('fd20:ce::254', 'metadata'), // GCP metadata over IPv6
  ipv6Range('fc00::/7', 'private'),
  ipv6Range('fe80::/10', 'link_local'),
  ipv6Range('fec0::/10', 'private'), // deprecated site-local
  ipv6Range('ff00::/8', 'multicast'),
  ipv6Range('2001:db8::/32', 'documentation'),
  ipv6Range('3fff::/20', 'documentation'),
  ipv6Range('2001::/23', 'reserved'), // IETF protocol assignments: Teredo, benchmarking, ORCHID
  embeddedIpv4('2002::/16', 16, ALLOWED), // 6to4 carries the relay's IPv4 in bits 16-47
  ipv6Range('5f00::/16', 'reserved'), // SRv6 SIDs
];

const GLOBAL_UNICAST_IPV6 = { base: parseIpv6('2000::'), prefixLength: 3 };

function parseIpv4(text: string): number {
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

/** Expects text `net.isIPv6` accepts, without a zone; returns the 128-bit value. */
function parseIpv6(text: string): bigint {
  let groups = text;
  const lastColon = groups.lastIndexOf(':');
  const tail = groups.slice(lastColon + 1);
  if (tail.includes('.')) {
    const ipv4 = parseIpv4(tail);
    groups = `${groups.slice(0, lastColon + 1)}${(ipv4 >>> 16).toString(16)}:${(ipv4 & 0xffff).toString(16)}`;
  }
  const [head = '', rest] = groups.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : Array<string>(8 - headGroups.length - restGroups.length).fill('0');
  return [...headGroups, ...zeros, ...restGroups].reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n);
}

function inIpv4Range(address: number, range: Range<number>): boolean {
  const hostBits = 32 - range.prefixLength;
  return Math.floor(address / 2 ** hostBits) === Math.floor(range.base / 2 ** hostBits);
}

function inIpv6Range(address: bigint, range: { base: bigint; prefixLength: number }): boolean {
  const hostBits = BigInt(128 - range.prefixLength);
  return address >> hostBits === range.base >> hostBits;
}

function classifyIpv4(address: number): AddressVerdict {
  const range = IPV4_RANGES.find((candidate) => inIpv4Range(address, candidate));
  return range === undefined ? ALLOWED : refused(range.reason);
}

function classifyIpv6(address: bigint): AddressVerdict {
  for (const rule of IPV6_RANGES) {
    if (!inIpv6Range(address, rule)) continue;
    if (rule.kind === 'refuse') return refused(rule.reason);
    const verdict = classifyIpv4(Number((address >> rule.shift) & 0xffffffffn));
    return verdict.allowed ? rule.whenPublic : verdict;
  }
  // Outside 2000::/3 nothing is allocated for public unicast.
  return inIpv6Range(address, GLOBAL_UNICAST_IPV6) ? ALLOWED : refused('reserved');
}

/**
 * Judges one literal IP: dotted IPv4 or any IPv6 spelling `net.isIP` accepts, optionally
 * in brackets and with a zone (`fe80::1%eth0`). Anything that is not an IP is refused
 * (`invalid_address`): the caller must never connect to what it could not classify.
 */
export function classifyAddress(ip: string): AddressVerdict {
  let text = ip.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const version = isIP(text);
  if (version === 4) return classifyIpv4(parseIpv4(text));
  if (version !== 6) return refused('invalid_address');
  const zone = text.indexOf('%');
  return classifyIpv6(parseIpv6(zone === -1 ? text : text.slice(0, zone)));
}

const REASON_TEXT: Record<AddressReason, string> = {
  loopback: 'a loopback address',
  private: 'a private network address',
  link_local: 'a link-local address',
  cgnat: 'a carrier-grade NAT address',
  multicast: 'a multicast address',
  unspecified: 'the unspecified address',
  metadata: 'a cloud metadata address',
  reserved: 'a reserved address',
  documentation: 'a documentation-only address',
  broadcast: 'the broadcast address',
  invalid_address: 'not a valid IP address',
};

export function describeAddressReason(reason: AddressReason): string {
  return REASON_TEXT[reason];
}
