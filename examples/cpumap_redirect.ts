// Moves UDP datagrams to ports 5201 and 5202 to another CPU through a
// CpuMap, and filters them there: entry 0 of `cpus` (CPU 0) is declared with
// `programs: true`, so userspace installs `on_cpu` in it
// (`obj.map("cpus").updateEntry(0, { qsize: 192, program: "on_cpu" })`, or
// `tsxdp map set … --program`), and the kernel runs it on CPU 0 before the
// frames go up the stack. There it counts them by port, records the CPU it
// ran on, and drops those to 5202. Without an entry the redirect falls back
// to DROP.
import { xdp, XdpAction, ArrayMap, CpuMap, atomicAdd, bpf_get_smp_processor_id, htons, type PacketEnd, type PacketPointer, type be16, type u8, type u32, type u64 } from "tsxdp";

const cpus = new CpuMap({ maxEntries: 4, programs: true });
/** 0: datagrams to 5201 passed on the CPU; 1: datagrams to 5202 dropped there. */
const on_cpu_seen = new ArrayMap<u64>({ maxEntries: 2 });
/** 1 + the CPU the entry's program last ran on. */
const ran_on = new ArrayMap<u32>({ maxEntries: 1 });

/** 5201 or 5202 for a UDP datagram (IPv4 without options) to that port, else 0. */
function udpPort(data: PacketPointer, data_end: PacketEnd): u32 {
  if (data + 42 > data_end) return 0;
  if (data.load<be16>(12) !== htons(0x0800)) return 0;
  if (data.load<u8>(14) !== 0x45 || data.load<u8>(23) !== 17) return 0;
  const port = data.load<be16>(36);
  if (port === htons(5201)) return 5201;
  if (port === htons(5202)) return 5202;
  return 0;
}

export const to_cpu = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (udpPort(data, data_end) === 0) return XdpAction.PASS;
  return cpus.redirect(0, XdpAction.DROP);
});

export const on_cpu = xdp.cpumap((ctx) => {
  const { data, data_end } = ctx;
  const port = udpPort(data, data_end);
  const r = ran_on.lookup(0);
  if (r) r.value = bpf_get_smp_processor_id() + 1;
  const c = on_cpu_seen.lookup(port === 5202 ? 1 : 0);
  if (c) atomicAdd(c, 1);
  return port === 5202 ? XdpAction.DROP : XdpAction.PASS;
});
