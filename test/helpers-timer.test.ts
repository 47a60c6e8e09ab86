/**
 * The bpf_timer helpers (init 169, set_callback 170, start 171, cancel 172)
 * on a `Timer` field of array map values: a program arms a slot's timer with
 * a delay from the packet, the callback (a static subprogram with the
 * kernel's (map, key, value) signature) counts its firings in the value, and
 * userspace polls the map until the timers have fired. A cancelled timer
 * never fires; a second init is -EBUSY. Compared with a C twin built by
 * clang-14: the same return codes, and the same map contents once the
 * timers have run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const source = `
import { xdp, XdpAction, ArrayMap, bpf_timer_init, bpf_timer_set_callback, bpf_timer_start, bpf_timer_cancel, CLOCK_MONOTONIC, type Timer, type ValueRef, i64, u32, u64, type u8 } from "tsxdp";

interface Slot {
  timer: Timer;
  fired: u64;
  trace: u64;
}

const slots = new ArrayMap<Slot>({ maxEntries: 4 });

function fire(key: u32, value: ValueRef<Slot>): i64 {
  value.value.fired += 1;
  value.value.trace = value.value.trace * 10 + u64(key) + 1;
  return 0;
}

export const arm = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 48 > data_end) return XdpAction.DROP;
  const which = data.load<u32>(14) & 3;
  const delay = u64(data.load<u32>(18));
  const cancel = data.load<u8>(22);
  const s = slots.lookup(which);
  if (!s) return XdpAction.ABORTED;
  const init = bpf_timer_init(s.value.timer, CLOCK_MONOTONIC);
  const set = bpf_timer_set_callback(s.value.timer, fire);
  const start = bpf_timer_start(s.value.timer, delay, 0);
  let cancelled: i64 = -1;
  if (cancel !== 0) cancelled = bpf_timer_cancel(s.value.timer);
  data.store<i64>(24, init);
  data.store<i64>(32, start + set);
  data.store<i64>(40, cancelled);
  return XdpAction.TX;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#define CLOCK_MONOTONIC 1

struct bpf_map;
struct slot { struct bpf_timer timer; __u64 fired, trace; };

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, struct slot);
} slots SEC(".maps");

static int fire(void *map, __u32 *key, struct slot *value) {
  value->fired += 1;
  value->trace = value->trace * 10 + *key + 1;
  return 0;
}

SEC("xdp") int arm(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 48 > data_end) return XDP_DROP;
  __u32 which = *(__u32 *)(data + 14) & 3;
  __u64 delay = *(__u32 *)(data + 18);
  __u8 cancel = *(__u8 *)(data + 22);
  struct slot *s = bpf_map_lookup_elem(&slots, &which);
  if (!s) return XDP_ABORTED;
  long init = bpf_timer_init(&s->timer, &slots, CLOCK_MONOTONIC);
  long set = bpf_timer_set_callback(&s->timer, fire);
  long start = bpf_timer_start(&s->timer, delay, 0);
  long cancelled = -1;
  if (cancel != 0) cancelled = bpf_timer_cancel(&s->timer);
  *(long *)(data + 24) = init;
  *(long *)(data + 32) = start + set;
  *(long *)(data + 40) = cancelled;
  return XDP_TX;
}

char _license[] SEC("license") = "GPL";
`;

function frame(slot: number, delayNs: number, cancel: boolean): Uint8Array {
  const f = Buffer.alloc(48);
  f.writeUInt32LE(slot, 14);
  f.writeUInt32LE(delayNs, 18);
  f[22] = cancel ? 1 : 0;
  return f;
}

/** `fired` and `trace` of each slot (the timer's 16 bytes read back as zeros). */
function slots(obj: LoadedObject): string[] {
  return [0, 1, 2, 3].map((k) => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(k);
    const v = Buffer.from(obj.map("slots").lookup(key)!);
    return `${v.readBigUInt64LE(16)}/${v.readBigUInt64LE(24)}`;
  });
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_timer against a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`timer tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "arm.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("timers fire, re-arm and cancel as clang's do, the callback counting in the map", async () => {
    const run = (data: Uint8Array) => {
      const a = ours.program("arm").testRun({ data });
      const b = theirs.program("arm").testRun({ data });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      const out = Buffer.from(a.data);
      return [out.readBigInt64LE(24), out.readBigInt64LE(32), out.readBigInt64LE(40)];
    };
    // Slot 0 in 1 ms, slot 1 in 10 s but cancelled, slot 2 in 3 ms.
    expect(run(frame(0, 1_000_000, false))).toEqual([0n, 0n, -1n]);
    expect(run(frame(1, 1_000_000_000, true))).toEqual([0n, 0n, 1n]);
    expect(run(frame(2, 3_000_000, false))).toEqual([0n, 0n, -1n]);
    const fired = (obj: LoadedObject) => slots(obj)[0] === "1/1" && slots(obj)[2] === "1/3";
    await until(() => fired(ours) && fired(theirs));
    expect(slots(ours)).toEqual(["1/1", "0/0", "1/3", "0/0"]);
    expect(slots(ours)).toEqual(slots(theirs));
    // Slot 0 again: already initialised (-EBUSY), re-armed by start, fires a second time.
    expect(run(frame(0, 2_000_000, false))).toEqual([-16n, 0n, -1n]);
    await until(() => slots(ours)[0] === "2/11" && slots(theirs)[0] === "2/11");
    expect(slots(ours)).toEqual(["2/11", "0/0", "1/3", "0/0"]);
    expect(slots(ours)).toEqual(slots(theirs));
  });

  it("the kernel refuses a timer callback returning other than 0, as tsxdp does (TSX4009)", () => {
    const bad = twin.replace("  value->trace = value->trace * 10 + *key + 1;\n  return 0;", "  value->trace = value->trace * 10 + *key + 1;\n  return 1;");
    expect(bad).not.toBe(twin);
    expect(() => loadObject(compileC(bad))).toThrow(LoadError);
    const r = compile({ source: source.replace("  value.value.trace = value.value.trace * 10 + u64(key) + 1;\n  return 0;", "  value.value.trace = value.value.trace * 10 + u64(key) + 1;\n  return 1;"), fileName: "arm.ts" });
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX4009 15:10"]);
  });
});
