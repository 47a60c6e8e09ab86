// Conntrack through kfuncs, the tuple from the packet's UDP addresses and
// ports. `ct_insert` allocates an entry (30 s, status SEEN_REPLY) and
// inserts it: TX if inserted, DROP if not. `ct_lookup` looks the tuple up:
// PASS with the direction it matched at offset 58, DROP if none. Both put
// the kernel's result (opts.error, or the status call's) at offset 54.
import { xdp, XdpAction, zeroed, htons, i32, u32, bpf_xdp_ct_alloc, bpf_xdp_ct_lookup, bpf_ct_insert_entry, bpf_ct_release, bpf_ct_set_status, bpf_ct_set_timeout, BPF_F_CURRENT_NETNS, IPS_SEEN_REPLY, type BpfCtOpts, type BpfSockTuple } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

export const ct_insert = xdp((ctx) => {
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
  const ct = bpf_xdp_ct_alloc(ctx, tuple.ipv4, opts);
  if (!ct) {
    data.store<i32>(54, opts.error);
    return XdpAction.DROP;
  }
  bpf_ct_set_timeout(ct, 30000);
  data.store<i32>(54, bpf_ct_set_status(ct, IPS_SEEN_REPLY));
  const inserted = bpf_ct_insert_entry(ct);
  if (!inserted) return XdpAction.DROP;
  bpf_ct_release(inserted);
  return XdpAction.TX;
});

export const ct_lookup = xdp((ctx) => {
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
  data.store<i32>(54, opts.error);
  if (!ct) return XdpAction.DROP;
  data.store<u32>(58, opts.dir);
  bpf_ct_release(ct);
  return XdpAction.PASS;
});
