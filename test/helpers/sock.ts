// Socket lookups from the packet's own addresses and ports: a found
// socket's state, family, protocol and local port go into the frame at
// offset 54 for the test to read (PASS), nothing found is DROP.
// `lookup_skc` uses bpf_skc_lookup_tcp, whose socket has no protocol.
import { xdp, XdpAction, zeroed, u32, type be32, bpf_sk_lookup_tcp, bpf_sk_lookup_udp, bpf_skc_lookup_tcp, bpf_sk_release, BPF_F_CURRENT_NETNS, type BpfSockTuple } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type Ipv6Hdr, type UdpHdr, ETH_P_IP, ETH_P_IPV6 } from "tsxdp/net";
import { htons } from "tsxdp";

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export const lookup = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(14);
  const ports = data.header<UdpHdr>(34);
  if (!ip || !ports || data + 70 > ctx.data_end) return XdpAction.PASS;

  const tuple = zeroed<BpfSockTuple>();
  tuple.ipv4.saddr = ip.saddr;
  tuple.ipv4.daddr = ip.daddr;
  tuple.ipv4.sport = ports.source;
  tuple.ipv4.dport = ports.dest;
  if (ip.protocol === IPPROTO_TCP) {
    const sk = bpf_sk_lookup_tcp(ctx, tuple.ipv4, BPF_F_CURRENT_NETNS, 0);
    if (!sk) return XdpAction.DROP;
    data.store<u32>(54, sk.state);
    data.store<u32>(58, sk.family);
    data.store<u32>(62, sk.protocol);
    data.store<u32>(66, sk.src_port);
    bpf_sk_release(sk);
    return XdpAction.PASS;
  }
  if (ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const sk = bpf_sk_lookup_udp(ctx, tuple.ipv4, BPF_F_CURRENT_NETNS, 0);
  if (!sk) return XdpAction.DROP;
  data.store<u32>(54, sk.state);
  data.store<u32>(58, sk.family);
  data.store<u32>(62, sk.protocol);
  data.store<u32>(66, sk.src_port);
  bpf_sk_release(sk);
  return XdpAction.PASS;
});

export const lookup_skc = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(14);
  const ports = data.header<UdpHdr>(34);
  if (!ip || !ports || data + 70 > ctx.data_end) return XdpAction.PASS;

  const tuple = zeroed<BpfSockTuple>();
  tuple.ipv4.saddr = ip.saddr;
  tuple.ipv4.daddr = ip.daddr;
  tuple.ipv4.sport = ports.source;
  tuple.ipv4.dport = ports.dest;
  if (ip.protocol !== IPPROTO_TCP) return XdpAction.PASS;
  const skc = bpf_skc_lookup_tcp(ctx, tuple.ipv4, BPF_F_CURRENT_NETNS, 0);
  if (!skc) return XdpAction.DROP;
  data.store<u32>(54, skc.state);
  data.store<u32>(58, skc.family);
  data.store<u32>(62, 0);
  data.store<u32>(66, skc.src_port);
  bpf_sk_release(skc);
  return XdpAction.PASS;
});

// The same over IPv6, with `tuple.ipv6` (36 bytes: the kernel reads an IPv6
// tuple); the answer goes at offset 74, after a 20-byte TCP header.
export const lookup6 = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IPV6)) return XdpAction.PASS;
  const ip6 = data.header<Ipv6Hdr>(14);
  const ports = data.header<UdpHdr>(54);
  if (!ip6 || !ports || data + 90 > ctx.data_end) return XdpAction.PASS;

  const tuple = zeroed<BpfSockTuple>();
  for (let i = 0; i < 4; i++) {
    tuple.ipv6.saddr[i] = data.load<be32>(22 + 4 * i);
    tuple.ipv6.daddr[i] = data.load<be32>(38 + 4 * i);
  }
  tuple.ipv6.sport = ports.source;
  tuple.ipv6.dport = ports.dest;
  if (ip6.nexthdr === IPPROTO_TCP) {
    const sk = bpf_sk_lookup_tcp(ctx, tuple.ipv6, BPF_F_CURRENT_NETNS, 0);
    if (!sk) return XdpAction.DROP;
    data.store<u32>(74, sk.state);
    data.store<u32>(78, sk.family);
    data.store<u32>(82, sk.protocol);
    data.store<u32>(86, sk.src_port);
    bpf_sk_release(sk);
    return XdpAction.PASS;
  }
  if (ip6.nexthdr !== IPPROTO_UDP) return XdpAction.PASS;
  const sk = bpf_sk_lookup_udp(ctx, tuple.ipv6, BPF_F_CURRENT_NETNS, 0);
  if (!sk) return XdpAction.DROP;
  data.store<u32>(74, sk.state);
  data.store<u32>(78, sk.family);
  data.store<u32>(82, sk.protocol);
  data.store<u32>(86, sk.src_port);
  bpf_sk_release(sk);
  return XdpAction.PASS;
});
