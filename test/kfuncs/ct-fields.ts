// A conntrack entry's status and mark, read where the running kernel has
// them (CO-RE): `ct_read` looks up the packet's UDP tuple and puts the
// entry's `status` (u64) at offset 54 and `mark` (u32) at 62: PASS, or
// DROP if there is no entry.
import { xdp, XdpAction, zeroed, htons, u32, u64, bpf_xdp_ct_lookup, bpf_ct_release, BPF_F_CURRENT_NETNS, type BpfCtOpts, type BpfSockTuple } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

export const ct_read = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(14);
  const ports = data.header<UdpHdr>(34);
  if (!ip || !ports || data + 70 > ctx.data_end || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;

  const tuple = zeroed<BpfSockTuple>();
  tuple.ipv4.saddr = ip.saddr;
  tuple.ipv4.daddr = ip.daddr;
  tuple.ipv4.sport = ports.source;
  tuple.ipv4.dport = ports.dest;
  const opts = zeroed<BpfCtOpts>();
  opts.netns_id = BPF_F_CURRENT_NETNS;
  opts.l4proto = IPPROTO_UDP;
  const ct = bpf_xdp_ct_lookup(ctx, tuple.ipv4, opts);
  if (!ct) return XdpAction.DROP;
  data.store<u64>(54, ct.status);
  data.store<u32>(62, ct.mark);
  bpf_ct_release(ct);
  return XdpAction.PASS;
});
