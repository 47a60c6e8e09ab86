// bpf_perf_event_output: a struct record from the frame into this CPU's
// buffer, an integer record into the buffer of the CPU the frame names,
// and the helper's result written back into the frame.
import { xdp, XdpAction, PerfEventArray, PerfEventFlags, bpf_xdp_get_buff_len, u32, type be16, type be32, type i64, type u8 } from "tsxdp";

interface Sample {
  saddr: be32;
  len: u32;
  proto: be16;
  tag: u8;
  flag: u8;
}

const samples = new PerfEventArray<Sample>();
const marks = new PerfEventArray<u32>({ maxEntries: 64 });

/** Frames of 24 bytes or more: a Sample of the frame's bytes, output twice when byte 22 is 1; the result at 16. */
export const sample = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.PASS;
  const s: Sample = { saddr: data.load<be32>(14), len: u32(bpf_xdp_get_buff_len(ctx)), proto: data.load<be16>(12), tag: data.load<u8>(18), flag: data.load<u8>(19) };
  let rc = samples.output(ctx, s);
  if (data.load<u8>(22) === 1) rc = samples.output(ctx, s, PerfEventFlags.CURRENT_CPU);
  data.store<i64>(16, rc);
  return XdpAction.TX;
});

/** A mark (bytes 14..17) into the buffer of CPU byte 18; the result at 20. */
export const mark = xdp((ctx) => {
  const data = ctx.data;
  if (data + 28 > ctx.data_end) return XdpAction.PASS;
  const rc = marks.output(ctx, data.load<u32>(14), data.load<u8>(18));
  data.store<i64>(20, rc);
  return XdpAction.TX;
});
