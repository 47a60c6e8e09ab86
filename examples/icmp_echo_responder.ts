// Answers IPv4 ping (ICMP echo request) from XDP: swaps the MAC and IP
// addresses, turns the request into a reply and fixes the ICMP checksum
// incrementally (RFC 1624), then sends the frame back out (XDP_TX).
// IPv4 options are looked through via the header length.
import { xdp, XdpAction, htons, ntohs, u16, u32, type be16, type be32, type u8 } from "tsxdp";

const ETH_P_IP = 0x0800;
const IPPROTO_ICMP = 1;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

/** RFC 1624 eqn. 3: the checksum after one 16-bit word of the data changes. */
function checksumReplace(check: u16, from: u16, to: u16): u16 {
  let sum: u32 = u32(~check) + u32(~from) + u32(to);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return u16(~sum);
}

export const icmp_echo_responder = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 + 20 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(ETH_P_IP)) return XdpAction.PASS;
  const versionIhl = data.load<u8>(14);
  if (versionIhl >> 4 !== 4 || data.load<u8>(14 + 9) !== IPPROTO_ICMP) return XdpAction.PASS;
  const ihl = u32(versionIhl & 0x0f);
  if (ihl < 5) return XdpAction.PASS;

  const icmp = data.add(14 + ihl * 4);
  if (icmp + 8 > data_end) return XdpAction.PASS;
  if (icmp.load<u8>(0) !== ICMP_ECHO_REQUEST || icmp.load<u8>(1) !== 0) return XdpAction.PASS;

  // Ethernet: swap destination and source.
  const dstHigh = data.load<u32>(0);
  const dstLow = data.load<u16>(4);
  data.store<u32>(0, data.load<u32>(6));
  data.store<u16>(4, data.load<u16>(10));
  data.store<u32>(6, dstHigh);
  data.store<u16>(10, dstLow);

  // IPv4: swap source and destination (the header checksum is a sum: unchanged).
  const src = data.load<be32>(26);
  data.store<be32>(26, data.load<be32>(30));
  data.store<be32>(30, src);

  // ICMP: request becomes reply; the type/code word changes from 0x0800 to 0x0000.
  icmp.store<u8>(0, ICMP_ECHO_REPLY);
  const check = ntohs(icmp.load<be16>(2));
  icmp.store<be16>(2, htons(checksumReplace(check, ICMP_ECHO_REQUEST << 8, ICMP_ECHO_REPLY << 8)));
  return XdpAction.TX;
});
