/**
 * Integer semantics at run time: every operator at every width on operands
 * read from the packet, run by the kernel (BPF_PROG_TEST_RUN), compared with
 * a clang-compiled C twin and with the BPF ISA's definition computed here
 * (RFC 9669: x / 0 = 0, x % 0 = x, signed x / -1 = -x, x % -1 = 0, shift
 * amounts masked to the width). The edge values (0, 1, -1, the minimum and
 * maximum of each width) are in every run.
 *
 * Signed division needs ISA v4, so LLVM ≥ 18 for us and clang ≥ 18 for the
 * twin; .ci/run installs Debian's libllvm19 and clang-19.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { findLLVM } from "../compiler/llvm/find-llvm";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable, which } from "./support/kernel";
import { rng } from "./support/packets";

const FRAME = 192;

const source = `
import { xdp, XdpAction, u8, u16, u32, u64, i8, i16, i32, i64 } from "tsxdp";

export const unsigned_ops = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + ${FRAME} > data_end) return XdpAction.DROP;
  const a = data.load<u64>(0);
  const b = data.load<u64>(8);
  data.store<u64>(32, a + b);
  data.store<u64>(40, a - b);
  data.store<u64>(48, a * b);
  data.store<u64>(56, a / b);
  data.store<u64>(64, a % b);
  data.store<u64>(72, a << b);
  data.store<u64>(80, a >> b);
  data.store<u64>(88, (a ^ b) | (a & ~b));
  const c = data.load<u32>(16);
  const d = data.load<u32>(20);
  data.store<u32>(96, c + d);
  data.store<u32>(100, c - d);
  data.store<u32>(104, c * d);
  data.store<u32>(108, c / d);
  data.store<u32>(112, c % d);
  data.store<u32>(116, c << d);
  data.store<u32>(120, c >>> d);
  const e = data.load<u16>(24);
  const f = data.load<u16>(26);
  data.store<u16>(124, e + f);
  data.store<u16>(126, e - f);
  data.store<u16>(128, e * f);
  data.store<u16>(130, e / f);
  data.store<u16>(132, e % f);
  data.store<u16>(134, e << f);
  const g = data.load<u8>(28);
  const h = data.load<u8>(29);
  data.store<u8>(136, g + h);
  data.store<u8>(137, g * h);
  data.store<u8>(138, g / h);
  data.store<u8>(139, g >> h);
  data.store<u32>(140, u32(a));
  data.store<u64>(144, u64(c));
  data.store<u8>(152, u8((a < b ? 1 : 0) | (c <= d ? 2 : 0) | (e > f ? 4 : 0) | (g >= h ? 8 : 0)));
  // A test after the division that LLVM must not fold away: BPF defines x / 0.
  return d === 0 ? XdpAction.PASS : XdpAction.TX;
});

export const signed_ops = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + ${FRAME} > data_end) return XdpAction.DROP;
  const a = data.load<i64>(0);
  const b = data.load<i64>(8);
  data.store<i64>(32, a >> b);
  const c = data.load<i32>(16);
  const d = data.load<i32>(20);
  data.store<i32>(40, c >> d);
  data.store<i64>(48, i64(c));
  const g = data.load<i8>(28);
  const h = data.load<i8>(29);
  data.store<i32>(56, i32(g));
  data.store<i8>(60, g >> h);
  data.store<u8>(61, u8((a < b ? 1 : 0) | (c <= d ? 2 : 0) | (g > h ? 4 : 0)));
  data.store<i16>(62, i16(c));
  return XdpAction.TX;
});
`;

const divisionSource = `
import { xdp, XdpAction, i8, i16, i32, i64 } from "tsxdp";

export const signed_division = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + ${FRAME} > data_end) return XdpAction.DROP;
  const a = data.load<i64>(0);
  const b = data.load<i64>(8);
  data.store<i64>(32, a / b);
  data.store<i64>(40, a % b);
  const c = data.load<i32>(16);
  const d = data.load<i32>(20);
  data.store<i32>(48, c / d);
  data.store<i32>(52, c % d);
  const e = data.load<i16>(24);
  const f = data.load<i16>(26);
  data.store<i16>(56, e / f);
  data.store<i16>(58, e % f);
  const g = data.load<i8>(28);
  const h = data.load<i8>(29);
  data.store<i8>(60, g / h);
  data.store<i8>(61, g % h);
  // A test after the division that LLVM must not fold away: BPF defines x / 0.
  return d === 0 ? XdpAction.PASS : XdpAction.TX;
});
`;

const twinHead = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
typedef unsigned long long u64; typedef unsigned int u32; typedef unsigned short u16; typedef unsigned char u8;
typedef long long s64; typedef int s32; typedef short s16; typedef signed char s8;
#define AT(T, off) (*(T *)(data + (off)))
#define OPEN unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end; \\
  if (data + ${FRAME} > data_end) return XDP_DROP;
`;

const twin = `${twinHead}
SEC("xdp") int unsigned_ops(struct xdp_md *ctx) {
  OPEN
  u64 a = AT(u64, 0), b = AT(u64, 8);
  AT(u64, 32) = a + b; AT(u64, 40) = a - b; AT(u64, 48) = a * b;
  AT(u64, 56) = b ? a / b : 0; AT(u64, 64) = b ? a % b : a;
  AT(u64, 72) = a << (b & 63); AT(u64, 80) = a >> (b & 63); AT(u64, 88) = (a ^ b) | (a & ~b);
  u32 c = AT(u32, 16), d = AT(u32, 20);
  AT(u32, 96) = c + d; AT(u32, 100) = c - d; AT(u32, 104) = c * d;
  AT(u32, 108) = d ? c / d : 0; AT(u32, 112) = d ? c % d : c;
  AT(u32, 116) = c << (d & 31); AT(u32, 120) = c >> (d & 31);
  u16 e = AT(u16, 24), f = AT(u16, 26);
  AT(u16, 124) = e + f; AT(u16, 126) = e - f; AT(u16, 128) = e * f;
  AT(u16, 130) = f ? e / f : 0; AT(u16, 132) = f ? e % f : e; AT(u16, 134) = (u16)(e << (f & 15));
  u8 g = AT(u8, 28), h = AT(u8, 29);
  AT(u8, 136) = g + h; AT(u8, 137) = g * h; AT(u8, 138) = h ? g / h : 0; AT(u8, 139) = g >> (h & 7);
  AT(u32, 140) = (u32)a; AT(u64, 144) = c;
  AT(u8, 152) = (a < b) | (c <= d) << 1 | (e > f) << 2 | (g >= h) << 3;
  return d == 0 ? XDP_PASS : XDP_TX;
}
SEC("xdp") int signed_ops(struct xdp_md *ctx) {
  OPEN
  s64 a = AT(s64, 0), b = AT(s64, 8);
  AT(s64, 32) = a >> (b & 63);
  s32 c = AT(s32, 16), d = AT(s32, 20);
  AT(s32, 40) = c >> (d & 31);
  AT(s64, 48) = c;
  s8 g = AT(s8, 28), h = AT(s8, 29);
  AT(s32, 56) = g; AT(s8, 60) = g >> (h & 7);
  AT(u8, 61) = (a < b) | (c <= d) << 1 | (g > h) << 2;
  AT(s16, 62) = (s16)c;
  return XDP_TX;
}
char _license[] SEC("license") = "GPL";
`;

/** Signed division as BPF defines it, spelled out so that C has no undefined case. */
const divisionTwin = `${twinHead}
#define SDIV(T, UT, x, y) ((y) == 0 ? (T)0 : (y) == -1 ? (T)(0 - (UT)(x)) : (T)((x) / (y)))
#define SMOD(T, x, y) ((y) == 0 ? (T)(x) : (y) == -1 ? (T)0 : (T)((x) % (y)))
SEC("xdp") int signed_division(struct xdp_md *ctx) {
  OPEN
  s64 a = AT(s64, 0), b = AT(s64, 8);
  AT(s64, 32) = SDIV(s64, u64, a, b); AT(s64, 40) = SMOD(s64, a, b);
  s32 c = AT(s32, 16), d = AT(s32, 20);
  AT(s32, 48) = SDIV(s32, u32, c, d); AT(s32, 52) = SMOD(s32, c, d);
  s16 e = AT(s16, 24), f = AT(s16, 26);
  AT(s16, 56) = SDIV(s16, u16, e, f); AT(s16, 58) = SMOD(s16, e, f);
  s8 g = AT(s8, 28), h = AT(s8, 29);
  AT(s8, 60) = SDIV(s8, u8, g, h); AT(s8, 61) = SMOD(s8, g, h);
  return d == 0 ? XDP_PASS : XDP_TX;
}
char _license[] SEC("license") = "GPL";
`;

