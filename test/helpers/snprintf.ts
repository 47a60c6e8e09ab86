// bpf_snprintf: integers from the frame formatted into a stack buffer with
// each kind of conversion the kernel takes, the text and the length written
// back into the frame.
import { xdp, XdpAction, zeroed, bpf_snprintf, type be16, type FixedArray, type i32, type i64, type u32, type u64, type u8 } from "tsxdp";

/** Byte 14 picks the format; values from bytes 16..31; the length at 32, the text (48 bytes) at 40. */
export const fmt = xdp((ctx) => {
  const data = ctx.data;
  if (data + 88 > ctx.data_end) return XdpAction.PASS;
  const out = zeroed<FixedArray<u64, 6>>();
  const a = data.load<u32>(16);
  const b = data.load<i32>(20);
  const c = data.load<u64>(24);
  const port = data.load<be16>(12);
  const which = data.load<u8>(14);
  let n: i64 = 0;
  if (which === 0) n = bpf_snprintf(out, "a=%u b=%d c=%llx port=%u", a, b, c, port);
  else if (which === 1) n = bpf_snprintf(out, "[%08x|%-6d|%+i|% d|%X] 100%%", a, b, b, b, a);
  else if (which === 2) n = bpf_snprintf(out, "%lu-%lld-%llu-%lx-%li", c, c, c, c, b);
  else if (which === 3) n = bpf_snprintf(out, "no values");
  else n = bpf_snprintf(out, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", a, a, a, a, a, a, a, a, a, a, a, a);
  data.store<i64>(32, n);
  for (let i = 0; i < 6; i++) data.store<u64>(40 + 8 * i, out[i]);
  return XdpAction.TX;
});
