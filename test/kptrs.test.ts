/**
 * Objects kept in map values: `Kptr<T>` and `PercpuKptr<T>` fields (BTF
 * `struct T __kptr *` / `__percpu_kptr *`, the type tag written after LLVM),
 * `bpf_kptr_xchg` moving objects in and out, a field read in place (RCU),
 * and `bpf_this_cpu_ptr` / `bpf_per_cpu_ptr` on a per-CPU object read from a
 * field. The twin is C with bpf_experimental.h's macros, built by clang-19:
 * clang-14 drops btf_type_tag from BTF, and the kernel then finds no kptr
 * ("R1 has no valid kptr"). Per-CPU counts are made by BPF_PROG_TEST_RUN on
 * chosen CPUs (the test thread pinned with sched_setaffinity: XDP's test run
 * takes no BPF_F_TEST_RUN_ON_CPU) and read back CPU by CPU.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import koffi from "koffi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { kptrHelpers } from "../compiler/dialect/helpers";
import { KERNEL_HELPERS } from "../compiler/dialect/kernel-helpers";
import { clang19, compileC } from "./support/clang";
import { inCI, kernelUnavailable, which } from "./support/kernel";

const bpftool = which("bpftool");
const unavailable = kernelUnavailable() ?? (clang19 === undefined ? "clang-19 is not installed (apt-get install clang-19)" : bpftool === undefined ? "bpftool is not installed" : undefined);

const imports = `import { xdp, XdpAction, ArrayMap, HashMap, Refcount, zeroed, u8, u32, u64, Kptr, PercpuKptr, bpf_obj_new, bpf_refcount_acquire, bpf_obj_drop, bpf_percpu_obj_new, bpf_percpu_obj_drop, bpf_kptr_xchg, bpf_this_cpu_ptr, bpf_per_cpu_ptr, bpf_rcu_read_lock, bpf_rcu_read_unlock } from "tsxdp";

interface Flow {
  packets: u64;
  bytes: u64;
}
interface FlowSlot {
  flow: Kptr<Flow>;
  seen: u32;
}
interface Counters {
  packets: u64;
  bytes: u64;
}
interface CounterSlot {
  counters: PercpuKptr<Counters>;
}

interface Shared {
  hits: u64;
  ref: Refcount;
}
interface SharedSlot {
  shared: Kptr<Shared>;
}

const flows = new ArrayMap<FlowSlot>({ maxEntries: 4 });
const percpu = new ArrayMap<CounterSlot>({ maxEntries: 1 });
const sharing = new HashMap<u32, SharedSlot>({ maxEntries: 8 });
`;

const source = `${imports}
// A flow's object, kept in the map across runs: taken out, counted, put back; made on the first packet.
export const track = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const slot = flows.lookup(u32(data.load<u8>(0) & 3));
  if (!slot) return XdpAction.ABORTED;
  slot.value.seen += 1;
  const old = bpf_kptr_xchg(slot.value.flow, null);
  if (old) {
    old.packets += 1;
    old.bytes += u64(data.load<u8>(1));
    data.store<u64>(8, old.packets);
    data.store<u64>(16, old.bytes);
    const back = bpf_kptr_xchg(slot.value.flow, old);
    if (back) bpf_obj_drop(back);
    return XdpAction.TX;
  }
  const f = bpf_obj_new<Flow>();
  if (!f) return XdpAction.DROP;
  f.packets = 1;
  f.bytes = u64(data.load<u8>(1));
  data.store<u64>(8, f.packets);
  data.store<u64>(16, f.bytes);
  const back = bpf_kptr_xchg(slot.value.flow, f);
  if (back) bpf_obj_drop(back);
  return XdpAction.PASS;
});

// The object read in place, not taken out: written through, its counts into the packet; PASS when the slot is empty.
export const peek = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const slot = flows.lookup(u32(data.load<u8>(0) & 3));
  if (!slot) return XdpAction.ABORTED;
  const f = slot.value.flow;
  if (!f) return XdpAction.PASS;
  f.bytes += 100;
  data.store<u64>(8, f.packets);
  data.store<u64>(16, f.bytes);
  return XdpAction.TX;
});

// The same inside an RCU read section, which it may not outlive.
export const peekLocked = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const slot = flows.lookup(u32(data.load<u8>(0) & 3));
  if (!slot) return XdpAction.ABORTED;
  bpf_rcu_read_lock();
  const f = slot.value.flow;
  if (!f) {
    bpf_rcu_read_unlock();
    return XdpAction.PASS;
  }
  data.store<u64>(8, f.packets);
  data.store<u64>(16, f.bytes);
  bpf_rcu_read_unlock();
  return XdpAction.TX;
});

// Empties a flow's slot, the old object's count into the packet.
export const forget = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const slot = flows.lookup(u32(data.load<u8>(0) & 3));
  if (!slot) return XdpAction.ABORTED;
  const old = bpf_kptr_xchg(slot.value.flow, null);
  if (!old) return XdpAction.PASS;
  data.store<u64>(8, old.packets);
  bpf_obj_drop(old);
  return XdpAction.DROP;
});

// A hash map entry per first byte, made by the program, then its object; later runs count through
// a second reference to the object read in place (bpf_refcount_acquire takes an RCU one).
export const share = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const key = u32(data.load<u8>(0));
  const slot = sharing.lookup(key);
  if (!slot) {
    const fresh = zeroed<SharedSlot>();
    sharing.update(key, fresh);
    return XdpAction.PASS;
  }
  const s = slot.value.shared;
  if (!s) {
    const o = bpf_obj_new<Shared>();
    if (!o) return XdpAction.DROP;
    o.hits = 1;
    data.store<u64>(8, o.hits);
    const old = bpf_kptr_xchg(slot.value.shared, o);
    if (old) bpf_obj_drop(old);
    return XdpAction.TX;
  }
  const again = bpf_refcount_acquire(s);
  if (!again) return XdpAction.DROP;
  again.hits += 1;
  data.store<u64>(8, again.hits);
  bpf_obj_drop(again);
  return XdpAction.TX;
});

// Puts a fresh per-CPU object in; TX when one was there (dropped).
export const install = xdp((ctx) => {
  const slot = percpu.lookup(0);
  if (!slot) return XdpAction.ABORTED;
  const c = bpf_percpu_obj_new<Counters>();
  if (!c) return XdpAction.DROP;
  const old = bpf_kptr_xchg(slot.value.counters, c);
  if (old) {
    bpf_percpu_obj_drop(old);
    return XdpAction.TX;
  }
  return XdpAction.PASS;
});

// Counts the packet in this CPU's copy, the count so far into the packet.
export const bump = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const slot = percpu.lookup(0);
  if (!slot) return XdpAction.ABORTED;
  const pc = slot.value.counters;
  if (!pc) return XdpAction.DROP;
  const c = bpf_this_cpu_ptr(pc);
  c.packets += 1;
  c.bytes += u64(data.load<u8>(1));
  data.store<u64>(8, c.packets);
  return XdpAction.PASS;
});

// Zeroes CPU data[0]'s copy (a reused object keeps its bytes); TX past the last CPU.
export const clear = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const slot = percpu.lookup(0);
  if (!slot) return XdpAction.ABORTED;
  const pc = slot.value.counters;
  if (!pc) return XdpAction.DROP;
  const c = bpf_per_cpu_ptr(pc, u32(data.load<u8>(0)));
  if (!c) return XdpAction.TX;
  c.packets = 0;
  c.bytes = 0;
  return XdpAction.PASS;
});

// CPU data[0]'s copy into the packet; TX past the last CPU.
export const total = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const slot = percpu.lookup(0);
  if (!slot) return XdpAction.ABORTED;
  const pc = slot.value.counters;
  if (!pc) return XdpAction.DROP;
  const c = bpf_per_cpu_ptr(pc, u32(data.load<u8>(0)));
  if (!c) return XdpAction.TX;
  data.store<u64>(8, c.packets);
  data.store<u64>(16, c.bytes);
  return XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern void *bpf_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
extern void *bpf_percpu_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_percpu_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
extern void *bpf_refcount_acquire_impl(void *p__refcounted_kptr, void *meta__ign) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
/* bpf_experimental.h's and bpf_helpers.h's */
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(__builtin_btf_type_id(*(type *)0, 0), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
#define bpf_percpu_obj_new(type) ((type *)bpf_percpu_obj_new_impl(__builtin_btf_type_id(*(type *)0, 0), NULL))
#define bpf_percpu_obj_drop(kptr) bpf_percpu_obj_drop_impl(kptr, NULL)
#define bpf_refcount_acquire(kptr) ((typeof(kptr))bpf_refcount_acquire_impl(kptr, NULL))
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))
char LICENSE[] SEC("license") = "GPL";
struct Flow { __u64 packets; __u64 bytes; };
struct FlowSlot { struct Flow __kptr *flow; __u32 seen; };
struct Counters { __u64 packets; __u64 bytes; };
struct CounterSlot { struct Counters __percpu_kptr *counters; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, struct FlowSlot); } flows SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct CounterSlot); } percpu SEC(".maps");
struct bpf_refcount { __u32 __opaque[1]; } __attribute__((aligned(4)));
struct Shared { __u64 hits; struct bpf_refcount ref; };
struct SharedSlot { struct Shared __kptr *shared; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, struct SharedSlot); } sharing SEC(".maps");
#define PACKET(n) void *data = (void *)(long)ctx->data; if (data + (n) > (void *)(long)ctx->data_end) return XDP_ABORTED;
`;

const twin = `${header}
static struct FlowSlot *slot_of(void *data)
{
	__u32 k = *(__u8 *)data & 3;
	return bpf_map_lookup_elem(&flows, &k);
}

