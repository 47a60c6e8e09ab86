// Drops IPv6 packets whose hop limit is 0 or 1: no router may forward them
// any further. Frames behind one 802.1Q/802.1ad tag are looked through;
// everything else (and anything too short to hold an IPv6 header) passes.
// The IPv6 header starts at 14 or 18 bytes: one inlined function checks it
// wherever it starts. It answers yes or no, since a function cannot return
// an XdpAction (TSX2011).
import { xdp, XdpAction, htons, type PacketEnd, type PacketPointer, type be16, type u8 } from "tsxdp";

const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;
const IPV6_HEADER_LEN = 40;

/** Whether the IPv6 header at `ip` is whole and its hop limit used up. */
function hopLimitExpired(ip: PacketPointer, end: PacketEnd): boolean {
  if (ip + IPV6_HEADER_LEN > end) return false;
  const hopLimit = ip.load<u8>(7);
  return hopLimit <= 1;
}

export const ipv6_hop_limit = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 > data_end) return XdpAction.PASS;
  const proto = data.load<be16>(12);
  if (proto === htons(ETH_P_IPV6)) return hopLimitExpired(data.add(14), data_end) ? XdpAction.DROP : XdpAction.PASS;
  if (proto !== htons(ETH_P_8021Q) && proto !== htons(ETH_P_8021AD)) return XdpAction.PASS;

  if (data + 18 > data_end) return XdpAction.PASS;
  if (data.load<be16>(16) !== htons(ETH_P_IPV6)) return XdpAction.PASS;
  return hopLimitExpired(data.add(18), data_end) ? XdpAction.DROP : XdpAction.PASS;
});
