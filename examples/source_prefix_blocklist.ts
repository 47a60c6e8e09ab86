// Drops IPv4 packets whose source lies in a blocked prefix, counting hits
// per prefix. Userspace fills the trie (prefix length and address, e.g.
// 10.1.0.0/16) and reads the counters back; the longest matching prefix
// wins, so a /24 inside a blocked /8 counts on its own.
import { xdp, XdpAction, LpmTrie, atomicAdd, htons, sizeof, type be32, type u32, type u64 } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, ETH_P_IP } from "tsxdp/net";

interface V4Prefix {
  prefixlen: u32;
  addr: be32;
}

/** Blocked prefixes → packets dropped because of them. */
const blocked = new LpmTrie<V4Prefix, u64>({ maxEntries: 1024 });

export const source_prefix_blocklist = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(sizeof<EthHdr>());
  if (!ip) return XdpAction.PASS;
  const hits = blocked.lookup({ prefixlen: 32, addr: ip.saddr });
  if (!hits) return XdpAction.PASS;
  atomicAdd(hits, 1);
  return XdpAction.DROP;
});
