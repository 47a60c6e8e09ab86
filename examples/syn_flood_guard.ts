// SYN-flood guard: counts the TCP SYNs (without ACK) of each IPv4 source
// in an LRU hash, per time window; a source that sends more than SYN_LIMIT
// in one window is dropped until its window ends. Everything else passes.
// SYN_LIMIT and WINDOW_NS are settings in .rodata (`tsxdp run --set
// SYN_LIMIT=100`); the LRU map forgets the sources seen least recently when
// it is full, so a flood from many addresses cannot fill it for good.
import { xdp, XdpAction, LruHash, bpf_ktime_get_ns, config, htons, u32, type be16, type be32, type u8, type u64 } from "tsxdp";

const ETH_P_IP = 0x0800;
const IPPROTO_TCP = 6;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

const SYN_LIMIT = config<u32>(16);
const WINDOW_NS = config<u64>(1_000_000_000);

interface SynWindow {
  start: u64;
  count: u32;
}

const syns = new LruHash<be32, SynWindow>({ maxEntries: 65536 });

export const syn_flood_guard = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 + 20 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(ETH_P_IP)) return XdpAction.PASS;
  const versionIhl = data.load<u8>(14);
  if (versionIhl >> 4 !== 4 || data.load<u8>(14 + 9) !== IPPROTO_TCP) return XdpAction.PASS;
  // The TCP flags sit after the IPv4 options, if any (IHL: 5 to 15 words).
  const ihl = u32(versionIhl & 0x0f);
  if (ihl < 5) return XdpAction.PASS;
  const tcp = data.add(14 + ihl * 4);
  if (tcp + 14 > data_end) return XdpAction.PASS;
  if ((tcp.load<u8>(13) & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return XdpAction.PASS;

  const source = data.load<be32>(14 + 12);
  const now = bpf_ktime_get_ns();
  const seen = syns.lookup(source);
  if (!seen) {
    syns.update(source, { start: now, count: 1 });
    return XdpAction.PASS;
  }
  if (now - seen.value.start > WINDOW_NS) {
    seen.value.start = now;
    seen.value.count = 1;
    return XdpAction.PASS;
  }
  seen.value.count += 1;
  return seen.value.count > SYN_LIMIT ? XdpAction.DROP : XdpAction.PASS;
});