SEC("xdp")
int track(struct xdp_md *ctx)
{
	PACKET(24)
	struct FlowSlot *slot = slot_of(data);
	if (!slot)
		return XDP_ABORTED;
	slot->seen += 1;
	struct Flow *old = bpf_kptr_xchg(&slot->flow, NULL);
	if (old) {
		old->packets += 1;
		old->bytes += *(__u8 *)(data + 1);
		*(__u64 *)(data + 8) = old->packets;
		*(__u64 *)(data + 16) = old->bytes;
		struct Flow *back = bpf_kptr_xchg(&slot->flow, old);
		if (back)
			bpf_obj_drop(back);
		return XDP_TX;
	}
	struct Flow *f = bpf_obj_new(struct Flow);
	if (!f)
		return XDP_DROP;
	f->packets = 1;
	f->bytes = *(__u8 *)(data + 1);
	*(__u64 *)(data + 8) = f->packets;
	*(__u64 *)(data + 16) = f->bytes;
	struct Flow *back = bpf_kptr_xchg(&slot->flow, f);
	if (back)
		bpf_obj_drop(back);
	return XDP_PASS;
}

SEC("xdp")
int peek(struct xdp_md *ctx)
{
	PACKET(24)
	struct FlowSlot *slot = slot_of(data);
	if (!slot)
		return XDP_ABORTED;
	struct Flow *f = slot->flow;
	if (!f)
		return XDP_PASS;
	f->bytes += 100;
	*(__u64 *)(data + 8) = f->packets;
	*(__u64 *)(data + 16) = f->bytes;
	return XDP_TX;
}

