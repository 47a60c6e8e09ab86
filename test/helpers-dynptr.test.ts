/**
 * The dynptr helpers, run in the kernel: test/helpers/dynptr.ts against its
 * C twin test/helpers/dynptr.c on the same frames (verdicts and bytes must be
 * clang's), and against what the frames hold. bpf_dynptr_read and
 * bpf_dynptr_write over an xdp.frags frame, in its linear part, across its
 * end and in the fragments, and past the packet (-E2BIG); bpf_dynptr_from_mem
 * over a map value and over a field of one, with bpf_dynptr_data; and ring
 * buffer records of a size known at run time (bpf_ringbuf_reserve_dynptr,
 * written through bpf_dynptr_write, submitted or discarded), read back by
 * openRingBuffer from both objects. Then C controls: what the negative
 * fixtures refuse, the kernel refuses too.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { LoadError, type LoadedObject, loadObject, openRingBuffer, type RingBufferReader } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import * as P from "./support/packets";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);
const E2BIG = -7;

/** A UDP frame of `length` bytes whose destination port is `at`, with `marker` planted at byte `at` when it fits. */
function frame(length: number, at: number, marker: number): Uint8Array {
  const payload = new Uint8Array(length - 42);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 5 + 1) & 0xff;
  if (at + 4 <= length && at >= 42) new DataView(payload.buffer).setUint32(at - 42, marker, true);
  return P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol: P.IPPROTO_UDP, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] }, P.udp(40000, at, payload)));
}

