/**
 * SYN cookies with no listener (bpf_tcp_raw_gen_syncookie_ipv4/6,
 * bpf_tcp_raw_check_syncookie_ipv4/6): test/helpers/raw_syncookie.ts and its
 * clang-14 twin test/helpers/raw_syncookie.c run under BPF_PROG_TEST_RUN on
 * SYNs and ACKs built here. The same SYN gets the same cookie (within the
 * minute the cookie encodes) and the same MSS from both; the ACK of either's
 * cookie checks as valid (0) in both, a wrong one as -EACCES; a TCP header
 * shorter than 20 bytes gets -EINVAL. The negative fixture
 * syncookie_raw_length.ts, written in C, is refused by the kernel;
 * syncookie_raw_length_range.ts, in C, loads and fails every call; a
 * length without a bound is refused by both.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { LoadError, type LoadedObject, loadObject } from "../compiler/loader/index";
import { helperCalls } from "./support/helper-calls";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import * as P from "./support/packets";

const EINVAL = 22;
const EACCES = 13;
/** The MSS option, 1460. */
const MSS_1460 = [2, 4, 0x05, 0xb4];

const v6 = (last: number) => [0xfd, ...new Array<number>(14).fill(0), last];

/** A segment from port `sport`, sequence `seq`, acknowledging `ack`; zeros after it for the program's answer. */
function frame(family: 4 | 6, o: { flags: number; seq: number; ack?: number; sport?: number; options?: number[] }): Uint8Array {
  const tcp = P.tcpSegment({ sport: o.sport ?? 40000, dport: 80, flags: o.flags, options: o.options });
  const view = new DataView(tcp.buffer, tcp.byteOffset);
  view.setUint32(4, o.seq);
  view.setUint32(8, o.ack ?? 0);
  const l3 =
    family === 4
      ? P.ipv4({ protocol: P.IPPROTO_TCP, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] }, tcp)
      : P.ipv6({ nextHeader: P.IPPROTO_TCP, src: v6(1), dst: v6(2) }, tcp);
  return P.padTo(P.ethernet({ proto: family === 4 ? P.ETH_P_IP : P.ETH_P_IPV6, dst: P.macB, src: P.macA }, l3), 128);
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`raw SYN cookie helpers against a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  const objects: { name: string; obj: LoadedObject; bytes: Uint8Array }[] = [];

  beforeAll(() => {
    if (unavailable) throw new Error(`raw SYN cookie tests cannot run in CI: ${unavailable}`);
    const r = compile({ file: "test/helpers/raw_syncookie.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    const c = compileC(fs.readFileSync("test/helpers/raw_syncookie.c", "utf8"));
    objects.push({ name: "TypeScript", obj: loadObject(r.object!), bytes: r.object! });
    objects.push({ name: "C twin", obj: loadObject(c), bytes: c });
  });
  afterAll(() => {
    for (const o of objects) o.obj.close();
  });

  /** The helper's result, as the program wrote it 60 bytes past the TCP header. */
  const run = (obj: LoadedObject, family: 4 | 6, f: Uint8Array): bigint => {
    const r = obj.program("raw_syncookie").testRun({ data: f });
    expect(r.action).toBe("TX");
    return Buffer.from(r.data).readBigInt64LE(family === 4 ? 94 : 114);
  };

  /** The cookies of the same SYN from each program, taken again if the minute changed between them. */
  const cookies = (family: 4 | 6, syn: Uint8Array): bigint[] => {
    for (let attempt = 0; ; attempt++) {
      const first = run(objects[0]!.obj, family, syn);
      const all = objects.map((o) => run(o.obj, family, syn));
      if (all.every((c) => c === first) || attempt === 2) return [first, ...all];
    }
  };

  test("the programs call helpers 204 to 207, as clang's twin does", () => {
    const calls = (object: Uint8Array) => helperCalls(object).sort((a, b) => a - b);
    expect(calls(objects[0]!.bytes)).toEqual([204, 205, 206, 207]);
    expect(calls(objects[0]!.bytes)).toEqual(calls(objects[1]!.bytes));
  });

  test.each([
    [4, MSS_1460, 1460],
    [4, undefined, 536],
    [6, MSS_1460, 1440],
    [6, undefined, 1220],
  ] as const)("IPv%i: a SYN (MSS option %j) gets the same cookie from both, encoding MSS %i", (family, options, mss) => {
    const values = cookies(family, frame(family, { flags: 0x02, seq: 1000, options: options ? [...options] : undefined }));
    expect(new Set(values).size).toBe(1);
    const value = values[0]!;
    expect(value).toBeGreaterThanOrEqual(0n);
    // The MSS the cookie encodes in the next 16 bits, the top 16 unused.
    expect(Number((value >> 32n) & 0xffffn)).toBe(mss);
    expect(value >> 48n).toBe(0n);
  });

  test("the cookie depends on the SYN: another sequence or port gives another", () => {
    const [a] = cookies(4, frame(4, { flags: 0x02, seq: 1000 }));
    const [b] = cookies(4, frame(4, { flags: 0x02, seq: 1001 }));
    const [c] = cookies(4, frame(4, { flags: 0x02, seq: 1000, sport: 40001 }));
    expect(new Set([a, b, c]).size).toBe(3);
  });

  test.each([4, 6] as const)("IPv%i: the ACK of either's cookie checks as valid (0) in both; a wrong cookie or port is -EACCES", (family) => {
    for (const maker of objects) {
      const syn = frame(family, { flags: 0x02, seq: 5000, options: MSS_1460 });
      const cookie = Number(run(maker.obj, family, syn) & 0xffffffffn);
      const ack = (value: number, sport?: number) => frame(family, { flags: 0x10, seq: 5001, ack: (value + 1) >>> 0, sport });
      for (const checker of objects) {
        expect(run(checker.obj, family, ack(cookie)), `${maker.name}'s cookie checked by ${checker.name}`).toBe(0n);
        // The top 8 bits are the cookie's minute: another one is out of date.
        expect(run(checker.obj, family, ack((cookie ^ 0x5a000000) >>> 0))).toBe(BigInt(-EACCES));
        expect(run(checker.obj, family, ack(cookie, 40001))).toBe(BigInt(-EACCES));
      }
    }
  });

  test.each([4, 6] as const)("IPv%i: a TCP header shorter than 20 bytes (doff 4) is -EINVAL in both", (family) => {
    const syn = frame(family, { flags: 0x02, seq: 1000 });
    syn[(family === 4 ? 34 : 54) + 12] = 0x40;
    for (const o of objects) expect(run(o.obj, family, syn), o.name).toBe(BigInt(-EINVAL));
  });

  test("syncookie_raw_length_range: a constant length out of 20..60 is TSX2010 here; in C the kernel answers -EINVAL to every SYN", () => {
    const r = compile({ file: "test/fixtures/negative/syncookie_raw_length_range.ts" });
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX2010"]);
    const c = `#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  if (data + 102 > (void *)(long)ctx->data_end) return XDP_PASS;
  *(__s64 *)(data + 94) = bpf_tcp_raw_gen_syncookie_ipv4(data + 14, data + 34, 16);
  return XDP_TX;
}
char _license[] SEC("license") = "GPL";
`;
    const obj = loadObject(compileC(c));
    try {
      for (const options of [undefined, MSS_1460]) {
        const out = obj.program("prog").testRun({ data: frame(4, { flags: 0x02, seq: 1000, options }) });
        expect(Buffer.from(out.data).readBigInt64LE(94)).toBe(BigInt(-EINVAL));
      }
    } finally {
      obj.close();
    }
  });

  test("a length the compiler cannot bound is TSX5005 here, and refused by the kernel in C", () => {
    const source = `
import { xdp, XdpAction, ntohl, bpf_tcp_raw_gen_syncookie_ipv4 } from "tsxdp";
import { type Ipv4Hdr, type TcpHdr } from "tsxdp/net";
export const prog = xdp((ctx) => {
  const ip = ctx.data.header<Ipv4Hdr>(14);
  const th = ctx.data.header<TcpHdr>(34);
  if (!ip || !th || ctx.data + 94 > ctx.data_end) return XdpAction.PASS;
  return bpf_tcp_raw_gen_syncookie_ipv4(ip, th, ntohl(th.seq)) < 0 ? XdpAction.DROP : XdpAction.PASS;
});
`;
    const r = compile({ source, fileName: "unbounded.ts" });
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX5005"]);
    const c = `#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
SEC("xdp") int prog(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  struct tcphdr *th = data + 34;
  if (data + 94 > (void *)(long)ctx->data_end) return XDP_PASS;
  return bpf_tcp_raw_gen_syncookie_ipv4(data + 14, th, bpf_ntohl(th->seq)) < 0 ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`;
    let error: unknown;
    try {
      loadObject(compileC(c)).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect(String((error as LoadError).message) + JSON.stringify(error)).toMatch(/R3 unbounded memory access/);
  });

  test("syncookie_raw_length: a length that may pass the proven bytes is TSX5001 here and refused by the kernel in C", () => {
    const r = compile({ file: "test/fixtures/negative/syncookie_raw_length.ts" });
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX5001"]);
    const c = `#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  struct tcphdr *th = data + 34;
  if (data + 54 > (void *)(long)ctx->data_end) return XDP_PASS;
  return bpf_tcp_raw_gen_syncookie_ipv4(data + 14, th, th->doff * 4) < 0 ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`;
    let error: unknown;
    try {
      loadObject(compileC(c)).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect(String((error as LoadError).message) + JSON.stringify(error)).toMatch(/invalid access to packet/);
  });
});
