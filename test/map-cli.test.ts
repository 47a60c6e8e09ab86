/**
 * `tsxdp map dump|get|set|delete` on pinned maps, as users run it
 * (dist/cli.js in a child process): examples/flow_counters.ts is loaded, its
 * maps pinned, frames run through it; then the CLI must show the counts
 * decoded through BTF (be32 source addresses, per-CPU sums), round-trip
 * get/set/delete, print the documented --json shape, dump a whole pin
 * directory, and fail with the contract's exit codes.
 * Also the raw BTF parser (object/btf-types.ts) on the .BTF of a compiled
 * object and on hand-made BTF for the kinds tsxdp does not emit.
 *
 * Kernel tests skip without root and fail under CI=true (support/kernel.ts).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { loadObject } from "../compiler/loader/index";
import { BtfError, BtfTypes, BTF_KIND } from "../compiler/object/btf-types";
import { readElf } from "../compiler/object/elf";
import { ensureBpffs, skipKernel } from "./support/kernel";
import * as P from "./support/packets";

const cli = path.resolve("dist/cli.js");

function tsxdp(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, "map", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function flowCountersObject(): Uint8Array {
  const r = compile({ file: "examples/flow_counters.ts" });
  if (!r.ok || !r.object) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
  return r.object;
}

// ---------------------------------------------------------------------------
// The BTF parser

/** The key or value type of map `name` in an object's .BTF (its `key`/`value` member points at it). */
function mapMemberType(btf: BtfTypes, name: string, member: "key" | "value"): number {
  const v = btf.types.find((t) => t.kind === BTF_KIND.VAR && t.name === name);
  if (!v) throw new Error(`no VAR ${name}`);
  const def = btf.resolve(v.type).type;
  const m = def.members!.find((x) => x.name === member)!;
  return btf.type(m.type).type; // a pointer to the type
}

/** Raw BTF from types given as [name, info, sizeOrType, ...extra u32s]. */
function rawBtf(strings: string[], types: number[][]): Uint8Array {
  const strTab = Buffer.from(`\0${strings.join("\0")}\0`);
  const typeWords = types.flat();
  const typeBuf = Buffer.alloc(typeWords.length * 4);
  typeWords.forEach((w, i) => typeBuf.writeUInt32LE(w >>> 0, i * 4));
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0);
  hdr.writeUInt8(1, 2);
  hdr.writeUInt32LE(24, 4);
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(typeBuf.length, 12);
  hdr.writeUInt32LE(typeBuf.length, 16);
  hdr.writeUInt32LE(strTab.length, 20);
  return Uint8Array.from(Buffer.concat([hdr, typeBuf, strTab]));
}
/** Offset of the n-th (0-based) name in rawBtf's string table. */
function nameOff(strings: string[], n: number): number {
  return 1 + strings.slice(0, n).reduce((a, s) => a + s.length + 1, 0);
}
const info = (kind: number, vlen = 0, kindFlag = false) => ((kindFlag ? 1 : 0) << 31) | (kind << 24) | vlen;

