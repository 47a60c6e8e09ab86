// NAT set up on conntrack entries, and marks written: each program takes
// the packet's UDP tuple. `ct_snat`/`ct_dnat` allocate its entry, rewrite
// its source/destination to the address at offset 54 and the port at 58
// (host order, as the kernel takes it; 0: keep the port), insert it, and
// put bpf_ct_set_nat_info's result at 62: TX, or DROP. `ct_find` looks the
// tuple up: PASS with opts.dir at 58 and the mark at 62, or DROP with
// opts.error at 54. `ct_set_mark` writes the u32 at 66 into the entry's
// mark: TX, or DROP if there is no entry.
import { xdp, XdpAction, zeroed, htons, i32, u16, u32, type be32, bpf_xdp_ct_alloc, bpf_xdp_ct_lookup, bpf_ct_insert_entry, bpf_ct_release, bpf_ct_set_timeout, bpf_ct_set_nat_info, BPF_F_CURRENT_NETNS, NF_NAT_MANIP_SRC, NF_NAT_MANIP_DST, type BpfCtOpts, type BpfSockTuple, type NfInetAddr, type XdpContext, type PacketPointer } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

/** The packet's UDP tuple into `tuple` and the options for it into `opts`; false if it is not UDP over IPv4. */
function parse(ctx: XdpContext, tuple: BpfSockTuple, opts: BpfCtOpts): boolean {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return false;
  const ip = data.header<Ipv4Hdr>(14);
  const ports = data.header<UdpHdr>(34);
  if (!ip || !ports || ip.protocol !== IPPROTO_UDP) return false;
  tuple.ipv4.saddr = ip.saddr;
  tuple.ipv4.daddr = ip.daddr;
  tuple.ipv4.sport = ports.source;
  tuple.ipv4.dport = ports.dest;
  opts.netns_id = BPF_F_CURRENT_NETNS;
  opts.l4proto = IPPROTO_UDP;
  return true;
}

export const ct_snat = xdp((ctx) => {
  const data = ctx.data;
  const tuple = zeroed<BpfSockTuple>();
  const opts = zeroed<BpfCtOpts>();
  if (!parse(ctx, tuple, opts) || data + 70 > ctx.data_end) return XdpAction.PASS;
  const ct = bpf_xdp_ct_alloc(ctx, tuple.ipv4, opts);
  if (!ct) return XdpAction.DROP;
  bpf_ct_set_timeout(ct, 30000);
  const addr = zeroed<NfInetAddr>();
  addr.ip = data.load<be32>(54);
  data.store<i32>(62, bpf_ct_set_nat_info(ct, addr, data.load<u16>(58), NF_NAT_MANIP_SRC));
  const inserted = bpf_ct_insert_entry(ct);
  if (!inserted) return XdpAction.DROP;
  bpf_ct_release(inserted);
  return XdpAction.TX;
});

export const ct_dnat = xdp((ctx) => {
  const data = ctx.data;
  const tuple = zeroed<BpfSockTuple>();
  const opts = zeroed<BpfCtOpts>();
  if (!parse(ctx, tuple, opts) || data + 70 > ctx.data_end) return XdpAction.PASS;
  const ct = bpf_xdp_ct_alloc(ctx, tuple.ipv4, opts);
  if (!ct) return XdpAction.DROP;
  bpf_ct_set_timeout(ct, 30000);
  const addr = zeroed<NfInetAddr>();
  addr.ip = data.load<be32>(54);
  data.store<i32>(62, bpf_ct_set_nat_info(ct, addr, data.load<u16>(58), NF_NAT_MANIP_DST));
  const inserted = bpf_ct_insert_entry(ct);
  if (!inserted) return XdpAction.DROP;
  bpf_ct_release(inserted);
  return XdpAction.TX;
});

export const ct_find = xdp((ctx) => {
  const data = ctx.data;
  const tuple = zeroed<BpfSockTuple>();
  const opts = zeroed<BpfCtOpts>();
  if (!parse(ctx, tuple, opts) || data + 70 > ctx.data_end) return XdpAction.PASS;
  const ct = bpf_xdp_ct_lookup(ctx, tuple.ipv4, opts);
  if (!ct) {
    data.store<i32>(54, opts.error);
    return XdpAction.DROP;
  }
  data.store<u32>(58, opts.dir);
  data.store<u32>(62, ct.mark);
  bpf_ct_release(ct);
  return XdpAction.PASS;
});

export const ct_set_mark = xdp((ctx) => {
  const data = ctx.data;
  const tuple = zeroed<BpfSockTuple>();
  const opts = zeroed<BpfCtOpts>();
  if (!parse(ctx, tuple, opts) || data + 70 > ctx.data_end) return XdpAction.PASS;
  const ct = bpf_xdp_ct_lookup(ctx, tuple.ipv4, opts);
  if (!ct) return XdpAction.DROP;
  ct.mark = data.load<u32>(66);
  bpf_ct_release(ct);
  return XdpAction.TX;
});
