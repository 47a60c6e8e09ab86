/**
 * `bpf_throw(action)`: the program ends at once with the action, the value
 * the kernel's default exception callback returns (the cookie). Run against
 * a clang-14 twin declaring `extern void bpf_throw(u64) __ksym` under
 * BPF_PROG_TEST_RUN; throwing while holding an object or inside an RCU
 * section is refused at compile time (as a return there is: TSX3020,
 * TSX3023), and by the kernel in C.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, u8, u64, bpf_throw, bpf_obj_new, bpf_obj_drop, bpf_rcu_read_lock, bpf_rcu_read_unlock } from "tsxdp";

interface Flow {
  n: u64;
}
`;

const source = `${imports}
export const thrower = xdp((ctx) => {
  const data = ctx.data;
  if (data + 2 > ctx.data_end) return XdpAction.ABORTED;
  const b = data.load<u8>(0);
  if (b === 7) bpf_throw(XdpAction.DROP);
  if (b === 9) {
    data.store<u8>(1, 0xee);
    bpf_throw(XdpAction.TX);
  }
  if (b > 200) bpf_throw(XdpAction.ABORTED);
  return (b & 1) === 1 ? XdpAction.TX : XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern void bpf_throw(__u64 cookie) __ksym;
extern void *bpf_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(__builtin_btf_type_id(*(type *)0, 0), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
char LICENSE[] SEC("license") = "GPL";
struct Flow { __u64 n; };
`;

const twin = `${header}
SEC("xdp")
int thrower(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 2 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	__u8 b = *(__u8 *)data;
	if (b == 7)
		bpf_throw(XDP_DROP);
	if (b == 9) {
		*(__u8 *)(data + 1) = 0xee;
		bpf_throw(XDP_TX);
	}
	if (b > 200)
		bpf_throw(XDP_ABORTED);
	return (b & 1) == 1 ? XDP_TX : XDP_PASS;
}
`;

const refused: [string, string, string, string, string][] = [
  [
    "holding an object",
    "const f = bpf_obj_new<Flow>(); if (!f) return XdpAction.PASS; if (ctx.rx_queue_index === 7) bpf_throw(XdpAction.DROP); bpf_obj_drop(f); return XdpAction.PASS;",
    "struct Flow *f = bpf_obj_new(struct Flow); if (!f) return XDP_PASS; if (ctx->rx_queue_index == 7) bpf_throw(XDP_DROP); bpf_obj_drop(f); return XDP_PASS;",
    "TSX3020",
    "bpf_throw would lead to reference leak",
  ],
  [
    "inside an RCU section",
    "bpf_rcu_read_lock(); if (ctx.rx_queue_index === 7) bpf_throw(XdpAction.DROP); bpf_rcu_read_unlock(); return XdpAction.PASS;",
    "bpf_rcu_read_lock(); if (ctx->rx_queue_index == 7) bpf_throw(XDP_DROP); bpf_rcu_read_unlock(); return XDP_PASS;",
    "TSX3023",
    "bpf_throw cannot be used inside bpf_rcu_read_lock-ed region",
  ],
];

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_throw${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`bpf_throw tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "throw.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("thrown actions and returned ones: the C twin's verdicts and bytes", () => {
    const verdicts = new Set<string>();
    for (const first of [0, 1, 2, 7, 9, 201, 255, 100]) {
      const data = new Uint8Array(16).fill(0x11);
      data[0] = first;
      const a = ours.program("thrower").testRun({ data });
      const b = theirs.program("thrower").testRun({ data });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      verdicts.add(a.action);
    }
    expect([...verdicts].sort()).toEqual(["ABORTED", "DROP", "PASS", "TX"]);
    const thrown = new Uint8Array(16);
    thrown[0] = 9;
    const r = ours.program("thrower").testRun({ data: thrown });
    expect(r.action).toBe("TX");
    expect(r.data[1]).toBe(0xee);
  });

  it.each(refused)("throwing %s: refused at compile time, and by the kernel in C", (_what, body, c, code, words) => {
    const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "throw_refused.ts" });
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

  it("from a function the program calls: refused, as the IR's return would end that function only", () => {
    const r = compile({
      source: `${imports}\nfunction check(b: u8): void {\n  if (b === 7) bpf_throw(XdpAction.DROP);\n}\nexport const prog = xdp((ctx) => {\n  check(u8(ctx.rx_queue_index));\n  return XdpAction.PASS;\n});\n`,
      fileName: "throw_in_function.ts",
    });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX1015"]);
  });
});
