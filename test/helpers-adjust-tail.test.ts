/**
 * bpf_xdp_adjust_tail (helper 65), the one packet-moving helper no other
 * kernel test calls from TypeScript: the program shrinks or grows the frame
 * by a signed byte it reads from it, then reads data and data_end again and
 * writes the new length (bpf_xdp_get_buff_len) and the helper's result into
 * the frame. Compared with a C twin built by clang-14 on frames of many
 * lengths and deltas: the same verdicts, lengths and bytes (the kernel
 * zeroes what a frame grows by), refusals (-EINVAL: shorter than an Ethernet
 * header) included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import { rng } from "./support/packets";

const source = `
import { xdp, XdpAction, bpf_xdp_adjust_tail, bpf_xdp_get_buff_len, i8, i32, i64, u32 } from "tsxdp";

export const trim = xdp((ctx) => {
  if (ctx.data + 15 > ctx.data_end) return XdpAction.DROP;
  const delta = i32(ctx.data.load<i8>(14));
  const r = bpf_xdp_adjust_tail(ctx, delta);
  const data = ctx.data;
  if (data + 12 > ctx.data_end) return XdpAction.PASS;
  data.store<u32>(0, u32(bpf_xdp_get_buff_len(ctx)));
  data.store<i64>(4, r);
  return r === i64(0) ? XdpAction.TX : XdpAction.ABORTED;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp") int trim(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 15 > data_end) return XDP_DROP;
  int delta = (signed char)data[14];
  long r = bpf_xdp_adjust_tail(ctx, delta);
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  if (data + 12 > data_end) return XDP_PASS;
  *(__u32 *)data = bpf_xdp_get_buff_len(ctx);
  __builtin_memcpy(data + 4, &r, 8);
  return r == 0 ? XDP_TX : XDP_ABORTED;
}

char _license[] SEC("license") = "GPL";
`;

/** Frames of 15 to 1500 bytes whose byte 14 is the delta: shrinking, growing, zero, and past either end. */
function frames(): Uint8Array[] {
  const next = rng(0x7a11);
  const out: Uint8Array[] = [];
  for (let n = 0; n < 240; n++) {
    const len = n % 4 === 0 ? 15 + (next() % 40) : 15 + (next() % 1486);
    const f = Uint8Array.from({ length: len }, () => next() & 0xff);
    if (n % 6 === 0) f[14] = 0;
    out.push(f);
  }
  return out;
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_xdp_adjust_tail against a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`bpf_xdp_adjust_tail tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "trim.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("same verdicts, lengths and bytes as clang's on 240 frames, shrunk and grown", () => {
    const actions = new Set<string>();
    let shrunk = 0;
    let grown = 0;
    for (const data of frames()) {
      const a = ours.program("trim").testRun({ data });
      const b = theirs.program("trim").testRun({ data });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`, Buffer.from(data).toString("hex")).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      actions.add(a.action);
      if (a.action !== "TX") continue;
      // The frame is its old length plus the delta, and says so itself.
      const delta = (data[14]! << 24) >> 24;
      expect(a.data.length).toBe(data.length + delta);
      expect(Buffer.from(a.data).readUInt32LE(0)).toBe(data.length + delta);
      if (delta < 0) shrunk++;
      if (delta > 0) {
        grown++;
        expect([...a.data.subarray(data.length)].every((x) => x === 0)).toBe(true);
      }
    }
    expect(shrunk).toBeGreaterThan(20);
    expect(grown).toBeGreaterThan(20);
    // Refused (the frame would be shorter than an Ethernet header, or longer than its buffer) and done;
    // a refused frame keeps its length, so the second check always holds.
    expect([...actions].sort()).toEqual(["ABORTED", "TX"]);
  });
});
