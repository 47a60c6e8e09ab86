// Encapsulates IPv4 packets to 192.0.2.0/24 (TEST-NET-1) in an outer IPv4
// header (IP-in-IP, protocol 4) from 203.0.113.1 to 203.0.113.2 (TEST-NET-3)
// and sends them back out (XDP_TX; a real tunnel end would also set the next
// hop's MAC addresses). bpf_xdp_adjust_head(ctx, -20) makes room in front:
// every pointer is read and checked again after the call, the Ethernet
// header moves to the new front and the outer header is written behind it,
// its checksum summed over its 10 16-bit words by a function with a counted
// loop. Everything else passes unchanged.
import { xdp, XdpAction, bpf_xdp_adjust_head, htonl, htons, ntohl, ntohs, u16, u32, type PacketEnd, type PacketPointer, type be16, type be32, type u8 } from "tsxdp";

const ETH_P_IP = 0x0800;
const IPPROTO_IPIP = 4;
const TUNNEL_PREFIX = 0xc0000200; // 192.0.2.0/24
const TUNNEL_MASK = 0xffffff00;
const OUTER_SRC = 0xcb007101; // 203.0.113.1
const OUTER_DST = 0xcb007102; // 203.0.113.2
const IPV4_HEADER_LEN = 20;

/** The Internet checksum of the option-less IPv4 header at `ip` (its checksum field must be 0). */
function ipv4HeaderChecksum(ip: PacketPointer, end: PacketEnd): u16 {
  if (ip + IPV4_HEADER_LEN > end) return 0;
  let sum: u32 = 0;
  for (let i = 0; i < IPV4_HEADER_LEN / 2; i++) sum += ntohs(ip.load<be16>(i * 2));
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return u16(~sum);
}

export const ipip_encap = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 + IPV4_HEADER_LEN > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(ETH_P_IP)) return XdpAction.PASS;
  if (data.load<u8>(14) >> 4 !== 4) return XdpAction.PASS;
  if ((ntohl(data.load<be32>(14 + 16)) & TUNNEL_MASK) !== TUNNEL_PREFIX) return XdpAction.PASS;

  // Read what must survive the move: the Ethernet header and the inner total length.
  const eth0 = data.load<u32>(0);
  const eth4 = data.load<u32>(4);
  const eth8 = data.load<u32>(8);
  const innerLen = ntohs(data.load<be16>(14 + 2));

  if (bpf_xdp_adjust_head(ctx, -IPV4_HEADER_LEN) !== 0) return XdpAction.ABORTED;
  // The packet moved: `data` and `data_end` are dead, read them again and check again.
  const front = ctx.data;
  const end = ctx.data_end;
  if (front + 14 + IPV4_HEADER_LEN > end) return XdpAction.ABORTED;

  front.store<u32>(0, eth0);
  front.store<u32>(4, eth4);
  front.store<u32>(8, eth8);
  front.store<be16>(12, htons(ETH_P_IP));

  const outer = front.add(14);
  outer.store<u8>(0, 0x45); // version 4, IHL 5
  outer.store<u8>(1, 0); // TOS
  outer.store<be16>(2, htons(u16(innerLen + IPV4_HEADER_LEN)));
  outer.store<be16>(4, htons(0)); // identification
  outer.store<be16>(6, htons(0x4000)); // don't fragment
  outer.store<u8>(8, 64); // TTL
  outer.store<u8>(9, IPPROTO_IPIP);
  outer.store<be16>(10, htons(0)); // checksum, computed below
  outer.store<be32>(12, htonl(OUTER_SRC));
  outer.store<be32>(16, htonl(OUTER_DST));
  outer.store<be16>(10, htons(ipv4HeaderChecksum(outer, end)));
  return XdpAction.TX;
});
