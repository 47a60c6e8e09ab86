/**
 * ARRAY_OF_MAPS and HASH_OF_MAPS end to end: test/fixtures/positive/maps_of_maps.ts
 * and its C twin (clang-14's `__array(values, struct inner)`) get the same
 * maps in their slots from userspace, run the same frames through
 * BPF_PROG_TEST_RUN, and must give the same verdicts and leave the same
 * counts in the inner maps, which must also be what this test counts from
 * the frames. Their `.maps` BTF must describe the outer maps alike.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { BpfError, type LoadedObject, loadObject, u32Key, u64Value } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");
const bpftool = which("bpftool");
const FIXTURE = "test/fixtures/positive/maps_of_maps.ts";

/** Tenants by UDP destination port; the slots of `shards` filled (2 and 3 stay empty). */
const TENANTS: [number, string][] = [
  [53, "tenantA"],
  [8080, "tenantB"],
];
const SHARDS = ["shard0", "shard1"];

const portKey = (port: number) => Uint8Array.from([port & 0xff, port >> 8]);
const beAddr = (a: number[]) => Uint8Array.from(a);

interface Frame {
  data: Uint8Array;
  /** Ethernet + IPv4 (IHL 5) + UDP, whole: counted */
  udp?: { src: number[]; port: number; total: number };
}

function frames(): Frame[] {
  const next = P.rng(0x7e4a47);
  const ports = [53, 8080, 9999, 53, 8080];
  const out: Frame[] = [];
  for (let i = 0; i < 300; i++) {
    const src = [10, 0, next() % 3, next() % 8];
    const port = ports[next() % ports.length]!;
    const payload = new Uint8Array(next() % 64);
    const kind = next() % 8;
    if (kind === 0) out.push({ data: P.ethernet({ proto: P.ETH_P_IPV6 }, new Uint8Array(48)) });
    else if (kind === 1) out.push({ data: P.padTo(P.truncate(P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src }, P.udp(1, port))), 14 + (next() % 28)), 14) });
    else if (kind === 2) out.push({ data: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_TCP, src }, P.tcp(1, port))) });
    else if (kind === 3) out.push({ data: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src, options: [1, 1, 1, 0] }, P.udp(1, port))) });
    else {
      const ip = P.ipv4({ protocol: P.IPPROTO_UDP, src }, P.udp(4000, port, payload));
      out.push({ data: P.ethernet({ proto: P.ETH_P_IP }, ip), udp: { src, port, total: ip.length } });
    }
  }
  return out;
}

function compileFixture(): Uint8Array {
  const r = compile({ file: FIXTURE });
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
  return r.object!;
}

