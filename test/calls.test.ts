/**
 * BPF-to-BPF calls: functions marked `noinline(f)` become static
 * subprograms and `globalFunction(f)` global ones, called instead of
 * inlined. Shown against the kernel: the calls are in the verified
 * instructions (bpftool's xlated dump), BTF FUNCs carry the linkage, and
 * the program gives the same verdicts and bytes as a C twin built by
 * clang-14 with `static __attribute__((noinline))` and a global function.
 * The bounds analysis follows the kernel across a static call (the caller's
 * checks count in the callee, and nothing more): a C twin of each verdict
 * goes through the verifier too.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { readElf } from "../compiler/object/elf";
import { stackChains } from "../compiler/object/stack";
import { clang, compileC } from "./support/clang";
import { ensureBpffs, inCI, kernelUnavailable, which } from "./support/kernel";
import { rng } from "./support/packets";

const source = `
import { xdp, XdpAction, noinline, globalFunction, u8, u32, type XdpContext, type PacketPointer, type PacketEnd } from "tsxdp";

// Sums up to n (at most 8) bytes from p, each read checked here.
function sumBytes(p: PacketPointer, end: PacketEnd, n: u32): u32 {
  let sum: u32 = 0;
  for (let i = 0; i < 8; i++) {
    if (i >= n) break;
    if (p + i + 1 > end) break;
    sum += p.load<u8>(i);
  }
  return sum;
}
noinline(sumBytes);

// No check here: the caller's check covers these bytes, as the verifier sees at the call.
function firstWord(p: PacketPointer): u32 {
  return (u32(p.load<u8>(0)) << 8) | p.load<u8>(1);
}
noinline(firstWord);

function mark(p: PacketPointer, v: u8): void {
  p.store<u8>(0, v);
}
noinline(mark);

// Verified on its own: only the context and integers come in.
function classify(ctx: XdpContext, salt: u32): u32 {
  const { data, data_end } = ctx;
  if (data + 16 > data_end) return 0;
  return (u32(data.load<u8>(14)) ^ salt) & 3;
}
globalFunction(classify);

export const calls = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 16 > data_end) return XdpAction.DROP;
  const w = firstWord(data.add(12));
  const s = sumBytes(data.add(16), data_end, u32(data.load<u8>(15) & 0x0f));
  const c = classify(ctx, w + s);
  mark(data.add(13), u8(s & 0xff));
  data.store<u8>(12, u8((w >> 3) & 0xff));
  if (c === 0) return XdpAction.DROP;
  return c === 1 ? XdpAction.PASS : XdpAction.TX;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) __u32 sumBytes(unsigned char *p, unsigned char *end, __u32 n) {
  __u32 sum = 0;
  for (__u32 i = 0; i < 8; i++) {
    if (i >= n) break;
    if (p + i + 1 > end) break;
    sum += p[i];
  }
  return sum;
}

static __attribute__((noinline)) __u32 firstWord(unsigned char *p) {
  return ((__u32)p[0] << 8) | p[1];
}

static __attribute__((noinline)) void mark(unsigned char *p, unsigned char v) {
  *p = v;
}

__attribute__((noinline)) __u32 classify(struct xdp_md *ctx, __u32 salt) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 16 > data_end) return 0;
  return (data[14] ^ salt) & 3;
}

SEC("xdp") int calls(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 16 > data_end) return XDP_DROP;
  __u32 w = firstWord(data + 12);
  __u32 s = sumBytes(data + 16, data_end, data[15] & 0x0f);
  __u32 c = classify(ctx, w + s);
  mark(data + 13, s & 0xff);
  data[12] = w >> 3;
  if (c == 0) return XDP_DROP;
  return c == 1 ? XDP_PASS : XDP_TX;
}

char _license[] SEC("license") = "GPL";
`;

function frames(): Uint8Array[] {
  const next = rng(0xca11);
  const out: Uint8Array[] = [];
  for (let len = 14; len <= 32; len++) out.push(Uint8Array.from({ length: len }, (_, i) => i * 7 + len));
  for (let i = 0; i < 300; i++) out.push(Uint8Array.from({ length: 16 + (next() % 24) }, () => next() & 0xff));
  return out;
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);
const bpftool = which("bpftool");

describe.skipIf(unavailable !== undefined && !inCI)(`BPF-to-BPF calls in the kernel${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let ours: LoadedObject;
  let theirs: LoadedObject;
  let dir: string;

  beforeAll(() => {
    if (unavailable) throw new Error(`call tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "calls.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    ours = loadObject(object);
    theirs = loadObject(compileC(twin));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-calls-"));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("same verdicts and bytes as clang's noinline and global functions on 319 frames", () => {
    const outcomes = new Set<string>();
    for (const data of frames()) {
      const a = ours.program("calls").testRun({ data });
      const b = theirs.program("calls").testRun({ data });
      const got = `${a.action} ${Buffer.from(a.data).toString("hex")}`;
      expect(got, Buffer.from(data).toString("hex")).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      outcomes.add(`${a.action} ${a.data[12]} ${a.data[13]}`);
    }
    expect(outcomes.size).toBeGreaterThan(20);
  });

  it("BTF has a FUNC per function with its linkage, and the verified code calls them", () => {
    if (!bpftool && inCI) throw new Error("bpftool is missing: .ci/run installs Debian's bpftool");
    if (!bpftool) return;
    const obj = path.join(dir, "calls.o");
    fs.writeFileSync(obj, object);
    const btf = execFileSync(bpftool, ["btf", "dump", "file", obj], { encoding: "utf8" });
    for (const f of ["sumBytes", "firstWord", "mark"]) expect(btf).toMatch(new RegExp(`FUNC '${f}' type_id=\\d+ linkage=static`));
    expect(btf).toMatch(/FUNC 'classify' type_id=\d+ linkage=global/);
    expect(btf).toMatch(/FUNC 'calls' type_id=\d+ linkage=global/);
    // The global function's signature, as the kernel reads it to verify the function alone.
    expect(btf).toMatch(/FUNC_PROTO '\(anon\)' ret_type_id=\d+ vlen=2\n\s+'ctx' type_id=\d+\n\s+'salt' type_id=\d+/);

    ensureBpffs();
    const pin = `/sys/fs/bpf/tsxdp-calls-${process.pid}`;
    fs.rmSync(pin, { force: true });
    execFileSync(bpftool, ["prog", "load", obj, pin]);
    try {
      const xlated = execFileSync(bpftool, ["prog", "dump", "xlated", "pinned", pin], { encoding: "utf8" });
      for (const f of ["sumBytes", "firstWord", "mark", "classify"]) expect(xlated).toMatch(new RegExp(`call pc[+-]\\d+#bpf_prog_[0-9a-f]+_${f}`));
      // Each function once, as its own subprogram, not inlined copies.
      expect(xlated.match(/^\S.*\bsumBytes\(/gm)).toHaveLength(1);
    } finally {
      fs.rmSync(pin, { force: true });
    }
  });

  /** A static function reading `at` bytes past a pointer the caller checked to 6 bytes past it. */
  const beyondCaller = (at: number) => ({
    ts: `import { xdp, XdpAction, noinline, type PacketPointer, type u8 } from "tsxdp";
function peek(p: PacketPointer): u8 {
  return p.load<u8>(${at});
}
noinline(peek);
export const prog = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 20 > data_end) return XdpAction.DROP;
  return peek(data.add(14)) === 1 ? XdpAction.DROP : XdpAction.PASS;
});
`,
    c: `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
static __attribute__((noinline)) unsigned char peek(unsigned char *p) { return p[${at}]; }
SEC("xdp") int prog(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 20 > data_end) return XDP_DROP;
  return peek(data + 14) == 1 ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`,
  });

  it("the caller's check counts inside a static function: byte 19 is accepted, as the kernel accepts clang's", () => {
    const { ts, c } = beyondCaller(5);
    const r = compile({ source: ts, fileName: "peek.ts" });
    expect(r.diagnostics, formatDiagnostics(r.diagnostics, r.sources)).toEqual([]);
    loadObject(r.object!).close();
    loadObject(compileC(c)).close();
  });

  it("and nothing more: byte 20 is refused inside the function, as the kernel refuses clang's", () => {
    const { ts, c } = beyondCaller(6);
    const r = compile({ source: ts, fileName: "peek.ts" });
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX5001 3:10"]);
    expect(() => loadObject(compileC(c))).toThrow(LoadError);
  });

  /** A program and a static function, each with an N-word struct on its stack (kept there: it goes to a map). */
  const deepStack = (words: number) => ({
    ts: `import { xdp, XdpAction, noinline, zeroed, ArrayMap, type FixedArray, type u64, type u32 } from "tsxdp";
interface Big {
  words: FixedArray<u64, ${words}>;
}
const store = new ArrayMap<Big>({ maxEntries: 1 });
function save(x: u32): u32 {
  const b: Big = zeroed<Big>();
  b.words[3] = x;
  return store.update(0, b) === 0 ? 1 : 0;
}
noinline(save);
export const prog = xdp((ctx) => {
  const b: Big = zeroed<Big>();
  b.words[1] = ctx.rx_queue_index;
  store.update(0, b);
  return save(ctx.ingress_ifindex) === 1 ? XdpAction.PASS : XdpAction.DROP;
});
`,
    c: `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct big { __u64 words[${words}]; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct big); } store SEC(".maps");
static __attribute__((noinline)) __u32 save(__u32 x) {
  struct big b = {};
  __u32 k = 0;
  b.words[3] = x;
  return bpf_map_update_elem(&store, &k, &b, 0) == 0;
}
SEC("xdp") int prog(struct xdp_md *ctx) {
  struct big b = {};
  __u32 k = 0;
  b.words[1] = ctx->rx_queue_index;
  bpf_map_update_elem(&store, &k, &b, 0);
  return save(ctx->ingress_ifindex) == 1 ? XDP_PASS : XDP_DROP;
}
char _license[] SEC("license") = "GPL";
`,
  });

  const loads = (object: Uint8Array): boolean => {
    try {
      loadObject(object).close();
      return true;
    } catch (e) {
      if (e instanceof LoadError) return false;
      throw e;
    }
  };

  it("the stack of a chain of calls is counted as the kernel counts it: on clang's objects and ours, around 512 bytes", () => {
    const verdicts = new Set<boolean>();
    for (const words of [24, 26, 28, 29, 30, 32, 36]) {
      const c = compileC(deepStack(words).c);
      const kernel = loads(c);
      verdicts.add(kernel);
      expect(stackChains(readElf(c), ["prog"]).length === 0, `clang's object with ${words} words: the kernel ${kernel ? "accepts" : "refuses"} it`).toBe(kernel);
      const r = compile({ source: deepStack(words).ts, fileName: "deep.ts" });
      if (r.ok) expect(loads(r.object!), `ours with ${words} words compiled, so the kernel must accept it`).toBe(true);
      else expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX5008"]);
    }
    // Both sides of the limit were reached.
    expect([...verdicts].sort()).toEqual([false, true]);
  });

  it("a global function knows nothing of its callers: the kernel refuses clang's unchecked read, and tsxdp refuses the pointer argument", () => {
    const c = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
__attribute__((noinline)) int peek(struct xdp_md *ctx) { unsigned char *data = (void *)(long)ctx->data; return data[14]; }
SEC("xdp") int prog(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 20 > data_end) return XDP_DROP;
  return peek(ctx) == 1 ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`;
    expect(() => loadObject(compileC(c))).toThrow(LoadError);
    const r = compile({
      source: `import { xdp, XdpAction, globalFunction, type XdpContext, type u8 } from "tsxdp";
function peek(ctx: XdpContext): u8 {
  return ctx.data.load<u8>(14);
}
globalFunction(peek);
export const prog = xdp((ctx) => {
  if (ctx.data + 20 > ctx.data_end) return XdpAction.DROP;
  return peek(ctx) === 1 ? XdpAction.DROP : XdpAction.PASS;
});
`,
      fileName: "peek.ts",
    });
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX5001 3:10"]);
  });
});
