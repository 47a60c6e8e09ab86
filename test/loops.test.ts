/**
 * while and do … while loops, loops bounded by a run-time value beside a
 * constant cap, and `for` loops bounded only at run time (the kernel's
 * bpf_iter_num iterator): compiled, loaded, and run through
 * BPF_PROG_TEST_RUN against C twins built by clang-14 on the same frames
 * (verdicts and output bytes identical). The refusals are in
 * test/fixtures/negative/loop_*.ts.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable, which } from "./support/kernel";
import { rng } from "./support/packets";

const source = `
import { xdp, XdpAction, u8, type u32 } from "tsxdp";

// Bits set in byte 14, written to byte 15: a run-time exit beside a constant cap.
export const popcount = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 16 > data_end) return XdpAction.DROP;
  let v: u32 = data.load<u8>(14);
  let bits: u32 = 0;
  let i: u32 = 0;
  while (i < 8 && v !== 0) {
    if ((v & 1) === 1) bits++;
    v = v >> 1;
    i++;
  }
  data.store<u8>(15, u8(bits));
  return XdpAction.TX;
});

// The sum of as many bytes from byte 16 as byte 14 says, at most 12, each read checked.
export const sum_bytes = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 16 > data_end) return XdpAction.DROP;
  const len: u32 = data.load<u8>(14);
  let p = data.add(16);
  let sum: u32 = 0;
  let k: u32 = 0;
  do {
    if (p + 1 > data_end) break;
    sum += p.load<u8>(0);
    p = p.add(1);
    k++;
  } while (k < len && k < 12);
  data.store<u8>(15, u8(sum & 0xff));
  return sum > 255 ? XdpAction.PASS : XdpAction.TX;
});

// The position of the first non-zero byte from byte 14, among at most 16.
export const first_nonzero = xdp((ctx) => {
  const { data, data_end } = ctx;
  let i: u32 = 0;
  let p = data.add(14);
  let found: u32 = 0;
  while (true) {
    if (i >= 16) break;
    i++;
    if (p + 1 > data_end) break;
    const b = p.load<u8>(0);
    p = p.add(1);
    if (b === 0) continue;
    found = i;
    break;
  }
  return found === 0 ? XdpAction.DROP : found < 4 ? XdpAction.PASS : XdpAction.TX;
});

// A countdown with a constant start: the condition folds in every copy.
export const countdown = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 24 > data_end) return XdpAction.DROP;
  let n: u32 = 8;
  let acc: u32 = 0;
  while (n > 0) {
    n--;
    acc = (acc << 1) ^ data.load<u8>(16);
    if (acc > 0x1000) continue;
    acc += 3;
  }
  data.store<u32>(20, acc);
  return XdpAction.TX;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp") int popcount(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 16 > data_end) return XDP_DROP;
  unsigned v = data[14], bits = 0;
  for (unsigned i = 0; i < 8 && v != 0; i++) {
    if (v & 1) bits++;
    v >>= 1;
  }
  data[15] = bits;
  return XDP_TX;
}

SEC("xdp") int sum_bytes(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 16 > data_end) return XDP_DROP;
  unsigned len = data[14], sum = 0, k = 0;
  unsigned char *p = data + 16;
  do {
    if (p + 1 > data_end) break;
    sum += *p++;
    k++;
  } while (k < len && k < 12);
  data[15] = sum & 0xff;
  return sum > 255 ? XDP_PASS : XDP_TX;
}

SEC("xdp") int first_nonzero(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  unsigned i = 0, found = 0;
  unsigned char *p = data + 14;
  while (1) {
    if (i >= 16) break;
    i++;
    if (p + 1 > data_end) break;
    unsigned char b = *p++;
    if (b == 0) continue;
    found = i;
    break;
  }
  return found == 0 ? XDP_DROP : found < 4 ? XDP_PASS : XDP_TX;
}

SEC("xdp") int countdown(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 24 > data_end) return XDP_DROP;
  unsigned n = 8, acc = 0;
  while (n > 0) {
    n--;
    acc = (acc << 1) ^ data[16];
    if (acc > 0x1000) continue;
    acc += 3;
  }
  *(unsigned *)(data + 20) = acc;
  return XDP_TX;
}

char _license[] SEC("license") = "GPL";
`;

const programs = ["popcount", "sum_bytes", "first_nonzero", "countdown"];

/** Frames from 14 to 40 bytes: zeros, runs of zeros, every length byte, random. */
function frames(): Uint8Array[] {
  const next = rng(0x100b);
  const out: Uint8Array[] = [];
  for (let len = 14; len <= 40; len++) out.push(new Uint8Array(len));
  for (let i = 0; i < 256; i++) {
    const f = Uint8Array.from({ length: 16 + (next() % 25) }, () => next() & 0xff);
    f[14] = i;
    // Leading zeros for first_nonzero, more of them as i grows.
    for (let z = 14; z < Math.min(f.length, 14 + (i % 18)); z++) f[z] = 0;
    if (i % 3 === 0) f[14] = i;
    out.push(f);
  }
  return out;
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`while and do loops against C twins${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`loop tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "loops.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it.each(programs)("%s: same verdicts and bytes as clang's on 283 frames", (name) => {
    const outcomes = new Set<string>();
    for (const data of frames()) {
      const a = ours.program(name).testRun({ data });
      const b = theirs.program(name).testRun({ data });
      const hex = Buffer.from(data).toString("hex");
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`, hex).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      outcomes.add(`${a.action} ${Buffer.from(a.data.subarray(15, 24)).toString("hex")}`);
    }
    // The frames reach many different results: a program that ignored its loop would not.
    expect(outcomes.size).toBeGreaterThan(5);
  });

  it("the loops are unrolled: no back edge in the object the kernel verified", () => {
    const r = compile({ source, fileName: "loops.ts", emitAsm: true });
    const backEdges = [...r.assembly!.matchAll(/goto (LBB\d+_\d+)/g)].filter((m) => {
      const label = r.assembly!.indexOf(`${m[1]}:`);
      return label >= 0 && label < m.index!;
    });
    expect(backEdges).toEqual([]);
  });
});

describe("loop bounds the compiler proves or refuses", () => {
  const check = (body: string) => compile({ source: `import { xdp, XdpAction, type u32, type u8 } from "tsxdp";\nexport const prog = xdp((ctx) => {\n${body}\n});\n`, fileName: "l.ts", checkOnly: true });

  it("a while loop runs the counter through the IR: 64 iterations pass, 65 are refused", () => {
    expect(check("let n: u32 = 64; let s: u32 = 0; while (n > 0) { n--; s += n; } return s === 0 ? XdpAction.DROP : XdpAction.PASS;").diagnostics).toEqual([]);
    const r = check("let n: u32 = 65; let s: u32 = 0; while (n > 0) { n--; s += n; } return s === 0 ? XdpAction.DROP : XdpAction.PASS;");
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([["TSX1008", "the compiler cannot prove that this loop ends: it runs more than 64 times"]]);
  });

  it("a counter that changes differently on different paths is not a constant, and says so", () => {
    const r = check("let n: u32 = 0; while (n < 10) { if (ctx.rx_queue_index === 0) n += 1; else n += 2; } return XdpAction.PASS;");
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.code).toBe("TSX1008");
    expect(r.diagnostics[0]!.message).toContain("known only at run time (`n`)");
  });

  it("a do loop runs its body once before the first test", () => {
    // With the test first this would be 0 iterations; do runs once, and 65 bodies are too many.
    expect(check("let n: u32 = 0; do { n++; } while (n < 64); return XdpAction.PASS;").diagnostics).toEqual([]);
    expect(check("let n: u32 = 0; do { n++; } while (n < 65); return XdpAction.PASS;").diagnostics.map((d) => d.code)).toEqual(["TSX1008"]);
  });
});

const iterSource = `
import { xdp, XdpAction, u8, type u32 } from "tsxdp";

// Byte 14 says how many rounds: a count known only at run time, so a real loop (bpf_iter_num).
export const rounds = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 20 > data_end) return XdpAction.DROP;
  const n: u32 = data.load<u8>(14);
  const salt: u32 = data.load<u8>(15);
  let sum: u32 = 0;
  let odd: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (i === 200) break;
    if ((i & 1) === 1) {
      odd += i & 1;
      continue;
    }
    for (let k = 0; k < 3; k++) sum += (i ^ salt) + data.load<u8>(16 + k);
  }
  data.store<u8>(18, u8(sum & 0xff));
  data.store<u8>(19, u8(odd));
  return sum > 5000 ? XdpAction.TX : XdpAction.PASS;
});

