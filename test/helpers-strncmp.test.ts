/**
 * bpf_strncmp (helper 182): bytes copied from the packet into stack buffers
 * (bpf_xdp_load_bytes) compared with string literals, which become
 * NUL-terminated constants in .rodata, the only memory the kernel takes the
 * second string from. Compared with a C twin built by clang-14 on frames
 * that match, match in part, and differ below and above; the results are
 * written into the frame so their signs and values are compared too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import { rng } from "./support/packets";

const source = `
import { xdp, XdpAction, bpf_strncmp, bpf_xdp_load_bytes, zeroed, type FixedArray, type u8, i64 } from "tsxdp";

export const method = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 64 > data_end) return XdpAction.DROP;
  const verb = zeroed<FixedArray<u8, 4>>();
  const proto = zeroed<FixedArray<u8, 8>>();
  if (bpf_xdp_load_bytes(ctx, 14, verb) !== i64(0)) return XdpAction.ABORTED;
  if (bpf_xdp_load_bytes(ctx, 18, proto) !== i64(0)) return XdpAction.ABORTED;
  const get = bpf_strncmp(verb, "GET ");
  const http = bpf_strncmp(proto, "HTTP/1.1");
  const short = bpf_strncmp(proto, "HTTP");
  data.store<i64>(32, get);
  data.store<i64>(40, http);
  data.store<i64>(48, short);
  if (get === i64(0) && http === i64(0)) return XdpAction.TX;
  return get < i64(0) ? XdpAction.DROP : XdpAction.PASS;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp") int method(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 64 > data_end) return XDP_DROP;
  char verb[4] = {}, proto[8] = {};
  if (bpf_xdp_load_bytes(ctx, 14, verb, sizeof(verb)) != 0) return XDP_ABORTED;
  if (bpf_xdp_load_bytes(ctx, 18, proto, sizeof(proto)) != 0) return XDP_ABORTED;
  long get = bpf_strncmp(verb, sizeof(verb), "GET ");
  long http = bpf_strncmp(proto, sizeof(proto), "HTTP/1.1");
  long shrt = bpf_strncmp(proto, sizeof(proto), "HTTP");
  *(long *)(data + 32) = get;
  *(long *)(data + 40) = http;
  *(long *)(data + 48) = shrt;
  if (get == 0 && http == 0) return XDP_TX;
  return get < 0 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
`;

/** Frames starting "GET HTTP/1.1", with one byte changed up or down, cut short by a NUL, or random. */
function frames(): Uint8Array[] {
  const next = rng(0x57c3);
  const out: Uint8Array[] = [];
  const text = Buffer.from("GET HTTP/1.1");
  for (let n = 0; n < 200; n++) {
    const f = Uint8Array.from({ length: 64 }, () => next() & 0xff);
    const kind = n % 5;
    if (kind !== 4) f.set(text, 14);
    const at = 14 + (next() % text.length);
    if (kind === 1) f[at] = (f[at]! + 1) & 0xff;
    if (kind === 2) f[at] = (f[at]! - 1) & 0xff;
    if (kind === 3) f[at] = 0;
    out.push(f);
  }
  out.push(new Uint8Array(63));
  return out;
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_strncmp against a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`bpf_strncmp tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "method.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("same verdicts and results as clang's on 201 frames", () => {
    const results = new Set<bigint>();
    const actions = new Set<string>();
    for (const data of frames()) {
      const a = ours.program("method").testRun({ data });
      const b = theirs.program("method").testRun({ data });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`, Buffer.from(data).toString("hex")).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      actions.add(a.action);
      if (a.data.length === 64) for (const off of [32, 40, 48]) results.add(Buffer.from(a.data).readBigInt64LE(off));
    }
    // Equal, smaller and larger, and whole matches among them.
    expect([...results].sort()).toEqual([-1n, 0n, 1n]);
    expect([...actions].sort()).toEqual(["DROP", "PASS", "TX"]);
  });

  it("refuses a string that is not a literal (TSX1002): the kernel takes it only from read-only memory", () => {
    const variable = source.replace('bpf_strncmp(verb, "GET ")', "bpf_strncmp(verb, `GET${ctx.rx_queue_index}`)");
    expect(compile({ source: variable, fileName: "method.ts" }).diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX1002 11:33"]);
  });
});
