// Drops UDP datagrams to one port (here 9, the discard service) over IPv4;
// everything else passes. IPv4 headers with options are passed untouched.
import { xdp, XdpAction, htons, type be16, type u8 } from "tsxdp";

const ETH_P_IP = 0x0800;
const IPPROTO_UDP = 17;
const DROPPED_PORT = 9;

export const drop_udp_port = xdp((ctx) => {
  const data = ctx.data;
  const end = ctx.data_end;
  if (data + 14 > end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(ETH_P_IP)) return XdpAction.PASS;

  // IPv4 header without options: 20 bytes, then the UDP header's 8.
  if (data + 14 + 20 + 8 > end) return XdpAction.PASS;
  const versionIhl = data.load<u8>(14);
  if (versionIhl !== 0x45) return XdpAction.PASS;
  if (data.load<u8>(14 + 9) !== IPPROTO_UDP) return XdpAction.PASS;

  const udp = data.add(14 + 20);
  return udp.load<be16>(2) === htons(DROPPED_PORT) ? XdpAction.DROP : XdpAction.PASS;
});
