/**
 * `tsxdp run` as users run it (dist/cli.js in a child process): verdicts,
 * output packets in hex and decoded, --json, pcap input in every classic
 * variant, the context options, usage errors (exit 2, before anything is
 * loaded), live frames on a veth pair in a network namespace of its own, and
 * the TSX5100 report when the kernel rejects a program (exit 1).
 *
 * Kernel tests skip without root and fail under CI=true (support/kernel.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { decodePacket, hexDump, ipv6String, parseHex } from "../compiler/cli/decode";
import { PcapError, readPcap } from "../compiler/cli/pcap";
import { compile } from "../compiler/index";
import { readElf } from "../compiler/object/elf";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const cli = path.resolve("dist/cli.js");
const swap = path.resolve("examples/swap_macs_tx.ts");
const dropNonIpv4 = path.resolve("examples/drop_non_ipv4.ts");
const contextFields = path.resolve("examples/context_fields.ts");
let dir: string;

/** Runs dist/cli.js; `prefix` runs it through another command first (`ip netns exec …`). */
function tsxdp(args: string[], prefix: string[] = []) {
  const argv = [...prefix, process.execPath, cli, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const udp4 = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(1234, 53)));
const tcp6 = P.ethernet({ proto: P.ETH_P_IPV6 }, P.concat(Uint8Array.from([0x60, 0, 0, 0, 0, 20, P.IPPROTO_TCP, 64, 0xfe, 0x80, ...new Array<number>(13).fill(0), 1, 0xfe, 0x80, ...new Array<number>(13).fill(0), 2]), P.tcp(4000, 80)));
const icmpVlan = P.ethernet({ proto: P.ETH_P_IP, vlans: [[P.ETH_P_8021Q, 5]] }, P.ipv4({ protocol: P.IPPROTO_ICMP }, P.icmpEcho(7, 9)));
const arp = P.padTo(P.ethernet({ proto: P.ETH_P_ARP }, new Uint8Array(28)), 60);

/** The frame with its two MAC addresses exchanged: what swap_macs_tx returns. */
function swapped(frame: Uint8Array): Uint8Array {
  const out = Uint8Array.from(frame);
  out.set(frame.subarray(6, 12), 0);
  out.set(frame.subarray(0, 6), 6);
  return out;
}

/**
 * A classic pcap file, written here independently of the reader under test:
 * global header (magic, 2.4, zone, sigfigs, snaplen, linktype) then per
 * frame (seconds, fraction, captured length, original length, bytes).
 */
