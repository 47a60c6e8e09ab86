/**
 * Deterministic packet builders for tests: Ethernet (optionally VLAN-tagged),
 * IPv4 with a correct header checksum, IPv6 and its extension headers, UDP,
 * TCP (with options, and its checksum computed from scratch) and ICMP.
 * Byte-exact and boring on purpose: the expected outputs in tests are
 * computed from these.
 */

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const macA = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
export const macB = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

export interface EthOptions {
  dst?: number[];
  src?: number[];
  /** VLAN tags, outermost first: [tpid, vid]. */
  vlans?: [number, number][];
  proto: number;
}

export function ethernet(o: EthOptions, payload: Uint8Array): Uint8Array {
  const header: number[] = [...(o.dst ?? macA), ...(o.src ?? macB)];
  for (const [tpid, vid] of o.vlans ?? []) header.push(tpid >> 8, tpid & 0xff, (vid >> 8) & 0x0f, vid & 0xff);
  header.push(o.proto >> 8, o.proto & 0xff);
  return concat(Uint8Array.from(header), payload);
}

export interface Ipv4Options {
  src?: number[];
  dst?: number[];
  protocol: number;
  ttl?: number;
  /** Option bytes (multiple of 4), making IHL larger than 5. */
  options?: number[];
}

export function ipv4(o: Ipv4Options, payload: Uint8Array): Uint8Array {
  const opts = o.options ?? [];
  const ihl = 5 + opts.length / 4;
  const total = ihl * 4 + payload.length;
  const h = [0x40 | ihl, 0, total >> 8, total & 0xff, 0x12, 0x34, 0x40, 0x00, o.ttl ?? 64, o.protocol, 0, 0, ...(o.src ?? [10, 0, 0, 1]), ...(o.dst ?? [10, 0, 0, 2]), ...opts];
  const sum = checksum(h);
  h[10] = sum >> 8;
  h[11] = sum & 0xff;
  return concat(Uint8Array.from(h), payload);
}

export function udp(srcPort: number, dstPort: number, payload: Uint8Array = new Uint8Array(8)): Uint8Array {
  const len = 8 + payload.length;
  return concat(Uint8Array.from([srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, len >> 8, len & 0xff, 0, 0]), payload);
}

export function tcp(srcPort: number, dstPort: number, flags = 0x02): Uint8Array {
  return Uint8Array.from([srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
}

export function icmpEcho(id = 1, seq = 1): Uint8Array {
  const h = [8, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff, ...Array.from({ length: 8 }, (_, i) => i)];
  const sum = checksum(h);
  h[2] = sum >> 8;
  h[3] = sum & 0xff;
  return Uint8Array.from(h);
}

export function checksum(bytes: readonly number[] | Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) + (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The frame cut to `length` bytes (a truncated capture or a runt). */
export function truncate(frame: Uint8Array, length: number): Uint8Array {
  return frame.slice(0, length);
}

/** At least 14 bytes (the kernel's minimum for an XDP test run), padded with zeros. */
export function padTo(frame: Uint8Array, length: number): Uint8Array {
  if (frame.length >= length) return frame;
  return concat(frame, new Uint8Array(length - frame.length));
}

/** A deterministic pseudo-random generator (xorshift32), for packet vectors. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export const IPPROTO_IPIP = 4;
export const NEXTHDR_HOP = 0;
export const NEXTHDR_ROUTING = 43;
export const NEXTHDR_FRAGMENT = 44;
export const NEXTHDR_NONE = 59;
export const NEXTHDR_DEST = 60;

export interface Ipv6Options {
  nextHeader: number;
  hopLimit?: number;
  /** 16 bytes each; fd00::1 and fd00::2 by default. */
  src?: number[];
  dst?: number[];
}

export function ipv6(o: Ipv6Options, payload: Uint8Array): Uint8Array {
  const addr = (last: number) => [0xfd, ...new Array(14).fill(0), last];
  const h = [0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, o.nextHeader, o.hopLimit ?? 64, ...(o.src ?? addr(1)), ...(o.dst ?? addr(2))];
  return concat(Uint8Array.from(h), payload);
}

/**
 * An IPv6 extension header in the generic layout (hop-by-hop, routing,
 * destination options): next header, length in 8-byte units past the first
 * 8, then filler, (hdrLen + 1) * 8 bytes in all.
 */
export function ipv6Ext(nextHeader: number, hdrLen = 0): Uint8Array {
  const h = new Uint8Array((hdrLen + 1) * 8);
  h[0] = nextHeader;
  h[1] = hdrLen;
  h.fill(1, 2); // filler the programs under test do not parse
  return h;
}

/** An IPv6 fragment header: offset in 8-byte units, the M (more fragments) flag. */
export function ipv6Fragment(nextHeader: number, offset: number, more: boolean, id = 0x12345678): Uint8Array {
  const fo = ((offset & 0x1fff) << 3) | (more ? 1 : 0);
  return Uint8Array.from([nextHeader, 0, fo >> 8, fo & 0xff, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]);
}

export interface TcpOptions {
  sport?: number;
  dport?: number;
  /** SYN by default. */
  flags?: number;
  /** Option bytes, padded with zeros (end of option list) to a multiple of 4. */
  options?: number[];
  payload?: Uint8Array;
}

/** A TCP segment with options; the checksum is left 0 (see `fixTcpChecksum`). */
export function tcpSegment(o: TcpOptions = {}): Uint8Array {
  const opts = [...(o.options ?? [])];
  while (opts.length % 4) opts.push(0);
  const doff = 5 + opts.length / 4;
  const sport = o.sport ?? 40000;
  const dport = o.dport ?? 80;
  const h = [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, doff << 4, o.flags ?? 0x02, 0xfa, 0xf0, 0, 0, 0, 0, ...opts];
  return concat(Uint8Array.from(h), o.payload ?? new Uint8Array(0));
}

/**
 * The TCP checksum of the IPv4 datagram at `l3` in `frame`, from scratch:
 * the pseudo-header (addresses, protocol, TCP length) and the segment, as
 * far as the IPv4 total length says.
 */
export function tcpChecksumIpv4(frame: Uint8Array, l3 = 14): number {
  const ihl = (frame[l3]! & 0x0f) * 4;
  const total = (frame[l3 + 2]! << 8) | frame[l3 + 3]!;
  const segment = frame.slice(l3 + ihl, l3 + total);
  segment[16] = 0;
  segment[17] = 0;
  const pseudo = [...frame.slice(l3 + 12, l3 + 20), 0, frame[l3 + 9]!, segment.length >> 8, segment.length & 0xff];
  return checksum(concat(Uint8Array.from(pseudo), segment));
}

/** The frame with the TCP checksum of its IPv4 datagram at `l3` filled in. */
export function fixTcpChecksum(frame: Uint8Array, l3 = 14): Uint8Array {
  const f = frame.slice();
  const sum = tcpChecksumIpv4(f, l3);
  const at = l3 + (f[l3]! & 0x0f) * 4 + 16;
  f[at] = sum >> 8;
  f[at + 1] = sum & 0xff;
  return f;
}