SEC("xdp")
int peekLocked(struct xdp_md *ctx)
{
	PACKET(24)
	struct FlowSlot *slot = slot_of(data);
	if (!slot)
		return XDP_ABORTED;
	bpf_rcu_read_lock();
	struct Flow *f = slot->flow;
	if (!f) {
		bpf_rcu_read_unlock();
		return XDP_PASS;
	}
	*(__u64 *)(data + 8) = f->packets;
	*(__u64 *)(data + 16) = f->bytes;
	bpf_rcu_read_unlock();
	return XDP_TX;
}

SEC("xdp")
int forget(struct xdp_md *ctx)
{
	PACKET(24)
	struct FlowSlot *slot = slot_of(data);
	if (!slot)
		return XDP_ABORTED;
	struct Flow *old = bpf_kptr_xchg(&slot->flow, NULL);
	if (!old)
		return XDP_PASS;
	*(__u64 *)(data + 8) = old->packets;
	bpf_obj_drop(old);
	return XDP_DROP;
}

SEC("xdp")
int share(struct xdp_md *ctx)
{
	PACKET(24)
	__u32 key = *(__u8 *)data;
	struct SharedSlot *slot = bpf_map_lookup_elem(&sharing, &key);
	if (!slot) {
		struct SharedSlot fresh = {};
		bpf_map_update_elem(&sharing, &key, &fresh, BPF_ANY);
		return XDP_PASS;
	}
	struct Shared *s = slot->shared;
	if (!s) {
		struct Shared *o = bpf_obj_new(struct Shared);
		if (!o)
			return XDP_DROP;
		o->hits = 1;
		*(__u64 *)(data + 8) = o->hits;
		struct Shared *old = bpf_kptr_xchg(&slot->shared, o);
		if (old)
			bpf_obj_drop(old);
		return XDP_TX;
	}
	struct Shared *again = bpf_refcount_acquire(s);
	if (!again)
		return XDP_DROP;
	again->hits += 1;
	*(__u64 *)(data + 8) = again->hits;
	bpf_obj_drop(again);
	return XDP_TX;
}

