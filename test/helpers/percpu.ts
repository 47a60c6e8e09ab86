// bpf_map_lookup_percpu_elem and bpf_ringbuf_query: another CPU's value of
// per-CPU maps, and what the kernel knows of a ring, written into the frame.
import { xdp, XdpAction, PerCpuArray, PerCpuHash, LruPerCpuHash, RingBuf, RingBufQuery, type be32, type u32, type u64, type u8 } from "tsxdp";

interface Pair {
  a: u32;
  b: u32;
}

const counts = new PerCpuArray<u64>({ maxEntries: 4 });
const pairs = new PerCpuHash<be32, Pair>({ maxEntries: 16 });
const recent = new LruPerCpuHash<u32, u64>({ maxEntries: 16 });
const events = new RingBuf<u64>({ maxEntries: 4096 });

/** counts[byte 14] on CPU byte 15 at 16, pairs[bytes 24..27] on that CPU at 28 and 32, recent[byte 14] at 40; 0xdeadbeef (or ~0 in a u32) where there is none. */
export const oncpu = xdp((ctx) => {
  const data = ctx.data;
  if (data + 48 > ctx.data_end) return XdpAction.PASS;
  const index = data.load<u8>(14);
  const cpu = data.load<u8>(15);
  const c = counts.lookupOnCpu(index, cpu);
  data.store<u64>(16, c ? c.value : 0xdeadbeef);
  const p = pairs.lookupOnCpu(data.load<be32>(24), cpu);
  if (p) {
    data.store<u32>(28, p.value.a);
    data.store<u32>(32, p.value.b);
  } else {
    data.store<u32>(28, 0xffffffff);
    data.store<u32>(32, 0xffffffff);
  }
  const r = recent.lookupOnCpu(index, cpu);
  data.store<u64>(40, r ? r.value : 0xdeadbeef);
  return XdpAction.TX;
});

/** Outputs bytes 14..21 as a record, then the ring's available bytes, size, reader's and writer's positions at 22, 30, 38, 46. */
export const query = xdp((ctx) => {
  const data = ctx.data;
  if (data + 54 > ctx.data_end) return XdpAction.PASS;
  if (events.output(data.load<u64>(14)) !== 0) return XdpAction.DROP;
  data.store<u64>(22, events.query(RingBufQuery.AVAIL_DATA));
  data.store<u64>(30, events.query(RingBufQuery.RING_SIZE));
  data.store<u64>(38, events.query(RingBufQuery.CONS_POS));
  data.store<u64>(46, events.query(RingBufQuery.PROD_POS));
  return XdpAction.TX;
});
