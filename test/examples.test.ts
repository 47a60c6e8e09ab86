/**
 * The examples, end to end: TypeScript → object → loaded by the kernel
 * through our loader → real packets through BPF_PROG_TEST_RUN, with the
 * verdicts and output bytes asserted. Then the same objects through
 * Debian's bpftool, to prove that other tools read them, and their BTF
 * checked on the loaded programs (libbpf drops rejected BTF silently, so
 * "it loaded" proves nothing about it).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { loadObject, type LoadedObject, type TestRunOptions } from "../compiler/loader/index";
import { readElf } from "../compiler/object/elf";
import { skipKernel, ensureBpffs, which, inCI } from "./support/kernel";
import * as P from "./support/packets";

const examplesDir = path.resolve("examples");

function build(name: string): Uint8Array {
  const r = compile({ file: path.join(examplesDir, `${name}.ts`) });
  if (!r.ok || !r.object) throw new Error(`examples/${name}.ts did not compile:\n${formatDiagnostics(r.diagnostics, r.sources)}`);
  return r.object;
}

const ipv4Udp = (port: number, o: Partial<P.EthOptions> = {}) => P.ethernet({ proto: P.ETH_P_IP, ...o }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(40000, port)));
/** An ICMP echo request from macB/10.0.0.1 to macA/10.0.0.2. */
function echoRequest(options: number[] = []): Uint8Array {
  return P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_ICMP, options }, P.icmpEcho(0x4242, 7)));
}

/** The reply, built independently: addresses swapped, type 0, the ICMP checksum computed from scratch. */
function echoReply(request: Uint8Array): Uint8Array {
  const f = request.slice();
  f.set(request.slice(6, 12), 0);
  f.set(request.slice(0, 6), 6);
  f.set(request.slice(30, 34), 26);
  f.set(request.slice(26, 30), 30);
  const icmp = 14 + (request[14]! & 0x0f) * 4;
  f[icmp] = 0;
  f[icmp + 2] = 0;
  f[icmp + 3] = 0;
  const sum = P.checksum(f.slice(icmp));
  f[icmp + 2] = sum >> 8;
  f[icmp + 3] = sum & 0xff;
  return f;
}

/** IPv6 over Ethernet (optionally tagged) with this hop limit, carrying UDP. */
const ipv6Hop = (hopLimit: number, vlans: [number, number][] = []) =>
  P.ethernet({ proto: P.ETH_P_IPV6, vlans }, P.ipv6({ nextHeader: P.IPPROTO_UDP, hopLimit }, P.udp(40000, 53)));

/** IPv6 whose extension headers are `chain` (type and hdrlen; a fragment's offset), then UDP to `port`. */
function ipv6Chain(chain: { type: number; hdrLen?: number; fragOffset?: number }[], port: number, upper: number = P.IPPROTO_UDP): Uint8Array {
  const parts = chain.map((h, i) => {
    const next = chain[i + 1]?.type ?? upper;
    return h.type === P.NEXTHDR_FRAGMENT ? P.ipv6Fragment(next, h.fragOffset ?? 0, true) : P.ipv6Ext(next, h.hdrLen ?? 0);
  });
  const l4 = upper === P.IPPROTO_TCP ? P.tcp(40000, port) : P.udp(40000, port);
  return P.ethernet({ proto: P.ETH_P_IPV6 }, P.ipv6({ nextHeader: chain[0]?.type ?? upper }, P.concat(...parts, l4)));
}

const ipv4To = (dst: number[], options: number[] = []) => P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, dst, options }, P.udp(40000, 53)));

/** The IP-in-IP frame, built independently: same Ethernet header, a fresh outer header with its checksum summed from scratch, the inner datagram whole. */
function ipipEncapsulated(frame: Uint8Array): Uint8Array {
  const innerLen = (frame[16]! << 8) | frame[17]!;
  const total = (innerLen + 20) & 0xffff;
  const outer = [0x45, 0, total >> 8, total & 0xff, 0, 0, 0x40, 0, 64, P.IPPROTO_IPIP, 0, 0, 203, 0, 113, 1, 203, 0, 113, 2];
  const sum = P.checksum(outer);
  outer[10] = sum >> 8;
  outer[11] = sum & 0xff;
  return P.concat(frame.slice(0, 14), Uint8Array.from(outer), frame.slice(14));
}

