// Forwards frames through a DevMap, whose entries (ifindexes of the devices
// to transmit on) userspace writes: the loader's map API or
// `bpftool map update`. An IPv4 frame goes to the entry named by the low
// three bits of its destination address's last byte, anything else to
// entry 0; a frame whose entry is empty goes on to the network stack.
import { xdp, XdpAction, DevMap, htons, u32, type be16, type u8 } from "tsxdp";

const ETH_P_IP = 0x0800;

const ports = new DevMap({ maxEntries: 8 });

export const redirect_devmap = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 > data_end) return XdpAction.DROP;
  let port: u32 = 0;
  if (data.load<be16>(12) === htons(ETH_P_IP) && data + 34 <= data_end) port = u32(data.load<u8>(33) & 7);
  return ports.redirect(port, XdpAction.PASS);
});
