/**
 * Tests of the loader's map access (compiler/loader/maps.ts) against the real
 * kernel: C fixtures with BTF-defined maps (test/fixtures/loader/xdp_maps.c)
 * are built with clang-14 and libbpf-dev's bpf_helpers.h, an XDP program
 * updates the maps on every BPF_PROG_TEST_RUN, and userspace reads and writes
 * them through LoadedObject.maps.
 *
 * Invariant: outside CI a missing prerequisite (root, clang-14, libbpf-dev,
 * gcc) skips with the reason in the suite name; with CI=true the same gap
 * fails (test/support/kernel.ts), so a green CI run exercised the kernel.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import { BpfError, loadObject, sumPerCpu, u32Key, u64Value } from "../compiler/loader";
import type { LoadedMap, LoadedObject } from "../compiler/loader";
import { BpfMapInfo } from "../compiler/loader/libbpf";
import { inspectPin } from "../compiler/loader/bpf-objects";
import { inCI, skipKernel, skipReason, which } from "./support/kernel";

const FIXTURES = resolve(fileURLToPath(new URL(".", import.meta.url)), "fixtures/loader");
const clang = which("clang-14");
const gcc = which("gcc");
const haveHelpers = existsSync("/usr/include/bpf/bpf_helpers.h");

const buildSkip =
  clang === undefined
    ? "clang-14 is not installed (apt-get install clang-14)"
    : !haveHelpers
      ? "/usr/include/bpf/bpf_helpers.h is missing (apt-get install libbpf-dev)"
      : undefined;
const kernelSkip = skipKernel ? skipReason : buildSkip;
const layoutSkip =
  gcc === undefined ? "gcc is not installed" : !existsSync("/usr/include/linux/bpf.h") ? "/usr/include/linux/bpf.h is missing (linux-libc-dev)" : undefined;

function suiteName(name: string, skip: string | undefined): string {
  if (skip === undefined) return name;
  return inCI ? `${name} (cannot run: ${skip})` : `${name} (skipped: ${skip})`;
}

/** The BpfError a call throws (fails the test if it throws nothing or something else). */
function bpfError(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return e as BpfError;
  }
  throw new Error("expected a BpfError, nothing was thrown");
}

const u64 = (n: number | bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};
const u32 = (n: number) => u32Key(n);
const keyNumbers = (keys: Uint8Array[]) => keys.map((k) => Number(u64Value(k))).sort((a, b) => a - b);

// ---------------------------------------------------------------------------

describe("map byte helpers", () => {
  it("u32Key encodes little-endian and rejects non-u32", () => {
    expect(Array.from(u32Key(0x01020304))).toEqual([4, 3, 2, 1]);
    expect(Array.from(u32Key(0xffff_ffff))).toEqual([255, 255, 255, 255]);
    expect(() => u32Key(-1)).toThrow(RangeError);
    expect(() => u32Key(2 ** 32)).toThrow(RangeError);
    expect(() => u32Key(1.5)).toThrow(RangeError);
  });

  it("u64Value decodes 1 to 8 little-endian bytes", () => {
    expect(u64Value(u64(0xfedcba9876543210n))).toBe(0xfedcba9876543210n);
    expect(u64Value(new Uint8Array([1, 0, 0, 0]))).toBe(1n);
    expect(u64Value(new Uint8Array(16).subarray(3, 11))).toBe(0n);
    expect(() => u64Value(new Uint8Array(9))).toThrow(RangeError);
    expect(() => u64Value(new Uint8Array(0))).toThrow(RangeError);
  });

  it("sumPerCpu adds the per-CPU counters as bigints", () => {
    expect(sumPerCpu([u64(1), u64(2), u64(2n ** 63n)])).toBe(2n ** 63n + 3n);
    expect(sumPerCpu([])).toBe(0n);
  });
});

// ---------------------------------------------------------------------------

