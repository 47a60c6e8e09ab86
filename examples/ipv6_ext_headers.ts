// Drops UDP datagrams to port 9 (discard) over IPv6, wherever the UDP header
// starts: the extension headers in front of it (hop-by-hop options 0,
// routing 43, fragment 44, destination options 60) are walked in a counted
// loop of at most 6 steps, each moving the pointer by the header's length,
// checked against data_end again, as the kernel verifier requires. Fragments
// other than the first carry no UDP header and pass. Malformed, cut or
// longer chains pass too, as does everything that is not IPv6.
import { xdp, XdpAction, htons, u32, type be16, type u8 } from "tsxdp";

const ETH_P_IPV6 = 0x86dd;
const NEXTHDR_HOP = 0;
const NEXTHDR_ROUTING = 43;
const NEXTHDR_FRAGMENT = 44;
const NEXTHDR_DEST = 60;
const IPPROTO_UDP = 17;
const DROPPED_PORT = 9;
const MAX_EXT_HEADERS = 6;

function isExtensionHeader(next: u8): boolean {
  return next === NEXTHDR_HOP || next === NEXTHDR_ROUTING || next === NEXTHDR_FRAGMENT || next === NEXTHDR_DEST;
}

export const ipv6_ext_headers = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 + 40 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(ETH_P_IPV6)) return XdpAction.PASS;

  let next = data.load<u8>(14 + 6);
  let hdr = data.add(14 + 40);
  for (let i = 0; i < MAX_EXT_HEADERS; i++) {
    if (!isExtensionHeader(next)) break;
    // Every extension header starts with its next-header byte; all but the fragment header give their length in byte 1.
    if (hdr + 8 > data_end) return XdpAction.PASS;
    let len: u32 = 8;
    if (next === NEXTHDR_FRAGMENT) {
      // The fragment offset (13 bits, in 8-byte units) sits above 3 flag bits.
      if ((hdr.load<be16>(2) & htons(0xfff8)) !== htons(0)) return XdpAction.PASS;
    } else {
      len = (u32(hdr.load<u8>(1)) + 1) * 8;
    }
    next = hdr.load<u8>(0);
    hdr = hdr.add(len);
  }
  // A chain still going after MAX_EXT_HEADERS headers ends here too: its next is no UDP.
  if (next !== IPPROTO_UDP) return XdpAction.PASS;
  if (hdr + 8 > data_end) return XdpAction.PASS;
  return hdr.load<be16>(2) === htons(DROPPED_PORT) ? XdpAction.DROP : XdpAction.PASS;
});
