/**
 * Objects of the program's own struct types in kernel memory: `bpf_obj_new<T>()`
 * (bpf_obj_new_impl with T's local BTF id, a CO-RE relocation libbpf
 * resolves) and `bpf_obj_drop`. A program that fills one from the packet,
 * reads it back into the packet and drops it on both branches runs like
 * its clang-14 twin (bpf_experimental.h's bpf_obj_new) under
 * BPF_PROG_TEST_RUN; what the compiler refuses (TSX3020: an object kept on
 * a path, TSX3021: one used after its drop) the kernel refuses too, shown
 * on C versions of the same programs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, u16, u32, u64, u8, bpf_obj_new, bpf_obj_drop } from "tsxdp";

interface Span {
  lo: u16;
  hi: u16;
}

interface Flow {
  kind: u8;
  flags: u8;
  port: u16;
  addr: u32;
  sum: u64;
  span: Span;
}
`;

const source = `${imports}
export const obj = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const f = bpf_obj_new<Flow>();
  if (!f) return XdpAction.DROP;
  f.kind = data.load<u8>(0);
  f.port = data.load<u16>(2);
  f.addr = data.load<u32>(4);
  f.sum = data.load<u64>(8) + u64(f.addr);
  f.span.lo = f.port ^ 0x5555;
  f.span.hi = u16(f.kind) << 8;
  if ((f.kind & 1) === 1) {
    data.store<u64>(16, f.sum);
    bpf_obj_drop(f);
    return XdpAction.TX;
  }
  data.store<u32>(16, f.addr + u32(f.span.lo));
  data.store<u16>(20, f.span.hi);
  bpf_obj_drop(f);
  return XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern void *bpf_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
/* bpf_experimental.h's: BPF_TYPE_ID_LOCAL is 0 */
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(__builtin_btf_type_id(*(type *)0, 0), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
char LICENSE[] SEC("license") = "GPL";
struct Span { __u16 lo; __u16 hi; };
struct Flow { __u8 kind; __u8 flags; __u16 port; __u32 addr; __u64 sum; struct Span span; };
`;

const twin = `${header}
SEC("xdp")
int obj(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 24 > data_end)
		return XDP_ABORTED;
	struct Flow *f = bpf_obj_new(struct Flow);
	if (!f)
		return XDP_DROP;
	f->kind = *(__u8 *)data;
	f->port = *(__u16 *)(data + 2);
	f->addr = *(__u32 *)(data + 4);
	f->sum = *(__u64 *)(data + 8) + f->addr;
	f->span.lo = f->port ^ 0x5555;
	f->span.hi = (__u16)f->kind << 8;
	if ((f->kind & 1) == 1) {
		*(__u64 *)(data + 16) = f->sum;
		bpf_obj_drop(f);
		return XDP_TX;
	}
	*(__u32 *)(data + 16) = f->addr + f->span.lo;
	*(__u16 *)(data + 20) = f->span.hi;
	bpf_obj_drop(f);
	return XDP_PASS;
}
`;

/** The same mistake in the dialect and in C: our code, and the verifier's words for the C. */
const refused: [string, string, string, string, string][] = [
  [
    "an object kept on one path",
    "const f = bpf_obj_new<Flow>(); if (!f) return XdpAction.PASS; f.kind = 1; if (ctx.data + 1 > ctx.data_end) return XdpAction.DROP; bpf_obj_drop(f); return XdpAction.PASS;",
    "struct Flow *f = bpf_obj_new(struct Flow); if (!f) return XDP_PASS; f->kind = 1; if ((void *)(long)ctx->data + 1 > (void *)(long)ctx->data_end) return XDP_DROP; bpf_obj_drop(f); return XDP_PASS;",
    "TSX3020",
    "Unreleased reference",
  ],
  [
    "an object written after its drop",
    "const f = bpf_obj_new<Flow>(); if (!f) return XdpAction.PASS; bpf_obj_drop(f); f.kind = 1; return XdpAction.PASS;",
    "struct Flow *f = bpf_obj_new(struct Flow); if (!f) return XDP_PASS; bpf_obj_drop(f); f->kind = 1; return XDP_PASS;",
    "TSX3021",
    "invalid mem access 'scalar'",
  ],
];

/** 24 bytes and more, from a seed: kinds odd and even, ports and words that overflow when summed. */
function frame(seed: number): Uint8Array {
  const out = new Uint8Array(32 + (seed % 7));
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < out.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  out[0] = seed;
  return out;
}

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_obj_new / bpf_obj_drop${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`object allocation tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "obj.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("an object filled from the packet, read back into it and dropped on both branches: the C twin's verdicts and bytes", () => {
    const verdicts = new Set<string>();
    for (let n = 0; n < 40; n++) {
      const data = frame(n);
      const a = ours.program("obj").testRun({ data });
      const b = theirs.program("obj").testRun({ data });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      expect(Buffer.from(a.data).toString("hex")).not.toBe(Buffer.from(data).toString("hex"));
      verdicts.add(a.action);
    }
    expect([...verdicts].sort()).toEqual(["PASS", "TX"]);
    // Too short: no object is made.
    expect(ours.program("obj").testRun({ data: new Uint8Array(20) }).action).toBe("ABORTED");
  });

  it("the same object many times over: allocations and drops balance (the kernel reuses what was dropped)", () => {
    const data = frame(3);
    const a = ours.program("obj").testRun({ data, repeat: 20000 });
    const b = theirs.program("obj").testRun({ data, repeat: 20000 });
    expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
  });

  it.each(refused)("%s: refused at compile time, and by the kernel in C", (_what, body, c, code, words) => {
    const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "obj_refused.ts" });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toEqual([code]);
    let error: unknown;
    try {
      loadObject(compileC(`${header}\nSEC("xdp")\nint prog(struct xdp_md *ctx)\n{\n\t${c}\n}\n`)).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).verifierLog).toContain(words);
  });
});
