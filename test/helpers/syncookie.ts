// SYN cookies for a listener found by bpf_skc_lookup_tcp: a SYN gets a
// cookie (bpf_tcp_gen_syncookie), an ACK has its cookie checked
// (bpf_tcp_check_syncookie). The helper's result goes into the frame at
// offset 54 (low and high 32 bits) for the test to read.
import { xdp, XdpAction, zeroed, htons, u32, bpf_skc_lookup_tcp, bpf_sk_release, bpf_tcp_gen_syncookie, bpf_tcp_check_syncookie, BPF_F_CURRENT_NETNS, BPF_TCP_LISTEN, type BpfSockTuple, type i64 } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type TcpHdr, ETH_P_IP } from "tsxdp/net";

const IPPROTO_TCP = 6;
const TCP_SYN = 0x02;

export const syncookie = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(14);
  const tcp = data.header<TcpHdr>(34);
  if (!ip || !tcp || ip.protocol !== IPPROTO_TCP || data + 62 > ctx.data_end) return XdpAction.PASS;

  const tuple = zeroed<BpfSockTuple>();
  tuple.ipv4.saddr = ip.saddr;
  tuple.ipv4.daddr = ip.daddr;
  tuple.ipv4.sport = tcp.source;
  tuple.ipv4.dport = tcp.dest;
  const sk = bpf_skc_lookup_tcp(ctx, tuple.ipv4, BPF_F_CURRENT_NETNS, 0);
  if (!sk) return XdpAction.DROP;
  if (sk.state !== BPF_TCP_LISTEN) {
    bpf_sk_release(sk);
    return XdpAction.PASS;
  }
  let r: i64 = 0;
  if ((tcp.flags & TCP_SYN) !== 0) r = bpf_tcp_gen_syncookie(sk, ip, tcp);
  else r = bpf_tcp_check_syncookie(sk, ip, tcp);
  bpf_sk_release(sk);
  data.store<u32>(54, u32(r));
  data.store<u32>(58, u32(r >> 32));
  return XdpAction.TX;
});