/** A SYN (or `flags`) over IPv4 with these TCP options, its checksum valid. */
const tcpWith = (options: number[], flags = 0x02) =>
  P.fixTcpChecksum(P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_TCP }, P.tcpSegment({ options, flags, payload: Uint8Array.from([1, 2, 3, 4, 5]) }))));
const mss = (value: number) => [2, 4, value >> 8, value & 0xff];

/** The frame with the MSS value at `at` set to 1400 and the TCP checksum summed again from scratch. */
function clamped(frame: Uint8Array, at: number): Uint8Array {
  const f = frame.slice();
  f[at] = 1400 >> 8;
  f[at + 1] = 1400 & 0xff;
  return P.fixTcpChecksum(f);
}

/** A TCP segment (a SYN unless `flags` say otherwise) from `src` over IPv4, with these IPv4 options. */
const tcpFrom = (src: number[], flags = 0x02, options: number[] = []) => P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_TCP, src, options }, P.tcp(40000, 80, flags)));

const ipv6Frame = P.ethernet({ proto: P.ETH_P_IPV6 }, new Uint8Array(48));
const arpFrame = P.ethernet({ proto: P.ETH_P_ARP }, new Uint8Array(28));

interface Case {
  readonly what: string;
  readonly packet: Uint8Array;
  readonly action: string;
  /** Expected output; the input unchanged when absent. */
  readonly output?: Uint8Array;
  readonly run?: Omit<TestRunOptions, "data">;
}

