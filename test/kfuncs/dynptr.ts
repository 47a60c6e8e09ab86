// Headers parsed through a dynptr, in an xdp.frags program: the UDP
// destination port names an offset whose u32 is read (through the buffer
// when it lies across or beyond the linear part). Results go into the
// packet after the UDP header through a writable slice: the dynptr's size,
// the word (0xffffffff if out of range), whether the dynptr is read-only or
// null, and the size of a clone narrowed to the UDP payload.
import { xdp, XdpAction, zeroed, ntohs, u32, bpf_dynptr_from_xdp, bpf_dynptr_slice, bpf_dynptr_slice_rdwr, bpf_dynptr_size, bpf_dynptr_adjust, bpf_dynptr_clone, bpf_dynptr_is_null, bpf_dynptr_is_rdonly, type BpfDynptr } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";
import { htons } from "tsxdp";

interface Word {
  value: u32;
}

interface Report {
  size: u32;
  word: u32;
  rdonly: u32;
  isNull: u32;
  payload: u32;
  adjusted: u32;
}

export const parse = xdp.frags((ctx) => {
  const dp = zeroed<BpfDynptr>();
  if (bpf_dynptr_from_xdp(ctx, 0, dp) !== 0) return XdpAction.ABORTED;
  const ethBuf = zeroed<EthHdr>();
  const eth = bpf_dynptr_slice(dp, 0, ethBuf);
  if (!eth) return XdpAction.DROP;
  if (eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ipBuf = zeroed<Ipv4Hdr>();
  const ip = bpf_dynptr_slice(dp, 14, ipBuf);
  if (!ip || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const udpBuf = zeroed<UdpHdr>();
  const udp = bpf_dynptr_slice(dp, 34, udpBuf);
  if (!udp) return XdpAction.DROP;
  const at = u32(ntohs(udp.dest));

  const wordBuf = zeroed<Word>();
  const word = bpf_dynptr_slice(dp, at, wordBuf);
  const value = word ? word.value : 0xffffffff;

  const out = bpf_dynptr_slice_rdwr<Report>(dp, 42, null);
  if (!out) return XdpAction.DROP;
  const size = bpf_dynptr_size(dp);
  out.size = size;
  out.word = value;
  out.rdonly = bpf_dynptr_is_rdonly(dp) ? 1 : 0;
  out.isNull = bpf_dynptr_is_null(dp) ? 1 : 0;

  const payload = zeroed<BpfDynptr>();
  if (bpf_dynptr_clone(dp, payload) !== 0) return XdpAction.ABORTED;
  out.adjusted = u32(bpf_dynptr_adjust(payload, 42, size));
  out.payload = bpf_dynptr_size(payload);
  return XdpAction.TX;
});

// Flags the kernel does not know: the dynptr is made null (-EINVAL), is_null
// says so and its size is -EINVAL; the three at offset 42.
export const bad_flags = xdp.frags((ctx) => {
  const dp = zeroed<BpfDynptr>();
  const made = bpf_dynptr_from_xdp(ctx, 1, dp);
  const isNull = bpf_dynptr_is_null(dp);
  const size = bpf_dynptr_size(dp);
  const data = ctx.data;
  if (data + 54 > ctx.data_end) return XdpAction.DROP;
  data.store<u32>(42, u32(made));
  data.store<u32>(46, isNull ? 1 : 0);
  data.store<u32>(50, size);
  return XdpAction.TX;
});
