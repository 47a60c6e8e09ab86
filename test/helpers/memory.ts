// Helpers that take stack memory: local structs, FixedArrays and Cells as
// their buffers, the sizes passed by the compiler. Each program writes what
// the helper returned into the frame, so a test can compare it.
import { xdp, XdpAction, zeroed, htons, i32, u16, u32, bpf_csum_diff, bpf_xdp_load_bytes, bpf_xdp_store_bytes, bpf_check_mtu, type Cell, type FixedArray, type be32, type i64, type u8 } from "tsxdp";
import type { Ipv4Hdr } from "tsxdp/net";

interface Words {
  w: FixedArray<be32, 3>;
}

/** Bytes [14, 26) become [26, 34) plus a seed: the checksum change, and the plain sum of the first buffer. */
export const csum = xdp((ctx) => {
  const data = ctx.data;
  if (data + 56 > ctx.data_end) return XdpAction.PASS;
  const from: Words = { w: [data.load<be32>(14), data.load<be32>(18), data.load<be32>(22)] };
  const to: FixedArray<be32, 2> = [data.load<be32>(26), data.load<be32>(30)];
  const diff = bpf_csum_diff(from, to, data.load<u32>(34));
  const sum = bpf_csum_diff(null, from.w, 0);
  data.store<i64>(40, diff);
  data.store<i64>(48, sum);
  return XdpAction.TX;
});

/** 16 bytes from offset 14 into a buffer, the first one changed, back at offset 30; a pointer checked before store_bytes is used after it. */
export const bytes = xdp((ctx) => {
  const buf = zeroed<FixedArray<u8, 16>>();
  if (bpf_xdp_load_bytes(ctx, 14, buf) !== 0) return XdpAction.ABORTED;
  buf[0] += 1;
  const data = ctx.data;
  if (data + 14 > ctx.data_end) return XdpAction.DROP;
  if (bpf_xdp_store_bytes(ctx, 30, buf) !== 0) return XdpAction.ABORTED;
  data.store<u8>(0, buf[15]);
  return XdpAction.TX;
});

/** The length to check and the difference come from the frame; the MTU and the verdict go back into it. */
export const mtu = xdp((ctx) => {
  const data = ctx.data;
  if (data + 22 > ctx.data_end) return XdpAction.PASS;
  const len: Cell<u32> = { value: data.load<u32>(14) };
  const rc = bpf_check_mtu(ctx, 0, len, i32(data.load<u32>(18)), 0);
  data.store<u32>(14, len.value);
  data.store<i32>(18, i32(rc));
  return XdpAction.TX;
});

/** The IPv4 header checksum computed over the header where it is, in the packet. */
export const ipsum = xdp((ctx) => {
  const data = ctx.data;
  const ip = data.header<Ipv4Hdr>(14);
  if (!ip) return XdpAction.PASS;
  ip.check = htons(0);
  let s = u32(bpf_csum_diff(null, ip, 0));
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  data.store<u16>(24, u16(~s));
  return XdpAction.TX;
});
