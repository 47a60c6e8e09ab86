/**
 * GPL-only helpers: the table's `gplOnly` marks are the kernel's. Each helper
 * below is called from a clang-14 C program licensed "MIT": the kernel
 * refuses exactly the marked ones ("cannot call GPL-restricted function"),
 * and loads them all under "Dual MIT/GPL". tsxdp refuses the marked ones
 * (and bpf_printk) under a non-GPL license at compile time (TSX4010).
 */
import { describe, expect, test } from "vitest";
import { compile } from "../compiler/index";
import { helpers } from "../compiler/dialect/helpers";
import { LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, skipKernel } from "./support/kernel";

/** A call of each helper, with a socket, a FIB struct, a u32 and 40 bytes of packet at hand. */
const calls: Record<string, string> = {
  bpf_fib_lookup: "bpf_fib_lookup(ctx, &p, sizeof(p), 0)",
  bpf_check_mtu: "bpf_check_mtu(ctx, 0, &m, 0, 0)",
  bpf_tcp_gen_syncookie: "bpf_tcp_gen_syncookie(sk, data, 20, data + 20, 20)",
  bpf_tcp_check_syncookie: "bpf_tcp_check_syncookie(sk, data, 20, data + 20, 20)",
  bpf_csum_diff: "bpf_csum_diff(0, 0, &m, 4, 0)",
  bpf_xdp_load_bytes: "bpf_xdp_load_bytes(ctx, 0, &m, 4)",
  bpf_xdp_store_bytes: "bpf_xdp_store_bytes(ctx, 0, &m, 4)",
  bpf_xdp_get_buff_len: "bpf_xdp_get_buff_len(ctx)",
  bpf_ktime_get_ns: "bpf_ktime_get_ns()",
  bpf_ktime_get_boot_ns: "bpf_ktime_get_boot_ns()",
  bpf_jiffies64: "bpf_jiffies64()",
  bpf_get_prandom_u32: "bpf_get_prandom_u32()",
  bpf_get_smp_processor_id: "bpf_get_smp_processor_id()",
  bpf_get_numa_node_id: "bpf_get_numa_node_id()",
  bpf_probe_read_kernel: "bpf_probe_read_kernel(&m, 4, data)",
  bpf_probe_read_user: "bpf_probe_read_user(&m, 4, 0)",
  bpf_probe_read_kernel_str: "bpf_probe_read_kernel_str(&m, 4, data)",
  bpf_probe_read_user_str: "bpf_probe_read_user_str(&m, 4, 0)",
  bpf_get_current_task: "(long)bpf_get_current_task()",
  bpf_get_current_task_btf: "(long)bpf_get_current_task_btf()",
  bpf_task_pt_regs: "(long)bpf_task_pt_regs(bpf_get_current_task_btf())",
  bpf_sk_lookup_udp: "(long)bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0)",
};

function program(call: string, license: string): string {
  return `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 40 > end)
		return XDP_PASS;
	struct bpf_fib_lookup p;
	__builtin_memset(&p, 0, sizeof(p));
	__u32 m = 0;
	struct bpf_sock_tuple t;
	__builtin_memset(&t, 0, sizeof(t));
	struct bpf_sock *sk = bpf_skc_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return XDP_PASS;
	long r = ${call.startsWith("(long)bpf_sk_lookup") ? "0" : call};
	bpf_sk_release(sk);
	${call.startsWith("(long)bpf_sk_lookup") ? `struct bpf_sock *u = (void *)${call};\n\tif (u) bpf_sk_release(u);\n\tr = u != 0;` : ""}
	return r == 5 ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "${license}";
`;
}

function refusal(source: string): string | undefined {
  try {
    loadObject(compileC(source)).close();
    return undefined;
  } catch (e) {
    if (e instanceof LoadError) return String(e.message) + JSON.stringify(e);
    throw e;
  }
}

describe.skipIf(skipKernel || (!clang && !inCI))("GPL-only helpers, as the kernel has them", () => {
  test("under MIT the kernel refuses exactly the helpers marked gplOnly; under Dual MIT/GPL it loads them all", () => {
    expect(Object.keys(calls).every((name) => helpers.has(name))).toBe(true);
    const refused: string[] = [];
    for (const [name, call] of Object.entries(calls)) {
      const mit = refusal(program(call, "MIT"));
      if (mit !== undefined) {
        expect(mit, name).toMatch(/GPL-restricted/);
        refused.push(name);
      }
      expect(refusal(program(call, "Dual MIT/GPL")), name).toBeUndefined();
    }
    const marked = Object.keys(calls).filter((name) => helpers.get(name)!.gplOnly);
    expect(refused.sort()).toEqual(marked.sort());
    expect(marked.length).toBe(11);
  });

  test("bpf_printk (bpf_trace_printk) too, which tsxdp refuses under MIT", () => {
    const c = `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int prog(struct xdp_md *ctx) { bpf_printk("x"); return XDP_PASS; }\nchar _license[] SEC("license") = "MIT";\n`;
    expect(refusal(c)).toMatch(/GPL-restricted/);
    const ts = 'import { xdp, XdpAction, license, bpf_printk } from "tsxdp";\nlicense("MIT");\nexport const prog = xdp(() => {\n  bpf_printk("x");\n  return XdpAction.PASS;\n});\n';
    expect(compile({ source: ts, fileName: "printk_mit.ts" }).diagnostics.map((d) => d.code)).toEqual(["TSX4010"]);
    expect(compile({ source: ts.replace('"MIT"', '"GPL v2"'), fileName: "printk_gpl.ts" }).ok).toBe(true);
  });

  test("bpf_snprintf too (bpf_snprintf_btf not), which tsxdp refuses under MIT", () => {
    const c = (call: string) =>
      `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int prog(struct xdp_md *ctx) { char b[8]; struct btf_ptr p = { .ptr = b, .type_id = 1 }; return ${call} == 5 ? XDP_DROP : XDP_PASS; }\nchar _license[] SEC("license") = "MIT";\n`;
    expect(refusal(c("bpf_snprintf(b, sizeof(b), \"x\", 0, 0)"))).toMatch(/GPL-restricted/);
    expect(refusal(c("bpf_snprintf_btf(b, sizeof(b), &p, sizeof(p), 0)"))).toBeUndefined();
    const ts = 'import { xdp, XdpAction, license, zeroed, bpf_snprintf, type FixedArray, type u8 } from "tsxdp";\nlicense("MIT");\nexport const prog = xdp(() => {\n  const b = zeroed<FixedArray<u8, 8>>();\n  bpf_snprintf(b, "x");\n  return XdpAction.PASS;\n});\n';
    expect(compile({ source: ts, fileName: "snprintf_mit.ts" }).diagnostics.map((d) => d.code)).toEqual(["TSX4010"]);
  });
});
