/**
 * bpf_ktime_get_coarse_ns (160) and bpf_ktime_get_tai_ns (208) under
 * BPF_PROG_TEST_RUN, beside test/helpers-time.test.ts: their values, written
 * into the frame, lie between the kernel's CLOCK_MONOTONIC_COARSE and
 * CLOCK_TAI (clock_gettime through koffi) read just before and just after
 * the run, for the program and for a clang-14 twin run in between, so the
 * two programs' values are ordered as their runs were; the helper calls in
 * the objects are clang's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { helperCalls } from "./support/helper-calls";
import { clang, compileC } from "./support/clang";
import { CLOCK_MONOTONIC_COARSE, CLOCK_TAI, CLOCK_REALTIME, clockNs } from "./support/clocks";
import { inCI, kernelUnavailable } from "./support/kernel";

const source = `
import { xdp, XdpAction, bpf_ktime_get_coarse_ns, bpf_ktime_get_tai_ns, type u64 } from "tsxdp";

export const clocks = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 16 > data_end) return XdpAction.DROP;
  data.store<u64>(0, bpf_ktime_get_coarse_ns());
  data.store<u64>(8, bpf_ktime_get_tai_ns());
  return XdpAction.TX;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp") int clocks(struct xdp_md *ctx) {
  __u64 *data = (void *)(long)ctx->data;
  if ((void *)(data + 2) > (void *)(long)ctx->data_end) return XDP_DROP;
  data[0] = bpf_ktime_get_coarse_ns();
  data[1] = bpf_ktime_get_tai_ns();
  return XDP_TX;
}

char _license[] SEC("license") = "GPL";
`;

interface Clocks {
  coarse: bigint;
  tai: bigint;
}

/** The kernel's clocks, read in the order the programs call the helpers. */
function now(): Clocks {
  return { coarse: clockNs(CLOCK_MONOTONIC_COARSE), tai: clockNs(CLOCK_TAI) };
}

function run(obj: LoadedObject): Clocks {
  const r = obj.program("clocks").testRun({ data: new Uint8Array(64).fill(0xa5) });
  expect(r.action).toBe("TX");
  const out = Buffer.from(r.data);
  // The rest of the frame is untouched.
  expect([...r.data.subarray(16)].every((b) => b === 0xa5)).toBe(true);
  return { coarse: out.readBigUInt64LE(0), tai: out.readBigUInt64LE(8) };
}

function within(before: Clocks, got: Clocks, after: Clocks, who: string): void {
  for (const k of ["coarse", "tai"] as const) {
    expect(got[k] >= before[k] && got[k] <= after[k], `${who} ${k}: ${got[k]} not in [${before[k]}, ${after[k]}]`).toBe(true);
  }
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`coarse and TAI clock helpers against the kernel's clocks and a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;
  let objects: { ours: Uint8Array; theirs: Uint8Array };

  beforeAll(() => {
    if (unavailable) throw new Error(`time helper tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "clocks.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects = { ours: r.object!, theirs: compileC(twin) };
    ours = loadObject(objects.ours);
    theirs = loadObject(objects.theirs);
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("the programs call helpers 160 and 208 in that order, as clang's twin does", () => {
    expect(helperCalls(objects.ours)).toEqual([160, 208]);
    expect(helperCalls(objects.ours)).toEqual(helperCalls(objects.theirs));
  });

  it("bpf_ktime_get_coarse_ns and bpf_ktime_get_tai_ns lie between CLOCK_MONOTONIC_COARSE and CLOCK_TAI read before and after, ordered with the twin's", () => {
    const t0 = now();
    const a = run(ours);
    const t1 = now();
    const b = run(theirs);
    const t2 = now();
    within(t0, a, t1, "TypeScript");
    within(t1, b, t2, "C twin");
    expect(b.tai > a.tai && b.coarse >= a.coarse).toBe(true);
    // TAI is wall-clock time since the epoch, ahead of CLOCK_REALTIME by the leap seconds (0 unless set, 37 now): not boot time.
    const ahead = a.tai - clockNs(CLOCK_REALTIME);
    expect(ahead > -1_000_000_000n && ahead < 38_000_000_000n).toBe(true);
  });

  it("the coarse clock advances a tick at a time, and both clocks advance with the kernel's", async () => {
    const t0 = now();
    const first = run(ours);
    const twinFirst = run(theirs);
    await new Promise((res) => setTimeout(res, 300));
    const second = run(ours);
    const twinSecond = run(theirs);
    const t1 = now();
    for (const [got, who] of [[first, "first"], [twinFirst, "twin first"], [second, "second"], [twinSecond, "twin second"]] as const) within(t0, got, t1, who);
    for (const [x, y] of [[first, second], [twinFirst, twinSecond]] as const) {
      expect(y.coarse - x.coarse >= 250_000_000n).toBe(true);
      expect(y.tai - x.tai >= 300_000_000n).toBe(true);
    }
    // A coarse reading is the last tick's: runs a few microseconds apart mostly read the same one.
    const ticks = new Set(Array.from({ length: 20 }, () => run(ours).coarse));
    expect(ticks.size).toBeLessThan(20);
  });
});