const examples: Record<string, Record<string, Case[]>> = {
  pass: {
    pass: [
      { what: "IPv4/UDP", packet: ipv4Udp(53), action: "PASS" },
      { what: "a 14-byte runt of zeros", packet: new Uint8Array(14), action: "PASS" },
    ],
  },
  drop_non_ipv4: {
    drop_non_ipv4: [
      { what: "IPv4", packet: ipv4Udp(53), action: "PASS" },
      { what: "IPv6", packet: ipv6Frame, action: "DROP" },
      { what: "ARP", packet: arpFrame, action: "DROP" },
      { what: "IPv4 behind an 802.1Q tag", packet: ipv4Udp(53, { vlans: [[P.ETH_P_8021Q, 100]] }), action: "PASS" },
      { what: "IPv4 behind an 802.1ad tag", packet: ipv4Udp(53, { vlans: [[P.ETH_P_8021AD, 7]] }), action: "PASS" },
      { what: "IPv6 behind an 802.1Q tag", packet: P.ethernet({ proto: P.ETH_P_IPV6, vlans: [[P.ETH_P_8021Q, 100]] }, new Uint8Array(48)), action: "DROP" },
      { what: "IPv4 behind two tags (only one is looked through)", packet: ipv4Udp(53, { vlans: [[P.ETH_P_8021AD, 7], [P.ETH_P_8021Q, 100]] }), action: "DROP" },
      { what: "a bare 14-byte IPv4 Ethernet header", packet: P.truncate(ipv4Udp(53), 14), action: "PASS" },
      { what: "a VLAN frame cut inside the tag (17 bytes)", packet: P.truncate(ipv4Udp(53, { vlans: [[P.ETH_P_8021Q, 100]] }), 17), action: "DROP" },
      { what: "a VLAN frame cut right after the tag (18 bytes)", packet: P.truncate(ipv4Udp(53, { vlans: [[P.ETH_P_8021Q, 100]] }), 18), action: "PASS" },
    ],
  },
  drop_udp_port: {
    drop_udp_port: [
      { what: "UDP to port 9", packet: ipv4Udp(9), action: "DROP" },
      { what: "UDP to port 53", packet: ipv4Udp(53), action: "PASS" },
      { what: "UDP from port 9 to 10", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(9, 10))), action: "PASS" },
      { what: "TCP to port 9", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_TCP }, P.tcp(40000, 9))), action: "PASS" },
      { what: "UDP to port 9 with IPv4 options", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, options: [1, 1, 1, 0] }, P.udp(40000, 9))), action: "PASS" },
      { what: "UDP to port 9 cut one byte short of the UDP header (41 bytes)", packet: P.truncate(ipv4Udp(9), 41), action: "PASS" },
      { what: "UDP to port 9 cut right after the UDP header (42 bytes)", packet: P.truncate(ipv4Udp(9), 42), action: "DROP" },
      { what: "IPv6", packet: ipv6Frame, action: "PASS" },
      { what: "a 14-byte runt", packet: P.truncate(ipv4Udp(9), 14), action: "PASS" },
    ],
  },
  drop_udp_port_options: {
    drop_udp_port_options: [
      { what: "UDP to port 9, no options", packet: ipv4Udp(9), action: "DROP" },
      { what: "UDP to port 9 behind 4 bytes of IPv4 options", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, options: [1, 1, 1, 0] }, P.udp(40000, 9))), action: "DROP" },
      { what: "UDP to port 9 behind 40 bytes of options", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, options: new Array(40).fill(1) }, P.udp(40000, 9))), action: "DROP" },
      { what: "UDP to port 53 behind options", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, options: [1, 1, 1, 0] }, P.udp(40000, 53))), action: "PASS" },
      {
        what: "UDP to port 9 behind options, cut inside the UDP header",
        packet: P.truncate(P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, options: [1, 1, 1, 0] }, P.udp(40000, 9))), 45),
        action: "PASS",
      },
      { what: "an IHL below 5 (malformed)", packet: (() => { const f = ipv4Udp(9); f[14] = 0x44; return f; })(), action: "DROP" },
    ],
  },
  icmp_echo_responder: {
    icmp_echo_responder: [
      { what: "an echo request is answered", packet: echoRequest(), action: "TX", output: echoReply(echoRequest()) },
      { what: "an echo request behind IPv4 options is answered", packet: echoRequest([1, 1, 1, 0]), action: "TX", output: echoReply(echoRequest([1, 1, 1, 0])) },
      { what: "an echo reply is left alone", packet: (() => { const f = echoRequest(); f[34] = 0; return f; })(), action: "PASS" },
      { what: "UDP is left alone", packet: ipv4Udp(7), action: "PASS" },
      { what: "an echo request cut inside the ICMP header is left alone", packet: P.truncate(echoRequest(), 41), action: "PASS" },
    ],
  },
  vlan_pop: {
    vlan_pop: [
      { what: "an 802.1Q-tagged IPv4 frame loses its tag", packet: ipv4Udp(53, { vlans: [[P.ETH_P_8021Q, 100]] }), action: "PASS", output: ipv4Udp(53) },
      {
        what: "a double-tagged frame loses its outer tag only",
        packet: ipv4Udp(53, { vlans: [[P.ETH_P_8021AD, 7], [P.ETH_P_8021Q, 100]] }),
        action: "PASS",
        output: ipv4Udp(53, { vlans: [[P.ETH_P_8021Q, 100]] }),
      },
      { what: "an untagged frame is unchanged", packet: ipv4Udp(53), action: "PASS" },
      { what: "a tagged frame cut inside the tag is unchanged", packet: P.truncate(ipv4Udp(53, { vlans: [[P.ETH_P_8021Q, 100]] }), 17), action: "PASS" },
    ],
  },
  swap_macs_tx: {
    swap_macs_tx: [
      {
        what: "an IPv4 frame",
        packet: ipv4Udp(53),
        action: "TX",
        output: P.concat(Uint8Array.from([...P.macB, ...P.macA]), ipv4Udp(53).slice(12)),
      },
      {
        what: "a 14-byte frame",
        packet: P.ethernet({ dst: [1, 2, 3, 4, 5, 6], src: [7, 8, 9, 10, 11, 12], proto: 0x1234 }, new Uint8Array(0)),
        action: "TX",
        output: Uint8Array.from([7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 0x12, 0x34]),
      },
    ],
  },
  drop_jumbo_frags: {
    drop_jumbo: [
      { what: "a 100-byte frame", packet: P.padTo(ipv4Udp(53), 100), action: "PASS" },
      { what: "a 1514-byte frame", packet: P.padTo(ipv4Udp(53), 1514), action: "PASS" },
      { what: "a 1515-byte frame", packet: P.padTo(ipv4Udp(53), 1515), action: "DROP" },
      { what: "a 5000-byte frame (several buffers)", packet: P.padTo(ipv4Udp(53), 5000), action: "DROP" },
    ],
  },
  ipv6_hop_limit: {
    ipv6_hop_limit: [
      { what: "hop limit 0", packet: ipv6Hop(0), action: "DROP" },
      { what: "hop limit 1", packet: ipv6Hop(1), action: "DROP" },
      { what: "hop limit 2", packet: ipv6Hop(2), action: "PASS" },
      { what: "hop limit 255", packet: ipv6Hop(255), action: "PASS" },
      { what: "hop limit 1 behind an 802.1Q tag", packet: ipv6Hop(1, [[P.ETH_P_8021Q, 100]]), action: "DROP" },
      { what: "hop limit 0 behind an 802.1ad tag", packet: ipv6Hop(0, [[P.ETH_P_8021AD, 7]]), action: "DROP" },
      { what: "hop limit 64 behind an 802.1Q tag", packet: ipv6Hop(64, [[P.ETH_P_8021Q, 100]]), action: "PASS" },
      { what: "hop limit 1 behind two tags (only one is looked through)", packet: ipv6Hop(1, [[P.ETH_P_8021AD, 7], [P.ETH_P_8021Q, 100]]), action: "PASS" },
      { what: "IPv4 with TTL 1", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, ttl: 1 }, P.udp(1, 2))), action: "PASS" },
      { what: "hop limit 1 cut one byte short of the IPv6 header (53 bytes)", packet: P.truncate(ipv6Hop(1), 53), action: "PASS" },
      { what: "hop limit 1, exactly the IPv6 header (54 bytes)", packet: P.truncate(ipv6Hop(1), 54), action: "DROP" },
      { what: "tagged hop limit 1 cut inside the IPv6 header (57 bytes)", packet: P.truncate(ipv6Hop(1, [[P.ETH_P_8021Q, 100]]), 57), action: "PASS" },
    ],
  },
  ipv6_ext_headers: {
    ipv6_ext_headers: [
      { what: "UDP to port 9, no extension headers", packet: ipv6Chain([], 9), action: "DROP" },
      { what: "UDP to port 53", packet: ipv6Chain([], 53), action: "PASS" },
      { what: "UDP to port 9 behind hop-by-hop options", packet: ipv6Chain([{ type: P.NEXTHDR_HOP }], 9), action: "DROP" },
      {
        what: "UDP to port 9 behind hop-by-hop, routing (24 bytes) and destination options (16 bytes)",
        packet: ipv6Chain([{ type: P.NEXTHDR_HOP }, { type: P.NEXTHDR_ROUTING, hdrLen: 2 }, { type: P.NEXTHDR_DEST, hdrLen: 1 }], 9),
        action: "DROP",
      },
      { what: "UDP to port 53 behind the same chain", packet: ipv6Chain([{ type: P.NEXTHDR_HOP }, { type: P.NEXTHDR_ROUTING, hdrLen: 2 }, { type: P.NEXTHDR_DEST, hdrLen: 1 }], 53), action: "PASS" },
      { what: "UDP to port 9 in a first fragment", packet: ipv6Chain([{ type: P.NEXTHDR_FRAGMENT }], 9), action: "DROP" },
      { what: "a later fragment (offset 185) whose bytes look like UDP to port 9", packet: ipv6Chain([{ type: P.NEXTHDR_FRAGMENT, fragOffset: 185 }], 9), action: "PASS" },
      { what: "UDP to port 9 behind 6 extension headers", packet: ipv6Chain(new Array(6).fill({ type: P.NEXTHDR_DEST }), 9), action: "DROP" },
      { what: "UDP to port 9 behind 7 extension headers (too long a chain)", packet: ipv6Chain(new Array(7).fill({ type: P.NEXTHDR_DEST }), 9), action: "PASS" },
      { what: "TCP to port 9 behind hop-by-hop options", packet: ipv6Chain([{ type: P.NEXTHDR_HOP }], 9, P.IPPROTO_TCP), action: "PASS" },
      { what: "UDP to port 9 cut inside the UDP header", packet: P.truncate(ipv6Chain([{ type: P.NEXTHDR_HOP }], 9), 14 + 40 + 8 + 3), action: "PASS" },
      { what: "UDP to port 9 cut right after the destination port", packet: P.truncate(ipv6Chain([{ type: P.NEXTHDR_HOP }], 9), 14 + 40 + 8 + 4), action: "PASS" },
      { what: "a hop-by-hop header longer than the frame", packet: ipv6Chain([{ type: P.NEXTHDR_HOP }], 9).map((b, i) => (i === 14 + 41 ? 9 : b)), action: "PASS" },
      { what: "UDP to port 9 over IPv4", packet: ipv4Udp(9), action: "PASS" },
    ],
  },
  ipip_encap: {
    ipip_encap: [
      { what: "IPv4 to 192.0.2.7 is encapsulated", packet: ipv4To([192, 0, 2, 7]), action: "TX", output: ipipEncapsulated(ipv4To([192, 0, 2, 7])) },
      { what: "IPv4 to 192.0.2.255 is encapsulated", packet: ipv4To([192, 0, 2, 255]), action: "TX", output: ipipEncapsulated(ipv4To([192, 0, 2, 255])) },
      {
        what: "IPv4 with options to 192.0.2.1 is encapsulated whole",
        packet: ipv4To([192, 0, 2, 1], [1, 1, 1, 0]),
        action: "TX",
        output: ipipEncapsulated(ipv4To([192, 0, 2, 1], [1, 1, 1, 0])),
      },
      {
        what: "a 1500-byte datagram to 192.0.2.7 becomes 1520 bytes",
        packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, dst: [192, 0, 2, 7] }, P.udp(1, 2, new Uint8Array(1472).fill(0xab)))),
        action: "TX",
        output: ipipEncapsulated(P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, dst: [192, 0, 2, 7] }, P.udp(1, 2, new Uint8Array(1472).fill(0xab))))),
      },
      { what: "IPv4 to 192.0.3.1 passes unchanged", packet: ipv4To([192, 0, 3, 1]), action: "PASS" },
      { what: "IPv4 to 10.0.0.2 passes unchanged", packet: ipv4To([10, 0, 0, 2]), action: "PASS" },
      { what: "an 802.1Q-tagged frame to 192.0.2.7 passes unchanged", packet: P.ethernet({ proto: P.ETH_P_IP, vlans: [[P.ETH_P_8021Q, 1]] }, ipv4To([192, 0, 2, 7]).slice(14)), action: "PASS" },
      { what: "IPv6 passes unchanged", packet: ipv6Frame, action: "PASS" },
      { what: "IPv4 to 192.0.2.7 cut inside the header (33 bytes) passes unchanged", packet: P.truncate(ipv4To([192, 0, 2, 7]), 33), action: "PASS" },
      { what: "a bare 20-byte IPv4 header to 192.0.2.7 is encapsulated", packet: P.truncate(ipv4To([192, 0, 2, 7]), 34), action: "TX", output: ipipEncapsulated(P.truncate(ipv4To([192, 0, 2, 7]), 34)) },
    ],
  },
  // The trie is empty here: nothing is blocked (test/maps-lpm.test.ts fills it).
  source_prefix_blocklist: {
    source_prefix_blocklist: [
      { what: "IPv4 from 10.0.0.1, no prefix blocked", packet: ipv4Udp(53), action: "PASS" },
      { what: "IPv6", packet: ipv6Frame, action: "PASS" },
    ],
  },
  // SYN_LIMIT is 16 per source per window (1 s, longer than these runs).
  syn_flood_guard: {
    syn_flood_guard: [
      ...Array.from({ length: 16 }, (_, i) => ({ what: `SYN ${i + 1} from 198.51.100.7 passes`, packet: tcpFrom([198, 51, 100, 7]), action: "PASS" })),
      { what: "SYN 17 from 198.51.100.7 is dropped", packet: tcpFrom([198, 51, 100, 7]), action: "DROP" },
      { what: "SYN 18 from 198.51.100.7, behind IPv4 options, is dropped", packet: tcpFrom([198, 51, 100, 7], 0x02, [1, 1, 1, 0]), action: "DROP" },
      { what: "an ACK from 198.51.100.7 passes", packet: tcpFrom([198, 51, 100, 7], 0x10), action: "PASS" },
      { what: "a SYN-ACK from 198.51.100.7 passes", packet: tcpFrom([198, 51, 100, 7], 0x12), action: "PASS" },
      { what: "a SYN from 198.51.100.8 passes", packet: tcpFrom([198, 51, 100, 8]), action: "PASS" },
      { what: "UDP from 198.51.100.7 passes", packet: ipv4Udp(53), action: "PASS" },
      { what: "IPv6 passes", packet: ipv6Frame, action: "PASS" },
    ],
  },
  // Every frame passes; the counters are read back in test/protocol-counters.test.ts.
  protocol_counters: {
    protocol_counters: [
      { what: "IPv4 UDP", packet: ipv4Udp(53), action: "PASS" },
      { what: "IPv4 UDP behind an 802.1Q tag", packet: ipv4Udp(53, { vlans: [[P.ETH_P_8021Q, 100]] }), action: "PASS" },
      { what: "IPv6 behind an 802.1ad tag", packet: ipv6Hop(64, [[P.ETH_P_8021AD, 7]]), action: "PASS" },
      { what: "IPv6 cut inside its header", packet: P.truncate(ipv6Frame, 30), action: "PASS" },
      { what: "ARP", packet: arpFrame, action: "PASS" },
    ],
  },
  // The events are read in test/maps-ringbuf.test.ts.
  event_stream: {
    event_stream: [
      { what: "UDP to the discard port is dropped and reported", packet: ipv4Udp(9), action: "DROP" },
      { what: "UDP to port 53 passes", packet: ipv4Udp(53), action: "PASS" },
      { what: "IPv6 passes", packet: ipv6Frame, action: "PASS" },
    ],
  },
  // The DevMap is empty here: every entry falls back to PASS (test/redirect.test.ts fills it and forwards).
  redirect_devmap: {
    redirect_devmap: [
      { what: "IPv4/UDP (entry from the destination's last byte, empty)", packet: ipv4Udp(53), action: "PASS" },
      { what: "IPv6 (entry 0, empty)", packet: ipv6Frame, action: "PASS" },
      { what: "a 14-byte runt of zeros", packet: new Uint8Array(14), action: "PASS" },
    ],
  },
  tcp_mss_clamp: {
    tcp_mss_clamp: [
      { what: "a SYN with MSS 1460 is clamped to 1400", packet: tcpWith(mss(1460)), action: "PASS", output: clamped(tcpWith(mss(1460)), 14 + 20 + 22) },
      { what: "a SYN-ACK with MSS 65535 is clamped", packet: tcpWith(mss(65535), 0x12), action: "PASS", output: clamped(tcpWith(mss(65535), 0x12), 14 + 20 + 22) },
      { what: "MSS after one NOP (at an odd offset) is clamped", packet: tcpWith([1, ...mss(1460)]), action: "PASS", output: clamped(tcpWith([1, ...mss(1460)]), 14 + 20 + 23) },
      {
        what: "MSS after SACK-permitted, timestamps, NOP and window scale is clamped",
        packet: tcpWith([4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, ...mss(8960)]),
        action: "PASS",
        output: clamped(tcpWith([4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, ...mss(8960)]), 14 + 20 + 20 + 16 + 2),
      },
      { what: "MSS 1401 is clamped", packet: tcpWith(mss(1401)), action: "PASS", output: clamped(tcpWith(mss(1401)), 14 + 20 + 22) },
      { what: "MSS 1400 is left alone", packet: tcpWith(mss(1400)), action: "PASS" },
      { what: "MSS 536 is left alone", packet: tcpWith(mss(536)), action: "PASS" },
      { what: "an ACK with MSS 1460 is left alone", packet: tcpWith(mss(1460), 0x10), action: "PASS" },
      { what: "MSS after 9 NOPs (the 10th step) is clamped", packet: tcpWith([...new Array(9).fill(1), ...mss(1460)]), action: "PASS", output: clamped(tcpWith([...new Array(9).fill(1), ...mss(1460)]), 14 + 20 + 20 + 9 + 2) },
      { what: "MSS after 10 NOPs (past the 10 steps) is left alone", packet: tcpWith([...new Array(10).fill(1), ...mss(1460)]), action: "PASS" },
      { what: "MSS after the end-of-list option is left alone", packet: tcpWith([0, ...mss(1460)]), action: "PASS" },
      { what: "an MSS option of length 3 is left alone", packet: tcpWith([2, 3, 0x05, 0xb4]), action: "PASS" },
      { what: "a SYN cut inside the MSS option is left alone", packet: P.truncate(tcpWith(mss(1460)), 14 + 20 + 20 + 3), action: "PASS" },
      { what: "a SYN over IPv6 is left alone", packet: P.ethernet({ proto: P.ETH_P_IPV6 }, P.ipv6({ nextHeader: P.IPPROTO_TCP }, P.tcpSegment({ options: mss(1460) }))), action: "PASS" },
    ],
  },
  context_fields: {
    stamp: [
      {
        what: "ingress ifindex 1, queue 0, no metadata",
        packet: P.padTo(new Uint8Array(0), 20),
        run: { ctxIn: { ingressIfindex: 1, rxQueueIndex: 0 } },
        action: "PASS",
        output: Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      },
      {
        what: "ingress ifindex 1, 4 bytes of metadata",
        packet: P.padTo(Uint8Array.from([9, 9, 9, 9]), 24),
        run: { ctxIn: { ingressIfindex: 1, dataMeta: 4 } },
        action: "PASS",
        output: Uint8Array.from([9, 9, 9, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
      },
    ],
    meta_gate: [
      { what: "no metadata", packet: P.padTo(new Uint8Array(0), 20), action: "PASS" },
      { what: "metadata 1 (drop)", packet: P.padTo(Uint8Array.from([1, 0, 0, 0]), 24), run: { ctxIn: { dataMeta: 4 } }, action: "DROP" },
      { what: "metadata 0", packet: P.padTo(Uint8Array.from([0, 0, 0, 0]), 24), run: { ctxIn: { dataMeta: 4 } }, action: "PASS" },
      { what: "metadata 2", packet: P.padTo(Uint8Array.from([2, 0, 0, 0]), 24), run: { ctxIn: { dataMeta: 4 } }, action: "PASS" },
    ],
    tag_egress: [],
  },
  // No CPU entry here: the redirect falls back to DROP. With an entry and real traffic: test/devmap-programs.test.ts.
  cpumap_redirect: {
    to_cpu: [
      { what: "UDP to 5201 without a CPU entry: the fallback, DROP", packet: ipv4Udp(5201), action: "DROP" },
      { what: "UDP to 5202 without a CPU entry: DROP", packet: ipv4Udp(5202), action: "DROP" },
      { what: "UDP to 53 passes", packet: ipv4Udp(53), action: "PASS" },
      { what: "UDP to 5201 behind IPv4 options passes", packet: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, options: [1, 1, 1, 0] }, P.udp(40000, 5201))), action: "PASS" },
      { what: "UDP to 5201 cut before its port passes", packet: P.truncate(ipv4Udp(5201), 37), action: "PASS" },
      { what: "ARP passes", packet: arpFrame, action: "PASS" },
    ],
    // BPF_PROG_TEST_RUN refuses xdp/cpumap programs: loaded only.
    on_cpu: [],
  },
};

