// Per-protocol packet and byte counters: a PerCpuArray indexed by the IP
// protocol number (IPv4's protocol, IPv6's next header) for IPv4 and IPv6
// frames, bare or behind one 802.1Q/802.1ad tag. Each CPU counts in its own
// copy of the entry, so no atomics are needed; userspace sums the CPUs
// (sumPerCpu in tsxdp/loader; `tsxdp map dump` shows the sums). Every frame
// passes: this only counts.
import { xdp, XdpAction, PerCpuArray, bpf_xdp_get_buff_len, htons, u32, type PacketEnd, type PacketPointer, type be16, type u8, type u64 } from "tsxdp";

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;
/** Not a protocol number: the frame is not IP, or too short to tell. */
const NONE = 256;

interface Counts {
  packets: u64;
  bytes: u64;
}

const byProtocol = new PerCpuArray<Counts>({ maxEntries: 256 });

/** The protocol of the IPv4 or IPv6 header at `ip` (by `ethertype`), or NONE. */
function protocolAt(ip: PacketPointer, end: PacketEnd, ethertype: be16): u32 {
  if (ethertype === htons(ETH_P_IP)) {
    if (ip + 20 > end) return NONE;
    return u32(ip.load<u8>(9));
  }
  if (ethertype === htons(ETH_P_IPV6)) {
    if (ip + 40 > end) return NONE;
    return u32(ip.load<u8>(6));
  }
  return NONE;
}

export const protocol_counters = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 > data_end) return XdpAction.PASS;
  const outer = data.load<be16>(12);
  let protocol: u32 = NONE;
  if (outer === htons(ETH_P_8021Q) || outer === htons(ETH_P_8021AD)) {
    if (data + 18 <= data_end) protocol = protocolAt(data.add(18), data_end, data.load<be16>(16));
  } else {
    protocol = protocolAt(data.add(14), data_end, outer);
  }
  if (protocol === NONE) return XdpAction.PASS;
  const counts = byProtocol.lookup(protocol);
  if (counts) {
    counts.value.packets += 1;
    counts.value.bytes += bpf_xdp_get_buff_len(ctx);
  }
  return XdpAction.PASS;
});
