// Reports packets to userspace through a ring buffer: UDP datagrams to the
// discard port (9) are dropped and reported, with the record built in place
// in the ring (reserve, fill, submit); IPv4 packets about to expire (TTL 1
// or 0) pass and are reported with a copy (output). Read the events with the
// loader's openRingBuffer(obj.map("events")).
import { xdp, XdpAction, RingBuf, bpf_xdp_get_buff_len, htons, sizeof, u32, type be16, type be32, type u8 } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

const DISCARD_PORT = 9;
const DROPPED = 1;
const EXPIRING = 2;

interface Event {
  saddr: be32;
  /** the whole packet's length */
  len: u32;
  /** DROPPED or EXPIRING */
  kind: u8;
  protocol: u8;
  /** the UDP destination port of a dropped datagram, 0 otherwise */
  dport: be16;
}

const events = new RingBuf<Event>({ maxEntries: 4096 * 4 });

export const event_stream = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(sizeof<EthHdr>());
  if (!ip) return XdpAction.PASS;
  const len = u32(bpf_xdp_get_buff_len(ctx));
  if (ip.ttl <= 1) {
    events.output({ saddr: ip.saddr, len, kind: EXPIRING, protocol: ip.protocol, dport: htons(0) });
    return XdpAction.PASS;
  }
  if (ip.versionIhl !== 0x45 || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const udp = data.header<UdpHdr>(sizeof<EthHdr>() + sizeof<Ipv4Hdr>());
  if (!udp || udp.dest !== htons(DISCARD_PORT)) return XdpAction.PASS;
  // A full ring loses the event, never the verdict.
  const event = events.reserve();
  if (!event) return XdpAction.DROP;
  event.value.saddr = ip.saddr;
  event.value.len = len;
  event.value.kind = DROPPED;
  event.value.protocol = ip.protocol;
  event.value.dport = udp.dest;
  events.submit(event);
  return XdpAction.DROP;
});