SEC("xdp")
int install(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct CounterSlot *slot = bpf_map_lookup_elem(&percpu, &k);
	if (!slot)
		return XDP_ABORTED;
	struct Counters *c = bpf_percpu_obj_new(struct Counters);
	if (!c)
		return XDP_DROP;
	struct Counters *old = bpf_kptr_xchg(&slot->counters, c);
	if (old) {
		bpf_percpu_obj_drop(old);
		return XDP_TX;
	}
	return XDP_PASS;
}

SEC("xdp")
int bump(struct xdp_md *ctx)
{
	PACKET(24)
	__u32 k = 0;
	struct CounterSlot *slot = bpf_map_lookup_elem(&percpu, &k);
	if (!slot)
		return XDP_ABORTED;
	struct Counters *pc = slot->counters;
	if (!pc)
		return XDP_DROP;
	struct Counters *c = bpf_this_cpu_ptr(pc);
	c->packets += 1;
	c->bytes += *(__u8 *)(data + 1);
	*(__u64 *)(data + 8) = c->packets;
	return XDP_PASS;
}

SEC("xdp")
int clear(struct xdp_md *ctx)
{
	PACKET(24)
	__u32 k = 0;
	struct CounterSlot *slot = bpf_map_lookup_elem(&percpu, &k);
	if (!slot)
		return XDP_ABORTED;
	struct Counters *pc = slot->counters;
	if (!pc)
		return XDP_DROP;
	struct Counters *c = bpf_per_cpu_ptr(pc, *(__u8 *)data);
	if (!c)
		return XDP_TX;
	c->packets = 0;
	c->bytes = 0;
	return XDP_PASS;
}

SEC("xdp")
int total(struct xdp_md *ctx)
{
	PACKET(24)
	__u32 k = 0;
	struct CounterSlot *slot = bpf_map_lookup_elem(&percpu, &k);
	if (!slot)
		return XDP_ABORTED;
	struct Counters *pc = slot->counters;
	if (!pc)
		return XDP_DROP;
	struct Counters *c = bpf_per_cpu_ptr(pc, *(__u8 *)data);
	if (!c)
		return XDP_TX;
	*(__u64 *)(data + 8) = c->packets;
	*(__u64 *)(data + 16) = c->bytes;
	return XDP_PASS;
}
`;

/** Each member of a struct with its type chain to a named type: "flow: PTR -> TYPE_TAG 'kptr' -> STRUCT 'Flow'". */
function memberChains(object: Uint8Array, struct: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "tsxdp-kptr-"));
  let dump: string;
  try {
    writeFileSync(join(dir, "o.o"), object);
    dump = execFileSync(bpftool!, ["btf", "dump", "file", join(dir, "o.o")], { encoding: "utf8" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  type Type = { kind: string; name: string; to?: number; members: { name: string; type: number }[] };
  const types = new Map<number, Type>();
  let last: Type | undefined;
  for (const line of dump.split("\n")) {
    const t = /^\[(\d+)\] (\w+) '([^']*)'(?: type_id=(\d+))?/.exec(line);
    if (t) types.set(Number(t[1]), (last = { kind: t[2]!, name: t[3]!, ...(t[4] ? { to: Number(t[4]) } : {}), members: [] }));
    const m = /^\t'([^']*)' type_id=(\d+)/.exec(line);
    if (m && last) last.members.push({ name: m[1]!, type: Number(m[2]) });
  }
  const chain = (id: number): string => {
    const t = types.get(id);
    if (!t) return "?";
    const here = t.name && t.name !== "(anon)" ? `${t.kind} '${t.name}'` : t.kind;
    return t.kind === "PTR" || t.kind === "TYPE_TAG" ? `${here} -> ${chain(t.to!)}` : here;
  };
  const s = [...types.values()].find((t) => t.kind === "STRUCT" && t.name === struct);
  return (s?.members ?? []).map((m) => `${m.name}: ${chain(m.type)}`);
}

function refusal(body: string): string[] {
  const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  const slot = flows.lookup(0);\n  if (!slot) return XdpAction.ABORTED;\n  ${body}\n});\n`, fileName: "kptr_refused.ts" });
  expect(r.ok).toBe(false);
  return r.diagnostics.map((d) => `${d.code} ${d.message}`);
}

