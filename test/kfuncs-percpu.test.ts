/**
 * Per-CPU objects: `bpf_percpu_obj_new<T>()` (bpf_percpu_obj_new_impl with
 * T's local BTF id) and `bpf_percpu_obj_drop`. What the kernel lets an XDP
 * program do with an owned one is allocate, test and drop it: its C twin
 * (bpf_experimental.h's macros) runs the same under BPF_PROG_TEST_RUN, and
 * a C program that asks bpf_this_cpu_ptr for its copy is refused, which is
 * why the dialect gives only a handle. A struct the kernel will not
 * allocate per CPU (a lock in it, over 512 bytes) and a mismatched drop (by its
 * type) are refused at compile time, the first two shown refused by the kernel in C.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, u32, u64, u8, FixedArray, SpinLock, bpf_obj_new, bpf_obj_drop, bpf_percpu_obj_new, bpf_percpu_obj_drop } from "tsxdp";

interface Stats {
  packets: u64;
  bytes: u64;
  last: FixedArray<u8, 6>;
  id: u32;
}
interface Locked {
  lock: SpinLock;
  n: u64;
}
interface Big {
  words: FixedArray<u64, 65>;
}
`;

const source = `${imports}
export const percpu = xdp((ctx) => {
  const data = ctx.data;
  if (data + 15 > ctx.data_end) return XdpAction.ABORTED;
  const s = bpf_percpu_obj_new<Stats>();
  if (!s) return XdpAction.DROP;
  if ((data.load<u8>(0) & 1) === 1) {
    bpf_percpu_obj_drop(s);
    return XdpAction.TX;
  }
  bpf_percpu_obj_drop(s);
  return XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern void *bpf_percpu_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_percpu_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
/* bpf_experimental.h's */
#define bpf_percpu_obj_new(type) ((type *)bpf_percpu_obj_new_impl(__builtin_btf_type_id(*(type *)0, 0), NULL))
#define bpf_percpu_obj_drop(kptr) bpf_percpu_obj_drop_impl(kptr, NULL)
char LICENSE[] SEC("license") = "GPL";
struct Stats { __u64 packets; __u64 bytes; __u8 last[6]; __u32 id; };
struct Locked { struct bpf_spin_lock lock; __u64 n; };
struct Big { __u64 words[65]; };
`;

const twin = `${header}
SEC("xdp")
int percpu(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 15 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	struct Stats *s = bpf_percpu_obj_new(struct Stats);
	if (!s)
		return XDP_DROP;
	if ((*(__u8 *)data & 1) == 1) {
		bpf_percpu_obj_drop(s);
		return XDP_TX;
	}
	bpf_percpu_obj_drop(s);
	return XDP_PASS;
}
`;

function load(c: string): string {
  try {
    loadObject(compileC(`${header}\nSEC("xdp")\nint prog(struct xdp_md *ctx)\n{\n\t${c}\n}\n`)).close();
  } catch (e) {
    if (e instanceof LoadError) return e.verifierLog;
    throw e;
  }
  return "";
}

function refusal(body: string): string[] {
  const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "percpu_refused.ts" });
  expect(r.ok).toBe(false);
  return r.diagnostics.map((d) => `${d.code} ${d.message}`);
}

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_percpu_obj_new / bpf_percpu_obj_drop${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`per-CPU object tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "percpu.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("allocated, tested and dropped on both branches, many times over: the C twin's verdicts", () => {
    for (const first of [0, 1, 2, 3]) {
      const data = new Uint8Array(16);
      data[0] = first;
      const a = ours.program("percpu").testRun({ data, repeat: 5000 });
      const b = theirs.program("percpu").testRun({ data, repeat: 5000 });
      expect(a.action).toBe(b.action);
      expect(a.action).toBe(first & 1 ? "TX" : "PASS");
    }
    expect(ours.program("percpu").testRun({ data: new Uint8Array(14) }).action).toBe("ABORTED");
  });

  it("the kernel gives an owned per-CPU object no address: bpf_this_cpu_ptr refuses it, so the dialect has no fields to reach", () => {
    expect(load("struct Stats *s = bpf_percpu_obj_new(struct Stats); if (!s) return XDP_PASS; struct Stats *m = bpf_this_cpu_ptr(s); m->id = 1; bpf_percpu_obj_drop(s); return XDP_PASS;")).toMatch(/R1 type=percpu_ptr_ expected=percpu_ptr_/);
    expect(refusal("const s = bpf_percpu_obj_new<Stats>(); if (!s) return XdpAction.PASS; s.id = 1; bpf_percpu_obj_drop(s); return XdpAction.PASS;").length).toBeGreaterThan(0);
  });

  it("a struct with a lock, and one over 512 bytes: refused at compile time, and by the kernel in C", () => {
    expect(refusal("const s = bpf_percpu_obj_new<Locked>(); if (!s) return XdpAction.PASS; bpf_percpu_obj_drop(s); return XdpAction.PASS;")).toEqual([expect.stringMatching(/^TSX\d+ `Locked` holds a `SpinLock`/)]);
    expect(load("struct Locked *s = bpf_percpu_obj_new(struct Locked); if (!s) return XDP_PASS; bpf_percpu_obj_drop(s); return XDP_PASS;")).toContain("must not contain special fields");
    expect(refusal("const s = bpf_percpu_obj_new<Big>(); if (!s) return XdpAction.PASS; bpf_percpu_obj_drop(s); return XdpAction.PASS;")).toEqual([expect.stringMatching(/^TSX\d+ `Big` is 520 bytes/)]);
    expect(load("struct Big *s = bpf_percpu_obj_new(struct Big); if (!s) return XDP_PASS; bpf_percpu_obj_drop(s); return XDP_PASS;")).toContain("greater than 512");
  });

  it("kept on a path, or dropped as the other kind of object: refused at compile time", () => {
    expect(refusal("const s = bpf_percpu_obj_new<Stats>(); if (!s) return XdpAction.PASS; if (ctx.data + 1 > ctx.data_end) return XdpAction.DROP; bpf_percpu_obj_drop(s); return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX3020 .*`bpf_percpu_obj_new`/),
    ]);
    expect(load("struct Stats *s = bpf_percpu_obj_new(struct Stats); if (!s) return XDP_PASS; if ((void *)(long)ctx->data + 1 > (void *)(long)ctx->data_end) return XDP_DROP; bpf_percpu_obj_drop(s); return XDP_PASS;")).toContain("Unreleased reference");
    expect(refusal("const s = bpf_obj_new<Stats>(); if (!s) return XdpAction.PASS; bpf_percpu_obj_drop(s); return XdpAction.PASS;")).toEqual([expect.stringMatching(/^TS2345 .*PercpuObj/s)]);
  });
});
