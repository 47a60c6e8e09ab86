// SYN cookies with no listener, as an XDP SYN proxy makes them: a SYN gets a
// cookie (bpf_tcp_raw_gen_syncookie_ipv4/6, the TCP header's length from its
// doff), an ACK has its cookie checked (bpf_tcp_raw_check_syncookie_ipv4/6).
// The result goes 60 bytes past the TCP header, as far as the longest reaches.
import { xdp, XdpAction, htons, u32, bpf_tcp_raw_gen_syncookie_ipv4, bpf_tcp_raw_gen_syncookie_ipv6, bpf_tcp_raw_check_syncookie_ipv4, bpf_tcp_raw_check_syncookie_ipv6, type i64 } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type Ipv6Hdr, type TcpHdr, ETH_P_IP, ETH_P_IPV6 } from "tsxdp/net";

const TCP_SYN = 0x02;

export const raw_syncookie = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth) return XdpAction.PASS;
  let r: i64 = 0;
  if (eth.proto === htons(ETH_P_IP)) {
    const ip = data.header<Ipv4Hdr>(14);
    const th = data.header<TcpHdr>(34);
    if (!ip || !th || data + 102 > ctx.data_end) return XdpAction.PASS;
    if ((th.flags & TCP_SYN) !== 0) r = bpf_tcp_raw_gen_syncookie_ipv4(ip, th, u32(th.doff >> 4) * 4);
    else r = bpf_tcp_raw_check_syncookie_ipv4(ip, th);
    data.store<u32>(94, u32(r));
    data.store<u32>(98, u32(r >> 32));
    return XdpAction.TX;
  }
  if (eth.proto === htons(ETH_P_IPV6)) {
    const ip = data.header<Ipv6Hdr>(14);
    const th = data.header<TcpHdr>(54);
    if (!ip || !th || data + 122 > ctx.data_end) return XdpAction.PASS;
    if ((th.flags & TCP_SYN) !== 0) r = bpf_tcp_raw_gen_syncookie_ipv6(ip, th, u32(th.doff >> 4) * 4);
    else r = bpf_tcp_raw_check_syncookie_ipv6(ip, th);
    data.store<u32>(114, u32(r));
    data.store<u32>(118, u32(r >> 32));
    return XdpAction.TX;
  }
  return XdpAction.PASS;
});
