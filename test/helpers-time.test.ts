/**
 * The time helpers under BPF_PROG_TEST_RUN: bpf_ktime_get_ns (5),
 * bpf_jiffies64 (118) and bpf_ktime_get_boot_ns (125) write their values
 * into the frame, which must lie between the kernel's own clocks read here
 * just before and just after the run: CLOCK_MONOTONIC and CLOCK_BOOTTIME
 * (clock_gettime through koffi) and the `jiffies:` line of /proc/timer_list.
 * A C twin built by clang-14 runs in between and must land in its own
 * window, so the two programs' values are ordered as their runs were.
 * A machine that never suspended has CLOCK_BOOTTIME equal to
 * CLOCK_MONOTONIC, where the values cannot tell the two ktime helpers apart:
 * the helper calls in the objects can, and are clang's.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { helperCalls } from "./support/helper-calls";
import { clang, compileC } from "./support/clang";
import { CLOCK_MONOTONIC, CLOCK_BOOTTIME, clockNs } from "./support/clocks";
import { inCI, kernelUnavailable } from "./support/kernel";

const source = `
import { xdp, XdpAction, bpf_ktime_get_ns, bpf_jiffies64, bpf_ktime_get_boot_ns, type u64 } from "tsxdp";

export const clocks = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 24 > data_end) return XdpAction.DROP;
  data.store<u64>(0, bpf_ktime_get_ns());
  data.store<u64>(8, bpf_jiffies64());
  data.store<u64>(16, bpf_ktime_get_boot_ns());
  return XdpAction.TX;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp") int clocks(struct xdp_md *ctx) {
  __u64 *data = (void *)(long)ctx->data;
  if ((void *)(data + 3) > (void *)(long)ctx->data_end) return XDP_DROP;
  data[0] = bpf_ktime_get_ns();
  data[1] = bpf_jiffies64();
  data[2] = bpf_ktime_get_boot_ns();
  return XDP_TX;
}

char _license[] SEC("license") = "GPL";
`;

/** The kernel's jiffies as /proc/timer_list prints them (root only). */
function jiffies(): bigint {
  const m = /^jiffies: (\d+)$/m.exec(fs.readFileSync("/proc/timer_list", "utf8"));
  if (!m) throw new Error("/proc/timer_list has no jiffies: line");
  return BigInt(m[1]!);
}

interface Clocks {
  mono: bigint;
  jiffies: bigint;
  boot: bigint;
}

/** The kernel's clocks, read in the order the programs call the helpers. */
function now(): Clocks {
  return { mono: clockNs(CLOCK_MONOTONIC), jiffies: jiffies(), boot: clockNs(CLOCK_BOOTTIME) };
}

function run(obj: LoadedObject): Clocks {
  const r = obj.program("clocks").testRun({ data: new Uint8Array(64).fill(0xa5) });
  expect(r.action).toBe("TX");
  const out = Buffer.from(r.data);
  // The rest of the frame is untouched.
  expect([...r.data.subarray(24)].every((b) => b === 0xa5)).toBe(true);
  return { mono: out.readBigUInt64LE(0), jiffies: out.readBigUInt64LE(8), boot: out.readBigUInt64LE(16) };
}

function within(before: Clocks, got: Clocks, after: Clocks, who: string): void {
  for (const k of ["mono", "jiffies", "boot"] as const) {
    expect(got[k] >= before[k] && got[k] <= after[k], `${who} ${k}: ${got[k]} not in [${before[k]}, ${after[k]}]`).toBe(true);
  }
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`time helpers against the kernel's clocks and a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
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

  it("the programs call helpers 5, 118 and 125 in that order, as clang's twin does", () => {
    expect(helperCalls(objects.ours)).toEqual([5, 118, 125]);
    expect(helperCalls(objects.ours)).toEqual(helperCalls(objects.theirs));
  });

  it("bpf_ktime_get_ns, bpf_jiffies64 and bpf_ktime_get_boot_ns lie between CLOCK_MONOTONIC, jiffies and CLOCK_BOOTTIME read before and after, ordered with the twin's", () => {
    const t0 = now();
    const a = run(ours);
    const t1 = now();
    const b = run(theirs);
    const t2 = now();
    within(t0, a, t1, "TypeScript");
    within(t1, b, t2, "C twin");
    // Boot time is monotonic time plus the time spent suspended: never less.
    expect(a.boot >= a.mono && b.boot >= b.mono).toBe(true);
    // Both read the same offset between the two (it only changes on suspend), give or take the calls between.
    const offset = (c: Clocks) => c.boot - c.mono;
    expect(Math.abs(Number(offset(a) - offset(b)))).toBeLessThan(1_000_000);
  });

  it("the values advance with the clocks: jiffies by about HZ ticks a second", async () => {
    const t0 = now();
    const first = run(ours);
    const twinFirst = run(theirs);
    await new Promise((res) => setTimeout(res, 300));
    const second = run(ours);
    const twinSecond = run(theirs);
    const t1 = now();
    within(t0, first, t1, "first");
    within(t0, second, t1, "second");
    within(t0, twinFirst, t1, "twin first");
    within(t0, twinSecond, t1, "twin second");
    expect(twinFirst.mono > first.mono && second.mono > twinFirst.mono && twinSecond.mono > second.mono).toBe(true);
    for (const [x, y] of [[first, second], [twinFirst, twinSecond]] as const) {
      const elapsed = y.mono - x.mono;
      expect(elapsed >= 300_000_000n).toBe(true);
      expect(y.boot - x.boot >= 300_000_000n).toBe(true);
      // Ticks over seconds elapsed: the kernel's HZ (100 to 1000).
      const hz = Number(y.jiffies - x.jiffies) / (Number(elapsed) / 1e9);
      expect(hz).toBeGreaterThan(80);
      expect(hz).toBeLessThan(1100);
    }
  });
});
