// Drops every frame that is not IPv4, looking through one 802.1Q/802.1ad VLAN tag.
import { xdp, XdpAction, htons, type be16 } from "tsxdp";

const ETH_P_IP = 0x0800;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;

export const drop_non_ipv4 = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 > data_end) return XdpAction.DROP;

  let proto = data.load<be16>(12);
  if (proto === htons(ETH_P_8021Q) || proto === htons(ETH_P_8021AD)) {
    if (data + 18 > data_end) return XdpAction.DROP;
    proto = data.load<be16>(16);
  }
  return proto === htons(ETH_P_IP) ? XdpAction.PASS : XdpAction.DROP;
});