describe("BTF types (object/btf-types.ts)", () => {
  let btf: BtfTypes;
  beforeAll(() => {
    const elf = readElf(flowCountersObject());
    btf = new BtfTypes(elf.contents(elf.section(".BTF")!));
  });

  test("reads every type of a compiled object's .BTF, with the map key and value types", () => {
    expect(btf.types.length).toBeGreaterThan(20);
    const key = mapMemberType(btf, "bySource", "key");
    expect(btf.typeName(key)).toBe("__be32");
    expect(btf.sizeOf(key)).toBe(4);
    expect(btf.typeName(mapMemberType(btf, "bySource", "value"))).toBe("__u64");
    expect(btf.typeName(mapMemberType(btf, "byClass", "key"))).toBe("__u32");
    const md = btf.types.find((t) => t.name === "xdp_md")!;
    expect(md.kind).toBe(BTF_KIND.STRUCT);
    expect(md.members!.map((m) => m.name)).toEqual(["data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index", "egress_ifindex"]);
    expect(btf.types.some((t) => t.kind === BTF_KIND.DATASEC && t.name === ".maps")).toBe(true);
    expect(btf.types.some((t) => t.kind === BTF_KIND.FUNC && t.name === "flow_counters")).toBe(true);
  });

  test("formats and parses __be32 in network order, __u64 in host order, structs by member", () => {
    const key = mapMemberType(btf, "bySource", "key");
    const value = mapMemberType(btf, "bySource", "value");
    expect(btf.format(key, Uint8Array.from([10, 0, 0, 1]))).toEqual({ be: "0x0a000001", host: 167772161 });
    for (const text of ["10.0.0.1", "0x0a000001", "167772161", "hex:0a000001", '{"be": "0x0a000001", "host": 167772161}']) {
      expect([...btf.parse(key, text)], text).toEqual([10, 0, 0, 1]);
    }
    expect(btf.format(value, Uint8Array.from([1, 2, 0, 0, 0, 0, 0, 0]))).toBe(0x201);
    expect(btf.format(value, new Uint8Array(8).fill(0xff))).toBe("18446744073709551615");
    expect([...btf.parse(value, "18446744073709551615")]).toEqual(new Array(8).fill(0xff));
    expect(() => btf.parse(value, "18446744073709551616")).toThrow(/out of range for __u64/);
    expect(() => btf.parse(value, "-1")).toThrow(BtfError);
    expect(() => btf.parse(key, "10.0.0.300")).toThrow(/not an integer or an IPv4 address/);
    expect(() => btf.parse(key, "hex:0a00")).toThrow(/2 bytes; 4 are needed/);
    const md = btf.types.find((t) => t.name === "xdp_md")!.id;
    const bytes = new Uint8Array(24);
    new DataView(bytes.buffer).setUint32(12, 7, true);
    expect(btf.format(md, bytes)).toEqual({ data: 0, data_end: 0, data_meta: 0, ingress_ifindex: 7, rx_queue_index: 0, egress_ifindex: 0 });
    expect([...btf.parse(md, '{"ingress_ifindex": 7}')]).toEqual([...bytes]);
    expect(() => btf.parse(md, '{"ifindex": 7}')).toThrow(/no member 'ifindex'/);
  });

  test("hand-made BTF: enums, signed ints, bitfields, char arrays, ENUM64, bool, modifiers", () => {
    const s = ["int", "char", "color", "RED", "GREEN", "flags", "a", "b", "c", "name", "big", "X", "_Bool", "__be16", "s"];
    const n = (x: string) => nameOff(s, s.indexOf(x));
    const raw = rawBtf(s, [
      /* 1 */ [n("int"), info(BTF_KIND.INT), 4, (1 << 24) | 32], // signed int
      /* 2 */ [n("char"), info(BTF_KIND.INT), 1, (2 << 24) | 8], // char
      /* 3 */ [n("color"), info(BTF_KIND.ENUM, 2), 4, n("RED"), 0, n("GREEN"), 1],
      /* 4 */ [n("flags"), info(BTF_KIND.STRUCT, 3, true), 4, n("a"), 8, (3 << 24) | 0, n("b"), 1, (5 << 24) | 3, n("c"), 3, (8 << 24) | 8],
      /* 5 */ [0, info(BTF_KIND.ARRAY), 0, 2, 1, 8], // char[8]
      /* 6 */ [n("big"), info(BTF_KIND.ENUM64, 1), 8, n("X"), 0, 1],
      /* 7 */ [n("_Bool"), info(BTF_KIND.INT), 1, (4 << 24) | 8],
      /* 8 */ [0, info(BTF_KIND.INT), 2, 16], // unsigned short (anon name)
      /* 9 */ [n("__be16"), info(BTF_KIND.TYPEDEF), 8],
      /* 10 */ [0, info(BTF_KIND.CONST), 9],
      /* 11 */ [n("s"), info(BTF_KIND.STRUCT, 2), 12, n("name"), 5, 0, n("big"), 10, 64],
    ]);
    const b = new BtfTypes(raw);
    expect(b.types).toHaveLength(12);
    expect(b.format(1, Uint8Array.from([0xfe, 0xff, 0xff, 0xff]))).toBe(-2);
    expect([...b.parse(1, "-2")]).toEqual([0xfe, 0xff, 0xff, 0xff]);
    expect(() => b.parse(1, "2147483648")).toThrow(/out of range for int/);
    expect(b.format(3, Uint8Array.from([1, 0, 0, 0]))).toBe("GREEN");
    expect(b.format(3, Uint8Array.from([9, 0, 0, 0]))).toBe(9);
    expect([...b.parse(3, "GREEN")]).toEqual([1, 0, 0, 0]);
    expect(() => b.parse(3, "BLUE")).toThrow(/RED, GREEN/);
    // a: bits 0-2, b: bits 3-7 (signed int), c: color at bit 8, 8 bits
    expect(b.format(4, Uint8Array.from([0b11111_101, 1, 0, 0]))).toEqual({ a: 5, b: -1, c: 1 });
    expect([...b.parse(4, '{"a": 5, "b": -1, "c": 1}')]).toEqual([0b11111_101, 1, 0, 0]);
    expect(() => b.parse(4, '{"a": 8}')).toThrow(/does not fit bitfield a \(0..7\)/);
    expect(() => b.parse(4, '{"b": -17}')).toThrow(/does not fit bitfield b \(-16..15\)/);
    expect(b.format(5, Uint8Array.from([104, 105, 0, 0, 0, 0, 0, 0]))).toBe("hi");
    expect([...b.parse(5, '"hi"')]).toEqual([104, 105, 0, 0, 0, 0, 0, 0]);
    expect(b.format(6, Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]))).toBe("X");
    expect(b.format(7, Uint8Array.from([1]))).toBe(true);
    expect([...b.parse(7, "false")]).toEqual([0]);
    expect(b.typeName(10)).toBe("const __be16");
    expect(b.format(10, Uint8Array.from([0x08, 0x00]))).toEqual({ be: "0x0800", host: 2048 });
    expect([...b.parse(10, "2048")]).toEqual([0x08, 0x00]);
    expect(b.format(11, Uint8Array.from([97, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd, 0, 0]))).toEqual({ name: "a", big: { be: "0x86dd", host: 0x86dd } });
    expect(b.sizeOf(11)).toBe(12);
  });

  test("malformed BTF is a BtfError, never an out-of-range read", () => {
    expect(() => new BtfTypes(new Uint8Array(10))).toThrow(BtfError);
    const good = rawBtf(["int"], [[1, info(BTF_KIND.INT), 4, 32]]);
    const bad = Uint8Array.from(good);
    new DataView(bad.buffer).setUint32(12, 1000, true); // type_len beyond the blob
    expect(() => new BtfTypes(bad)).toThrow(/out of bounds/);
    const truncated = rawBtf(["s"], [[1, info(BTF_KIND.STRUCT, 5), 4]]); // 5 members announced, none there
    expect(() => new BtfTypes(truncated)).toThrow(/truncated/);
    expect(() => new BtfTypes(good).type(5)).toThrow(/out of range/);
  });
});

