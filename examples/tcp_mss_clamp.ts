// Clamps the MSS option of TCP SYN segments over IPv4 to 1400 bytes, as a
// tunnel end does so that full-sized segments still fit its smaller MTU.
// The TCP header is found through the IPv4 header length, its options
// through the data offset; they are walked in a counted loop of at most 10
// steps (end of list, no-op, or kind/length), the pointer moved by each
// option's length and checked against data_end again. When the MSS option
// (kind 2, length 4) is above 1400 it is rewritten and the TCP checksum
// updated incrementally (RFC 1624). Every packet passes.
import { xdp, XdpAction, bswap16, htons, ntohs, u16, u32, type be16, type u8 } from "tsxdp";

const ETH_P_IP = 0x0800;
const IPPROTO_TCP = 6;
const TCP_FLAG_SYN = 0x02;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;
const TCPOLEN_MSS = 4;
const MAX_MSS = 1400;
const MAX_OPTION_STEPS = 10;

/** RFC 1624 eqn. 3: the checksum after one 16-bit word of the data changes. */
function checksumReplace(check: u16, from: u16, to: u16): u16 {
  let sum: u32 = u32(~check) + u32(~from) + u32(to);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return u16(~sum);
}

export const tcp_mss_clamp = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 + 20 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(ETH_P_IP)) return XdpAction.PASS;
  const versionIhl = data.load<u8>(14);
  if (versionIhl >> 4 !== 4 || data.load<u8>(14 + 9) !== IPPROTO_TCP) return XdpAction.PASS;
  const ihl = u32(versionIhl & 0x0f);
  if (ihl < 5) return XdpAction.PASS;

  const tcp = data.add(14 + ihl * 4);
  if (tcp + 20 > data_end) return XdpAction.PASS;
  if ((tcp.load<u8>(13) & TCP_FLAG_SYN) === 0) return XdpAction.PASS;
  const doff = u32(tcp.load<u8>(12) >> 4);
  if (doff <= 5) return XdpAction.PASS;
  const optionsLen = doff * 4 - 20;

  let opt = tcp.add(20);
  let walked: u32 = 0; // bytes of options behind `opt`
  for (let i = 0; i < MAX_OPTION_STEPS; i++) {
    if (walked >= optionsLen) break;
    if (opt + 1 > data_end) break;
    const kind = opt.load<u8>(0);
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      opt = opt.add(1);
      walked += 1;
      continue;
    }
    if (walked + 2 > optionsLen || opt + 2 > data_end) break;
    const len = opt.load<u8>(1);
    if (len < 2 || walked + len > optionsLen) break;
    if (kind === TCPOPT_MSS && len === TCPOLEN_MSS) {
      if (opt + TCPOLEN_MSS > data_end) break;
      const mss = ntohs(opt.load<be16>(2));
      if (mss > MAX_MSS) {
        opt.store<be16>(2, htons(MAX_MSS));
        // The checksum sums 16-bit words from the start of the TCP header: an option at an
        // odd offset puts the MSS across two of them, so it is summed byte-swapped.
        const odd = (walked & 1) === 1;
        const from = odd ? bswap16(mss) : mss;
        const to = odd ? bswap16(MAX_MSS) : MAX_MSS;
        tcp.store<be16>(16, htons(checksumReplace(ntohs(tcp.load<be16>(16)), from, to)));
      }
      break;
    }
    opt = opt.add(len);
    walked += len;
  }
  return XdpAction.PASS;
});