// ------------------------------------------------------------ the ISA's definition

const N = (bits: number, v: bigint) => BigInt.asUintN(bits, v);
const S = (bits: number, v: bigint) => BigInt.asIntN(bits, v);

class Frame {
  readonly bytes = new Uint8Array(FRAME);
  private readonly view = new DataView(this.bytes.buffer);
  get(bits: number, off: number, signed = false): bigint {
    let v = 0n;
    for (let i = bits / 8 - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[off + i]);
    return signed ? S(bits, v) : v;
  }
  set(bits: number, off: number, v: bigint): void {
    const u = N(bits, v);
    for (let i = 0; i < bits / 8; i++) this.view.setUint8(off + i, Number((u >> BigInt(8 * i)) & 0xffn));
  }
}

const udiv = (bits: number, a: bigint, b: bigint) => (b === 0n ? 0n : a / b);
const urem = (bits: number, a: bigint, b: bigint) => (b === 0n ? a : a % b);
const sdiv = (bits: number, a: bigint, b: bigint) => (b === 0n ? 0n : b === -1n ? S(bits, -a) : a / b);
const srem = (bits: number, a: bigint, b: bigint) => (b === 0n ? a : b === -1n ? 0n : a % b);
const mask = (bits: number, b: bigint) => N(bits, b) % BigInt(bits);

