/**
 * Deterministic packet builders for tests: Ethernet (optionally VLAN-tagged),
 * IPv4 with a correct header checksum, UDP, TCP and ICMP. Byte-exact and
 * boring on purpose: the expected outputs in tests are computed from these.
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
