/**
 * Maps end to end: examples/flow_counters.ts and its C twin run the same
 * frames through BPF_PROG_TEST_RUN; afterwards every map of both objects is
 * read back from userspace and must hold the same contents, which must also
 * be the counts this test computes itself from the frames. bpftool must see
 * the TypeScript maps with their BTF.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject, sumPerCpu, u32Key, u64Value } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");

function frames(): Uint8Array[] {
  const next = P.rng(0x5eed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const src = [10, 0, next() % 4, 1 + (next() % 6)];
    const kind = next() % 5;
    let f =
      kind <= 1
        ? P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src }, P.udp(1000 + (next() % 100), 53)))
        : kind === 2
          ? P.ethernet({ proto: P.ETH_P_IPV6 }, new Uint8Array(40))
          : kind === 3
            ? P.ethernet({ proto: P.ETH_P_ARP }, new Uint8Array(28))
            : Uint8Array.from({ length: 14 + (next() % 60) }, () => next() & 0xff);
    // Some IPv4 frames cut before the source address: counted by class, not by source.
    if (kind === 0 && next() % 4 === 0) f = f.slice(0, 14 + (next() % 16));
    out.push(f);
  }
  return out;
}

interface Contents {
  total: bigint;
  byClass: bigint[];
  bySource: Map<string, bigint>;
}

function contents(obj: LoadedObject): Contents {
  const bySource = new Map<string, bigint>();
  const src = obj.map("bySource");
  for (const key of src.keys()) bySource.set(Buffer.from(key).toString("hex"), u64Value(src.lookup(key)!));
  return {
    total: u64Value(obj.map("total").lookup(u32Key(0))!),
    byClass: [0, 1, 2].map((k) => sumPerCpu(obj.map("byClass").lookupPerCpu(u32Key(k))!)),
    bySource,
  };
}

function expected(list: Uint8Array[]): Contents {
  const byClass = [0n, 0n, 0n];
  const bySource = new Map<string, bigint>();
  for (const f of list) {
    const proto = (f[12]! << 8) | f[13]!;
    const cls = proto === P.ETH_P_IP ? 0 : proto === P.ETH_P_IPV6 ? 1 : 2;
    byClass[cls]! += 1n;
    if (cls === 0 && f.length >= 34) {
      const key = Buffer.from(f.slice(26, 30)).toString("hex");
      bySource.set(key, (bySource.get(key) ?? 0n) + 1n);
    }
  }
  return { total: BigInt(list.length), byClass, bySource };
}

describe.skipIf(skipKernel)("maps: examples/flow_counters.ts against its C twin", () => {
  let dir: string;
  let ts: LoadedObject;
  let c: LoadedObject | undefined;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-maps-"));
    const r = compile({ file: "examples/flow_counters.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "ts.o"), r.object!);
    ts = loadObject(r.object!);
    if (clang) {
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/twins/flow_counters.c", "-o", path.join(dir, "c.o")]);
      c = loadObject(path.join(dir, "c.o"));
    } else if (inCI) {
      throw new Error("clang-14 is missing: .ci/run installs it");
    }
  });
  afterAll(() => {
    ts?.close();
    c?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the same frames leave the same counts in both, and the counts are right", () => {
    const list = frames();
    for (const f of list) {
      expect(ts.program("flow_counters").testRun({ data: f }).action).toBe("PASS");
      if (c) expect(c.program("flow_counters").testRun({ data: f }).action).toBe("PASS");
    }
    const want = expected(list);
    expect(want.bySource.size).toBeGreaterThan(5);
    const got = contents(ts);
    expect(got).toEqual(want);
    if (c) expect(contents(c)).toEqual(got);
  });

  test("the maps carry their BTF and their declared shapes", () => {
    const info = (name: string) => ts.map(name).info();
    expect(info("byClass")).toMatchObject({ typeName: "percpu_array", keySize: 4, valueSize: 8, maxEntries: 3 });
    expect(info("bySource")).toMatchObject({ typeName: "hash", keySize: 4, valueSize: 8, maxEntries: 1024 });
    expect(info("total")).toMatchObject({ typeName: "array", keySize: 4, valueSize: 8, maxEntries: 1 });
    for (const m of ["byClass", "bySource", "total"]) {
      expect(info(m).btfKeyTypeId, m).toBeGreaterThan(0);
      expect(info(m).btfValueTypeId, m).toBeGreaterThan(0);
    }
  });

  test.skipIf(!which("bpftool") && !inCI)("bpftool reads the maps from the object and dumps them typed", () => {
    const bpftool = which("bpftool");
    if (!bpftool) throw new Error("bpftool is missing: .ci/run installs it");
    const pin = `/sys/fs/bpf/tsxdp-maps-${process.pid}`;
    fs.rmSync(pin, { recursive: true, force: true });
    execFileSync(bpftool, ["prog", "loadall", path.join(dir, "ts.o"), pin, "pinmaps", `${pin}/maps`]);
    try {
      const show = JSON.parse(execFileSync(bpftool, ["map", "show", "pinned", `${pin}/maps/bySource`, "--json"], { encoding: "utf8" })) as { type: string; btf_id?: number };
      expect(show.type).toBe("hash");
      expect(show.btf_id ?? 0).toBeGreaterThan(0);
      const btf = execFileSync(bpftool, ["btf", "dump", "file", path.join(dir, "ts.o")], { encoding: "utf8" });
      expect(btf).toMatch(/DATASEC '\.maps' size=\d+ vlen=3/);
      expect(btf).toMatch(/VAR 'bySource'/);
    } finally {
      fs.rmSync(pin, { recursive: true, force: true });
    }
  });
});

describe("atomic operations on map values", () => {
  const source = fs.readFileSync("test/fixtures/positive/atomics.ts", "utf8");

  test("need BPF ISA v3 beyond a plain add", () => {
    const r = compile({ source, fileName: "atomics.ts", cpu: "v2" });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toContain("TSX2006");
    expect(r.diagnostics.find((d) => d.code === "TSX2006")!.message).toContain("needs BPF ISA v3");
  });

  test.skipIf(skipKernel)("compute what the kernel computes, run after run", () => {
    const r = compile({ source, fileName: "atomics.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const obj = loadObject(r.object!);
    try {
      const actions = [0, 1, 2].map(() => obj.program("atom").testRun({ data: new Uint8Array(14) }).action);
      // Run 1 swaps 0 for 99 (PASS); later runs find 99, not the exchanged-out 7 (DROP).
      expect(actions).toEqual(["PASS", "DROP", "DROP"]);
      // ((((v + 5) | 0x100) & 0xff0f) ^ 1) three times from 0: 0x104, 0x108, 0x10c.
      expect([0, 1, 2].map((k) => u64Value(obj.map("words").lookup(u32Key(k))!))).toEqual([0x10cn, 7n, 99n]);
    } finally {
      obj.close();
    }
  });
});

describe.skipIf(skipKernel)("header structs as map keys and values", () => {
  test("a flow table keyed by the 5-tuple counts each flow, padding zeroed", () => {
    const r = compile({ file: "test/fixtures/positive/map_struct_key.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const obj = loadObject(r.object!);
    try {
      const flows: [number[], number, number][] = [
        [[10, 0, 0, 1], 1234, 53],
        [[10, 0, 0, 1], 1234, 53],
        [[10, 0, 0, 9], 4000, 123],
        [[10, 0, 0, 1], 1234, 53],
      ];
      for (const [src, sport, dport] of flows) {
        const frame = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src }, P.udp(sport, dport)));
        expect(obj.program("flow_table").testRun({ data: frame }).action).toBe("PASS");
      }
      const map = obj.map("flows");
      expect(map.info()).toMatchObject({ keySize: 16, valueSize: 16 });
      const got = new Map(map.keys().map((k) => [Buffer.from(k).toString("hex"), u64Value(map.lookup(k)!.slice(0, 8))]));
      // saddr, daddr, sport, dport (network order), protocol, three bytes of zeroed padding.
      expect(got).toEqual(
        new Map([
          ["0a0000010a00000204d2003511000000", 3n],
          ["0a0000090a0000020fa0007b11000000", 1n],
        ]),
      );
    } finally {
      obj.close();
    }
  });
});