function expectUnsigned(input: Uint8Array): { action: string; bytes: Uint8Array } {
  const f = new Frame();
  f.bytes.set(input);
  const [a, b, c, d, e, ff, g, h] = [f.get(64, 0), f.get(64, 8), f.get(32, 16), f.get(32, 20), f.get(16, 24), f.get(16, 26), f.get(8, 28), f.get(8, 29)];
  f.set(64, 32, a + b);
  f.set(64, 40, a - b);
  f.set(64, 48, a * b);
  f.set(64, 56, udiv(64, a, b));
  f.set(64, 64, urem(64, a, b));
  f.set(64, 72, a << mask(64, b));
  f.set(64, 80, a >> mask(64, b));
  f.set(64, 88, (a ^ b) | (a & N(64, ~b)));
  f.set(32, 96, c + d);
  f.set(32, 100, c - d);
  f.set(32, 104, c * d);
  f.set(32, 108, udiv(32, c, d));
  f.set(32, 112, urem(32, c, d));
  f.set(32, 116, c << mask(32, d));
  f.set(32, 120, c >> mask(32, d));
  f.set(16, 124, e + ff);
  f.set(16, 126, e - ff);
  f.set(16, 128, e * ff);
  f.set(16, 130, udiv(16, e, ff));
  f.set(16, 132, urem(16, e, ff));
  f.set(16, 134, e << mask(16, ff));
  f.set(8, 136, g + h);
  f.set(8, 137, g * h);
  f.set(8, 138, udiv(8, g, h));
  f.set(8, 139, g >> mask(8, h));
  f.set(32, 140, a);
  f.set(64, 144, c);
  f.set(8, 152, (a < b ? 1n : 0n) | (c <= d ? 2n : 0n) | (e > ff ? 4n : 0n) | (g >= h ? 8n : 0n));
  return { action: d === 0n ? "PASS" : "TX", bytes: f.bytes };
}

