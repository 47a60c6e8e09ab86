// tsxdp/net holds types and constants for the compiler; nothing here runs in Node.
export const ETH_P_IP = 0x0800, ETH_P_ARP = 0x0806, ETH_P_IPV6 = 0x86dd, ETH_P_8021Q = 0x8100, ETH_P_8021AD = 0x88a8;
export const IPPROTO_HOPOPTS = 0, IPPROTO_ICMP = 1, IPPROTO_IPIP = 4, IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43, IPPROTO_FRAGMENT = 44, IPPROTO_GRE = 47, IPPROTO_ICMPV6 = 58, IPPROTO_DSTOPTS = 60;
export const ICMP_ECHOREPLY = 0, ICMP_ECHO = 8;
export const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10;
