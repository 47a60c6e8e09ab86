/**
 * `bpf_cast_to_kern_ctx(ctx)`: the kernel's struct xdp_buff behind the
 * context, its `frame_sz` and `flags` read where the running kernel has
 * them (CO-RE relocations, as clang reads a `preserve_access_index`
 * struct). Our programs and their clang-14 twins put both into the packet
 * under BPF_PROG_TEST_RUN, for a plain program and an `xdp.frags` one given
 * a frame larger than a page: the same bytes, and the kernel's (a page per
 * buffer, XDP_FLAGS_HAS_FRAGS exactly for the fragmented frame). Writing a
 * field is refused at compile time, as the verifier refuses it for XDP.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const body = `(ctx) => {
  const data = ctx.data;
  if (data + 22 > ctx.data_end) return XdpAction.ABORTED;
  const kern = bpf_cast_to_kern_ctx(ctx);
  data.store<u32>(14, kern.frame_sz);
  data.store<u32>(18, kern.flags);
  return (kern.flags & XDP_FLAGS_HAS_FRAGS) !== 0 ? XdpAction.TX : XdpAction.PASS;
}`;

const source = `import { xdp, XdpAction, u32, bpf_cast_to_kern_ctx, XDP_FLAGS_HAS_FRAGS } from "tsxdp";

export const kern_ctx = xdp(${body});
export const kern_ctx_frags = xdp.frags(${body});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct xdp_buff {
	__u32 frame_sz;
	__u32 flags;
} __attribute__((preserve_access_index));
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
#define XDP_FLAGS_HAS_FRAGS 1
char LICENSE[] SEC("license") = "GPL";

static __always_inline int read(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 22 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	struct xdp_buff *kern = bpf_cast_to_kern_ctx(ctx);
	*(__u32 *)(data + 14) = kern->frame_sz;
	*(__u32 *)(data + 18) = kern->flags;
	return kern->flags & XDP_FLAGS_HAS_FRAGS ? XDP_TX : XDP_PASS;
}

SEC("xdp")
int kern_ctx(struct xdp_md *ctx)
{
	return read(ctx);
}

SEC("xdp.frags")
int kern_ctx_frags(struct xdp_md *ctx)
{
	return read(ctx);
}
`;

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_cast_to_kern_ctx${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;
  const page = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim());

  beforeAll(() => {
    if (unavailable) throw new Error(`bpf_cast_to_kern_ctx tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "kern_ctx.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  const run = (o: LoadedObject, prog: string, size: number) => {
    const r = o.program(prog).testRun({ data: new Uint8Array(size).fill(0x5a) });
    const v = new DataView(r.data.buffer, r.data.byteOffset);
    return { action: r.action, frameSz: v.getUint32(14, true), flags: v.getUint32(18, true) };
  };

  it("a frame in one buffer: a page, no flags, as the C twin reads them", () => {
    for (const prog of ["kern_ctx", "kern_ctx_frags"]) {
      for (const size of [64, 1500]) {
        const r = run(ours, prog, size);
        expect(run(theirs, prog, size)).toEqual(r);
        expect(r).toEqual({ action: "PASS", frameSz: page, flags: 0 });
      }
    }
  });

  it("a frame larger than a page in an xdp.frags program: XDP_FLAGS_HAS_FRAGS, as the C twin reads it", () => {
    const r = run(ours, "kern_ctx_frags", page * 2);
    expect(run(theirs, "kern_ctx_frags", page * 2)).toEqual(r);
    expect(r.action).toBe("TX");
    expect(r.flags & 1).toBe(1);
    expect(r.frameSz).toBe(page);
  });

  it("a write to the kernel's context: refused at compile time", () => {
    const bad = compile({ source: source.replace("data.store<u32>(18, kern.flags);", "kern.flags = 0;"), fileName: "kern_ctx_refused.ts" });
    // The fields are readonly: TypeScript's own error, before the compiler's (the view is read-only too).
    expect(bad.diagnostics.map((d) => d.code)).toEqual(["TS2540"]);
  });
});
