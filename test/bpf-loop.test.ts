/**
 * bpf_loop (helper 181) with a callback compiled as a static subprogram: a
 * loop whose count comes from the packet (known only at run time, up to
 * 65535 here), doing real work on a state struct on the caller's stack and
 * stopping early by returning 1. Compared with a C twin built by clang-14
 * on the same frames; the callback's return rule is checked at compile time
 * as the verifier checks it (test/fixtures/negative/loop_callback_*.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import { rng } from "./support/packets";

const source = `
import { xdp, XdpAction, bpfLoop, zeroed, i64, u32, type u16 } from "tsxdp";

interface Acc {
  hash: u32;
  steps: u32;
  last: u32;
}

// FNV-1a over the indices, stopping where the hash is a multiple of 97.
function mixStep(index: u32, acc: Acc): i64 {
  acc.hash = (acc.hash ^ index) * 16777619;
  acc.steps += 1;
  if (acc.hash % 97 === 0) return 1;
  acc.last = index;
  return 0;
}

export const loop = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 28 > data_end) return XdpAction.DROP;
  const acc: Acc = zeroed<Acc>();
  acc.hash = data.load<u32>(16) ^ 2166136261;
  const n = u32(data.load<u16>(14));
  const runs = bpfLoop(n, mixStep, acc);
  data.store<u32>(16, acc.hash);
  data.store<u32>(20, acc.steps);
  data.store<u32>(24, acc.last);
  return runs === i64(n) ? XdpAction.TX : XdpAction.PASS;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct acc { __u32 hash, steps, last; };

static long mixStep(__u32 index, void *ctx) {
  struct acc *acc = ctx;
  acc->hash = (acc->hash ^ index) * 16777619;
  acc->steps += 1;
  if (acc->hash % 97 == 0) return 1;
  acc->last = index;
  return 0;
}

SEC("xdp") int loop(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 28 > data_end) return XDP_DROP;
  struct acc acc = { .hash = *(__u32 *)(data + 16) ^ 2166136261u };
  __u32 n = *(__u16 *)(data + 14);
  long runs = bpf_loop(n, mixStep, &acc, 0);
  *(__u32 *)(data + 16) = acc.hash;
  *(__u32 *)(data + 20) = acc.steps;
  *(__u32 *)(data + 24) = acc.last;
  return runs == n ? XDP_TX : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
`;

/** Counts 0 to 300, a few large ones, and random bytes around them. */
function frames(): Uint8Array[] {
  const next = rng(0xb10b);
  const out: Uint8Array[] = [];
  const counts = [...Array.from({ length: 301 }, (_, i) => i), 1000, 4096, 20000, 65535];
  for (const n of counts) {
    const f = Uint8Array.from({ length: 28 + (next() % 8) }, () => next() & 0xff);
    f[14] = n & 0xff;
    f[15] = n >> 8;
    out.push(f);
  }
  out.push(new Uint8Array(27));
  return out;
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_loop against a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`bpf_loop tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "loop.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("same verdicts and bytes as clang's on 306 frames, counts known only at run time", () => {
    const steps = new Set<number>();
    const actions = new Set<string>();
    for (const data of frames()) {
      const a = ours.program("loop").testRun({ data });
      const b = theirs.program("loop").testRun({ data });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`, Buffer.from(data).toString("hex")).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      if (a.data.length >= 28) steps.add(Buffer.from(a.data).readUInt32LE(20));
      actions.add(a.action);
    }
    // Loops that ran to the end (TX) and loops the callback stopped (PASS), of many lengths.
    expect([...actions].sort()).toEqual(["DROP", "PASS", "TX"]);
    expect(steps.size).toBeGreaterThan(100);
  });

  it("the kernel refuses a callback that may return other than 0 or 1, as tsxdp does (TSX4009)", () => {
    const bad = twin.replace("  acc->last = index;\n  return 0;", "  acc->last = index;\n  return acc->steps;");
    expect(bad).not.toBe(twin);
    expect(() => loadObject(compileC(bad))).toThrow(LoadError);
    const r = compile({ source: source.replace("  acc.last = index;\n  return 0;", "  acc.last = index;\n  return i64(acc.steps);"), fileName: "loop.ts" });
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX4009 16:10"]);
  });
});