describe("examples compile to the sections they declare", () => {
  test.each(Object.keys(examples))("%s", (name) => {
    const elf = readElf(build(name));
    const r = compile({ file: path.join(examplesDir, `${name}.ts`) });
    for (const p of r.programs) {
      expect(elf.section(p.section)?.size ?? 0).toBeGreaterThan(0);
      expect(elf.symbols.some((s) => s.name === p.name && s.type === 2)).toBe(true);
    }
    expect(Object.keys(examples[name]!).sort()).toEqual(r.programs.map((p) => p.name).sort());
    expect(elf.section("license")).toBeDefined();
    expect(elf.section(".BTF")).toBeDefined();
    expect(elf.section(".BTF.ext")).toBeDefined();
  });
});

describe.skipIf(skipKernel)("examples in the kernel (BPF_PROG_TEST_RUN)", () => {
  const loaded = new Map<string, LoadedObject>();
  beforeAll(() => {
    for (const name of Object.keys(examples)) loaded.set(name, loadObject(build(name), { name: name.slice(0, 15) }));
  });
  afterAll(() => {
    for (const o of loaded.values()) o.close();
  });

  const cases = Object.entries(examples).flatMap(([example, programs]) =>
    Object.entries(programs).flatMap(([program, list]) => list.map((c) => ({ example, program, ...c }))),
  );
  test.each(cases)("$example/$program: $what → $action", ({ example, program, packet, action, output, run }) => {
    const prog = loaded.get(example)!.program(program);
    const result = prog.testRun({ data: packet, ...run });
    expect(result.action).toBe(action);
    expect(Buffer.from(result.data).toString("hex")).toBe(Buffer.from(output ?? packet).toString("hex"));
  });

  test.each(Object.keys(examples))("%s: every loaded program carries BTF, func_info and line_info", (name) => {
    const obj = loaded.get(name)!;
    expect(obj.programs.length).toBe(Object.keys(examples[name]!).length);
    for (const p of obj.programs) {
      const info = p.info();
      expect(info.btfId, `${p.name} btf id`).toBeGreaterThan(0);
      expect(info.nrFuncInfo, `${p.name} func_info`).toBeGreaterThanOrEqual(1);
      expect(info.nrLineInfo, `${p.name} line_info`).toBeGreaterThan(0);
    }
  });
});

