/**
 * bpf_for_each_map_elem (helper 164) through `map.forEach(callback, state)`:
 * the callback is a static subprogram with the kernel's signature (map, key,
 * value, ctx), summing a hash map of struct values into the caller's state,
 * changing values in place, stopping early by returning 1, and walking an
 * array map with and without a state. Compared with a C twin built by
 * clang-14 on the same frames and the same map contents, the maps read back
 * from userspace after every run. The hash maps have BPF_F_ZERO_SEED so
 * both walk their elements in the same order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import { rng } from "./support/packets";

const source = `
import { xdp, XdpAction, HashMap, ArrayMap, zeroed, atomicAdd, type ValueRef, i64, u32, u64 } from "tsxdp";

interface FlowKey {
  addr: u32;
  port: u32;
}

interface Stats {
  packets: u64;
  bytes: u64;
}

interface Sum {
  packets: u64;
  bytes: u64;
  visited: u32;
  limit: u32;
  biggest: u32;
}

interface Factor {
  mul: u64;
}

const flows = new HashMap<FlowKey, Stats>({ maxEntries: 64, flags: 0x40 });
const counters = new ArrayMap<u64>({ maxEntries: 16 });

function addUp(key: FlowKey, value: ValueRef<Stats>, sum: Sum): i64 {
  sum.packets += value.value.packets;
  sum.bytes += value.value.bytes;
  if (value.value.bytes > 5000) sum.biggest = key.addr ^ key.port;
  value.value.packets += 1;
  sum.visited += 1;
  if (sum.visited >= sum.limit) return 1;
  return 0;
}

function scale(index: u32, value: ValueRef<u64>, factor: Factor): i64 {
  value.value = value.value * factor.mul + u64(index);
  return 0;
}

function bump(index: u32, value: ValueRef<u64>): i64 {
  atomicAdd(value, u64(index) + 1);
  return index === 9 ? 1 : 0;
}

export const walk = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 64 > data_end) return XdpAction.DROP;
  const sum: Sum = zeroed<Sum>();
  sum.limit = data.load<u32>(14);
  const seen = flows.forEach(addUp, sum);
  const f: Factor = zeroed<Factor>();
  f.mul = u64(data.load<u32>(18));
  const scaled = counters.forEach(scale, f);
  const bumped = counters.forEach(bump);
  data.store<u64>(22, sum.packets);
  data.store<u64>(30, sum.bytes);
  data.store<u32>(38, sum.visited);
  data.store<u32>(42, sum.biggest);
  data.store<u32>(46, u32(seen));
  data.store<u32>(50, u32(scaled));
  data.store<u32>(54, u32(bumped));
  return seen === i64(sum.visited) ? XdpAction.TX : XdpAction.PASS;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;

struct flow_key { __u32 addr, port; };
struct stats { __u64 packets, bytes; };
struct sum { __u64 packets, bytes; __u32 visited, limit, biggest; };
struct factor { __u64 mul; };

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __uint(map_flags, BPF_F_ZERO_SEED);
  __type(key, struct flow_key);
  __type(value, struct stats);
} flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static long addUp(struct bpf_map *map, struct flow_key *key, struct stats *value, struct sum *sum) {
  sum->packets += value->packets;
  sum->bytes += value->bytes;
  if (value->bytes > 5000) sum->biggest = key->addr ^ key->port;
  value->packets += 1;
  sum->visited += 1;
  if (sum->visited >= sum->limit) return 1;
  return 0;
}

static long scale(struct bpf_map *map, __u32 *index, __u64 *value, struct factor *factor) {
  *value = *value * factor->mul + *index;
  return 0;
}

static long bump(struct bpf_map *map, __u32 *index, __u64 *value, void *ctx) {
  __sync_fetch_and_add(value, (__u64)*index + 1);
  return *index == 9 ? 1 : 0;
}

SEC("xdp") int walk(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
  if (data + 64 > data_end) return XDP_DROP;
  struct sum sum = { .limit = *(__u32 *)(data + 14) };
  long seen = bpf_for_each_map_elem(&flows, addUp, &sum, 0);
  struct factor f = { .mul = *(__u32 *)(data + 18) };
  long scaled = bpf_for_each_map_elem(&counters, scale, &f, 0);
  long bumped = bpf_for_each_map_elem(&counters, bump, 0, 0);
  *(__u64 *)(data + 22) = sum.packets;
  *(__u64 *)(data + 30) = sum.bytes;
  *(__u32 *)(data + 38) = sum.visited;
  *(__u32 *)(data + 42) = sum.biggest;
  *(__u32 *)(data + 46) = seen;
  *(__u32 *)(data + 50) = scaled;
  *(__u32 *)(data + 54) = bumped;
  return seen == sum.visited ? XDP_TX : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
`;

function u32le(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function u64le(n: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}

/** 40 flows with random counts, the same in both objects; the array's 16 slots small numbers. */
function fill(obj: LoadedObject): void {
  const next = rng(0xf0ea);
  for (let i = 0; i < 40; i++) {
    const key = Buffer.concat([u32le(next()), u32le(next() & 0xffff)]);
    obj.map("flows").update(key, Buffer.concat([u64le(BigInt(next() % 100)), u64le(BigInt(next() % 10000))]), "noexist");
  }
  for (let i = 0; i < 16; i++) obj.map("counters").update(u32le(i), u64le(BigInt(next() % 50)));
}

