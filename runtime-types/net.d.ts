/**
 * tsxdp/net — the standard network headers and their constants, as header
 * structs for `p.header<T>(offset)`. Field names follow the protocols'
 * usual C names (include/uapi/linux/*.h), without their prefixes.
 * Multi-byte fields are in network byte order (`be16`, `be32`).
 */
import type { FixedArray, Packed, be16, be32, u8 } from "tsxdp";

/** Ethernet II header (14 bytes). */
export interface EthHdr extends Packed {
  dest: FixedArray<u8, 6>;
  source: FixedArray<u8, 6>;
  proto: be16;
}

/** 802.1Q / 802.1ad tag as it follows the MAC addresses (4 bytes: TCI and the inner EtherType). */
export interface VlanHdr extends Packed {
  tci: be16;
  proto: be16;
}

/** ARP for Ethernet and IPv4 (28 bytes). */
export interface ArpHdr extends Packed {
  hrd: be16;
  pro: be16;
  hln: u8;
  pln: u8;
  op: be16;
  sha: FixedArray<u8, 6>;
  sip: FixedArray<u8, 4>;
  tha: FixedArray<u8, 6>;
  tip: FixedArray<u8, 4>;
}

/** IPv4 header without options (20 bytes); `versionIhl & 0x0f` is the length in 32-bit words. */
export interface Ipv4Hdr {
  versionIhl: u8;
  tos: u8;
  totLen: be16;
  id: be16;
  fragOff: be16;
  ttl: u8;
  protocol: u8;
  check: be16;
  saddr: be32;
  daddr: be32;
}

/** IPv6 header (40 bytes). */
export interface Ipv6Hdr {
  versionFlow: be32;
  payloadLen: be16;
  nexthdr: u8;
  hopLimit: u8;
  saddr: FixedArray<u8, 16>;
  daddr: FixedArray<u8, 16>;
}

/** The common start of IPv6 extension headers (hop-by-hop, routing, destination options): length in 8-byte units after the first 8. */
export interface Ipv6OptHdr {
  nexthdr: u8;
  hdrlen: u8;
}

/** IPv6 routing header's fixed part (4 bytes; `struct ipv6_rt_hdr`): the type-specific data follows. */
export interface Ipv6RtHdr {
  nexthdr: u8;
  hdrlen: u8;
  type: u8;
  segmentsLeft: u8;
}

/** IPv6 fragment header (8 bytes, RFC 8200 4.5): `fragOff` holds the offset in 8-byte units above 3 flag bits, M in bit 0. */
export interface Ipv6FragHdr {
  nexthdr: u8;
  reserved: u8;
  fragOff: be16;
  identification: be32;
}

/** UDP header (8 bytes). */
export interface UdpHdr {
  source: be16;
  dest: be16;
  len: be16;
  check: be16;
}

/** TCP header without options (20 bytes); `doff >> 4` is the length in 32-bit words. */
export interface TcpHdr {
  source: be16;
  dest: be16;
  seq: be32;
  ackSeq: be32;
  doff: u8;
  flags: u8;
  window: be16;
  check: be16;
  urgPtr: be16;
}

/** ICMP / ICMPv6 header (the first 8 bytes of echo messages). */
export interface IcmpHdr {
  type: u8;
  code: u8;
  checksum: be16;
  id: be16;
  sequence: be16;
}

/** ICMPv6 header (`struct icmp6hdr`, 8 bytes with the echo identifier and sequence). */
export interface Icmp6Hdr {
  type: u8;
  code: u8;
  checksum: be16;
  id: be16;
  sequence: be16;
}

/** GRE base header (4 bytes). */
export interface GreHdr {
  flags: be16;
  proto: be16;
}

/** VXLAN header (8 bytes): flags, then the 24-bit VNI in the top of `vni`. */
export interface VxlanHdr {
  flags: be32;
  vni: be32;
}

/**
 * The Internet checksum after one 16-bit word of the data it covers changed
 * from `from` to `to` (RFC 1624, eqn. 3), for IPv4, TCP and UDP headers:
 * `ip.check = csumReplace16(ip.check, oldWord, newWord)`. Works on the
 * values as they sit in the packet; no byte swaps needed.
 */
export declare function csumReplace16(check: be16, from: be16, to: be16): be16;
/** The same for a 32-bit field (an IPv4 address, a TCP sequence number): both of its 16-bit words. */
export declare function csumReplace32(check: be16, from: be32, to: be32): be16;

export declare const ETH_P_IP: 0x0800;
export declare const ETH_P_ARP: 0x0806;
export declare const ETH_P_IPV6: 0x86dd;
export declare const ETH_P_8021Q: 0x8100;
export declare const ETH_P_8021AD: 0x88a8;
export declare const IPPROTO_HOPOPTS: 0;
export declare const IPPROTO_ICMP: 1;
export declare const IPPROTO_IPIP: 4;
export declare const IPPROTO_TCP: 6;
export declare const IPPROTO_UDP: 17;
export declare const IPPROTO_IPV6: 41;
export declare const IPPROTO_ROUTING: 43;
export declare const IPPROTO_FRAGMENT: 44;
export declare const IPPROTO_GRE: 47;
export declare const IPPROTO_ICMPV6: 58;
export declare const IPPROTO_DSTOPTS: 60;
export declare const ICMP_ECHOREPLY: 0;
export declare const ICMP_ECHO: 8;
export declare const ICMPV6_ECHO_REQUEST: 128;
export declare const ICMPV6_ECHO_REPLY: 129;
export declare const TCP_FIN: 0x01;
export declare const TCP_SYN: 0x02;
export declare const TCP_RST: 0x04;
export declare const TCP_PSH: 0x08;
export declare const TCP_ACK: 0x10;
