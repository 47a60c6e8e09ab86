/**
 * A small packet decoder for `tsxdp run`: Ethernet with any number of
 * 802.1Q/802.1ad tags, ARP, IPv4 (header checksum verified), IPv6 (walking
 * the common extension headers), UDP, TCP, ICMP and ICMPv6; plus an
 * xxd-style hex dump.
 *
 * Invariant: decoding never throws and never reads past the frame: a header
 * cut short ends the list with a `truncated` layer saying how many bytes
 * were missing, so a program's output can be shown whatever it did.
 */

export interface Layer {
  /** ethernet, vlan, arp, ipv4, ipv6, ipv6-ext, udp, tcp, icmp, icmpv6, payload, truncated */
  readonly layer: string;
  /** One line for people, tcpdump-like. */
  readonly summary: string;
  readonly fields: Readonly<Record<string, string | number | boolean>>;
}

const ETHERTYPES: Record<number, string> = { 0x0800: "IPv4", 0x86dd: "IPv6", 0x0806: "ARP", 0x8100: "802.1Q", 0x88a8: "802.1ad", 0x9100: "QinQ", 0x8847: "MPLS", 0x88cc: "LLDP" };
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);
const IPPROTOS: Record<number, string> = { 1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 41: "IPv6", 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 132: "SCTP" };
/** Extension headers with the generic (next header, length in 8-octet units) layout; 44 (fragment) is fixed at 8 bytes. */
const IPV6_EXT = new Set([0, 43, 44, 60]);

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, "0")}`;

export function macString(b: Uint8Array, o: number): string {
  return Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, "0")).join(":");
}

export function ipv4String(b: Uint8Array, o: number): string {
  return Array.from(b.subarray(o, o + 4)).join(".");
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function ipv6String(b: Uint8Array, o: number): string {
  const groups = Array.from({ length: 8 }, (_, i) => (b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const text = groups.map((g) => g.toString(16));
  if (best < 0) return text.join(":");
  return `${text.slice(0, best).join(":")}::${text.slice(best + bestLen).join(":")}`;
}

/** The Internet checksum (RFC 1071) of b[o, o+n). */
function internetChecksum(b: Uint8Array, o: number, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i += 2) sum += (b[o + i]! << 8) | (i + 1 < n ? b[o + i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function decodePacket(b: Uint8Array): Layer[] {
  const out: Layer[] = [];
  const be16 = (o: number) => (b[o]! << 8) | b[o + 1]!;
  const be32 = (o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  const need = (o: number, n: number, what: string): boolean => {
    if (o + n <= b.length) return true;
    out.push({ layer: "truncated", summary: `${what} truncated: ${Math.max(b.length - o, 0)} of ${n} bytes`, fields: { header: what, have: Math.max(b.length - o, 0), need: n } });
    return false;
  };
  const payload = (o: number) => {
    if (o < b.length) out.push({ layer: "payload", summary: `payload ${b.length - o} bytes`, fields: { offset: o, length: b.length - o } });
  };

  if (!need(0, 14, "ethernet header")) return out;
  let type = be16(12);
  out.push({
    layer: "ethernet",
    summary: `ethernet ${macString(b, 6)} > ${macString(b, 0)}, type ${hex(type, 4)}${ETHERTYPES[type] ? ` (${ETHERTYPES[type]})` : ""}`,
    fields: { src: macString(b, 6), dst: macString(b, 0), ethertype: type },
  });
  let o = 14;
  while (VLAN_TPIDS.has(type)) {
    if (!need(o, 4, "vlan tag")) return out;
    const tci = be16(o);
    const inner = be16(o + 2);
    out.push({
      layer: "vlan",
      summary: `vlan ${ETHERTYPES[type]} id ${tci & 0xfff}, pcp ${tci >> 13}${tci & 0x1000 ? ", dei" : ""}, type ${hex(inner, 4)}${ETHERTYPES[inner] ? ` (${ETHERTYPES[inner]})` : ""}`,
      fields: { tpid: type, id: tci & 0xfff, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, ethertype: inner },
    });
    type = inner;
    o += 4;
  }

  let proto: number | undefined;
  if (type === 0x0800) {
    if (!need(o, 20, "ipv4 header")) return out;
    const ihl = (b[o]! & 0xf) * 4;
    const version = b[o]! >> 4;
    if (version !== 4 || ihl < 20) {
      out.push({ layer: "ipv4", summary: `ipv4 malformed: version ${version}, header length ${ihl}`, fields: { version, headerLength: ihl } });
      return out;
    }
    if (!need(o, ihl, "ipv4 header with options")) return out;
    const total = be16(o + 2);
    const fragField = be16(o + 6);
    const fragOffset = (fragField & 0x1fff) * 8;
    const checksum = be16(o + 10);
    const checksumOk = internetChecksum(b, o, ihl) === 0;
    proto = b[o + 9]!;
    const flags = [fragField & 0x4000 ? "DF" : "", fragField & 0x2000 ? "MF" : ""].filter(Boolean);
    out.push({
      layer: "ipv4",
      summary:
        `ipv4 ${ipv4String(b, o + 12)} > ${ipv4String(b, o + 16)}, proto ${proto}${IPPROTOS[proto] ? ` (${IPPROTOS[proto]})` : ""}, ttl ${b[o + 8]}, len ${total}` +
        `${flags.length ? `, ${flags.join(" ")}` : ""}${fragOffset ? `, frag offset ${fragOffset}` : ""}${ihl > 20 ? `, ${ihl - 20} bytes of options` : ""}, checksum ${hex(checksum, 4)}${checksumOk ? "" : " (bad)"}`,
      fields: { src: ipv4String(b, o + 12), dst: ipv4String(b, o + 16), protocol: proto, ttl: b[o + 8]!, totalLength: total, headerLength: ihl, tos: b[o + 1]!, id: be16(o + 4), dontFragment: (fragField & 0x4000) !== 0, moreFragments: (fragField & 0x2000) !== 0, fragmentOffset: fragOffset, checksum, checksumOk },
    });
    o += ihl;
    // Later fragments carry no transport header.
    if (fragOffset !== 0) {
      payload(o);
      return out;
    }
  } else if (type === 0x86dd) {
    if (!need(o, 40, "ipv6 header")) return out;
    proto = b[o + 6]!;
    const vtf = be32(o);
    out.push({
      layer: "ipv6",
      summary: `ipv6 ${ipv6String(b, o + 8)} > ${ipv6String(b, o + 24)}, next header ${proto}${IPPROTOS[proto] ? ` (${IPPROTOS[proto]})` : ""}, hop limit ${b[o + 7]}, payload ${be16(o + 4)}`,
      fields: { src: ipv6String(b, o + 8), dst: ipv6String(b, o + 24), nextHeader: proto, hopLimit: b[o + 7]!, payloadLength: be16(o + 4), trafficClass: (vtf >>> 20) & 0xff, flowLabel: vtf & 0xfffff },
    });
    o += 40;
    while (IPV6_EXT.has(proto)) {
      if (!need(o, 8, "ipv6 extension header")) return out;
      const len = proto === 44 ? 8 : (b[o + 1]! + 1) * 8;
      const next = b[o]!;
      out.push({ layer: "ipv6-ext", summary: `ipv6 extension header ${proto}, ${len} bytes, next header ${next}`, fields: { type: proto, length: len, nextHeader: next } });
      if (!need(o, len, "ipv6 extension header")) return out;
      // A non-first fragment has no transport header to decode.
      if (proto === 44 && (be16(o + 2) & 0xfff8) !== 0) {
        payload(o + len);
        return out;
      }
      proto = next;
      o += len;
    }
  } else if (type === 0x0806) {
    if (!need(o, 28, "arp packet")) return out;
    const op = be16(o + 6);
    out.push({
      layer: "arp",
      summary: `arp ${op === 1 ? "request" : op === 2 ? "reply" : `op ${op}`} ${ipv4String(b, o + 14)} (${macString(b, o + 8)}) > ${ipv4String(b, o + 24)}`,
      fields: { op, senderMac: macString(b, o + 8), senderIp: ipv4String(b, o + 14), targetMac: macString(b, o + 18), targetIp: ipv4String(b, o + 24) },
    });
    payload(o + 28);
    return out;
  } else {
    payload(o);
    return out;
  }

  if (proto === 17) {
    if (!need(o, 8, "udp header")) return out;
    out.push({ layer: "udp", summary: `udp ${be16(o)} > ${be16(o + 2)}, len ${be16(o + 4)}`, fields: { srcPort: be16(o), dstPort: be16(o + 2), length: be16(o + 4), checksum: be16(o + 6) } });
    o += 8;
  } else if (proto === 6) {
    if (!need(o, 20, "tcp header")) return out;
    const offset = (b[o + 12]! >> 4) * 4;
    const bits = b[o + 13]!;
    const flags = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"].filter((_, i) => bits & (1 << i));
    out.push({
      layer: "tcp",
      summary: `tcp ${be16(o)} > ${be16(o + 2)}, flags [${flags.join(",")}], seq ${be32(o + 4)}, ack ${be32(o + 8)}, win ${be16(o + 14)}`,
      fields: { srcPort: be16(o), dstPort: be16(o + 2), seq: be32(o + 4), ack: be32(o + 8), flags: flags.join(","), window: be16(o + 14), headerLength: offset },
    });
    o += Math.max(offset, 20);
  } else if (proto === 1 || proto === 58) {
    if (!need(o, 4, proto === 1 ? "icmp header" : "icmpv6 header")) return out;
    const t = b[o]!;
    const code = b[o + 1]!;
    const names: Record<number, string> = proto === 1 ? { 0: "echo reply", 3: "destination unreachable", 8: "echo request", 11: "time exceeded" } : { 1: "destination unreachable", 3: "time exceeded", 128: "echo request", 129: "echo reply", 133: "router solicitation", 134: "router advertisement", 135: "neighbor solicitation", 136: "neighbor advertisement" };
    const echo = (proto === 1 && (t === 0 || t === 8)) || (proto === 58 && (t === 128 || t === 129));
    const layer = proto === 1 ? "icmp" : "icmpv6";
    const fields: Record<string, number> = { type: t, code };
    let summary = `${layer} ${names[t] ?? `type ${t}`}, code ${code}`;
    if (echo && o + 8 <= b.length) {
      fields.id = be16(o + 4);
      fields.seq = be16(o + 6);
      summary += `, id ${fields.id}, seq ${fields.seq}`;
    }
    out.push({ layer, summary, fields });
    o += echo ? 8 : 4;
  }
  payload(o);
  return out;
}

/** `xxd`'s layout: offset, 16 bytes in pairs, then the printable characters. */
export function hexDump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let o = 0; o < b.length; o += 16) {
    const row = b.subarray(o, o + 16);
    let hexPart = "";
    for (let i = 0; i < 16; i++) {
      hexPart += i < row.length ? row[i]!.toString(16).padStart(2, "0") : "  ";
      if (i % 2 === 1 && i < 15) hexPart += " ";
    }
    const text = Array.from(row, (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".")).join("");
    lines.push(`${o.toString(16).padStart(8, "0")}: ${hexPart}  ${text}`);
  }
  return lines.join("\n");
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/**
 * Bytes from hex as people paste it: optional 0x, and any spaces, colons,
 * dashes or newlines between bytes (xxd -p, Wireshark's "copy as hex
 * stream", MAC-style). Undefined when it is not whole bytes of hex.
 */
export function parseHex(text: string): Uint8Array | undefined {
  const clean = text.trim().replace(/^0x/i, "").replace(/[\s:.-]/g, "");
  if (clean === "" || clean.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(clean)) return undefined;
  return Uint8Array.from(Buffer.from(clean, "hex"));
}
