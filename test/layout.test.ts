/**
 * Header struct layouts must agree with clang's for the same C struct, byte
 * for byte. The test writes each interface's C twin with a _Static_assert
 * per field offset and per struct size, computed by our layout code, and
 * lets clang-14 (target bpf) check them all: if the file compiles, every
 * offset matches. tsxdp/net's headers are checked the same way against the
 * kernel's own UAPI structs.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { describe, expect, test } from "vitest";
import { DiagnosticBag } from "../compiler/diagnostics/diagnostic";
import { Intrinsics } from "../compiler/dialect/intrinsics";
import { parseProgram } from "../compiler/frontend/program";
import { type FieldType, type Layout, Layouts } from "../compiler/ir/layout";
import { inCI, which } from "./support/kernel";

const source = `
import { xdp, XdpAction, type FixedArray, type Packed, type u8, type u16, type u32, type u64, type i16, type be16, type be32 } from "tsxdp";
import type { EthHdr, VlanHdr, ArpHdr, Ipv4Hdr, Ipv6Hdr, Ipv6OptHdr, Ipv6RtHdr, Ipv6FragHdr, UdpHdr, TcpHdr, IcmpHdr, Icmp6Hdr, GreHdr, VxlanHdr } from "tsxdp/net";

export interface Padded { a: u8; b: u32; c: u16; d: u64; e: u8 }
export interface Inner { x: u16; y: u8 }
export interface Nested { tag: u8; inner: Inner; list: FixedArray<Inner, 3>; last: u32 }
export interface Bytes { a: FixedArray<u8, 5>; b: be16; c: FixedArray<i16, 3> }
export interface Tight extends Packed { a: u8; b: u32; c: be16; d: u64 }
export interface Mixed { head: Tight; tail: u16; big: be32 }
export type Alias = Padded;

// Every struct under test, as type references the checker resolves.
export type Probe = [Inner, Padded, Nested, Bytes, Tight, Mixed, Alias, EthHdr, VlanHdr, ArpHdr, Ipv4Hdr, Ipv6Hdr, Ipv6OptHdr, Ipv6RtHdr, Ipv6FragHdr, UdpHdr, TcpHdr, IcmpHdr, Icmp6Hdr, GreHdr, VxlanHdr];

export const prog = xdp(() => XdpAction.PASS);
`;

const cType = (t: FieldType): { decl: string; suffix: string } => {
  switch (t.kind) {
    case "scalar":
      return { decl: `${t.type.signed ? "__s" : "__u"}${t.type.bits}`, suffix: "" };
    case "struct":
      return { decl: `struct ${t.layout.name}`, suffix: "" };
    case "array": {
      const inner = cType(t.element);
      return { decl: inner.decl, suffix: `[${t.count}]${inner.suffix}` };
    }
  }
};

function cStruct(l: Layout): string {
  const fields = [...l.fields.values()].map((f) => {
    const { decl, suffix } = cType(f.type);
    return `  ${decl} ${f.name}${suffix};`;
  });
  return `struct ${l.name} {\n${fields.join("\n")}\n}${l.packed ? " __attribute__((packed))" : ""};`;
}

function asserts(l: Layout, cName = `struct ${l.name}`): string[] {
  return [
    `_Static_assert(sizeof(${cName}) == ${l.size}, "${l.name} size");`,
    ...[...l.fields.values()].map((f) => `_Static_assert(__builtin_offsetof(${cName}, ${f.name}) == ${f.offset}, "${l.name}.${f.name}");`),
  ];
}

function layouts(): Map<string, Layout> {
  const diagnostics = new DiagnosticBag();
  const fe = parseProgram({ source, fileName: path.join(os.tmpdir(), "layouts.ts") }, diagnostics);
  expect(diagnostics.all).toEqual([]);
  const l = new Layouts(fe!.checker, new Intrinsics(fe!.checker, fe!.dialectFile));
  const probe = fe!.sourceFile.statements.find((n): n is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(n) && n.name.text === "Probe")!;
  const out = new Map<string, Layout>();
  for (const element of (probe.type as ts.TupleTypeNode).elements) out.set(element.getText(), l.ofTypeNode(element as ts.TypeNode));
  return out;
}

const clang = which("clang-14");

describe.skipIf(!clang && !inCI)("header struct layouts agree with clang", () => {
  test("user structs: padding, nesting, arrays, packed", () => {
    const all = layouts();
    const mine = ["Inner", "Padded", "Nested", "Bytes", "Tight", "Mixed"].map((n) => all.get(n)!);
    expect(all.get("Padded")!.size).toBe(32);
    expect(all.get("Alias")!.size).toBe(32);
    const c = ["#include <linux/types.h>", ...mine.map(cStruct), ...mine.flatMap((l) => asserts(l))].join("\n");
    compileC(c);
  });

  test("tsxdp/net headers match the kernel's UAPI structs", () => {
    const all = layouts();
    const uapi: Record<string, [string, Record<string, string>]> = {
      EthHdr: ["struct ethhdr", { dest: "h_dest", source: "h_source", proto: "h_proto" }],
      Ipv4Hdr: ["struct iphdr", { tos: "tos", totLen: "tot_len", id: "id", fragOff: "frag_off", ttl: "ttl", protocol: "protocol", check: "check", saddr: "saddr", daddr: "daddr" }],
      Ipv6Hdr: ["struct ipv6hdr", { payloadLen: "payload_len", nexthdr: "nexthdr", hopLimit: "hop_limit", saddr: "saddr", daddr: "daddr" }],
      Ipv6OptHdr: ["struct ipv6_opt_hdr", { nexthdr: "nexthdr", hdrlen: "hdrlen" }],
      Ipv6RtHdr: ["struct ipv6_rt_hdr", { nexthdr: "nexthdr", hdrlen: "hdrlen", type: "type", segmentsLeft: "segments_left" }],
      Icmp6Hdr: ["struct icmp6hdr", { type: "icmp6_type", code: "icmp6_code", checksum: "icmp6_cksum", id: "icmp6_identifier", sequence: "icmp6_sequence" }],
      UdpHdr: ["struct udphdr", { source: "source", dest: "dest", len: "len", check: "check" }],
      TcpHdr: ["struct tcphdr", { source: "source", dest: "dest", seq: "seq", ackSeq: "ack_seq", window: "window", check: "check", urgPtr: "urg_ptr" }],
    };
    const lines = ["#include <linux/types.h>", "#include <linux/if_ether.h>", "#include <linux/ip.h>", "#include <linux/ipv6.h>", "#include <linux/udp.h>", "#include <linux/tcp.h>", "#include <linux/icmpv6.h>"];
    for (const [name, [cName, fields]] of Object.entries(uapi)) {
      const l = all.get(name)!;
      lines.push(`_Static_assert(sizeof(${cName}) == ${l.size}, "${name} size");`);
      for (const [ours, theirs] of Object.entries(fields)) lines.push(`_Static_assert(__builtin_offsetof(${cName}, ${theirs}) == ${l.fields.get(ours)!.offset}, "${name}.${ours}");`);
    }
    compileC(lines.join("\n"));
    expect(all.get("VlanHdr")!.size).toBe(4);
    expect(all.get("ArpHdr")!.size).toBe(28);
    expect(all.get("IcmpHdr")!.size).toBe(8);
    // The fragment header is not in the UAPI headers: RFC 8200's offsets.
    const frag = all.get("Ipv6FragHdr")!;
    expect([frag.size, ...["nexthdr", "reserved", "fragOff", "identification"].map((f) => frag.fields.get(f)!.offset)]).toEqual([8, 0, 1, 2, 4]);
  });
});

describe.skipIf(!clang && !inCI)("tsxdp/net constants", () => {
  test("equal the kernel's UAPI macros of the same name (TCP flag bits excepted: the UAPI has none)", () => {
    const dts = fs.readFileSync(path.resolve("runtime-types/net.d.ts"), "utf8");
    const consts = [...dts.matchAll(/^export declare const (\w+): (0x[0-9a-f]+|\d+);$/gm)].map((m) => [m[1]!, m[2]!] as const);
    const checked = consts.filter(([name]) => !name.startsWith("TCP_"));
    expect(checked.length).toBeGreaterThanOrEqual(20);
    const js = fs.readFileSync(path.resolve("runtime-types/net.js"), "utf8");
    for (const [name, value] of consts) expect(js, `net.js exports ${name}`).toMatch(new RegExp(`\\b${name} = ${value}\\b`));
    const headers = ["linux/types.h", "linux/if_ether.h", "linux/in.h", "linux/in6.h", "linux/icmp.h", "linux/icmpv6.h"];
    compileC([...headers.map((h) => `#include <${h}>`), ...checked.map(([name, value]) => `_Static_assert(${name} == ${value}, "${name}");`)].join("\n"), "host");
  });
});

/** `host`: some UAPI headers (linux/if.h, under linux/icmp.h) include libc's, which exist for the host target only. */
function compileC(text: string, target: "bpf" | "host" = "bpf"): void {
  if (!clang) throw new Error("clang-14 is missing: .ci/run installs it");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-layout-"));
  try {
    const file = path.join(dir, "layout.c");
    fs.writeFileSync(file, text + "\n");
    const include = `/usr/include/${process.arch === "x64" ? "x86_64" : "aarch64"}-linux-gnu`;
    execFileSync(clang, [...(target === "bpf" ? ["-target", "bpf"] : []), "-fsyntax-only", ...(fs.existsSync(include) ? ["-I", include] : []), file], { encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    throw new Error(`clang disagrees with a layout:\n${(e as { stderr?: string }).stderr ?? e}\n${text}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
