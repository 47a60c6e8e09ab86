/**
 * bpf_perf_event_output through a PerfEventArray, run in the kernel:
 * test/helpers/perf.ts and its C twin test/helpers/perf.c take the same
 * frames under BPF_PROG_TEST_RUN, and userspace reads the records back
 * with openPerfBuffer (compiler/loader/perfbuf.ts over libbpf's perf_buffer
 * API). Both must return the same results and emit the same record bytes,
 * which must also be the records this test computes from each frame; the
 * kernel's own errors (no reader, a CPU out of range, another CPU's buffer)
 * must come back the same from both.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject, openPerfBuffer, type PerfBufferReader, type PerfRecord } from "../compiler/loader/index";
import { compileC, clang } from "./support/clang";
import { inCI, skipKernel } from "./support/kernel";
import * as P from "./support/packets";

const ENOENT = -2;
const E2BIG = -7;
const EOPNOTSUPP = -95;

/** The CPUs libbpf sizes a zero-entry PERF_EVENT_ARRAY by (`0-1` → 2). */
function possibleCpus(): number {
  const text = fs.readFileSync("/sys/devices/system/cpu/possible", "utf8").trim();
  return Math.max(...text.split(",").map((r) => Number(r.split("-").at(-1)))) + 1;
}

const rc = (data: Uint8Array, at: number) => Number(Buffer.from(data).readBigInt64LE(at));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The Sample the program must emit for `f`: saddr, len (host order), proto, tag, flag, laid out as C. */
function sampleBytes(f: Uint8Array): string {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(f.length);
  return hex(f.slice(14, 18)) + len.toString("hex") + hex(f.slice(12, 14)) + hex(f.slice(18, 20));
}

/** The same Sample as the BTF decoder shows it. */
function decoded(f: Uint8Array): unknown {
  const be = (at: number, n: number) => ({ be: `0x${hex(f.slice(at, at + n))}`, host: Buffer.from(f).readUIntBE(at, n) });
  return { saddr: be(14, 4), len: f.length, proto: be(12, 2), tag: f[18], flag: f[19] };
}

describe.skipIf(skipKernel)("bpf_perf_event_output against its C twin, read back from userspace", () => {
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    const r = compile({ file: "test/helpers/perf.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!));
    if (clang) objects.push(loadObject(compileC(fs.readFileSync("test/helpers/perf.c", "utf8"))));
    else if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
  });
  afterAll(() => {
    for (const o of objects) o.close();
  });

  test("the maps are PERF_EVENT_ARRAYs of u32 keys and values, one entry per CPU unless written", () => {
    for (const obj of objects) {
      expect(obj.map("samples").info()).toMatchObject({ typeName: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: possibleCpus() });
      expect(obj.map("marks").info()).toMatchObject({ typeName: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 64 });
    }
  });

  test("without a reader the kernel has no buffer to write: -ENOENT from both", () => {
    const f = new Uint8Array(32);
    for (const obj of objects) {
      const run = obj.program("sample").testRun({ data: f });
      expect(run.action).toBe("TX");
      expect(rc(run.data, 16)).toBe(ENOENT);
    }
  });

  test("each frame's records read back exactly, decoded through the object's BTF, the same bytes as C's", () => {
    const readers = objects.map((obj) => openPerfBuffer(obj, "samples"));
    try {
      expect(readers[0]!.recordType).toBe("struct Sample");
      if (readers[1]) expect(readers[1].recordType).toBeUndefined();
      const next = P.rng(0x9e2f);
      let records = 0;
      for (let i = 0; i < 200; i++) {
        const f = Uint8Array.from({ length: 16 + (next() % 48) }, () => next() & 0xff);
        if (i % 3 === 0 && f.length > 22) f[22] = 1;
        const got = objects.map((obj, k) => {
          const run = obj.program("sample").testRun({ data: f });
          if (f.length < 24) {
            expect(run.action).toBe("PASS");
            return [];
          }
          expect(run.action).toBe("TX");
          expect(rc(run.data, 16)).toBe(0);
          return readers[k]!.consume();
        });
        const want = f.length < 24 ? [] : Array(f[22] === 1 ? 2 : 1).fill(sampleBytes(f));
        for (const recs of got) expect(recs.map((r) => hex(r.bytes))).toEqual(want);
        for (const r of got[0]!) {
          expect(r.cpu).toBeGreaterThanOrEqual(0);
          expect(r.cpu).toBeLessThan(possibleCpus());
          expect(r.value).toEqual(decoded(f));
        }
        records += got[0]!.length;
      }
      expect(records).toBeGreaterThan(150);
      for (const r of readers) expect(r.lost).toBe(0);
    } finally {
      for (const r of readers) r.close();
    }
  });

  test("an integer record to a CPU by number: delivered there, or the kernel's error, the same from both", () => {
    const readers: PerfBufferReader[] = objects.map((obj) => openPerfBuffer(obj, "marks", { pages: 1 }));
    try {
      const cpus = possibleCpus();
      const seen = new Set<number>();
      for (const cpu of [0, 1, 2, 5, 63, 64, 200, 0, 1, 0, 1]) {
        const f = new Uint8Array(28);
        Buffer.from(f.buffer).writeUInt32LE(0xc0de0000 + cpu, 14);
        f[18] = cpu;
        for (const [k, obj] of objects.entries()) {
          const result = rc(obj.program("mark").testRun({ data: f }).data, 20);
          const recs: PerfRecord[] = readers[k]!.consume();
          if (cpu >= 64) expect(result).toBe(E2BIG);
          else if (cpu >= cpus) expect(result).toBe(ENOENT);
          else if (result === 0) {
            // Only the CPU the test run ran on can write its buffer.
            expect(recs.map((r) => [r.cpu, hex(r.bytes)])).toEqual([[cpu, hex(f.slice(14, 18))]]);
            if (k === 0) expect(recs[0]!.value).toBe(0xc0de0000 + cpu);
            seen.add(cpu);
            continue;
          } else expect(result).toBe(EOPNOTSUPP);
          expect(recs).toEqual([]);
        }
      }
      expect(seen.size).toBeGreaterThan(0);
    } finally {
      for (const r of readers) r.close();
    }
  });

  test("a closed reader refuses to read, and poll waits for a record", () => {
    const reader = openPerfBuffer(objects[0]!, "samples");
    expect(reader.poll(10)).toEqual([]);
    const f = new Uint8Array(40).fill(7);
    objects[0]!.program("sample").testRun({ data: f });
    expect(reader.poll(1000).map((r) => hex(r.bytes))).toEqual([sampleBytes(f)]);
    reader.close();
    reader.close();
    expect(() => reader.consume()).toThrow(/closed/);
  });
});