/** Both maps as text, keys in a stable order. */
function contents(obj: LoadedObject): string {
  const flows = obj.map("flows");
  const rows = flows.keys().map((k) => `${Buffer.from(k).toString("hex")}=${Buffer.from(flows.lookup(k)!).toString("hex")}`);
  const counters = Array.from({ length: 16 }, (_, i) => Buffer.from(obj.map("counters").lookup(u32le(i))!).toString("hex"));
  return [...rows.sort(), ...counters].join("\n");
}

/** Limits 0 to 45 (stopping before, at and past the 40 flows) and random factors. */
function frames(): Uint8Array[] {
  const next = rng(0xeac4);
  const out: Uint8Array[] = [];
  for (let limit = 0; limit <= 45; limit++) {
    const f = Uint8Array.from({ length: 64 }, () => next() & 0xff);
    f.set(u32le(limit), 14);
    f.set(u32le(next() % 5), 18);
    out.push(f);
  }
  out.push(new Uint8Array(63));
  return out;
}

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_for_each_map_elem against a C twin${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`forEach tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "walk.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
    fill(ours);
    fill(theirs);
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("same verdicts, sums and map contents as clang's after each of 47 frames", () => {
    const visited = new Set<number>();
    const before = contents(ours);
    expect(before).toBe(contents(theirs));
    for (const data of frames()) {
      const a = ours.program("walk").testRun({ data });
      const b = theirs.program("walk").testRun({ data });
      expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`, Buffer.from(data).toString("hex")).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
      expect(contents(ours)).toBe(contents(theirs));
      if (a.data.length === 64) {
        const out = Buffer.from(a.data);
        visited.add(out.readUInt32LE(46));
        // The array walk with no state stops at index 9: ten elements.
        expect(out.readUInt32LE(54)).toBe(10);
        expect(out.readUInt32LE(50)).toBe(16);
      }
    }
    // Early stops of every length, and full walks of the 40 flows.
    expect(visited.size).toBe(40);
    expect(Math.max(...visited)).toBe(40);
    expect(contents(ours)).not.toBe(before);
  });

  it("the kernel refuses a callback that may return other than 0 or 1, as tsxdp does (TSX4009)", () => {
    const bad = twin.replace("  *value = *value * factor->mul + *index;\n  return 0;", "  *value = *value * factor->mul + *index;\n  return *value;");
    expect(bad).not.toBe(twin);
    expect(() => loadObject(compileC(bad))).toThrow(LoadError);
    const r = compile({ source: source.replace("  value.value = value.value * factor.mul + u64(index);\n  return 0;", "  value.value = value.value * factor.mul + u64(index);\n  return i64(value.value);"), fileName: "walk.ts" });
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX4009 41:10"]);
  });

  it("the kernel refuses a write to the key, as tsxdp does", () => {
    const bad = twin.replace("  value->packets += 1;", "  value->packets += 1;\n  key->port = 1;");
    expect(bad).not.toBe(twin);
    expect(() => loadObject(compileC(bad))).toThrow(LoadError);
    const r = compile({ source: source.replace("  value.value.packets += 1;", "  value.value.packets += 1;\n  key.port = 1;"), fileName: "walk.ts" });
    expect(r.diagnostics.map((d) => `${d.code} ${d.location?.line}:${d.location?.column}`)).toEqual(["TSX3003 34:3"]);
  });
});