function pcapFile(frames: Uint8Array[], littleEndian: boolean, nanoseconds: boolean): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    if (littleEndian) b.writeUInt32LE(n);
    else b.writeUInt32BE(n);
    return b;
  };
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    if (littleEndian) b.writeUInt16LE(n);
    else b.writeUInt16BE(n);
    return b;
  };
  const parts = [u32(nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(65535), u32(1)];
  frames.forEach((f, i) => parts.push(u32(1_700_000_000 + i), u32(nanoseconds ? 999_999_999 : 999_999), u32(f.length), u32(f.length), Buffer.from(f)));
  return Buffer.concat(parts);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-run-"));
  fs.writeFileSync(
    path.join(dir, "two.ts"),
    ['import { xdp, XdpAction } from "tsxdp";', "export const first = xdp(() => XdpAction.PASS);", "export const second = xdp(() => XdpAction.DROP);", ""].join("\n"),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("decoder, hex and pcap reader", () => {
  test("decodes Ethernet, VLAN, IPv4 with its checksum, ICMP, IPv6, TCP, UDP", () => {
    expect(decodePacket(icmpVlan).map((l) => l.summary)).toEqual([
      "ethernet 02:00:00:00:00:0b > 02:00:00:00:00:0a, type 0x8100 (802.1Q)",
      "vlan 802.1Q id 5, pcp 0, type 0x0800 (IPv4)",
      expect.stringMatching(/^ipv4 10\.0\.0\.1 > 10\.0\.0\.2, proto 1 \(ICMP\), ttl 64, len 36, DF, checksum 0x[0-9a-f]{4}$/),
      "icmp echo request, code 0, id 7, seq 9",
      "payload 8 bytes",
    ]);
    expect(decodePacket(tcp6).map((l) => l.layer)).toEqual(["ethernet", "ipv6", "tcp"]);
    expect(decodePacket(tcp6)[1]!.summary).toContain("ipv6 fe80::1 > fe80::2");
    expect(decodePacket(tcp6)[2]!.summary).toBe("tcp 4000 > 80, flags [SYN], seq 1, ack 0, win 65535");
    expect(decodePacket(udp4)[2]!.fields).toMatchObject({ srcPort: 1234, dstPort: 53, length: 16 });
    const bad = Uint8Array.from(udp4);
    bad[14 + 8] = 1; // TTL changed without fixing the checksum
    expect(decodePacket(bad)[1]!.summary).toMatch(/\(bad\)$/);
    expect(decodePacket(P.truncate(udp4, 20)).at(-1)).toMatchObject({ layer: "truncated", summary: "ipv4 header truncated: 6 of 20 bytes" });
    expect(ipv6String(Uint8Array.from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), 0)).toBe("2001:db8::1:0:0:1");
  });

  test("xxd layout and hex input as people paste it", () => {
    expect(hexDump(Uint8Array.from(Buffer.from("Hello, world!\n\x00\x01\x02", "latin1")))).toBe(
      "00000000: 4865 6c6c 6f2c 2077 6f72 6c64 210a 0001  Hello, world!...\n00000010: 02                                       .",
    );
    expect(parseHex("0x02:00 0a-ff\n10")).toEqual(Uint8Array.from([2, 0, 0x0a, 0xff, 0x10]));
    expect(parseHex("abc")).toBeUndefined();
    expect(parseHex("zz")).toBeUndefined();
  });

  test("pcap: both byte orders, micro- and nanoseconds; pcapng and truncation refused", () => {
    for (const [le, ns] of [
      [true, false],
      [false, false],
      [true, true],
      [false, true],
    ] as const) {
      const f = readPcap(pcapFile([udp4, tcp6, arp], le, ns));
      expect(f).toMatchObject({ littleEndian: le, nanoseconds: ns, linkType: 1, version: "2.4", snapLength: 65535 });
      expect(f.records.map((r) => hex(r.data))).toEqual([hex(udp4), hex(tcp6), hex(arp)]);
      expect(f.records[1]).toMatchObject({ seconds: 1_700_000_001, fraction: ns ? 999_999_999 : 999_999, originalLength: tcp6.length });
    }
    expect(() => readPcap(Uint8Array.from([0x0a, 0x0d, 0x0d, 0x0a, ...new Array<number>(24).fill(0)]))).toThrow(/pcapng/);
    const whole = pcapFile([udp4], true, false);
    expect(() => readPcap(whole.subarray(0, whole.length - 1))).toThrow(PcapError);
  });
});

describe("tsxdp run: usage errors exit 2 before loading anything", () => {
  test.each([
    ["no packet", ["run", swap], "needs at least one packet"],
    ["bad hex", ["run", swap, "--packet", "02000000000a02000000000b08zz"], "--packet 1: '02000000000a02000000000b08zz' is not hex bytes"],
    ["a packet shorter than an Ethernet header", ["run", swap, "--packet", "0200"], "--packet 1 is 2 bytes; XDP test runs need at least 14"],
    ["unknown program", ["run", swap, "--packet", hex(udp4), "--prog", "nope"], "no program 'nope' in"],
    ["several programs without --prog", ["run", "two.ts", "--packet", hex(udp4)], "two.ts has 2 programs (first, second): choose one with --prog <name>"],
    ["unknown program: the list", ["run", contextFields, "--packet", hex(udp4), "--prog", "missing"], "(programs: stamp, meta_gate, tag_egress)"],
    ["--repeat 0", ["run", swap, "--packet", hex(udp4), "--repeat", "0"], "--repeat: '0' is not an integer"],
    ["--meta not a multiple of 4", ["run", swap, "--packet", hex(udp4), "--meta", "010203"], "--meta: 3 bytes"],
    ["--rx-queue without a device", ["run", swap, "--packet", hex(udp4), "--rx-queue", "1"], "--rx-queue needs --ingress-ifindex"],
    ["--live without a device", ["run", swap, "--packet", hex(udp4), "--live"], "--live needs --ingress-ifindex"],
    ["unknown device", ["run", swap, "--packet", hex(udp4), "--ingress-ifindex", "nosuchdev0"], "no network device named 'nosuchdev0'"],
    ["--log-level 3", ["run", swap, "--packet", hex(udp4), "--log-level", "3"], "--log-level: '3'"],
    ["unreadable pcap", ["run", swap, "--pcap", "missing.pcap"], "cannot read missing.pcap: ENOENT"],
    ["two inputs", ["run", "two.ts", "a.o", "--packet", hex(udp4)], "takes one input file"],
  ] as [string, string[], string][])("%s", (_label, args, message) => {
    const r = tsxdp(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test("a file that is not an object, and a pcap that is not Ethernet", () => {
    fs.writeFileSync(path.join(dir, "junk.o"), "not an elf file at all, clearly");
    expect(tsxdp(["run", "junk.o", "--packet", hex(udp4)]).stderr).toContain("junk.o is not a BPF object");
    const raw = pcapFile([udp4], true, false);
    raw.writeUInt32LE(101, 20); // LINKTYPE_RAW
    fs.writeFileSync(path.join(dir, "raw.pcap"), raw);
    const r = tsxdp(["run", swap, "--pcap", "raw.pcap"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("link type 101 is not Ethernet");
  });

  test("a program with compile errors: exit 1 and its diagnostics", () => {
    fs.writeFileSync(path.join(dir, "bad.ts"), ['import { xdp, XdpAction, type u8 } from "tsxdp";', "export const bad = xdp((ctx) => (ctx.data.load<u8>(20) === 1 ? XdpAction.DROP : XdpAction.PASS));", ""].join("\n"));
    const r = tsxdp(["run", "bad.ts", "--packet", hex(udp4)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error TSX5001");
  });

  test("--help documents live frames", () => {
    const r = tsxdp(["run", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("XDP_TX and XDP_REDIRECT");
    expect(r.stdout).toContain("really transmit");
    expect(r.stdout).toContain("not returned");
    expect(tsxdp(["--help"]).stdout).toContain("tsxdp run <file.o|file.ts>");
  });
});

describe.skipIf(skipKernel)("tsxdp run in the kernel", () => {
  test("swap_macs_tx: XDP_TX, every output in hex with its headers, marked as changed", () => {
    const r = tsxdp(["run", swap, "--packet", hex(udp4), "--packet", hex(tcp6), "--packet", hex(icmpVlan)]);
    expect(r.code, r.stderr).toBe(0);
    const blocks = r.stdout.split("\n\n");
    expect(blocks[0]).toBe(`swap_macs_tx in ${swap}: 3 packets, repeat 1`);
    blocks.slice(1).forEach((block, i) => {
      const input = [udp4, tcp6, icmpVlan][i]!;
      expect(block).toMatch(new RegExp(`^packet ${i + 1} \\(--packet ${i + 1}, ${input.length} bytes\\): XDP_TX, \\d+ ns\\n`));
      expect(block).toContain(`output, ${input.length} bytes, CHANGED, 2 bytes differ from the input:\n${hexDump(swapped(input))}\n`);
      expect(block).toContain("  ethernet 02:00:00:00:00:0a > 02:00:00:00:00:0b");
    });
    expect(blocks[1]).toContain("  udp 1234 > 53, len 16");
    expect(blocks[2]).toContain("  tcp 4000 > 80, flags [SYN]");
    expect(blocks[3]).toContain("  vlan 802.1Q id 5");
  });

  test("drop_non_ipv4: a verdict per packet, outputs unchanged", () => {
    const r = tsxdp(["run", dropNonIpv4, "--packet", hex(udp4), "--packet", hex(tcp6), "--packet", hex(icmpVlan), "--packet", hex(arp)]);
    expect(r.code, r.stderr).toBe(0);
    expect([...r.stdout.matchAll(/^packet \d+ .*: (XDP_\w+), \d+ ns$/gm)].map((m) => m[1])).toEqual(["XDP_PASS", "XDP_DROP", "XDP_PASS", "XDP_DROP"]);
    expect(r.stdout.match(/, unchanged:$/gm)).toHaveLength(4);
  });

  test("--json: one entry per packet, hex strings, decoded headers; --repeat gives the mean", () => {
    // The kernel runs the program --repeat times on the same buffer: an odd count leaves the MACs swapped.
    const r = tsxdp(["run", swap, "--packet", hex(udp4), "--packet", hex(arp), "--json", "--repeat", "51"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(out).toHaveLength(2);
    expect(out[0]).toEqual({
      index: 1,
      source: "--packet 1",
      action: "TX",
      retval: 3,
      durationNs: expect.any(Number),
      input: hex(udp4),
      output: hex(swapped(udp4)),
      changed: true,
      decoded: expect.arrayContaining([expect.objectContaining({ layer: "udp", fields: expect.objectContaining({ dstPort: 53 }) })]),
    });
    expect(out[1]).toMatchObject({ index: 2, action: "TX", output: hex(swapped(arp)), decoded: [{ layer: "ethernet" }, { layer: "arp" }, { layer: "payload" }] });
  });

  test.each([
    ["little-endian, microseconds", true, false],
    ["big-endian, microseconds", false, false],
    ["little-endian, nanoseconds", true, true],
    ["big-endian, nanoseconds", false, true],
  ])("--pcap, %s: three frames", (_name, le, ns) => {
    const file = `frames-${le ? "le" : "be"}-${ns ? "ns" : "us"}.pcap`;
    fs.writeFileSync(path.join(dir, file), pcapFile([udp4, tcp6, icmpVlan], le, ns));
    const r = tsxdp(["run", dropNonIpv4, "--pcap", file, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { index: number; source: string; action: string; input: string }[];
    expect(out.map((o) => [o.index, o.source, o.action, o.input])).toEqual([
      [1, `${file} frame 1`, "PASS", hex(udp4)],
      [2, `${file} frame 2`, "DROP", hex(tcp6)],
      [3, `${file} frame 3`, "PASS", hex(icmpVlan)],
    ]);
  });

  test("the context: --ingress-ifindex (by name), --rx-queue, --meta", () => {
    // stamp writes ingress_ifindex, rx_queue_index and whether metadata exists into the frame.
    const r = tsxdp(["run", contextFields, "--prog", "stamp", "--ingress-ifindex", "lo", "--rx-queue", "0", "--meta", "01020304", "--packet", hex(udp4), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const [out] = JSON.parse(r.stdout) as { action: string; output: string; meta: { input: string; output: string } }[];
    expect(out!.action).toBe("PASS");
    expect(out!.output.slice(0, 24)).toBe("000000010000000000000004");
    expect(out!.meta).toEqual({ input: "01020304", output: "01020304" });
    // meta_gate reads a host-order u32 from the metadata: 1 drops.
    const gate = (meta: string) => (JSON.parse(tsxdp(["run", contextFields, "--prog", "meta_gate", "--meta", meta, "--packet", hex(udp4), "--json"]).stdout) as { action: string }[])[0]!.action;
    expect(gate(hex(new Uint8Array(new Uint32Array([1]).buffer)))).toBe("DROP");
    expect(gate("00000000")).toBe("PASS");
    const q = tsxdp(["run", contextFields, "--prog", "stamp", "--ingress-ifindex", "lo", "--rx-queue", "4096", "--packet", hex(udp4)]);
    expect(q.code).toBe(2);
    expect(q.stderr).toContain("--rx-queue 4096: lo has");
  });

  test("--log-level 1 and 2 print the verifier log of a successful load on stderr", () => {
    for (const level of ["1", "2"]) {
      const r = tsxdp(["run", dropNonIpv4, "--packet", hex(udp4), "--log-level", level]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`verifier log of 'drop_non_ipv4' (level ${level}):`);
      expect(r.stderr).toMatch(/^processed \d+ insns/m);
      // Level 1 keeps only the path that fails (pop_stack() rewinds the log), so a success leaves just the statistics.
      if (level === "2") expect(r.stderr).toContain("@ drop_non_ipv4.ts:12");
    }
    expect(tsxdp(["run", dropNonIpv4, "--packet", hex(udp4)]).stderr).toBe("");
  });

  test("metadata the program makes with bpf_xdp_adjust_meta is told apart from the packet (ctx_out)", () => {
    fs.writeFileSync(
      path.join(dir, "grow_meta.ts"),
      [
        'import { xdp, XdpAction, bpf_xdp_adjust_meta, htonl, type be32 } from "tsxdp";',
        "export const grow_meta = xdp((ctx) => {",
        "  if (bpf_xdp_adjust_meta(ctx, -4) !== 0) return XdpAction.ABORTED;",
        "  const meta = ctx.data_meta;",
        "  if (meta + 4 > ctx.data) return XdpAction.ABORTED;",
        "  meta.store<be32>(0, htonl(0x11223344));",
        "  return XdpAction.PASS;",
        "});",
        "",
      ].join("\n"),
    );
    const plain = tsxdp(["run", "grow_meta.ts", "--packet", hex(udp4), "--json"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout)[0]).toMatchObject({ action: "PASS", output: hex(udp4), changed: true, meta: { input: "", output: "11223344" } });
    const withMeta = tsxdp(["run", "grow_meta.ts", "--packet", hex(udp4), "--meta", "aabbccdd"]);
    expect(withMeta.code, withMeta.stderr).toBe(0);
    expect(withMeta.stdout).toContain("metadata: 11223344aabbccdd (was aabbccdd)");
  });

  test("an object file with several programs runs the one --prog names", () => {
    const o = compile({ file: contextFields });
    fs.writeFileSync(path.join(dir, "ctx.o"), o.object!);
    const r = tsxdp(["run", "ctx.o", "--prog", "meta_gate", "--packet", hex(udp4)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^packet 1 .*: XDP_PASS/m);
  });

  describe("the kernel rejects a program: TSX5100 against the TypeScript source, exit 1", () => {
    /**
     * tsxdp refuses whatever the verifier would, so a rejected object is made
     * by hand: drop_non_ipv4 compiled normally, then its one 16-bit packet
     * load from offset 12 (the EtherType, which `data + 14 > data_end`
     * proves) patched to read offset 14, past what the check proves. The
     * rest, including the BTF line info pointing at drop_non_ipv4.ts:12, is
     * the compiler's own. Opcode 0x69 is BPF_LDX|BPF_MEM|BPF_H; the signed
     * 16-bit offset is at byte 2 of the instruction.
     */
    function rejectedObject(): string {
      const bytes = Uint8Array.from(compile({ file: dropNonIpv4 }).object!);
      const xdpSection = readElf(bytes).section("xdp")!;
      const view = new DataView(bytes.buffer);
      const loads: number[] = [];
      for (let o = xdpSection.offset; o < xdpSection.offset + xdpSection.size; o += 8) {
        if (bytes[o] === 0x69 && view.getInt16(o + 2, true) === 12) loads.push(o);
      }
      expect(loads, "drop_non_ipv4 should load its EtherType with one ldxh at offset 12").toHaveLength(1);
      view.setInt16(loads[0]! + 2, 14, true);
      const file = path.join(dir, "rejected.o");
      fs.writeFileSync(file, bytes);
      return file;
    }

    test.each([["0"], ["1"], ["2"]])("--log-level %s", (level) => {
      const r = tsxdp(["run", rejectedObject(), "--packet", hex(udp4), "--log-level", level]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`${dropNonIpv4}:12:15 - error TSX5100: the kernel verifier rejected program 'drop_non_ipv4': invalid access to packet, off=14 size=2`);
      expect(r.stderr).toMatch(/^12 {3}let proto = data\.load<be16>\(12\);$/m);
      expect(r.stderr).toContain("failing instruction 6: (69) r3 = *(u16 *)(r1 +14)");
      expect(r.stderr).toMatch(/verifier log \(last \d+ lines\):\n/);
      expect(r.stderr).toContain("    ; let proto = data.load<be16>(12); @ drop_non_ipv4.ts:12");
      expect(r.stdout).toBe("");
    });

    test("--json", () => {
      const r = tsxdp(["run", rejectedObject(), "--packet", hex(udp4), "--json"]);
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as { ok: boolean; rejection: Record<string, unknown>; diagnostics: { code: string; line: number }[] };
      expect(out.ok).toBe(false);
      expect(out.rejection).toMatchObject({ program: "drop_non_ipv4", file: dropNonIpv4, line: 12, column: 15, sourceLine: "  let proto = data.load<be16>(12);", message: expect.stringContaining("invalid access to packet") });
      expect(out.diagnostics[0]).toMatchObject({ code: "TSX5100", line: 12, column: 15 });
    });

    const clang = which("clang-14");
    test.skipIf(clang === undefined && !inCI)("a C object whose #line names a .ts file maps the same way (clang-14 -g)", () => {
      const c = path.join(dir, "fake.c");
      fs.writeFileSync(
        c,
        [
          '#include "common.h"',
          '#line 10 "fake.ts"',
          'SEC("xdp") int fake(struct xdp_md *ctx)',
          "{",
          "  unsigned char *data = (unsigned char *)(long)ctx->data;",
          "  unsigned char *end = (unsigned char *)(long)ctx->data_end;",
          "  if (data + 14 > end) return XDP_DROP;",
          "  return *(unsigned short *)(data + 14) == 8 ? XDP_PASS : XDP_DROP;",
          "}",
          "LICENSE;",
          "",
        ].join("\n"),
      );
      spawnSync(clang!, ["-g", "-O2", "-target", "bpf", "-I", path.resolve("test/fixtures/loader"), "-c", c, "-o", path.join(dir, "fake.o")], { stdio: "inherit" });
      const r = tsxdp(["run", "fake.o", "--packet", hex(udp4)]);
      expect(r.code).toBe(1);
      // The return statement is line 15 of fake.ts; the kernel log names the basename, the object's BTF adds the directory and the column.
      expect(r.stderr).toMatch(/fake\.ts:15:\d+ - error TSX5100: the kernel verifier rejected program 'fake': invalid access to packet, off=14 size=2/);
    });
  });
});

/**
 * Live frames leave through a real device: a veth pair in a namespace made
 * for the test. The peer end runs an XDP program (examples/pass.ts, attached
 * by iproute2) because veth only accepts redirected frames (veth_xdp_xmit())
 * on a peer with NAPI enabled, which an XDP program turns on. A Python
 * AF_PACKET socket on the peer captures what arrives.
 */
describe.skipIf(skipKernel)("tsxdp run --live", () => {
  const ns = `tsxdp-run-${process.pid}`;
  const python = which("python3");
  const ip = which("ip");
  const ready = python !== undefined && ip !== undefined;

  beforeAll(() => {
    if (!ready) return;
    const sh = (...args: string[]) => {
      const r = spawnSync(ip!, args, { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
    };
    sh("netns", "add", ns);
    sh("-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb");
    sh("-n", ns, "link", "set", "va", "up");
    sh("-n", ns, "link", "set", "vb", "up");
    const pass = path.join(dir, "pass.o");
    fs.writeFileSync(pass, compile({ file: path.resolve("examples/pass.ts") }).object!);
    sh("-n", ns, "link", "set", "dev", "vb", "xdp", "obj", pass, "sec", "xdp");
  });
  afterAll(() => {
    if (ready) spawnSync(ip!, ["netns", "del", ns]);
  });

  test.skipIf(!ready && !inCI)("swap_macs_tx sends the frames out of the --ingress-ifindex device", async () => {
    expect(ready, "the live-frames test needs python3 and iproute2's ip").toBe(true);
    // IEEE 802 local experimental EtherType: nothing else in the namespace sends it.
    const frame = P.padTo(P.ethernet({ proto: 0x88b5 }, Uint8Array.from(Buffer.from("tsxdp live frame"))), 60);
    const capture = spawn(
      ip!,
      [
        "netns",
        "exec",
        ns,
        python!,
        "-c",
        [
          "import socket, sys",
          "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))",
          "s.bind(('vb', 0))",
          "s.settimeout(3)",
          "print('ready', flush=True)",
          "n = 0",
          "try:",
          "    while n < 3:",
          "        print(s.recv(2048).hex(), flush=True)",
          "        n += 1",
          "except socket.timeout:",
          "    pass",
        ].join("\n"),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let captured = "";
    let errors = "";
    capture.stderr.on("data", (d: Buffer) => (errors += d.toString()));
    const exited = new Promise<void>((resolve) => capture.on("close", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      capture.stdout.on("data", (d: Buffer) => {
        captured += d.toString();
        if (captured.includes("ready")) resolve();
      });
      capture.on("close", () => reject(new Error(`capture exited early: ${errors}`)));
    });
    const txBefore = txPackets(ip!, ns, "va");
    const r = tsxdp(["run", swap, "--live", "--ingress-ifindex", "va", "--repeat", "3", "--packet", hex(frame)], [ip!, "netns", "exec", ns]);
    await exited;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("live frames on va, repeat 3");
    expect(r.stdout).toContain("sent as a live frame");
    const frames = captured.split("\n").filter((l) => /^[0-9a-f]+$/.test(l));
    expect(frames, errors).toEqual([hex(swapped(frame)), hex(swapped(frame)), hex(swapped(frame))]);
    expect(txPackets(ip!, ns, "va") - txBefore).toBeGreaterThanOrEqual(3);
  });

  test.skipIf(!ready && !inCI)("--live --json has no verdict and no output", () => {
    expect(ready, "the live-frames test needs python3 and iproute2's ip").toBe(true);
    const r = tsxdp(["run", swap, "--live", "--ingress-ifindex", "va", "--packet", hex(udp4), "--json"], [ip!, "netns", "exec", ns]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { index: 1, source: "--packet 1", action: null, retval: null, durationNs: expect.any(Number), input: hex(udp4), output: null, changed: null, decoded: null, live: true },
    ]);
  });
});

function txPackets(ip: string, ns: string, dev: string): number {
  const r = spawnSync(ip, ["-n", ns, "-s", "-j", "link", "show", dev], { encoding: "utf8" });
  return (JSON.parse(r.stdout) as { stats64: { tx: { packets: number } } }[])[0]!.stats64.tx.packets;
}
