/**
 * Counted objects: a struct with a `Refcount` field (the kernel's `struct
 * bpf_refcount`) allocated by `bpf_obj_new`, and `bpf_refcount_acquire`
 * (bpf_refcount_acquire_impl) taking a second reference that is tested and
 * dropped on its own. Run against the clang-14 twin under
 * BPF_PROG_TEST_RUN; the kernel's refusals (no refcount field, the second
 * reference kept) are refused at compile time too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, u16, u32, u64, u8, Refcount, bpf_obj_new, bpf_obj_drop, bpf_refcount_acquire } from "tsxdp";

interface Node {
  key: u64;
  ref: Refcount;
  port: u16;
  hits: u32;
}
interface Plain {
  key: u64;
}
`;

const source = `${imports}
export const counted = xdp((ctx) => {
  const data = ctx.data;
  if (data + 16 > ctx.data_end) return XdpAction.ABORTED;
  const a = bpf_obj_new<Node>();
  if (!a) return XdpAction.DROP;
  a.key = data.load<u64>(0);
  a.port = data.load<u16>(8);
  const b = bpf_refcount_acquire(a);
  bpf_obj_drop(a);
  if (!b) return XdpAction.ABORTED;
  b.hits = u32(b.port) + 1;
  data.store<u64>(0, b.key ^ 0xffff);
  data.store<u32>(10, b.hits);
  const odd = (b.key & 1) === 1;
  bpf_obj_drop(b);
  return odd ? XdpAction.TX : XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern void *bpf_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
extern void *bpf_refcount_acquire_impl(void *p__refcounted_kptr, void *meta__ign) __ksym;
/* bpf_experimental.h's */
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(__builtin_btf_type_id(*(type *)0, 0), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
#define bpf_refcount_acquire(kptr) ((typeof(kptr))bpf_refcount_acquire_impl(kptr, NULL))
/* UAPI linux/bpf.h of 6.4 and later (Debian 12's headers are 6.1's) */
struct bpf_refcount { __u32 __opaque[1]; } __attribute__((aligned(4)));
char LICENSE[] SEC("license") = "GPL";
struct Node { __u64 key; struct bpf_refcount ref; __u16 port; __u32 hits; };
struct Plain { __u64 key; };
`;

const twin = `${header}
SEC("xdp")
int counted(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 16 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	struct Node *a = bpf_obj_new(struct Node);
	if (!a)
		return XDP_DROP;
	a->key = *(__u64 *)data;
	a->port = *(__u16 *)(data + 8);
	struct Node *b = bpf_refcount_acquire(a);
	bpf_obj_drop(a);
	if (!b)
		return XDP_ABORTED;
	b->hits = (__u32)b->port + 1;
	*(__u64 *)data = b->key ^ 0xffff;
	*(__u32 *)(data + 10) = b->hits;
	int odd = (b->key & 1) == 1;
	bpf_obj_drop(b);
	return odd ? XDP_TX : XDP_PASS;
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
  const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "refcount_refused.ts" });
  expect(r.ok).toBe(false);
  return r.diagnostics.map((d) => `${d.code} ${d.message}`);
}

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_refcount_acquire${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`refcount tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "refcount.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("a second reference outlives the first and reads what was written through it: the C twin's verdicts and bytes", () => {
    const verdicts = new Set<string>();
    for (let n = 0; n < 24; n++) {
      const data = new Uint8Array(20 + (n % 5));
      for (let i = 0; i < data.length; i++) data[i] = (n * 37 + i * 101) & 0xff;
      data[0] = n;
      const a = ours.program("counted").testRun({ data, repeat: n === 0 ? 10000 : 1 });
      const b = theirs.program("counted").testRun({ data, repeat: n === 0 ? 10000 : 1 });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      verdicts.add(a.action);
    }
    expect([...verdicts].sort()).toEqual(["PASS", "TX"]);
  });

  it("a struct without a Refcount: refused at compile time, and by the kernel in C", () => {
    expect(refusal("const a = bpf_obj_new<Plain>(); if (!a) return XdpAction.PASS; const b = bpf_refcount_acquire(a); bpf_obj_drop(a); if (b) bpf_obj_drop(b); return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX\d+ `Plain` has no `Refcount` field/),
    ]);
    expect(load("struct Plain *a = bpf_obj_new(struct Plain); if (!a) return XDP_PASS; struct Plain *b = bpf_refcount_acquire(a); bpf_obj_drop(a); if (b) bpf_obj_drop(b); return XDP_PASS;")).toContain("Couldn't find btf_record");
  });

  it("the second reference kept on a path: TSX3020, and Unreleased reference from the kernel in C", () => {
    expect(refusal("const a = bpf_obj_new<Node>(); if (!a) return XdpAction.PASS; const b = bpf_refcount_acquire(a); bpf_obj_drop(a); if (!b) return XdpAction.PASS; if (ctx.data + 1 > ctx.data_end) return XdpAction.DROP; bpf_obj_drop(b); return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX3020 .*`bpf_refcount_acquire`/),
    ]);
    expect(load("struct Node *a = bpf_obj_new(struct Node); if (!a) return XDP_PASS; struct Node *b = bpf_refcount_acquire(a); bpf_obj_drop(a); if (!b) return XDP_PASS; if ((void *)(long)ctx->data + 1 > (void *)(long)ctx->data_end) return XDP_DROP; bpf_obj_drop(b); return XDP_PASS;")).toContain("Unreleased reference");
  });
});
