/**
 * `bpf_rdonly_cast<T>(ptr, "name")`: packet memory read as vmlinux's struct
 * of that name (its id a CO-RE relocation, as bpf_core_type_id_kernel), the
 * verifier checking each read against the kernel's BTF. Run against a
 * clang-14 twin under BPF_PROG_TEST_RUN; a struct larger than the kernel's
 * and an unknown name are refused at compile time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, u32, FixedArray, htons, bpf_rdonly_cast } from "tsxdp";
import { EthHdr } from "tsxdp/net";

interface Wide {
  words: FixedArray<u32, 5>;
}
`;

const source = `${imports}
export const cast = xdp((ctx) => {
  const eth = bpf_rdonly_cast<EthHdr>(ctx.data, "ethhdr");
  if (!eth) return XdpAction.ABORTED;
  if (eth.proto === htons(0x0800)) return XdpAction.PASS;
  return eth.source[5] === 7 ? XdpAction.TX : XdpAction.DROP;
});
`;

const twin = `
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id__k) __ksym;
/* bpf_core_read.h's bpf_core_type_id_kernel: BPF_TYPE_ID_TARGET is 1 */
#define bpf_core_type_id_kernel(type) __builtin_btf_type_id(*(type *)0, 1)
char LICENSE[] SEC("license") = "GPL";
SEC("xdp")
int cast(struct xdp_md *ctx)
{
	struct ethhdr *eth = bpf_rdonly_cast((void *)(long)ctx->data, bpf_core_type_id_kernel(struct ethhdr));
	if (!eth)
		return XDP_ABORTED;
	if (eth->h_proto == __builtin_bswap16(0x0800))
		return XDP_PASS;
	return eth->h_source[5] == 7 ? XDP_TX : XDP_DROP;
}
`;

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_rdonly_cast${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`bpf_rdonly_cast tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "cast.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("the packet's Ethernet header read as the kernel's struct ethhdr: the C twin's verdicts", () => {
    const verdicts = new Set<string>();
    for (const [proto, last] of [
      [0x0800, 0],
      [0x0800, 7],
      [0x86dd, 7],
      [0x86dd, 6],
      [0x0806, 7],
    ] as const) {
      const data = new Uint8Array(20).fill(0x42);
      data[11] = last;
      data[12] = proto >> 8;
      data[13] = proto & 0xff;
      const a = ours.program("cast").testRun({ data });
      const b = theirs.program("cast").testRun({ data });
      expect(a.action).toBe(b.action);
      verdicts.add(a.action);
    }
    expect([...verdicts].sort()).toEqual(["DROP", "PASS", "TX"]);
  });

  it("a struct larger than the kernel's, and a name it does not know: refused at compile time", () => {
    const bad = (call: string) => compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  const h = ${call};\n  if (!h) return XdpAction.PASS;\n  return XdpAction.DROP;\n});\n`, fileName: "cast_refused.ts" });
    expect(bad('bpf_rdonly_cast<Wide>(ctx.data, "ethhdr")').diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([expect.stringMatching(/^TSX\d+ `Wide` is 20 bytes, `struct ethhdr` 14/)]);
    expect(bad('bpf_rdonly_cast<EthHdr>(ctx.data, "sk_buff")').diagnostics.map((d) => d.code)).toEqual(["TSX2010"]);
  });
});