function expectSigned(input: Uint8Array): { action: string; bytes: Uint8Array } {
  const f = new Frame();
  f.bytes.set(input);
  const [a, b, c, d, g, h] = [f.get(64, 0, true), f.get(64, 8, true), f.get(32, 16, true), f.get(32, 20, true), f.get(8, 28, true), f.get(8, 29, true)];
  f.set(64, 32, a >> mask(64, b));
  f.set(32, 40, c >> mask(32, d));
  f.set(64, 48, c);
  f.set(32, 56, g);
  f.set(8, 60, g >> mask(8, h));
  f.set(8, 61, (a < b ? 1n : 0n) | (c <= d ? 2n : 0n) | (g > h ? 4n : 0n));
  f.set(16, 62, c);
  return { action: "TX", bytes: f.bytes };
}

function expectDivision(input: Uint8Array): { action: string; bytes: Uint8Array } {
  const f = new Frame();
  f.bytes.set(input);
  const [a, b, c, d, e, ff, g, h] = [f.get(64, 0, true), f.get(64, 8, true), f.get(32, 16, true), f.get(32, 20, true), f.get(16, 24, true), f.get(16, 26, true), f.get(8, 28, true), f.get(8, 29, true)];
  f.set(64, 32, sdiv(64, a, b));
  f.set(64, 40, srem(64, a, b));
  f.set(32, 48, sdiv(32, c, d));
  f.set(32, 52, srem(32, c, d));
  f.set(16, 56, sdiv(16, e, ff));
  f.set(16, 58, srem(16, e, ff));
  f.set(8, 60, sdiv(8, g, h));
  f.set(8, 61, srem(8, g, h));
  return { action: d === 0n ? "PASS" : "TX", bytes: f.bytes };
}

// ------------------------------------------------------------ operands

/** 0, 1, -1, MIN, MAX of each width and their neighbours, paired with each other and with random values. */
function frames(): Uint8Array[] {
  const next = rng(0xa417);
  const edges = (bits: number) => {
    const b = BigInt(bits);
    return [0n, 1n, 2n, 3n, 7n, 8n, 31n, 32n, 63n, 64n, 65n, N(bits, -1n), N(bits, -2n), 1n << (b - 1n), (1n << (b - 1n)) - 1n, (1n << (b - 1n)) + 1n].map((v) => N(bits, v));
  };
  const random = (bits: number) => {
    let v = 0n;
    for (let i = 0; i < bits / 8; i++) v = (v << 8n) | BigInt(next() & 0xff);
    // Small magnitudes make remainders and quotients interesting.
    return next() % 3 === 0 ? N(bits, v >> BigInt(next() % bits)) : v;
  };
  const fields: [number, number][] = [
    [64, 0],
    [64, 8],
    [32, 16],
    [32, 20],
    [16, 24],
    [16, 26],
    [8, 28],
    [8, 29],
  ];
  const out: Uint8Array[] = [];
  for (let i = 0; i < 320; i++) {
    const f = new Frame();
    for (const [k, [bits, off]] of fields.entries()) {
      const e = edges(bits);
      // The first rows walk every pair of edges (left operand fast, right slow); the rest mix edges and random values.
      const n = e.length;
      const pick = i < n * n ? e[(k % 2 === 0 ? i : Math.floor(i / n)) % n] : next() % 2 === 0 ? e[next() % n] : random(bits);
      f.set(bits, off, pick);
    }
    out.push(f.bytes);
  }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// ------------------------------------------------------------ tests

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`integer operators against the kernel, clang-14 and the ISA${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;
  beforeAll(() => {
    if (unavailable) throw new Error(`arithmetic tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "arithmetic.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });
  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it.each([
    ["unsigned_ops", expectUnsigned],
    ["signed_ops", expectSigned],
  ] as const)("%s: the ISA's results, and clang's, on 320 operand sets", (name, expected) => {
    for (const data of frames()) {
      const a = ours.program(name).testRun({ data });
      const b = theirs.program(name).testRun({ data });
      const want = expected(data);
      expect(`${a.action} ${hex(a.data)}`, hex(data.subarray(0, 32))).toBe(`${want.action} ${hex(want.bytes)}`);
      expect(`${b.action} ${hex(b.data)}`, `clang-14 on ${hex(data.subarray(0, 32))}`).toBe(`${want.action} ${hex(want.bytes)}`);
    }
  });
});