// ---------------------------------------------------------------------------
// The command, on the kernel

const ip = (a: number, b: number, c: number, d: number) => P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: [a, b, c, d] }, P.udp(1000, 53)));

describe.skipIf(skipKernel)("tsxdp map on pinned maps of examples/flow_counters.ts", () => {
  let pinDir: string;
  const pin = (name: string) => `${pinDir}/${name}`;

  beforeAll(() => {
    pinDir = `${ensureBpffs()}/tsxdp-map-cli-${process.pid}`;
    fs.rmSync(pinDir, { recursive: true, force: true });
    fs.mkdirSync(pinDir);
    const obj = loadObject(flowCountersObject(), { name: "flow_counters" });
    try {
      for (const m of ["byClass", "bySource", "total"]) obj.map(m).pin(pin(m));
      obj.program("flow_counters").pin(pin("prog"));
      const frames = [ip(10, 0, 0, 1), ip(10, 0, 0, 1), ip(10, 0, 0, 1), ip(10, 0, 0, 2), ip(10, 0, 0, 2), P.truncate(ip(10, 0, 0, 3), 20), P.ethernet({ proto: P.ETH_P_IPV6 }, new Uint8Array(40)), P.ethernet({ proto: P.ETH_P_ARP }, new Uint8Array(28))];
      for (const f of frames) expect(obj.program("flow_counters").testRun({ data: f }).action).toBe("PASS");
    } finally {
      obj.close(); // the pins keep the maps
    }
  });
  afterAll(() => {
    if (pinDir) fs.rmSync(pinDir, { recursive: true, force: true });
  });

  test("dump decodes the be32 source addresses and their counts", () => {
    const r = tsxdp("dump", pin("bySource"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`${pin("bySource")}: hash 'bySource' (id ${/\(id (\d+)\)/.exec(lines[0]!)![1]}), key __be32, 4 bytes, value __u64, 8 bytes, 2/1024 entries`);
    expect(lines.slice(1).sort()).toEqual(["  0x0a000001 (167772161)  3", "  0x0a000002 (167772162)  2"]);
  });

  test("dump of a per-CPU map: one value per CPU and the sum; --json has the documented shape", () => {
    const r = tsxdp("dump", pin("byClass"), "--json");
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as { path: string; map: Record<string, unknown>; entries: { key: number; keyHex: string; values: number[]; valuesHex: string[]; sum: number }[] };
    expect(d.path).toBe(pin("byClass"));
    expect(d.map).toMatchObject({ name: "byClass", type: "percpu_array", keySize: 4, valueSize: 8, maxEntries: 3, keyType: "__u32", valueType: "__u64", entries: 3 });
    const cpus = d.map.cpus as number;
    expect(cpus).toBeGreaterThan(0);
    expect(d.entries.map((e) => [e.key, e.sum])).toEqual([[0, 6], [1, 1], [2, 1]]);
    for (const e of d.entries) {
      expect(e.values).toHaveLength(cpus);
      expect(e.values.reduce((a, b) => a + b, 0)).toBe(e.sum);
      expect(e.valuesHex[0]).toMatch(/^[0-9a-f]{16}$/);
      expect(e.keyHex).toBe(Buffer.from(Uint32Array.of(e.key).buffer).toString("hex"));
    }
    const text = tsxdp("dump", pin("byClass"));
    expect(text.stdout).toMatch(new RegExp(`^  0  sum 6  \\(cpu0 \\d+, .*\\)$`, "m"));
  });

  test("get, set and delete round trips (be32 keys as addresses, numbers or hex)", () => {
    let r = tsxdp("get", pin("bySource"), "10.0.0.1", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ key: { be: "0x0a000001", host: 167772161 }, keyHex: "0a000001", value: 3, valueHex: "0300000000000000" });
    r = tsxdp("set", pin("bySource"), "192.168.1.9", "0x10", "--flags", "noexist");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("0xc0a80109 (3232235785)  16");
    r = tsxdp("set", pin("bySource"), "hex:c0a80109", "1", "--flags", "noexist");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EEXIST.*already exists/);
    r = tsxdp("set", pin("bySource"), "0xc0a80109", "17", "--flags", "exist", "--json");
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, keyHex: "c0a80109", value: 17 });
    expect(tsxdp("get", pin("bySource"), "3232235785").stdout).toBe("  0xc0a80109 (3232235785)  17\n");
    r = tsxdp("delete", pin("bySource"), "192.168.1.9");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`deleted 0xc0a80109 (3232235785) from ${pin("bySource")}\n`);
    r = tsxdp("get", pin("bySource"), "192.168.1.9");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsxdp: key 192.168.1.9 is not in ${pin("bySource")}\n`);
    expect(tsxdp("delete", pin("bySource"), "192.168.1.9").code).toBe(1);
    expect(tsxdp("set", pin("bySource"), "192.168.1.9", "1", "--flags", "exist").code).toBe(1);
  });

  test("set on a per-CPU map writes every CPU; array elements are set, not deleted", () => {
    let r = tsxdp("set", pin("byClass"), "2", "5", "--json");
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as { values: number[]; sum: number };
    expect(e.values.every((v) => v === 5)).toBe(true);
    expect(e.sum).toBe(5 * e.values.length);
    r = tsxdp("set", pin("total"), "0", "0");
    expect(r.code).toBe(0);
    expect(tsxdp("get", pin("total"), "0").stdout).toBe("  0  0\n");
    r = tsxdp("delete", pin("total"), "0");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/array maps cannot be deleted/);
    r = tsxdp("get", pin("total"), "1");
    expect(r.code).toBe(1);
  });

  test("--pinned-dir dumps every map in the directory, and skips the program", () => {
    const r = tsxdp("dump", "--pinned-dir", pinDir, "--json");
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as { dir: string; maps: { path: string; map: { name: string } }[] };
    expect(d.dir).toBe(pinDir);
    expect(d.maps.map((m) => m.map.name)).toEqual(["byClass", "bySource", "total"]);
    const text = tsxdp("dump", "--pinned-dir", pinDir);
    expect(text.stdout.split("\n").filter((l) => l.startsWith("/"))).toHaveLength(3);
  });

  test("errors: exit 2 for a path that is not a map, bad key text and usage; no stack traces", () => {
    const cases: [string[], RegExp][] = [
      [["dump", pin("prog")], /is a program, not a map/],
      [["dump", pin("nothing")], /cannot open .*ENOENT/],
      [["dump", "/etc/hostname"], /not on a bpffs mount/],
      [["dump", pinDir], /is a directory, not a pinned map/],
      [["get", pin("bySource"), "10.0.0"], /bad key '10\.0\.0'.*__be32/],
      [["get", pin("total"), "hex:00"], /bad key 'hex:00'.*1 bytes; 4 are needed/],
      [["set", pin("total"), "0", "-1"], /bad value '-1'.*out of range for __u64/],
      [["set", pin("total"), "0", "1", "--flags", "sometimes"], /unknown --flags 'sometimes'/],
      [["get", pin("total")], /'map get' takes <pinned-map> <key>; missing <key>/],
      [["frob"], /unknown map action 'frob'/],
      [["dump", "--pinned-dir", `${pinDir}/nowhere`], /cannot read .*ENOENT/],
    ];
    for (const [args, message] of cases) {
      const r = tsxdp(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const j = tsxdp("get", pin("bySource"), "nope", "--json");
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { kind: "usage" } });
  });
});

describe.skipIf(skipKernel)("tsxdp map on keyless maps, ring buffers and maps of maps", () => {
  let pinDir: string;
  const pin = (name: string) => `${pinDir}/${name}`;
  const objects: ReturnType<typeof loadObject>[] = [];
  const compiled = (file: string) => {
    const r = compile({ file });
    if (!r.ok || !r.object) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    return r.object;
  };
  /** value_maps' command frame: byte 0 the command, 4-7 an argument (host order), 8-11 an address. */
  const command = (cmd: number, arg = 0, addr = [0, 0, 0, 0]) => {
    const f = new Uint8Array(16);
    f[0] = cmd;
    new DataView(f.buffer).setUint32(4, arg, true);
    f.set(addr, 8);
    return f;
  };
  const run = (f: Uint8Array) => objects[0]!.program("value_maps").testRun({ data: f });

  beforeAll(() => {
    pinDir = `${ensureBpffs()}/tsxdp-map-cli-keyless-${process.pid}`;
    fs.rmSync(pinDir, { recursive: true, force: true });
    fs.mkdirSync(pinDir);
    objects.push(loadObject(compiled("test/fixtures/positive/value_maps.ts")));
    objects.push(loadObject(compiled("test/fixtures/positive/ringbuf_paths.ts")));
    objects.push(loadObject(compiled("test/fixtures/positive/maps_of_maps.ts")));
    for (const m of ["recent", "lifo", "seen"]) objects[0]!.map(m).pin(pin(m));
    objects[1]!.map("events").pin(pin("events"));
    for (const m of ["tenants", "shards", "tenantA", "tenantB", "shard0"]) objects[2]!.map(m).pin(pin(m));
  });
  afterAll(() => {
    for (const obj of objects) obj.close();
    if (pinDir) fs.rmSync(pinDir, { recursive: true, force: true });
  });

  // The kernel takes no BTF for a queue or stack (map_check_no_btf): values are bytes, written as integers or hex.
  test("a stack: set pushes, get peeks, delete pops, in the order the program sees", () => {
    expect(run(command(3, 7)).action).toBe("PASS"); // the program pushes 7
    expect(tsxdp("set", pin("lifo"), "41").code).toBe(0);
    expect(JSON.parse(tsxdp("set", pin("lifo"), "42", "--json").stdout)).toEqual({ ok: true, value: "hex:2a000000", valueHex: "2a000000" });
    const dump = tsxdp("dump", pin("lifo"));
    expect(dump.code).toBe(0);
    expect(dump.stdout).toMatch(/stack 'lifo' .*at most 8 entries, no BTF.*\n  next  hex:2a000000\n$/);
    expect(tsxdp("get", pin("lifo")).stdout).toBe("  hex:2a000000\n");
    expect(JSON.parse(tsxdp("delete", pin("lifo"), "--json").stdout)).toEqual({ ok: true, value: "hex:2a000000", valueHex: "2a000000" });
    // The program pops what the CLI pushed, then what it pushed itself.
    const popped = run(command(4));
    expect(popped.action).toBe("TX");
    expect(new DataView(popped.data.buffer, popped.data.byteOffset).getUint32(12, true)).toBe(41);
    expect(tsxdp("delete", pin("lifo")).stdout).toBe(`popped hex:07000000 from ${pin("lifo")}\n`);
    const empty = tsxdp("delete", pin("lifo"));
    expect([empty.code, empty.stderr]).toEqual([1, `tsxdp: ${pin("lifo")} is empty\n`]);
    expect(tsxdp("get", pin("lifo")).code).toBe(1);
    expect(tsxdp("dump", pin("lifo")).stdout).toMatch(/\n  \(empty\)\n$/);
  });

  test("a queue: first in, first out; a full queue refuses a push unless --flags exist", () => {
    // struct { __be32 saddr; __u32 len; } as bytes: the address, then the length little-endian.
    const sample = (i: number) => `hex:0a00000${i}${Buffer.from(Uint32Array.of(i * 100).buffer).toString("hex")}`;
    for (let i = 1; i <= 4; i++) expect(tsxdp("set", pin("recent"), sample(i)).code).toBe(0);
    const full = tsxdp("set", pin("recent"), sample(5));
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/full: max_entries is 4; --flags exist drops the oldest value/);
    expect(tsxdp("set", pin("recent"), sample(5), "--flags", "exist").code).toBe(0);
    // The oldest (10.0.0.1) made room: the program peeks 10.0.0.2.
    const peeked = run(command(2));
    expect(peeked.action).toBe("TX");
    expect([...peeked.data.slice(8, 12)]).toEqual([10, 0, 0, 2]);
    expect(JSON.parse(tsxdp("get", pin("recent"), "--json").stdout).value).toBe(sample(2));
    expect(run(command(1)).action).toBe("TX"); // the program pops it
    expect(tsxdp("delete", pin("recent")).stdout).toBe(`popped ${sample(3)} from ${pin("recent")}\n`);
    expect(tsxdp("set", pin("recent"), "{}", "--flags", "noexist").code).toBe(2);
  });

  test("a bloom filter: get tests a value, set adds one; it cannot be listed or deleted from", () => {
    expect(run(command(5, 0, [192, 0, 2, 1])).action).toBe("PASS"); // the program adds 192.0.2.1
    expect(tsxdp("get", pin("seen"), "192.0.2.1").code).toBe(0);
    const absent = tsxdp("get", pin("seen"), "198.51.100.7");
    expect([absent.code, absent.stderr]).toEqual([1, `tsxdp: 0xc6336407 (3325256711) is not in ${pin("seen")}\n`]);
    expect(tsxdp("set", pin("seen"), "198.51.100.7").code).toBe(0);
    expect(JSON.parse(tsxdp("get", pin("seen"), "198.51.100.7", "--json").stdout)).toMatchObject({ present: true });
    expect(run(command(6, 0, [198, 51, 100, 7])).action).toBe("DROP"); // the program sees it too
    const dump = tsxdp("dump", pin("seen"), "--json");
    expect(dump.code).toBe(0);
    expect(JSON.parse(dump.stdout)).toMatchObject({ entries: [], note: expect.stringMatching(/cannot be listed/) });
    const del = tsxdp("delete", pin("seen"));
    expect([del.code, del.stderr]).toEqual([2, `tsxdp: values cannot be removed from a bloom filter (${pin("seen")})\n`]);
    expect(tsxdp("get", pin("seen")).stderr).toMatch(/takes the value to test/);
  });

  test("a ring buffer is refused with the reader to use; a directory dump notes it and goes on", () => {
    for (const args of [["dump", pin("events")], ["get", pin("events"), "0"], ["set", pin("events"), "1"], ["delete", pin("events")]]) {
      const r = tsxdp(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toBe(`tsxdp: ${pin("events")} is a ring buffer: its records are read in order by a reader, not by key (openRingBuffer(obj, name) in tsxdp/loader)\n`);
    }
    const all = tsxdp("dump", "--pinned-dir", pinDir, "--json");
    expect(all.code, all.stderr).toBe(0);
    const maps = (JSON.parse(all.stdout) as { maps: { map: { name: string }; note?: string }[] }).maps;
    expect(maps.find((m) => m.map.name === "events")?.note).toMatch(/ring buffer/);
    expect(maps.length).toBe(9);
  });

  test("maps of maps: slots show their map's id, name and type; set by id or pin, delete empties", () => {
    const idOf = (name: string) => objects[2]!.map(name).info().id;
    expect(tsxdp("set", pin("tenants"), "53", pin("tenantA")).code).toBe(0);
    const set = tsxdp("set", pin("tenants"), "8080", String(idOf("tenantB")), "--json");
    expect(JSON.parse(set.stdout)).toMatchObject({ ok: true, key: "hex:901f", value: { id: idOf("tenantB"), name: "tenantB", type: "array" } });
    expect(tsxdp("set", pin("shards"), "1", pin("shard0")).code).toBe(0);
    // What the kernel holds is what the loader reads, and the program finds the map.
    expect(objects[2]!.map("tenants").innerId(Uint8Array.from([53, 0]))).toBe(idOf("tenantA"));
    const frame = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: [10, 0, 0, 5] }, P.udp(1, 53)));
    expect(objects[2]!.program("tenant_counters").testRun({ data: frame }).action).toBe("PASS");
    expect(tsxdp("get", pin("tenantA"), "0").stdout).toBe("  0  1\n");
    expect(tsxdp("get", pin("shard0"), "10.0.0.5").stdout).toBe("  0x0a000005 (167772165)  1\n");
    const dump = tsxdp("dump", pin("tenants"));
    expect(dump.code).toBe(0);
    // A HASH_OF_MAPS key has no BTF in the kernel (libbpf gives none to maps of maps): hex.
    expect(dump.stdout).toContain(`  hex:3500  { id: ${idOf("tenantA")}, name: tenantA, type: array }`);
    expect(dump.stdout).toContain(`  hex:901f  { id: ${idOf("tenantB")}, name: tenantB, type: array }`);
    expect(tsxdp("dump", pin("shards")).stdout).toContain(`  1  { id: ${idOf("shard0")}, name: shard0, type: hash }`);
    // A hash where an array goes: the kernel's EINVAL, with the reason.
    const wrong = tsxdp("set", pin("tenants"), "7", pin("shard0"));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/does not match the inner map template/);
    expect(tsxdp("delete", pin("tenants"), "8080").code).toBe(0);
    expect(tsxdp("get", pin("tenants"), "8080").code).toBe(1);
    expect(tsxdp("set", pin("tenants"), "9", "999999999").stderr).toMatch(/cannot open map id 999999999/);
  });
});
