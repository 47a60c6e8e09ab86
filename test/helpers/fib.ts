// A router's first step: look the destination up in the kernel's FIB and,
// when it resolves, rewrite the MACs for the egress device. The lookup's
// code, the egress ifindex and the MTU go into the frame after the IPv4
// header, for the test to read.
import { xdp, XdpAction, zeroed, htons, ntohs, bpf_fib_lookup, BPF_FIB_LKUP_RET_SUCCESS, u32, type BpfFibLookup, type u16 } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, ETH_P_IP } from "tsxdp/net";

const AF_INET = 2;

export const fib = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(14);
  if (!ip || data + 44 > ctx.data_end) return XdpAction.PASS;

  const params = zeroed<BpfFibLookup>();
  params.family = AF_INET;
  params.flow.tos = ip.tos;
  params.l4_protocol = ip.protocol;
  params.len.tot_len = ntohs(ip.totLen);
  params.src.ipv4 = ip.saddr;
  params.dst.ipv4 = ip.daddr;
  params.ifindex = ctx.ingress_ifindex;
  const rc = bpf_fib_lookup(ctx, params, 0);

  // Not a helper that moves the packet: the views checked above are still good.
  data.store<u32>(34, u32(rc));
  data.store<u32>(38, params.ifindex);
  data.store<u16>(42, params.len.mtu_result);
  if (rc !== BPF_FIB_LKUP_RET_SUCCESS) return XdpAction.PASS;
  for (let i = 0; i < 6; i++) {
    eth.dest[i] = params.dmac[i];
    eth.source[i] = params.smac[i];
  }
  return XdpAction.TX;
});