/** An installed LLVM (and clang) that knows ISA v4, newest first. */
function newLlvm(): number | undefined {
  for (let v = 21; v >= 18; v--) {
    try {
      findLLVM({ version: v });
      return v;
    } catch {
      // not installed
    }
  }
  return undefined;
}
const v4 = newLlvm();
const clangV4 = v4 === undefined ? undefined : which(`clang-${v4}`);
const v4Unavailable = kernelUnavailable() ?? (v4 === undefined ? "no libLLVM >= 18 (apt-get install libllvm19)" : clangV4 === undefined ? `clang-${v4} is not installed` : undefined);

describe.skipIf(v4Unavailable !== undefined && !inCI)(`signed division (--mcpu v4) against the kernel, clang and the ISA${v4Unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${v4Unavailable})` : ""}`, () => {
  let dir = "";
  let ours: LoadedObject;
  let theirs: LoadedObject;
  beforeAll(() => {
    if (v4Unavailable) throw new Error(`signed division tests cannot run in CI: ${v4Unavailable}`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-sdiv-"));
    fs.writeFileSync(path.join(dir, "division.ts"), divisionSource);
    fs.writeFileSync(path.join(dir, "division.c"), divisionTwin);
    // The CLI as users run it, pinned to the LLVM that has v4 (the process's own LLVM may be older).
    const r = spawnSync(process.execPath, [path.resolve("dist/cli.js"), "build", "division.ts", "--mcpu", "v4", "-o", "ours.o"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, TSXDP_LLVM_VERSION: String(v4) },
    });
    if (r.status !== 0) throw new Error(`tsxdp build --mcpu v4 failed:\n${r.stdout}${r.stderr}`);
    const multiarch = `/usr/include/${os.machine()}-linux-gnu`;
    execFileSync(clangV4!, ["-O2", "-g", "-target", "bpf", "-mcpu=v4", "-I", multiarch, "-c", "division.c", "-o", "theirs.o"], { cwd: dir });
    ours = loadObject(path.join(dir, "ours.o"));
    theirs = loadObject(path.join(dir, "theirs.o"));
  });
  afterAll(() => {
    ours?.close();
    theirs?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("x / y and x % y at 64, 32, 16 and 8 bits: the ISA's results (x / 0, MIN / -1 included), and clang's, on 320 operand sets", () => {
    let zeroDivisors = 0;
    let overflows = 0;
    for (const data of frames()) {
      const want = expectDivision(data);
      const a = ours.program("signed_division").testRun({ data });
      const b = theirs.program("signed_division").testRun({ data });
      expect(`${a.action} ${hex(a.data)}`, hex(data.subarray(0, 32))).toBe(`${want.action} ${hex(want.bytes)}`);
      expect(`${b.action} ${hex(b.data)}`, `clang on ${hex(data.subarray(0, 32))}`).toBe(`${want.action} ${hex(want.bytes)}`);
      const f = new DataView(data.buffer);
      if (f.getInt32(20, true) === 0) zeroDivisors++;
      if (f.getInt32(16, true) === -0x80000000 && f.getInt32(20, true) === -1) overflows++;
    }
    // The vectors must reach the cases LLVM leaves undefined.
    expect(zeroDivisors).toBeGreaterThan(0);
    expect(overflows).toBeGreaterThan(0);
  });
});
