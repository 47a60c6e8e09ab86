/**
 * tsxdp/net's RFC 1624 checksum updates, in the kernel: a program rewrites
 * IPv4 destinations, TTLs and UDP ports and fixes the IPv4 and UDP
 * checksums incrementally; every output is compared with the same rewrite
 * done by the test with checksums computed from scratch.
 */
import { describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { loadObject } from "../compiler/loader/index";
import { skipKernel } from "./support/kernel";
import * as P from "./support/packets";

const source = `
import { xdp, XdpAction, htonl, htons, sizeof, type be16, type be32 } from "tsxdp";
import { csumReplace16, csumReplace32, type EthHdr, type Ipv4Hdr, type UdpHdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

const NEW_DADDR = 0xc0000207; // 192.0.2.7
const NEW_PORT = 8053;

export const rewrite = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(sizeof<EthHdr>());
  if (!ip || ip.versionIhl !== 0x45 || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const udp = data.header<UdpHdr>(sizeof<EthHdr>() + sizeof<Ipv4Hdr>());
  if (!udp) return XdpAction.PASS;

  const oldDaddr: be32 = ip.daddr;
  ip.daddr = htonl(NEW_DADDR);
  ip.check = csumReplace32(ip.check, oldDaddr, ip.daddr);
  // TTL shares a 16-bit word with the protocol.
  const oldWord: be16 = data.load<be16>(14 + 8);
  ip.ttl -= 1;
  ip.check = csumReplace16(ip.check, oldWord, data.load<be16>(14 + 8));

  // The UDP checksum covers the destination address (pseudo-header) and port; 0 means "none".
  if (udp.check !== 0) {
    udp.check = csumReplace32(udp.check, oldDaddr, ip.daddr);
    udp.check = csumReplace16(udp.check, udp.dest, htons(NEW_PORT));
  }
  udp.dest = htons(NEW_PORT);
  return XdpAction.TX;
});
`;

function udpChecksum(frame: Uint8Array): number {
  const ip = frame.slice(14, 34);
  const udp = frame.slice(34);
  const pseudo = [...ip.slice(12, 20), 0, 17, udp.length >> 8, udp.length & 0xff];
  const sum = P.checksum([...pseudo, ...udp]);
  return sum === 0 ? 0xffff : sum;
}

function withUdpChecksum(frame: Uint8Array): Uint8Array {
  const f = frame.slice();
  f[40] = 0;
  f[41] = 0;
  const sum = udpChecksum(f);
  f[40] = sum >> 8;
  f[41] = sum & 0xff;
  return f;
}

/** The rewrite done independently, checksums recomputed over the whole headers. */
function expected(frame: Uint8Array): Uint8Array {
  const f = frame.slice();
  f.set([192, 0, 2, 7], 30);
  f[22] = (f[22]! - 1) & 0xff;
  const hadUdpSum = frame[40] !== 0 || frame[41] !== 0;
  f[36] = 8053 >> 8;
  f[37] = 8053 & 0xff;
  f[24] = 0;
  f[25] = 0;
  const ipSum = P.checksum(f.slice(14, 34));
  f[24] = ipSum >> 8;
  f[25] = ipSum & 0xff;
  return hadUdpSum ? withUdpChecksum(f) : f;
}

describe.skipIf(skipKernel)("csumReplace16/32 keep IPv4 and UDP checksums right", () => {
  test("300 frames with random addresses, TTLs and ports", () => {
    const r = compile({ source, fileName: "rewrite.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const obj = loadObject(r.object!);
    try {
      const next = P.rng(0xc5c5);
      for (let i = 0; i < 300; i++) {
        const src = [next() & 0xff, next() & 0xff, next() & 0xff, next() & 0xff];
        const dst = [next() & 0xff, next() & 0xff, next() & 0xff, next() & 0xff];
        const payload = Uint8Array.from({ length: next() % 40 }, () => next() & 0xff);
        let frame = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src, dst, ttl: 1 + (next() % 255) }, P.udp(next() & 0xffff, next() & 0xffff, payload)));
        if (i % 3 !== 0) frame = withUdpChecksum(frame);
        const out = obj.program("rewrite").testRun({ data: frame });
        expect(out.action).toBe("TX");
        expect(Buffer.from(out.data).toString("hex"), `frame ${i}`).toBe(Buffer.from(expected(frame)).toString("hex"));
      }
    } finally {
      obj.close();
    }
  });
});