/** The kernel's verdict on a C program over the same maps (the verifier log when it refuses it). */
function load(c: string): string {
  try {
    // The structs whole in BTF, as the twin's bpf_obj_new makes them (a struct only a pointer member reaches is a FWD).
    loadObject(compileC(`${header}\nstruct Flow flow_type SEC(".tsxdp.types");\nSEC("xdp")\nint prog(struct xdp_md *ctx)\n{\n\t__u32 k = 0;\n\tstruct FlowSlot *slot = bpf_map_lookup_elem(&flows, &k);\n\tif (!slot)\n\t\treturn XDP_ABORTED;\n\t${c}\n}\n`, clang19)).close();
  } catch (e) {
    if (e instanceof LoadError) return e.verifierLog;
    throw e;
  }
  return "";
}

let affinity: Uint8Array | undefined;

/** Pins the calling thread (the test's, which runs BPF_PROG_TEST_RUN) to one CPU, or back to the CPUs it had. */
function pinTo(cpu: number | undefined): void {
  const libc = koffi.load("libc.so.6");
  const getAffinity = libc.func("int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)");
  const setAffinity = libc.func("int sched_setaffinity(int pid, size_t size, const uint8_t *mask)");
  const errno = libc.func("int *__errno_location(void)");
  if (!affinity) {
    affinity = new Uint8Array(128);
    if (getAffinity(0, affinity.length, affinity) < 0) throw new Error(`sched_getaffinity failed: errno ${koffi.decode(errno(), "int")}`);
  }
  const mask = cpu === undefined ? affinity : new Uint8Array(128);
  if (cpu !== undefined) mask[cpu >> 3]! |= 1 << (cpu & 7);
  if (setAffinity(0, mask.length, mask) !== 0) throw new Error(`sched_setaffinity(${cpu ?? "as before"}) failed: errno ${koffi.decode(errno(), "int")}`);
}

/** The CPUs the kernel has (bpf_per_cpu_ptr's bound), not the ones this process may use. */
function cpus(): number {
  return Number(/^0-(\d+)$/.exec(readFileSync("/sys/devices/system/cpu/possible", "utf8").trim())?.[1] ?? 0) + 1;
}

function packet(first: number, second: number): Uint8Array {
  const data = new Uint8Array(24);
  data[0] = first;
  data[1] = second;
  return data;
}

const u64At = (d: Uint8Array, at: number) => new DataView(d.buffer, d.byteOffset).getBigUint64(at, true);