describe.skipIf(layoutSkip !== undefined && !inCI)(suiteName("struct bpf_map_info layout", layoutSkip), () => {
  it("matches linux/bpf.h", () => {
    if (layoutSkip !== undefined) throw new Error(`layout check cannot run in CI: ${layoutSkip}`);
    const dir = mkdtempSync(join(tmpdir(), "tsxdp-map-layout-"));
    try {
      const fields = Object.keys(BpfMapInfo.members!).filter((f) => !f.startsWith("_"));
      const lines = [
        "#include <stdio.h>",
        "#include <stddef.h>",
        "#include <linux/bpf.h>",
        "int main(void) {",
        '  printf("{\\"size\\":%zu", sizeof(struct bpf_map_info));',
        ...fields.map((f) => `  printf(",\\"${f}\\":%zu", offsetof(struct bpf_map_info, ${f}));`),
        '  printf("}\\n");',
        "  return 0;",
        "}",
      ];
      writeFileSync(join(dir, "layout.c"), lines.join("\n"));
      execFileSync(gcc!, ["-o", join(dir, "layout"), join(dir, "layout.c")]);
      const c = JSON.parse(execFileSync(join(dir, "layout"), { encoding: "utf8" })) as Record<string, number>;
      expect(koffi.sizeof(BpfMapInfo)).toBe(c.size);
      for (const f of fields) expect([f, koffi.offsetof(BpfMapInfo, f)]).toEqual([f, c[f]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------

describe.skipIf(kernelSkip !== undefined && !inCI)(suiteName("loader maps", kernelSkip), () => {
  let dir: string;
  let objPath: string;

  beforeAll(() => {
    if (kernelSkip !== undefined) throw new Error(`map tests cannot run in CI: ${kernelSkip}`);
    dir = mkdtempSync(join(tmpdir(), "tsxdp-maps-"));
    objPath = join(dir, "xdp_maps.o");
    // linux/bpf.h needs <asm/types.h>, which lives in the multiarch directory.
    const multiarch = spawnSync(clang!, ["-print-multiarch"], { encoding: "utf8" }).stdout.trim() || "x86_64-linux-gnu";
    execFileSync(clang!, [
      "-O2", "-g", "-target", "bpf",
      "-I", `/usr/include/${multiarch}`,
      "-c", join(FIXTURES, "xdp_maps.c"), "-o", objPath,
    ]);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A 64-byte frame whose first byte (the map key) is `first`. */
  const frame = (first: number) => {
    const f = new Uint8Array(64);
    f[0] = first;
    return f;
  };

  function withObject(fn: (o: LoadedObject) => void): void {
    const o = loadObject(objPath);
    try {
      fn(o);
    } finally {
      o.close();
    }
  }

  const run = (o: LoadedObject, first: number, repeat = 1) => {
    const r = o.program("count_by_first_byte").testRun({ data: frame(first), repeat });
    expect(r.action).toBe("PASS");
  };

  it("lists the BTF-defined maps and libbpf's internal maps", () => {
    withObject((o) => {
      const names = o.maps.map((m) => m.name);
      expect(names.slice(0, 5)).toEqual(["counts", "percpu_counts", "percpu_small", "by_byte", "recent"]);
      for (const section of [".bss", ".data", ".rodata"]) {
        const internal = names.find((n) => n.endsWith(section));
        expect(internal, `internal map for ${section} in ${names.join(", ")}`).toBeDefined();
        // Reachable both by libbpf's name and by the section name.
        expect(o.map(internal!)).toBe(o.map(section));
      }
      for (const m of o.maps) expect(m.fd).toBeGreaterThan(0);
      expect(o.map("percpu_counts").perCpu).toBe(true);
      expect(o.map("counts").perCpu).toBe(false);
      expect(o.map("counts").cpus).toBeGreaterThanOrEqual(1);
      expect(() => o.map("nope")).toThrow(/no map named 'nope'.*'counts'/);
    });
  });

  it("info() reports type names, sizes, max entries and BTF ids", () => {
    withObject((o) => {
      const expected: [string, string, number, number, number][] = [
        ["counts", "array", 4, 8, 256],
        ["percpu_counts", "percpu_array", 4, 8, 256],
        ["percpu_small", "percpu_array", 4, 4, 1],
        ["by_byte", "hash", 4, 8, 8],
        ["recent", "lru_hash", 4, 8, 64],
      ];
      const ids = new Set<number>();
      for (const [name, typeName, keySize, valueSize, maxEntries] of expected) {
        const info = o.map(name).info();
        expect(info).toMatchObject({ name, typeName, keySize, valueSize, maxEntries, flags: 0 });
        expect(info.id).toBeGreaterThan(0);
        expect(info.btfKeyTypeId).toBeGreaterThan(0);
        expect(info.btfValueTypeId).toBeGreaterThan(0);
        ids.add(info.id);
      }
      expect(ids.size).toBe(expected.length);
      expect(o.map("counts").info().type).toBe(2); // BPF_MAP_TYPE_ARRAY

      const bss = o.map(".bss").info();
      expect(bss).toMatchObject({ typeName: "array", keySize: 4, valueSize: 8, maxEntries: 1, name: o.map(".bss").name });
      expect(bss.btfValueTypeId).toBeGreaterThan(0); // the DATASEC
      const rodata = o.map(".rodata").info();
      expect(rodata.flags & 0x80).toBe(0x80); // BPF_F_RDONLY_PROG
    });
  });

  it("reads the counters the program updated: N runs give N (summed over CPUs when per-CPU)", () => {
    withObject((o) => {
      run(o, 5, 10);
      for (let i = 0; i < 3; i++) run(o, 9);

      const counts = o.map("counts");
      expect(u64Value(counts.lookup(u32(5))!)).toBe(10n);
      expect(u64Value(counts.lookup(u32(9))!)).toBe(3n);
      expect(u64Value(counts.lookup(u32(0))!)).toBe(0n); // array elements always exist
      expect(counts.lookup(u32(256))).toBeUndefined(); // out of range

      const pc = o.map("percpu_counts");
      const values = pc.lookupPerCpu(u32(5))!;
      expect(values).toHaveLength(pc.cpus);
      for (const v of values) expect(v.length).toBe(8);
      expect(sumPerCpu(values)).toBe(10n);
      expect(sumPerCpu(pc.lookupPerCpu(u32(9))!)).toBe(3n);

      // 4-byte per-CPU values sit 8 bytes apart in the kernel's buffer.
      const small = o.map("percpu_small").lookupPerCpu(u32(0))!;
      expect(small).toHaveLength(pc.cpus);
      for (const v of small) expect(v.length).toBe(4);
      expect(sumPerCpu(small)).toBe(13n);

      const byByte = o.map("by_byte");
      expect(keyNumbers(byByte.keys())).toEqual([5, 9]);
      expect(u64Value(byByte.lookup(u32(5))!)).toBe(10n);
      expect(u64Value(byByte.lookup(u32(9))!)).toBe(3n);
      expect(byByte.lookup(u32(7))).toBeUndefined();

      const recent = o.map("recent");
      expect(keyNumbers(recent.keys())).toEqual([5, 9]);
      expect(u64Value(recent.lookup(u32(9))!)).toBe(3n);

      expect(u64Value(o.map(".bss").lookup(u32(0))!)).toBe(13n); // runs
      expect(u64Value(o.map(".rodata").lookup(u32(0))!)).toBe(1n); // step
    });
  });

  it("update, delete and keys work on a hash map, with the flags' semantics", () => {
    withObject((o) => {
      const m = o.map("by_byte");
      m.update(u32(100), u64(42), "noexist");
      expect(u64Value(m.lookup(u32(100))!)).toBe(42n);
      m.update(u32(100), u64(43)); // "any"
      m.update(u32(100), u64(44), "exist");
      expect(u64Value(m.lookup(u32(100))!)).toBe(44n);

      const exists = bpfError(() => m.update(u32(100), u64(1), "noexist"));
      expect(exists.code).toBe("EEXIST");
      expect(exists.errno).toBe(17);
      expect(exists.message).toMatch(/by_byte.*noexist.*already exists/);

      const absent = bpfError(() => m.update(u32(101), u64(1), "exist"));
      expect(absent.code).toBe("ENOENT");
      expect(absent.message).toMatch(/"exist": the key does not exist/);

      expect(m.delete(u32(100))).toBe(true);
      expect(m.delete(u32(100))).toBe(false);
      expect(m.lookup(u32(100))).toBeUndefined();
      expect(m.keys()).toEqual([]);

      // The program now adds to what userspace wrote.
      m.update(u32(7), u64(1000));
      run(o, 7, 5);
      expect(u64Value(m.lookup(u32(7))!)).toBe(1005n);

      // Fill it (max_entries 8): the ninth key is refused with E2BIG.
      for (let k = 0; k < 7; k++) m.update(u32(200 + k), u64(k));
      expect(keyNumbers(m.keys())).toEqual([7, 200, 201, 202, 203, 204, 205, 206]);
      const full = bpfError(() => m.update(u32(300), u64(1)));
      expect(full.code).toBe("E2BIG");
      expect(full.message).toMatch(/full: max_entries is 8/);
      // Replacing an existing key still works when full.
      m.update(u32(200), u64(99));
      expect(u64Value(m.lookup(u32(200))!)).toBe(99n);

      for (const k of m.keys()) expect(m.delete(k)).toBe(true);
      expect(m.keys()).toEqual([]);
    });
  });

  it("array maps: every index is a key, elements cannot be deleted, indexes are bounded", () => {
    withObject((o) => {
      const m = o.map("counts");
      expect(keyNumbers(m.keys())).toEqual(Array.from({ length: 256 }, (_, i) => i));
      m.update(u32(3), u64(77), "exist");
      expect(u64Value(m.lookup(u32(3))!)).toBe(77n);
      expect(bpfError(() => m.update(u32(3), u64(1), "noexist")).message).toMatch(/EEXIST.*array elements always exist/);
      const range = bpfError(() => m.update(u32(256), u64(1)));
      expect(range.code).toBe("E2BIG");
      expect(range.message).toMatch(/index 256 is out of range: max_entries is 256/);
      const del = bpfError(() => m.delete(u32(3)));
      expect(del.code).toBe("EINVAL");
      expect(del.message).toMatch(/cannot be deleted/);
    });
  });

  it("per-CPU update writes one value per CPU (8-byte stride for 4-byte values)", () => {
    withObject((o) => {
      const small = o.map("percpu_small");
      const values = Array.from({ length: small.cpus }, (_, cpu) => u32(1000 + cpu));
      small.update(u32(0), values);
      expect(small.lookupPerCpu(u32(0))).toEqual(values);
      run(o, 1, 4);
      const after = small.lookupPerCpu(u32(0))!;
      expect(sumPerCpu(after)).toBe(values.reduce((s, v) => s + u64Value(v), 0n) + 4n);

      const pc = o.map("percpu_counts");
      pc.update(u32(42), Array.from({ length: pc.cpus }, (_, cpu) => u64(cpu + 1)));
      expect(pc.lookupPerCpu(u32(42))!.map(u64Value)).toEqual(Array.from({ length: pc.cpus }, (_, cpu) => BigInt(cpu + 1)));
    });
  });

  it("LRU hash maps evict instead of failing when full", () => {
    withObject((o) => {
      const m = o.map("recent");
      for (let k = 0; k < 200; k++) m.update(u32(k), u64(k));
      const keys = m.keys();
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.length).toBeLessThanOrEqual(64);
      for (const k of keys) expect(u64Value(m.lookup(k)!)).toBe(u64Value(k));
      expect(m.delete(keys[0]!)).toBe(true);
    });
  });

  it("rejects wrong key and value sizes and the wrong per-CPU shape with clear errors", () => {
    withObject((o) => {
      const counts = o.map("counts");
      const key = bpfError(() => counts.lookup(new Uint8Array(8)));
      expect(key.errno).toBe(22);
      expect(key.message).toMatch(/lookup in map 'counts'.*EINVAL.*key must be 4 bytes.*got 8/);
      expect(bpfError(() => counts.delete(new Uint8Array(2))).message).toMatch(/key must be 4 bytes.*got 2/);
      expect(bpfError(() => counts.update(u32(1), new Uint8Array(4))).message).toMatch(/value must be 8 bytes.*got 4/);
      expect(bpfError(() => counts.update(u32(1), [u64(1)])).message).toMatch(/not a per-CPU map/);
      expect(bpfError(() => counts.lookupPerCpu(u32(1))).message).toMatch(/not a per-CPU map: use lookup\(\)/);

      const pc = o.map("percpu_counts");
      expect(bpfError(() => pc.lookup(u32(1))).message).toMatch(/per-CPU map: use lookupPerCpu\(\)/);
      expect(bpfError(() => pc.update(u32(1), u64(1))).message).toMatch(/per-CPU map: pass an array of \d+ values/);
      expect(bpfError(() => pc.update(u32(1), Array.from({ length: pc.cpus + 1 }, () => u64(0)))).message).toMatch(/one buffer per possible CPU/);
      expect(bpfError(() => pc.update(u32(1), Array.from({ length: pc.cpus }, () => new Uint8Array(4)))).message).toMatch(/CPU 0 must be 8 bytes/);

      expect(() => counts.update(u32(1), u64(1), "sometimes" as never)).toThrow(RangeError);
      expect(() => counts.lookup([1, 2, 3, 4] as never)).toThrow(TypeError);

      // .rodata is frozen by libbpf: the kernel refuses userspace writes.
      const ro = bpfError(() => o.map(".rodata").update(u32(0), new Uint8Array(4)));
      expect(ro.code).toBe("EPERM");
      expect(ro.message).toMatch(/read-only/);
    });
  });

  it("maps of a closed object have fd -1 and refuse every operation", () => {
    const o = loadObject(objPath);
    const m: LoadedMap = o.map("counts");
    o.close();
    expect(m.fd).toBe(-1);
    expect(() => m.lookup(u32(0))).toThrow(/closed/);
    expect(() => m.update(u32(0), u64(0))).toThrow(/closed/);
    expect(() => m.keys()).toThrow(/closed/);
    expect(() => m.info()).toThrow(/closed/);
  });

  it("pins a map into a bpffs", (ctx) => {
    const mnt = mkdtempSync(join(tmpdir(), "tsxdp-bpffs-"));
    const mounted = spawnSync("mount", ["-t", "bpf", "bpf", mnt]).status === 0;
    try {
      if (!mounted) {
        if (inCI) throw new Error("cannot mount a private bpffs");
        ctx.skip("cannot mount a private bpffs");
      }
      withObject((o) => {
        const m = o.map("by_byte");
        const path = join(mnt, "by_byte");
        m.pin(path);
        const pinned = inspectPin(path);
        expect(pinned?.kind).toBe("map");
        expect(pinned?.id).toBe(m.info().id);
        m.pin(path); // libbpf: the same map at the same path is already done
        const taken = bpfError(() => o.map("recent").pin(path));
        expect(taken.code).toBe("EEXIST");
        expect(taken.message).toMatch(/pinning map 'recent'.*already exists/);
        rmSync(path);
      });
    } finally {
      if (mounted) spawnSync("umount", [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it("does not leak file descriptors over 200 load/close cycles with maps", () => {
    const countFds = () => readdirSync("/proc/self/fd").length;
    const bytes = new Uint8Array(readFileSync(objPath));
    loadObject(bytes).close(); // warm-up: libbpf probes kernel features once per process
    const before = countFds();
    for (let i = 0; i < 200; i++) {
      const o = loadObject(i % 2 ? bytes : objPath);
      run(o, i & 0xff);
      expect(u64Value(o.map("counts").lookup(u32(i & 0xff))!)).toBe(1n);
      expect(o.map("by_byte").keys()).toHaveLength(1);
      o.map("recent").update(u32(1), u64(1));
      o.map("percpu_counts").info();
      o.close();
    }
    expect(countFds()).toBe(before);
  }, 120_000);
});
