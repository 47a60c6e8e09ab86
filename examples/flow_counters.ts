// Counts frames in maps: per-CPU counters by EtherType class, a hash of
// IPv4 sources with an atomic count each, and a total in an array.
// Userspace reads them (tsxdp/loader's map API, or bpftool map dump).
import { xdp, XdpAction, ArrayMap, HashMap, PerCpuArray, UpdateFlags, atomicAdd, htons, type be16, type be32, type u32, type u64 } from "tsxdp";

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

/** 0: IPv4, 1: IPv6, 2: anything else. */
const byClass = new PerCpuArray<u64>({ maxEntries: 3 });
const bySource = new HashMap<be32, u64>({ maxEntries: 1024 });
const total = new ArrayMap<u64>({ maxEntries: 1 });

export const flow_counters = xdp((ctx) => {
  const { data, data_end } = ctx;
  const all = total.lookup(0);
  if (all) atomicAdd(all, 1);
  if (data + 14 > data_end) return XdpAction.PASS;
  const proto = data.load<be16>(12);
  const cls: u32 = proto === htons(ETH_P_IP) ? 0 : proto === htons(ETH_P_IPV6) ? 1 : 2;
  const counter = byClass.lookup(cls);
  if (counter) counter.value += 1;
  if (cls !== 0 || data + 34 > data_end) return XdpAction.PASS;

  const saddr = data.load<be32>(26);
  const seen = bySource.lookup(saddr);
  if (seen) atomicAdd(seen, 1);
  else bySource.update(saddr, 1, UpdateFlags.NOEXIST);
  return XdpAction.PASS;
});
