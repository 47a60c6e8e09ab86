/**
 * Helpers with pointers to memory, run in the kernel: bpf_csum_diff (over
 * stack buffers and over a header in the packet),
 * bpf_xdp_load_bytes / bpf_xdp_store_bytes and bpf_check_mtu in
 * test/helpers/memory.ts, against the C twin test/helpers/memory.c on the
 * same frames (identical verdicts and output bytes), and against what the
 * kernel's own definitions give: ones'-complement sums computed here, the
 * copied bytes, the loopback device's MTU read from sysfs.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");

function buildC(file: string): Uint8Array | undefined {
  if (!clang) {
    if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-helpers-"));
  try {
    const include = `/usr/include/${os.machine()}-linux-gnu`;
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", file, "-o", path.join(dir, "c.o")]);
    return new Uint8Array(fs.readFileSync(path.join(dir, "c.o")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function frames(seed: number, count: number, min: number, max: number): Uint8Array[] {
  const next = P.rng(seed);
  return Array.from({ length: count }, () => Uint8Array.from({ length: min + (next() % (max - min + 1)) }, () => next() & 0xff));
}

/** A 32-bit ones'-complement sum folded to 16 bits: what every correct checksum sum agrees on. */
function fold(sum: bigint): number {
  let s = Number(sum & 0xffffffffn);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s === 0xffff ? 0 : s;
}

/** Ones'-complement sum of 16-bit words as they sit in memory (little-endian loads, as csum_partial does). */
function wordSum(bytes: Uint8Array, invert: boolean): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += invert ? 0xffff - (bytes[i]! | (bytes[i + 1]! << 8)) : bytes[i]! | (bytes[i + 1]! << 8);
  return s;
}

describe.skipIf(skipKernel)("helpers with stack memory, against their C twin and the kernel", () => {
  let tsObj: LoadedObject;
  let cObj: LoadedObject | undefined;
  beforeAll(() => {
    const r = compile({ file: "test/helpers/memory.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    tsObj = loadObject(r.object!);
    const c = buildC("test/helpers/memory.c");
    cObj = c && loadObject(c);
  });
  afterAll(() => {
    tsObj?.close();
    cObj?.close();
  });

  const both = (prog: string, f: Uint8Array) => {
    const got = tsObj.program(prog).testRun({ data: f });
    if (cObj) {
      const want = cObj.program(prog).testRun({ data: f });
      expect({ action: got.action, data: Buffer.from(got.data).toString("hex") }).toEqual({ action: want.action, data: Buffer.from(want.data).toString("hex") });
    }
    return got;
  };

  test("bpf_csum_diff: a struct and a FixedArray as buffers, and null for none", () => {
    for (const f of frames(0xc5, 120, 40, 90)) {
      const { action, data } = both("csum", f);
      if (f.length < 56) {
        expect(action).toBe("PASS");
        continue;
      }
      expect(action).toBe("TX");
      const out = Buffer.from(data);
      const diff = out.readBigInt64LE(40);
      const sum = out.readBigInt64LE(48);
      expect(diff).toBeGreaterThanOrEqual(0n);
      const seed = f[34]! + f[35]! * 0x100 + f[36]! * 0x10000 + f[37]! * 0x1000000;
      const seedWords = (seed & 0xffff) + Math.floor(seed / 0x10000);
      expect(fold(diff)).toBe(fold(BigInt(seedWords + wordSum(f.slice(14, 26), true) + wordSum(f.slice(26, 34), false))));
      expect(fold(sum)).toBe(fold(BigInt(wordSum(f.slice(14, 26), false))));
      // Everything else is the input.
      expect(out.subarray(0, 40).toString("hex")).toBe(Buffer.from(f.subarray(0, 40)).toString("hex"));
    }
  });

  test("bpf_csum_diff over a header in the packet: the IPv4 checksum it computes is valid", () => {
    const next = P.rng(0x1b5);
    for (let i = 0; i < 60; i++) {
      const f = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: next() & 0xff, ttl: next() & 0xff, src: [10, next() & 0xff, next() & 0xff, 1], dst: [192, 0, next() & 0xff, next() & 0xff] }, new Uint8Array(next() % 20)));
      const orig = Uint8Array.from(f);
      f[24] ^= 1 + (next() % 255); // a wrong checksum to start with
      const frame = i % 10 === 9 ? f.slice(0, 14 + (next() % 20)) : f;
      const { action, data } = both("ipsum", frame);
      if (frame.length < 34) {
        expect(action).toBe("PASS");
        continue;
      }
      expect(action).toBe("TX");
      expect(P.checksum(data.subarray(14, 34))).toBe(0);
      // The frame as built, with its right checksum back.
      expect(Buffer.from(data).toString("hex")).toBe(Buffer.from(orig).toString("hex"));
    }
  });

  test("bpf_xdp_load_bytes and bpf_xdp_store_bytes: a FixedArray in and out, packet pointers valid after store_bytes", () => {
    for (const f of frames(0xb7, 80, 20, 80)) {
      const { action, data } = both("bytes", f);
      if (f.length < 46) {
        expect(action).toBe("ABORTED");
        continue;
      }
      expect(action).toBe("TX");
      const want = Uint8Array.from(f);
      want.set(f.subarray(14, 30), 30);
      want[30] = (f[14]! + 1) & 0xff;
      want[0] = f[29]!;
      expect(Buffer.from(data).toString("hex")).toBe(Buffer.from(want).toString("hex"));
    }
  });

  test("bpf_check_mtu: a Cell<u32> in and out, against the loopback device's MTU", () => {
    const mtu = Number(fs.readFileSync("/sys/class/net/lo/mtu", "utf8"));
    const cases: [number, number, number][] = [
      [0, 0, 60],
      [0, mtu, 60],
      [0, mtu - 46, 60],
      [0, mtu - 45, 60],
      [mtu, 0, 30],
      [mtu + 1, 0, 30],
      [1000, -2000, 40],
      [mtu - 100, 101, 40],
    ];
    for (const [len, diff, size] of cases) {
      const f = new Uint8Array(size);
      const v = new DataView(f.buffer);
      v.setUint32(14, len, true);
      v.setInt32(18, diff, true);
      const { action, data } = both("mtu", f);
      expect(action).toBe("TX");
      const out = new DataView(Uint8Array.from(data).buffer);
      // The loopback device: 14 bytes of hard header on top of its MTU (bpf_xdp_check_mtu).
      const checked = (len !== 0 ? len + 14 : size) + diff;
      expect({ mtu: out.getUint32(14, true), rc: out.getInt32(18, true) }, `len ${len} diff ${diff}`).toEqual({ mtu, rc: checked > mtu + 14 ? 1 : 0 });
    }
  });
});
