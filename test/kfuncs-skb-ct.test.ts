/**
 * bpf_skb_ct_lookup and bpf_skb_ct_alloc: the kernel registers them for XDP
 * programs with the rest of the conntrack kfuncs, but they take a `struct
 * __sk_buff` context, which the verifier refuses XDP's for. Shown on
 * clang-14 C programs that try, next to the same program with the XDP
 * kfunc, which loads; tsxdp refuses the names at compile time (TSX4021),
 * naming the XDP counterpart.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../compiler/index";
import { LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

function c(kfunc: string, ctxType: string): string {
  return `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct nf_conn { unsigned long status; };
struct nf_conn___init { unsigned long status; };
struct bpf_ct_opts { __s32 netns_id; __s32 error; __u8 l4proto; __u8 dir; __u8 reserved[2]; };
extern ${kfunc.endsWith("alloc") ? "struct nf_conn___init" : "struct nf_conn"} *${kfunc}(struct ${ctxType} *ctx, struct bpf_sock_tuple *bpf_tuple, __u32 tuple__sz, struct bpf_ct_opts *opts, __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *nfct) __ksym;
extern struct nf_conn *bpf_ct_insert_entry(struct nf_conn___init *nfct_i) __ksym;
char LICENSE[] SEC("license") = "GPL";
SEC("xdp")
int prog(struct xdp_md *ctx)
{
	struct bpf_sock_tuple t = {};
	struct bpf_ct_opts o = { .netns_id = -1, .l4proto = 6 };
	${kfunc.endsWith("alloc") ? "struct nf_conn___init *ai" : "struct nf_conn *ct"} = ${kfunc}((struct ${ctxType} *)ctx, &t, sizeof(t.ipv4), &o, 16);
	${kfunc.endsWith("alloc") ? "if (!ai)\n\t\treturn XDP_PASS;\n\tstruct nf_conn *ct = bpf_ct_insert_entry(ai);" : ""}
	if (ct)
		bpf_ct_release(ct);
	return XDP_PASS;
}
`;
}

function verifierLog(source: string): string {
  try {
    loadObject(compileC(source)).close();
  } catch (e) {
    if (e instanceof LoadError) return e.verifierLog;
    throw e;
  }
  return "";
}

const tsx = (kfunc: string) => `import { xdp, XdpAction, zeroed, ${kfunc}, bpf_ct_insert_entry, bpf_ct_release, BPF_F_CURRENT_NETNS, type BpfCtOpts, type BpfSockTuple } from "tsxdp";

export const prog = xdp((ctx) => {
  const tuple = zeroed<BpfSockTuple>();
  const opts = zeroed<BpfCtOpts>();
  opts.netns_id = BPF_F_CURRENT_NETNS;
  opts.l4proto = 6;
  ${kfunc.endsWith("alloc") ? `const ai = ${kfunc}(ctx, tuple.ipv4, opts);\n  if (!ai) return XdpAction.PASS;\n  const ct = bpf_ct_insert_entry(ai);` : `const ct = ${kfunc}(ctx, tuple.ipv4, opts);`}
  if (ct) bpf_ct_release(ct);
  return XdpAction.PASS;
});
`;

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_skb_ct_lookup / bpf_skb_ct_alloc in XDP${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  it.each([
    ["bpf_skb_ct_lookup", "bpf_xdp_ct_lookup"],
    ["bpf_skb_ct_alloc", "bpf_xdp_ct_alloc"],
  ])("%s: the kernel refuses it from XDP (and takes %s), tsxdp refuses it at compile time naming the XDP kfunc", (skb, xdp) => {
    if (unavailable) throw new Error(`conntrack kfunc tests cannot run in CI: ${unavailable}`);
    expect(verifierLog(c(skb, "__sk_buff"))).toContain("arg#0 pointer type STRUCT __sk_buff must point to scalar");
    expect(verifierLog(c(xdp, "xdp_md"))).toBe("");

    const r = compile({ source: tsx(skb), fileName: "skb_ct.ts" });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX4021"]);
    expect(r.diagnostics[0]!.hints.join(" ")).toContain(xdp);
    expect(compile({ source: tsx(xdp), fileName: "xdp_ct.ts" }).ok).toBe(true);
  });
});