// A variable the loop changes is not a constant inside it, for the unrolled loop within.
export const later = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 20 > data_end) return XdpAction.DROP;
  const n: u32 = data.load<u8>(14);
  let x: u32 = 0;
  let hits: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    for (let k = 0; k < 2; k++) {
      if (x === 0) hits += data.load<u8>(16 + k);
    }
    x = 5;
  }
  data.store<u8>(18, u8(hits & 0xff));
  return XdpAction.TX;
});
`;

const iterTwin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_iter_num { __u64 __opaque[1]; } __attribute__((aligned(8)));
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

SEC("xdp") int rounds(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 20 > data_end) return XDP_DROP;
  __u32 n = data[14], salt = data[15], sum = 0, odd = 0;
  struct bpf_iter_num it;
  int *v;
  bpf_iter_num_new(&it, 0, n);
  while ((v = bpf_iter_num_next(&it))) {
    __u32 i = *v;
    if (i == 200) break;
    if (i & 1) {
      odd += 1;
      continue;
    }
    for (int k = 0; k < 3; k++) sum += (i ^ salt) + data[16 + k];
  }
  bpf_iter_num_destroy(&it);
  data[18] = sum;
  data[19] = odd;
  return sum > 5000 ? XDP_TX : XDP_PASS;
}

SEC("xdp") int later(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 20 > data_end) return XDP_DROP;
  __u32 n = data[14], x = 0, hits = 0;
  struct bpf_iter_num it;
  bpf_iter_num_new(&it, 0, n);
  while (bpf_iter_num_next(&it)) {
    for (int k = 0; k < 2; k++)
      if (x == 0) hits += data[16 + k];
    x = 5;
  }
  bpf_iter_num_destroy(&it);
  data[18] = hits;
  return XDP_TX;
}

char _license[] SEC("license") = "GPL";
`;