describe.skipIf(skipKernel)("maps of maps: per-tenant counters against the C twin", () => {
  let dir: string;
  const objects: LoadedObject[] = [];
  const files: string[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-mim-"));
    const ts = path.join(dir, "ts.o");
    fs.writeFileSync(ts, compileFixture());
    files.push(ts);
    if (clang) {
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      const out = path.join(dir, "c.o");
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/twins/maps_of_maps.c", "-o", out]);
      files.push(out);
    } else if (inCI) {
      throw new Error("clang-14 is missing: .ci/run installs it");
    }
    for (const file of files) {
      const obj = loadObject(file);
      objects.push(obj);
      for (const [port, name] of TENANTS) obj.map("tenants").setInner(portKey(port), obj.map(name));
      SHARDS.forEach((name, i) => obj.map("shards").setInner(u32Key(i), obj.map(name)));
    }
  });
  afterAll(() => {
    for (const obj of objects) obj.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the outer maps are created as the kernel wants them, their slots hold the object's maps", () => {
    for (const obj of objects) {
      expect(obj.map("tenants").info()).toMatchObject({ typeName: "hash_of_maps", keySize: 2, valueSize: 4, maxEntries: 16 });
      expect(obj.map("shards").info()).toMatchObject({ typeName: "array_of_maps", keySize: 4, valueSize: 4, maxEntries: 4 });
      for (const [port, name] of TENANTS) expect(obj.map("tenants").innerId(portKey(port))).toBe(obj.map(name).info().id);
      expect(obj.map("tenants").innerId(portKey(9999))).toBeUndefined();
      expect(obj.map("shards").innerId(u32Key(1))).toBe(obj.map("shard1").info().id);
      expect(obj.map("shards").innerId(u32Key(2))).toBeUndefined();
    }
  });

  test("the outer maps' BTF is clang's: `values` a zero-length array of pointers to the inner definition", () => {
    if (!bpftool) {
      if (inCI) throw new Error("bpftool is missing");
      return;
    }
    const shape = (file: string, name: string) => {
      const btf = JSON.parse(execFileSync(bpftool, ["-j", "btf", "dump", "file", file], { encoding: "utf8" })).types as { id: number; kind: string; name: string; type_id?: number; nr_elems?: number; size?: number; members?: { name: string; type_id: number; bits_offset: number }[] }[];
      const byId = new Map(btf.map((t) => [t.id, t]));
      const describe = (id: number, depth = 0): unknown => {
        const t = byId.get(id)!;
        if (t.kind === "TYPEDEF") return describe(t.type_id!, depth);
        if (t.kind === "PTR") return { ptr: describe(t.type_id!, depth) };
        if (t.kind === "ARRAY") return { array: t.nr_elems, of: depth > 3 ? "int" : describe(t.type_id!, depth + 1) };
        if (t.kind === "STRUCT") return { size: t.size, members: t.members!.map((m) => ({ name: m.name, at: m.bits_offset, type: describe(m.type_id, depth) })) };
        return { size: t.size ?? 0, kind: t.kind };
      };
      const v = btf.find((t) => t.kind === "VAR" && t.name === name)!;
      return describe(v.type_id!);
    };
    const ours = shape(files[0]!, "tenants");
    expect(ours).toMatchObject({ size: 24, members: [{ name: "type" }, { name: "max_entries" }, { name: "key" }, { name: "values", at: 192, type: { array: 0 } }] });
    if (files[1]) {
      expect(ours).toEqual(shape(files[1], "tenants"));
      expect(shape(files[0]!, "shards")).toEqual(shape(files[1], "shards"));
    }
  });

  test("the same frames get the same verdicts; each tenant's and shard's counts are the frames'", () => {
    const list = frames();
    const want = new Map<string, bigint>();
    const add = (k: string, n: bigint) => want.set(k, (want.get(k) ?? 0n) + n);
    let drops = 0;
    for (const f of list) {
      const tenant = f.udp && TENANTS.find(([p]) => p === f.udp!.port);
      const action = f.udp && !tenant ? "DROP" : "PASS";
      if (f.udp) {
        const shard = f.udp.src[3]! & 3;
        if (shard < SHARDS.length) add(`${SHARDS[shard]} ${f.udp.src.join(".")}`, 1n);
        if (tenant) {
          add(`${tenant[1]} frames`, 1n);
          add(`${tenant[1]} bytes`, BigInt(f.udp.total));
        }
      }
      if (action === "DROP") drops++;
      for (const obj of objects) expect(obj.program("tenant_counters").testRun({ data: f.data }).action).toBe(action);
    }
    expect(drops).toBeGreaterThan(20);
    for (const obj of objects) {
      const got = new Map<string, bigint>();
      for (const [, name] of TENANTS) {
        got.set(`${name} frames`, u64Value(obj.map(name).lookup(u32Key(0))!));
        got.set(`${name} bytes`, u64Value(obj.map(name).lookup(u32Key(1))!));
      }
      for (const name of SHARDS) for (const k of obj.map(name).keys()) got.set(`${name} ${[...k].join(".")}`, u64Value(obj.map(name).lookup(k)!));
      expect(got).toEqual(want);
    }
  });

  test("a slot emptied from userspace: that tenant's frames are dropped; a map of another shape is refused", () => {
    const frame = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(1, 8080)));
    for (const obj of objects) {
      const prog = obj.program("tenant_counters");
      expect(prog.testRun({ data: frame }).action).toBe("PASS");
      obj.map("tenants").setInner(portKey(8080), null);
      expect(obj.map("tenants").innerId(portKey(8080))).toBeUndefined();
      expect(prog.testRun({ data: frame }).action).toBe("DROP");
      // The same map in a second slot works; a hash where an array goes does not.
      obj.map("tenants").setInner(portKey(8080), obj.map("tenantA"));
      expect(prog.testRun({ data: frame }).action).toBe("PASS");
      expect(() => obj.map("tenants").setInner(portKey(7), obj.map("shard0"))).toThrow(/does not match the inner map template/);
      expect(() => obj.map("shard0").setInner(beAddr([1, 2, 3, 4]), obj.map("tenantA"))).toThrow(BpfError);
    }
  });
});