describe.skipIf(skipKernel)("examples through bpftool", () => {
  const bpftool = which("bpftool");
  let dir: string;
  beforeAll(() => {
    if (!bpftool && inCI) throw new Error("bpftool is missing: .ci/run installs Debian's bpftool");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-bpftool-"));
    ensureBpffs();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.skipIf(!bpftool && !inCI).each(Object.keys(examples))("%s: loads, shows its FUNCs and line info naming the .ts lines", (name) => {
    const obj = path.join(dir, `${name}.o`);
    fs.writeFileSync(obj, build(name));
    const source = fs.readFileSync(path.join(examplesDir, `${name}.ts`), "utf8").split("\n");
    const programs = Object.keys(examples[name]!);

    const btf = execFileSync(bpftool!, ["btf", "dump", "file", obj], { encoding: "utf8" });
    for (const p of programs) expect(btf).toMatch(new RegExp(`FUNC '${p}' type_id=\\d+ linkage=global`));

    const pin = `/sys/fs/bpf/tsxdp-test-${process.pid}-${name}`;
    fs.rmSync(pin, { recursive: true, force: true });
    execFileSync(bpftool!, ["prog", "loadall", obj, pin]);
    try {
      expect(fs.readdirSync(pin).sort()).toEqual([...programs].sort());
      for (const p of programs) {
        const show = JSON.parse(execFileSync(bpftool!, ["prog", "show", "pinned", `${pin}/${p}`, "--json"], { encoding: "utf8" })) as { btf_id?: number; name: string };
        expect(show.btf_id ?? 0).toBeGreaterThan(0);
        const xlated = execFileSync(bpftool!, ["prog", "dump", "xlated", "pinned", `${pin}/${p}`, "linum"], { encoding: "utf8" });
        const lines = [...xlated.matchAll(/^; (.*) \[file:(.+) line_num:(\d+)/gm)];
        expect(lines.length).toBeGreaterThan(0);
        for (const [, text, file, num] of lines) {
          expect(file).toBe(path.join(examplesDir, `${name}.ts`));
          // The line text in the BTF is the .ts source line itself.
          expect(text!.trim()).toBe(source[Number(num) - 1]!.trim());
        }
      }
    } finally {
      fs.rmSync(pin, { recursive: true, force: true });
    }
  });
});
