// Drops UDP datagrams to port 9 over IPv4, wherever the UDP header starts:
// the IPv4 header length (IHL) is read from the packet, so headers with
// options are looked through too. The pointer moved by a variable amount is
// checked against data_end again, as the kernel verifier requires.
import { xdp, XdpAction, htons, u32, type be16, type u8 } from "tsxdp";

const ETH_P_IP = 0x0800;
const IPPROTO_UDP = 17;
const DROPPED_PORT = 9;

export const drop_udp_port_options = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 + 20 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(ETH_P_IP)) return XdpAction.PASS;
  const versionIhl = data.load<u8>(14);
  if (versionIhl >> 4 !== 4) return XdpAction.PASS;
  if (data.load<u8>(14 + 9) !== IPPROTO_UDP) return XdpAction.PASS;

  // IHL counts 32-bit words: 5 (no options) to 15; masked, so the verifier sees 0..60 bytes.
  const ihl = u32(versionIhl & 0x0f);
  if (ihl < 5) return XdpAction.DROP;
  const udp = data.add(14 + ihl * 4);
  if (udp + 8 > data_end) return XdpAction.PASS;
  return udp.load<be16>(2) === htons(DROPPED_PORT) ? XdpAction.DROP : XdpAction.PASS;
});
