/**
 * bpf_map_lookup_percpu_elem (`lookupOnCpu` on PerCpuArray, PerCpuHash and
 * LruPerCpuHash) and bpf_ringbuf_query (`RingBuf.query`), run in the
 * kernel: test/helpers/percpu.ts and its C twin test/helpers/percpu.c take
 * the same frames; the values read on each CPU must be those userspace
 * wrote for that CPU (null past the last CPU or for an absent key), and the
 * ring's size and positions those the kernel's ring buffer gives as
 * records are written and consumed.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject, openRingBuffer } from "../compiler/loader/index";
import { compileC, clang } from "./support/clang";
import { inCI, skipKernel } from "./support/kernel";

const u32 = (n: number) => Uint8Array.from(Buffer.from(Uint32Array.of(n).buffer));
const u64 = (n: bigint) => Uint8Array.from(Buffer.from(BigUint64Array.of(n).buffer));
const NONE = 0xdeadbeefn;

describe.skipIf(skipKernel)("lookupOnCpu and RingBuf.query against their C twin", () => {
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    const r = compile({ file: "test/helpers/percpu.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!));
    if (clang) objects.push(loadObject(compileC(fs.readFileSync("test/helpers/percpu.c", "utf8"))));
    else if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
  });
  afterAll(() => {
    for (const o of objects) o.close();
  });

  test("each CPU's value as userspace wrote it, null past the last CPU and for absent keys", () => {
    let checked = 0;
    for (const obj of objects) {
      const cpus = obj.map("counts").cpus;
      for (let i = 0; i < 4; i++) obj.map("counts").update(u32(i), Array.from({ length: cpus }, (_, c) => u64(BigInt(1000 * i + c + 1))));
      const key = Uint8Array.of(10, 0, 0, 7);
      obj.map("pairs").update(key, Array.from({ length: cpus }, (_, c) => Uint8Array.from([...u32(c + 50), ...u32(0xa0000000 + c)])));
      obj.map("recent").update(u32(2), Array.from({ length: cpus }, (_, c) => u64(BigInt(c) << 40n)));
      for (let cpu = 0; cpu < cpus + 3; cpu++) {
        for (const index of [0, 2, 3, 9]) {
          for (const hashKey of [key, Uint8Array.of(10, 0, 0, 8)]) {
            const f = new Uint8Array(48);
            f[14] = index;
            f[15] = cpu;
            f.set(hashKey, 24);
            const run = obj.program("oncpu").testRun({ data: f });
            expect(run.action).toBe("TX");
            const out = Buffer.from(run.data);
            const here = cpu < cpus;
            // Userspace's own reads of the same entries, on that CPU.
            const count = here && index < 4 ? Buffer.from(obj.map("counts").lookupPerCpu(u32(index))![cpu]!).readBigUInt64LE() : NONE;
            expect(out.readBigUInt64LE(16)).toBe(count);
            if (here && index < 4) expect(count).toBe(BigInt(1000 * index + cpu + 1));
            const pair = here && hashKey[3] === 7 ? [cpu + 50, 0xa0000000 + cpu] : [0xffffffff, 0xffffffff];
            expect([out.readUInt32LE(28), out.readUInt32LE(32)]).toEqual(pair);
            expect(out.readBigUInt64LE(40)).toBe(here && index === 2 ? BigInt(cpu) << 40n : NONE);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(objects.length * 40);
  });

  test("the ring's available bytes, size and positions, as records are written and consumed", () => {
    const results = objects.map((obj) => {
      const ring = openRingBuffer(obj, "events", { type: "__u64" });
      const seen: bigint[][] = [];
      try {
        for (let i = 0; i < 12; i++) {
          const f = new Uint8Array(54);
          f.set(u64(BigInt(i) * 0x1111n), 14);
          const run = obj.program("query").testRun({ data: f });
          expect(run.action).toBe("TX");
          const out = Buffer.from(run.data);
          seen.push([22, 30, 38, 46].map((at) => out.readBigUInt64LE(at)));
          // Every third record is read at once: the reader's position catches up.
          if (i % 3 === 2) expect(ring.consume().map((r) => r.value)).toEqual([i - 2, i - 1, i].map((n) => n * 0x1111));
        }
      } finally {
        ring.close();
      }
      return seen;
    });
    // An 8-byte record takes 16 bytes of the ring with its header.
    const want = Array.from({ length: 12 }, (_, i) => {
      const prod = BigInt(16 * (i + 1));
      const cons = BigInt(16 * 3 * Math.floor(i / 3));
      return [prod - cons, 4096n, cons, prod];
    });
    for (const r of results) expect(r).toEqual(want);
  });
});
