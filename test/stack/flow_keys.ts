// A flow table keyed by a local struct: the key is built on the stack (its
// padding zero, as the kernel hashes every byte), changed by field, passed
// to a function, then used for lookup and update.
import { xdp, XdpAction, HashMap, UpdateFlags, htons, ntohs, sizeof, u64, type be16, type be32, type u8 } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

interface Endpoint {
  addr: be32;
  port: be16;
}

interface FlowKey {
  proto: u8;
  src: Endpoint;
  dst: Endpoint;
}

interface FlowStats {
  packets: u64;
  bytes: u64;
}

const flows = new HashMap<FlowKey, FlowStats>({ maxEntries: 1024 });

/** DNS answers count against the query's flow: swap the ends so both directions share a key. */
function canonical(key: FlowKey): void {
  if (key.src.port === htons(53)) {
    const addr = key.src.addr;
    const port = key.src.port;
    key.src.addr = key.dst.addr;
    key.src.port = key.dst.port;
    key.dst.addr = addr;
    key.dst.port = port;
  }
}

export const flow_keys = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(sizeof<EthHdr>());
  if (!ip || ip.versionIhl !== 0x45 || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const udp = data.header<UdpHdr>(sizeof<EthHdr>() + sizeof<Ipv4Hdr>());
  if (!udp) return XdpAction.PASS;

  const key: FlowKey = { proto: ip.protocol, src: { addr: ip.saddr, port: udp.source }, dst: { addr: ip.daddr, port: udp.dest } };
  canonical(key);
  const stats = flows.lookup(key);
  if (stats) {
    stats.value.packets += 1;
    stats.value.bytes += u64(ntohs(ip.totLen));
    return XdpAction.PASS;
  }
  const fresh: FlowStats = { packets: 1, bytes: u64(ntohs(ip.totLen)) };
  flows.update(key, fresh, UpdateFlags.NOEXIST);
  return XdpAction.PASS;
});