describe.skipIf(unavailable !== undefined && !inCI)(`for loops bounded at run time, as bpf_iter_num loops, against a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`loop tests cannot run in CI: ${unavailable}`);
    const r = compile({ source: iterSource, fileName: "rounds.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    ours = loadObject(object);
    theirs = loadObject(compileC(iterTwin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("same verdicts and bytes as clang's on every count from 0 to 255, with salts", () => {
    const next = rng(0x17e4);
    const outcomes = new Set<string>();
    const frames = [new Uint8Array(19)];
    for (let n = 0; n < 256; n++) {
      const f = Uint8Array.from({ length: 20 + (next() % 6) }, () => next() & 0xff);
      f[14] = n;
      frames.push(f);
    }
    for (const data of frames) {
      for (const name of ["rounds", "later"]) {
        const a = ours.program(name).testRun({ data });
        const b = theirs.program(name).testRun({ data });
        expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`, `${name} ${Buffer.from(data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
        if (name === "rounds") outcomes.add(`${a.action} ${a.data[18]} ${a.data[19]}`);
      }
    }
    expect(outcomes.size).toBeGreaterThan(100);
  });

  it("a variable that takes a new constant on every iteration is refused, as the kernel refuses clang's (TSX1008)", () => {
    const counter = (body: string) => `
import { xdp, XdpAction, type u8, type u32 } from "tsxdp";
export const prog = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 16 > data_end) return XdpAction.DROP;
  const n: u32 = data.load<u8>(14);
  let c: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    ${body}
  }
  return c > 3 ? XdpAction.DROP : XdpAction.PASS;
});
`;
    const c = iterTwin.replace(/SEC\("xdp"\) int rounds[\s\S]*?\n}\n/, "").replace(/SEC\("xdp"\) int later[\s\S]*?\n}\n/, `SEC("xdp") int prog(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 16 > data_end) return XDP_DROP;
  __u32 n = data[14], c = 0;
  struct bpf_iter_num it;
  bpf_iter_num_new(&it, 0, n);
  while (bpf_iter_num_next(&it)) c += 1;
  bpf_iter_num_destroy(&it);
  return c > 3 ? XDP_DROP : XDP_PASS;
}
`);
    expect(c).toContain("c += 1");
    expect(() => loadObject(compileC(c))).toThrow(LoadError);
    const refused = compile({ source: counter("c += 1;"), fileName: "count.ts" });
    expect(refused.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX1008 8:24"]);
    // From the iteration number instead: a run-time value, which the kernel widens.
    const accepted = compile({ source: counter("c = i;"), fileName: "count.ts" });
    expect(accepted.diagnostics).toEqual([]);
    loadObject(accepted.object!).close();
  });

  it("is a real loop calling the kfuncs, which libbpf resolved through BTF", () => {
    const asm = compile({ source: iterSource, fileName: "rounds.ts", emitAsm: true }).assembly!;
    for (const k of ["bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy"]) expect(asm).toContain(`call ${k}`);
    const backEdge = [...asm.matchAll(/goto (LBB\d+_\d+)/g)].some((m) => asm.indexOf(`${m[1]}:`) < m.index!);
    expect(backEdge).toBe(true);
    const bpftool = which("bpftool");
    if (!bpftool && inCI) throw new Error("bpftool is missing: .ci/run installs Debian's bpftool");
    if (!bpftool) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-iter-"));
    try {
      fs.writeFileSync(path.join(dir, "rounds.o"), object);
      const btf = execFileSync(bpftool, ["btf", "dump", "file", path.join(dir, "rounds.o")], { encoding: "utf8" });
      for (const k of ["bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy"]) expect(btf).toMatch(new RegExp(`FUNC '${k}' type_id=\\d+ linkage=extern`));
      expect(btf).toMatch(/DATASEC '\.ksyms' size=0 vlen=3/);
      expect(btf).toMatch(/STRUCT 'bpf_iter_num' size=8 vlen=1/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