describe.skipIf(unavailable !== undefined && !inCI)(`Kptr, PercpuKptr, bpf_kptr_xchg, bpf_this_cpu_ptr, bpf_per_cpu_ptr${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;
  let object: Uint8Array;
  let twinObject: Uint8Array;

  beforeAll(() => {
    if (unavailable) throw new Error(`kptr tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "kptrs.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    twinObject = compileC(twin, clang19);
    ours = loadObject(object);
    theirs = loadObject(twinObject);
  });

  afterAll(() => {
    if (affinity) pinTo(undefined);
    ours?.close();
    theirs?.close();
  });

  it("the helpers are the kernel's by ID", () => {
    for (const [name, h] of kptrHelpers) expect(KERNEL_HELPERS.indexOf(name.slice(4)), name).toBe(h.id);
  });

  it("the fields are what clang writes for `struct T __kptr *` and `__percpu_kptr *`, and the kernel loads them with BTF", () => {
    expect(memberChains(object, "FlowSlot")).toEqual(["flow: PTR -> TYPE_TAG 'kptr' -> STRUCT 'Flow'", "seen: TYPEDEF '__u32'"]);
    expect(memberChains(object, "FlowSlot")).toEqual(memberChains(twinObject, "FlowSlot"));
    expect(memberChains(object, "CounterSlot")).toEqual(["counters: PTR -> TYPE_TAG 'percpu_kptr' -> STRUCT 'Counters'"]);
    expect(memberChains(object, "CounterSlot")).toEqual(memberChains(twinObject, "CounterSlot"));
    expect(ours.program("track").info().btfId).toBeGreaterThan(0);
  });

  it("a flow's object kept across runs by bpf_kptr_xchg, read and written in place, taken out: the C twin's verdicts and bytes", () => {
    const steps: [string, number, number][] = [
      ["peek", 1, 0],
      ["track", 1, 10],
      ["track", 1, 20],
      ["peek", 1, 0],
      ["peekLocked", 1, 0],
      ["track", 2, 7],
      ["track", 5, 3],
      ["track", 1, 1],
      ["peekLocked", 5, 0],
      ["forget", 1, 0],
      ["peek", 1, 0],
      ["forget", 1, 0],
      ["track", 1, 4],
      ["forget", 2, 0],
    ];
    const seen: string[] = [];
    for (const [program, first, second] of steps) {
      const a = ours.program(program).testRun({ data: packet(first, second) });
      const b = theirs.program(program).testRun({ data: packet(first, second) });
      expect(a.action, `${program}(${first}, ${second})`).toBe(b.action);
      expect(a.data).toEqual(b.data);
      seen.push(`${program} ${a.action} ${u64At(a.data, 8)} ${u64At(a.data, 16)}`);
    }
    expect(seen).toEqual([
      "peek PASS 0 0",
      "track PASS 1 10",
      "track TX 2 30",
      "peek TX 2 130",
      "peekLocked TX 2 130",
      "track PASS 1 7",
      "track TX 3 133",
      "track TX 4 134",
      "peekLocked TX 4 134",
      "forget DROP 4 0",
      "peek PASS 0 0",
      "forget PASS 0 0",
      "track PASS 1 4",
      "forget DROP 1 0",
    ]);
    // The map's own bytes (seen) are the program's; the kernel hides the kptr from userspace.
    const key = new Uint8Array(4);
    key[0] = 1;
    expect(ours.map("flows").lookup(key)).toEqual(theirs.map("flows").lookup(key));
  });

  it("an object in a hash map entry the program made, counted through second references to the one read in place; deleting the entry frees it: the C twin's", () => {
    const seen: string[] = [];
    const run = (first: number) => {
      const a = ours.program("share").testRun({ data: packet(first, 0) });
      const b = theirs.program("share").testRun({ data: packet(first, 0) });
      expect(a.action).toBe(b.action);
      expect(a.data).toEqual(b.data);
      seen.push(`${first} ${a.action} ${u64At(a.data, 8)}`);
    };
    for (const first of [1, 1, 1, 2, 1, 2]) run(first);
    const key = new Uint8Array(4);
    key[0] = 1;
    expect(ours.map("sharing").delete(key)).toBe(true);
    expect(theirs.map("sharing").delete(key)).toBe(true);
    for (const first of [1, 1, 1]) run(first);
    expect(seen).toEqual(["1 PASS 0", "1 TX 1", "1 TX 2", "2 PASS 0", "1 TX 3", "2 TX 1", "1 PASS 0", "1 TX 1", "1 TX 2"]);
  });

  it("per-CPU counters in a per-CPU object, counted on chosen CPUs and read back CPU by CPU: the C twin's", () => {
    for (const o of [ours, theirs]) {
      expect(o.program("total").testRun({ data: packet(0, 0) }).action).toBe("DROP");
      expect(o.program("install").testRun({ data: packet(0, 0) }).action).toBe("PASS");
      expect(o.program("install").testRun({ data: packet(0, 0) }).action).toBe("TX");
      for (let c = 0; c < cpus(); c++) expect(o.program("clear").testRun({ data: packet(c, 0) }).action).toBe("PASS");
      expect(o.program("clear").testRun({ data: packet(cpus(), 0) }).action).toBe("TX");
    }
    const runs = Array.from({ length: cpus() }, (_, c) => c + 2);
    for (let c = 0; c < cpus(); c++) {
      pinTo(c);
      for (let n = 1; n <= runs[c]!; n++) {
        const a = ours.program("bump").testRun({ data: packet(0, c + 1) });
        const b = theirs.program("bump").testRun({ data: packet(0, c + 1) });
        expect(a.action).toBe("PASS");
        expect(a.data).toEqual(b.data);
        expect(u64At(a.data, 8)).toBe(BigInt(n));
      }
    }
    pinTo(undefined);
    let packets = 0n;
    let bytes = 0n;
    for (let c = 0; c < cpus(); c++) {
      const a = ours.program("total").testRun({ data: packet(c, 0) });
      const b = theirs.program("total").testRun({ data: packet(c, 0) });
      expect(a.action).toBe("PASS");
      expect(a.data).toEqual(b.data);
      expect([u64At(a.data, 8), u64At(a.data, 16)]).toEqual([BigInt(runs[c]!), BigInt(runs[c]! * (c + 1))]);
      packets += u64At(a.data, 8);
      bytes += u64At(a.data, 16);
    }
    expect(packets).toBe(BigInt(runs.reduce((s, n) => s + n, 0)));
    expect(bytes).toBe(BigInt(runs.reduce((s, n, c) => s + n * (c + 1), 0)));
    // Past the last CPU bpf_per_cpu_ptr gives NULL, in both.
    expect(ours.program("total").testRun({ data: packet(255, 0) }).action).toBe("TX");
    expect(theirs.program("total").testRun({ data: packet(255, 0) }).action).toBe("TX");
  });

  it("the old object kept, an object used after it was moved into the map, a read used after its RCU section: refused at compile time, as the kernel refuses the C", () => {
    expect(refusal("const old = bpf_kptr_xchg(slot.value.flow, null); if (!old) return XdpAction.PASS; return XdpAction.DROP;")).toEqual([expect.stringMatching(/^TSX3020 the `Flow` from `bpf_kptr_xchg` is not dropped or put back/)]);
    expect(load("struct Flow *old = bpf_kptr_xchg(&slot->flow, NULL); if (!old) return XDP_PASS; return XDP_DROP;")).toContain("Unreleased reference");

    expect(refusal("const f = bpf_obj_new<Flow>(); if (!f) return XdpAction.PASS; const old = bpf_kptr_xchg(slot.value.flow, f); if (old) bpf_obj_drop(old); f.packets = 2; return XdpAction.DROP;")).toEqual([
      expect.stringMatching(/^TSX3021 the `Flow` from `bpf_obj_new` was already dropped, or moved into a map/),
    ]);
    expect(load("struct Flow *f = bpf_obj_new(struct Flow); if (!f) return XDP_PASS; struct Flow *old = bpf_kptr_xchg(&slot->flow, f); if (old) bpf_obj_drop(old); f->packets = 2; return XDP_DROP;")).toMatch(/invalid mem access 'scalar'/);

    expect(refusal("bpf_rcu_read_lock(); const f = slot.value.flow; if (!f) { bpf_rcu_read_unlock(); return XdpAction.PASS; } bpf_rcu_read_unlock(); f.packets += 1; return XdpAction.DROP;")).toEqual([
      expect.stringMatching(/^TSX3032 this object was read from a kptr field inside an RCU read section that has ended/),
    ]);
    expect(load("bpf_rcu_read_lock(); struct Flow *f = slot->flow; if (!f) { bpf_rcu_read_unlock(); return XDP_PASS; } bpf_rcu_read_unlock(); f->packets += 1; return XDP_DROP;")).not.toBe("");
  });

  it("an object read from a field (the map's) moved in, dropped or stored: refused at compile time, as the kernel refuses the C", () => {
    expect(refusal("const f = slot.value.flow; if (!f) return XdpAction.PASS; const old = bpf_kptr_xchg(slot.value.flow, f); if (old) bpf_obj_drop(old); return XdpAction.DROP;")).toEqual([
      expect.stringMatching(/^TSX2010 `bpf_kptr_xchg` moves into the field an object the program owns/),
    ]);
    expect(load("struct Flow *f = slot->flow; if (!f) return XDP_PASS; struct Flow *old = bpf_kptr_xchg(&slot->flow, f); if (old) bpf_obj_drop(old); return XDP_DROP;")).not.toBe("");
    expect(refusal("const f = slot.value.flow; if (!f) return XdpAction.PASS; bpf_obj_drop(f); return XdpAction.DROP;")).toEqual([expect.stringMatching(/^TSX2010 `bpf_obj_drop` takes an object/)]);
    expect(load("struct Flow *f = slot->flow; if (!f) return XDP_PASS; bpf_obj_drop(f); return XDP_DROP;")).not.toBe("");
    expect(refusal("slot.value.flow = slot.value.flow; return XdpAction.PASS;")).toEqual([expect.stringMatching(/^TSX3003 `slot.value.flow` holds an object: the kernel refuses a store to it/)]);
    expect(refusal("slot.value.flow = null; return XdpAction.PASS;")).toEqual([expect.stringMatching(/^TSX1014 `null` is not a value/)]);
    expect(load("slot->flow = NULL; return XDP_PASS;")).toContain("store to referenced kptr disallowed");
  });
});