describe.skipIf(unavailable !== undefined && !inCI)(`dynptr helpers against the C twin${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;
  let rings: RingBufferReader[] = [];

  beforeAll(() => {
    if (unavailable) throw new Error(`dynptr helper tests cannot run in CI: ${unavailable}`);
    const r = compile({ file: "test/helpers/dynptr.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(fs.readFileSync("test/helpers/dynptr.c", "utf8")));
    rings = [openRingBuffer(ours, "records"), openRingBuffer(theirs, "records")];
  });

  afterAll(() => {
    for (const r of rings) r.close();
    ours?.close();
    theirs?.close();
  });

  const both = (program: string, data: Uint8Array) => {
    const a = ours.program(program).testRun({ data });
    const b = theirs.program(program).testRun({ data });
    expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
    return a;
  };

  // [frame length, offset of the word]: linear, the last words of a short frame, across the
  // linear part's end (about 3.5 KiB into a larger frame), in the fragments, past the end.
  const cases: [number, number][] = [
    [142, 60],
    [142, 134],
    [142, 136],
    [142, 140],
    [1500, 1400],
    [6000, 100],
    [6000, 3518],
    [6000, 3522],
    [6000, 5000],
    [9000, 8992],
    [9000, 8994],
    [12000, 4096],
  ];

  it.each(cases)("a %i-byte frame, the word at %i: read, its complement written after it, across fragments", (length, at) => {
    const marker = (0xa5000000 + at) >>> 0;
    const r = both("copy", frame(length, at, marker));
    expect(r.action).toBe("TX");
    expect(r.data.length).toBe(length);
    const v = new DataView(r.data.buffer, r.data.byteOffset);
    const readable = at + 4 <= length;
    const writable = at + 8 <= length;
    const word = readable ? marker : 0;
    expect([v.getInt32(42, true), v.getUint32(46, true), v.getInt32(50, true), v.getUint32(54, true)]).toEqual([readable ? 0 : E2BIG, word, writable ? 0 : E2BIG, 0]);
    if (writable) expect(v.getUint32(at + 4, true)).toBe((word ^ 0xffffffff) >>> 0);
  });

  it("a frame that is not IPv4 passes; one too short for the UDP header drops", () => {
    expect(both("copy", P.ethernet({ proto: P.ETH_P_ARP, dst: P.macB, src: P.macA }, new Uint8Array(46))).action).toBe("PASS");
    expect(both("copy", P.truncate(frame(142, 60, 0), 40)).action).toBe("DROP");
  });

  it("a dynptr over a map value and over a field of it: written, read in place and back, bounded by the memory", () => {
    for (const w of [0x01020304, 0xfffffffe, 7]) {
      const data = frame(80, 60, 0);
      new DataView(data.buffer, data.byteOffset).setUint32(42, w, true);
      const r = both("mem", data);
      expect(r.action).toBe("TX");
      const v = new DataView(r.data.buffer, r.data.byteOffset);
      expect([v.getUint32(42, true), v.getInt32(46, true), v.getInt32(50, true), v.getInt32(54, true), v.getInt32(58, true)]).toEqual([(w + 1) >>> 0, 0, 0, E2BIG, E2BIG]);
      const key = new Uint8Array(4);
      const value = ours.map("scratch").lookup(key)!;
      expect(Buffer.from(value).toString("hex")).toBe(Buffer.from(theirs.map("scratch").lookup(key)!).toString("hex"));
      // Bytes 4..8 hold w + 1 (the write, then the slice's increment); words[3] holds w.
      const m = new DataView(value.buffer, value.byteOffset);
      expect([m.getUint32(4, true), m.getUint32(20, true)]).toEqual([(w + 1) >>> 0, w]);
    }
  });

  it("ring buffer records of 4 + 4n bytes, n from the packet: submitted ones reach the reader, discarded ones do not", () => {
    for (const r of rings) r.consume();
    const sent: number[][] = [];
    for (const [n, discard] of [[0, 0], [1, 0], [3, 0], [5, 1], [8, 0], [2, 1], [7, 0]] as const) {
      const data = frame(80, 60, 0);
      data[42] = n;
      data[43] = discard;
      expect(both("record", data).action).toBe(discard ? "DROP" : "PASS");
      if (!discard) sent.push([n | 0x100, ...Array.from({ length: n }, (_, i) => ((0x01010101 * (i + 1)) ^ n) >>> 0)]);
    }
    const words = (bytes: Uint8Array) => Array.from({ length: bytes.length / 4 }, (_, i) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(i * 4, true));
    const [a, b] = rings.map((r) => r.consume().map((rec) => words(rec.bytes)));
    expect(a).toEqual(sent);
    expect(b).toEqual(sent);
  });

  /** The verifier's log for a C program the kernel must refuse. */
  const refusal = (body: string): string => {
    const source = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern int bpf_dynptr_clone(const struct bpf_dynptr *p, struct bpf_dynptr *clone__uninit) __ksym;
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
SEC("xdp")
int prog(struct xdp_md *ctx)
{
	struct bpf_dynptr dp;
	__u32 w = ctx->ingress_ifindex;
${body}
}
char LICENSE[] SEC("license") = "GPL";
`;
    try {
      loadObject(compileC(source)).close();
    } catch (e) {
      expect(e).toBeInstanceOf(LoadError);
      return (e as LoadError).verifierLog ?? "";
    }
    throw new Error("the kernel loaded a program it must refuse");
  };

  const codes = (file: string) => compile({ file }).diagnostics.map((d) => d.code);

  it("a failed reservation left undiscarded: refused by the kernel (Unreleased reference), and by us", () => {
    const log = refusal(`	if (bpf_ringbuf_reserve_dynptr(&events, ctx->rx_queue_index + 4, 0, &dp) != 0)
		return XDP_PASS;
	bpf_ringbuf_submit_dynptr(&dp, 0);
	return XDP_PASS;`);
    expect(log).toMatch(/Unreleased reference/);
    expect(codes("test/fixtures/negative/ringbuf_dynptr_leak.ts")).toEqual(["TSX3004"]);
  });

  it("a write after submit: refused by the kernel, and by us", () => {
    const log = refusal(`	if (bpf_ringbuf_reserve_dynptr(&events, 4, 0, &dp) != 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return XDP_PASS;
	}
	bpf_ringbuf_submit_dynptr(&dp, 0);
	bpf_dynptr_write(&dp, 0, &w, sizeof(w), 0);
	return XDP_PASS;`);
    expect(log).toMatch(/Expected an initialized dynptr/);
    expect(codes("test/fixtures/negative/ringbuf_dynptr_after_submit.ts")).toEqual(["TSX3005"]);
  });

  it("bpf_dynptr_data's memory written after submit: refused by the kernel, and by us", () => {
    const log = refusal(`	if (bpf_ringbuf_reserve_dynptr(&events, 4, 0, &dp) != 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return XDP_PASS;
	}
	__u32 *p = bpf_dynptr_data(&dp, 0, 4);
	bpf_ringbuf_submit_dynptr(&dp, 0);
	if (p)
		*p = w;
	return XDP_PASS;`);
    expect(log).toMatch(/invalid mem access 'scalar'/);
    expect(codes("test/fixtures/negative/ringbuf_dynptr_data_after_submit.ts")).toEqual(["TSX3005"]);
  });

  it("a slice written after submit: refused by us, though the 6.18 verifier does not tie a kfunc slice to the reservation", () => {
    // The record may already be the reader's, or its room another record's: the write is refused
    // as bpf_dynptr_data's is, which the kernel does catch (above).
    expect(codes("test/fixtures/negative/ringbuf_dynptr_slice_after_submit.ts")).toEqual(["TSX3005"]);
  });

  it("a clone written after the original's submit: refused by the kernel, and by us", () => {
    const log = refusal(`	if (bpf_ringbuf_reserve_dynptr(&events, 8, 0, &dp) != 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return XDP_PASS;
	}
	struct bpf_dynptr copy;
	bpf_dynptr_clone(&dp, &copy);
	bpf_ringbuf_submit_dynptr(&dp, 0);
	bpf_dynptr_write(&copy, 4, &w, sizeof(w), 0);
	return XDP_PASS;`);
    expect(log).toMatch(/Expected an initialized dynptr/);
    expect(codes("test/fixtures/negative/ringbuf_dynptr_clone_after_submit.ts")).toEqual(["TSX3005"]);
  });

  it("a reserved dynptr made over the packet before its submit: refused by the kernel, and by us", () => {
    const log = refusal(`	bpf_ringbuf_reserve_dynptr(&events, 4, 0, &dp);
	bpf_dynptr_from_xdp(ctx, 0, &dp);
	bpf_ringbuf_submit_dynptr(&dp, 0);
	return XDP_PASS;`);
    expect(log).toMatch(/cannot overwrite referenced dynptr/);
    expect(codes("test/fixtures/negative/ringbuf_dynptr_remade.ts")).toEqual(["TSX3004"]);
  });

  it("a dynptr over a map value holding a lock: refused by the kernel, and by us", () => {
    const source = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct account { struct bpf_spin_lock lock; __u32 balance; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct account); } accounts SEC(".maps");
SEC("xdp")
int prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct bpf_dynptr dp;
	struct account *v = bpf_map_lookup_elem(&accounts, &key);
	if (!v)
		return XDP_PASS;
	bpf_dynptr_from_mem(v, sizeof(*v), 0, &dp);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`;
    expect(() => loadObject(compileC(source)).close()).toThrow(/bpf_spin_lock cannot be accessed directly/);
    expect(codes("test/fixtures/negative/dynptr_from_mem_lock.ts")).toEqual(["TSX3003"]);
  });

  it("a dynptr over stack memory: refused by the kernel, and by us", () => {
    const log = refusal(`	if (bpf_dynptr_from_mem(&w, sizeof(w), 0, &dp) != 0)
		return XDP_ABORTED;
	return XDP_PASS;`);
    expect(log).toMatch(/Unsupported reg type fp for bpf_dynptr_from_mem data/);
    expect(codes("test/fixtures/negative/dynptr_from_mem_stack.ts")).toEqual(["TSX2011"]);
  });
});
