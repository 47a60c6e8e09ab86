// bpf_snprintf_btf: the frame's IPv4 header, copied to the stack, shown as
// the kernel's struct iphdr and struct ethhdr; the text and length written back.
import { xdp, XdpAction, zeroed, bpf_snprintf_btf, type FixedArray, type i64, type u64, type u8 } from "tsxdp";
import type { EthHdr, Ipv4Hdr } from "tsxdp/net";

/** Byte 40 picks: the IPv4 header as struct iphdr (1: compact), else the Ethernet header as struct ethhdr (compact, no names); the length at 40, the text (160 bytes) at 48. */
export const show = xdp((ctx) => {
  const data = ctx.data;
  if (data + 208 > ctx.data_end) return XdpAction.PASS;
  const iph = data.header<Ipv4Hdr>(14);
  const ethh = data.header<EthHdr>(0);
  if (!iph || !ethh) return XdpAction.PASS;
  const ip: Ipv4Hdr = { ...iph };
  const eth: EthHdr = { ...ethh };
  const out = zeroed<FixedArray<u64, 20>>();
  let n: i64 = 0;
  const which = data.load<u8>(40);
  if (which === 0) n = bpf_snprintf_btf(out, ip, "iphdr");
  else if (which === 1) n = bpf_snprintf_btf(out, ip, "iphdr", 1);
  else n = bpf_snprintf_btf(out, eth, "ethhdr", 3);
  data.store<i64>(40, n);
  for (let i = 0; i < 20; i++) data.store<u64>(48 + 8 * i, out[i]);
  return XdpAction.TX;
});
