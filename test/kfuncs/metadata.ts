// RX metadata of a device-bound program: for UDP to ports 7777 and 7778,
// the results and values of bpf_xdp_metadata_rx_hash, _rx_vlan_tag and
// _rx_timestamp go into `seen`, eight slots per port: packets, hash
// result, hash, RSS type, VLAN result, VLAN protocol, VLAN TCI, timestamp result.
import { xdp, XdpAction, ArrayMap, zeroed, htons, ntohs, u32, u64, type Cell, type be16, type u16, bpf_xdp_metadata_rx_hash, bpf_xdp_metadata_rx_timestamp, bpf_xdp_metadata_rx_vlan_tag } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

const seen = new ArrayMap<u64>({ maxEntries: 16 });

function put(slot: u32, value: u64): void {
  const s = seen.lookup(slot);
  if (s) s.value = value;
}

export const meta = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(14);
  const udp = data.header<UdpHdr>(34);
  if (!ip || !udp || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const port = ntohs(udp.dest);
  if (port !== 7777 && port !== 7778) return XdpAction.PASS;
  const base = u32(port - 7777) * 8;

  const hash = zeroed<Cell<u32>>();
  const rssType = zeroed<Cell<u32>>();
  const hashResult = bpf_xdp_metadata_rx_hash(ctx, hash, rssType);
  const proto = zeroed<Cell<be16>>();
  const tci = zeroed<Cell<u16>>();
  const vlanResult = bpf_xdp_metadata_rx_vlan_tag(ctx, proto, tci);
  const stamp = zeroed<Cell<u64>>();
  const stampResult = bpf_xdp_metadata_rx_timestamp(ctx, stamp);

  const count = seen.lookup(base);
  if (count) count.value += 1;
  put(base + 1, u64(u32(hashResult)));
  put(base + 2, u64(hash.value));
  put(base + 3, u64(rssType.value));
  put(base + 4, u64(u32(vlanResult)));
  put(base + 5, u64(ntohs(proto.value)));
  put(base + 6, u64(tci.value));
  put(base + 7, u64(u32(stampResult)));
  return XdpAction.PASS;
});
