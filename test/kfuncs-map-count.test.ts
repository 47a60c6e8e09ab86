/**
 * `bpf_map_sum_elem_count(map)`: the elements the kernel counts in a map,
 * the map passed by name as clang passes `&map` (a map address libbpf
 * relocates). Entries are put and deleted from userspace and by the
 * program; our program and its clang-14 twin write the counts of a hash, an
 * LRU hash, a per-CPU hash and an array into the packet under
 * BPF_PROG_TEST_RUN, and both agree with what userspace put there (arrays:
 * 0, the kernel does not count them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject, u32Key } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const source = `import { xdp, XdpAction, u32, u64, i64, HashMap, LruHash, PerCpuHash, ArrayMap, bpf_map_sum_elem_count } from "tsxdp";

const flows = new HashMap<u32, u64>({ maxEntries: 64 });
const recent = new LruHash<u32, u64>({ maxEntries: 64 });
const perCpu = new PerCpuHash<u32, u64>({ maxEntries: 64 });
const slots = new ArrayMap<u64>({ maxEntries: 8 });

export const count = xdp((ctx) => {
  const data = ctx.data;
  if (data + 46 > ctx.data_end) return XdpAction.ABORTED;
  data.store<i64>(14, bpf_map_sum_elem_count(flows));
  data.store<i64>(22, bpf_map_sum_elem_count(recent));
  data.store<i64>(30, bpf_map_sum_elem_count(perCpu));
  data.store<i64>(38, bpf_map_sum_elem_count(slots));
  return XdpAction.TX;
});

// Puts the key at offset 14 into flows: counted as userspace's are.
export const add = xdp((ctx) => {
  const data = ctx.data;
  if (data + 18 > ctx.data_end) return XdpAction.ABORTED;
  const one: u64 = 1;
  return flows.update(data.load<u32>(14), one) === 0 ? XdpAction.TX : XdpAction.DROP;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
/* A struct (not a forward declaration): libbpf 1.1 matches the kernel's by kind. */
struct bpf_map {};
extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;
#define MAP(name, kind, n) struct { __uint(type, kind); __uint(max_entries, n); __type(key, __u32); __type(value, __u64); } name SEC(".maps")
MAP(flows, BPF_MAP_TYPE_HASH, 64);
MAP(recent, BPF_MAP_TYPE_LRU_HASH, 64);
MAP(perCpu, BPF_MAP_TYPE_PERCPU_HASH, 64);
MAP(slots, BPF_MAP_TYPE_ARRAY, 8);
char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 46 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	*(__s64 *)(data + 14) = bpf_map_sum_elem_count((const struct bpf_map *)&flows);
	*(__s64 *)(data + 22) = bpf_map_sum_elem_count((const struct bpf_map *)&recent);
	*(__s64 *)(data + 30) = bpf_map_sum_elem_count((const struct bpf_map *)&perCpu);
	*(__s64 *)(data + 38) = bpf_map_sum_elem_count((const struct bpf_map *)&slots);
	return XDP_TX;
}

SEC("xdp")
int add(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 18 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	__u64 one = 1;
	return bpf_map_update_elem(&flows, data + 14, &one, BPF_ANY) == 0 ? XDP_TX : XDP_DROP;
}
`;

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_map_sum_elem_count${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`bpf_map_sum_elem_count tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "map_count.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  const counts = (o: LoadedObject) => {
    const r = o.program("count").testRun({ data: new Uint8Array(64) });
    expect(r.action).toBe("TX");
    const v = new DataView(r.data.buffer, r.data.byteOffset);
    return [14, 22, 30, 38].map((at) => v.getBigInt64(at, true));
  };
  const value = (n: number) => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);

  /** Puts keys 0 … n-1 into each map of `o` (and the same array slots), then deletes `gone` of them from the hashes. */
  const fill = (o: LoadedObject, n: number, gone: number[]) => {
    const cpus = o.map("perCpu").cpus;
    for (let k = 0; k < n; k++) {
      o.map("flows").update(u32Key(k), value(k));
      o.map("recent").update(u32Key(k), value(k));
      o.map("perCpu").update(u32Key(k), Array.from({ length: cpus }, () => value(k)));
      if (k < 8) o.map("slots").update(u32Key(k), value(k));
    }
    for (const k of gone) for (const m of ["flows", "recent", "perCpu"]) expect(o.map(m).delete(u32Key(k))).toBe(true);
  };

  it("empty maps: 0 everywhere, as the C twin", () => {
    expect(counts(ours)).toEqual([0n, 0n, 0n, 0n]);
    expect(counts(theirs)).toEqual(counts(ours));
  });

  it("the entries userspace put, less those it deleted: the hashes count them, the array does not", () => {
    fill(ours, 11, [3, 7]);
    fill(theirs, 11, [3, 7]);
    expect(counts(ours)).toEqual([9n, 9n, 9n, 0n]);
    expect(counts(theirs)).toEqual(counts(ours));
  });

  it("entries the program puts count too; replacing one does not", () => {
    for (const o of [ours, theirs]) {
      for (const k of [100, 101, 0, 100]) {
        const data = new Uint8Array(64);
        new DataView(data.buffer).setUint32(14, k, true);
        expect(o.program("add").testRun({ data }).action).toBe("TX");
      }
    }
    expect(counts(ours)).toEqual([11n, 9n, 9n, 0n]);
    expect(counts(theirs)).toEqual(counts(ours));
  });

  it("an inner map of a map of maps: refused at compile time (only the file's own maps have an address here)", () => {
    const bad = compile({
      source: `import { xdp, XdpAction, u64, ArrayMap, ArrayOfMaps, bpf_map_sum_elem_count } from "tsxdp";
const outer = new ArrayOfMaps<ArrayMap<u64>>({ maxEntries: 2, inner: { maxEntries: 4 } });
export const prog = xdp((ctx) => {
  const inner = outer.lookup(0);
  if (!inner) return XdpAction.PASS;
  return bpf_map_sum_elem_count(inner) > 0 ? XdpAction.DROP : XdpAction.PASS;
});
`,
      fileName: "map_count_refused.ts",
    });
    expect(bad.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(["TSX2010 `bpf_map_sum_elem_count` takes one of the file's maps, by its name"]);
  });
});
