/**
 * LPM_TRIE end to end: examples/source_prefix_blocklist.ts and its C twin
 * get the same prefixes from userspace, run the same frames through
 * BPF_PROG_TEST_RUN, and must give the same verdicts and leave the same hit
 * counts, which must also be what this test's own longest-prefix match
 * computes from the frames.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject, u64Value } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");

const PREFIXES: [number[], number][] = [
  [[10, 0, 0, 0], 8],
  [[10, 1, 0, 0], 16],
  [[10, 1, 2, 0], 24],
  [[192, 0, 2, 0], 24],
  [[203, 0, 113, 7], 32],
];

/** struct { __u32 prefixlen; __be32 addr; } */
function prefixKey(addr: number[], len: number): Uint8Array {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setUint32(0, len, true);
  k.set(addr, 4);
  return k;
}

const toU32 = (a: number[]) => ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;

/** The longest of PREFIXES covering `addr`, as an index, or -1. */
function longestMatch(addr: number[]): number {
  let best = -1;
  PREFIXES.forEach(([p, len], i) => {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if ((toU32(addr) & mask) >>> 0 === (toU32(p) & mask) >>> 0 && (best < 0 || len > PREFIXES[best]![1])) best = i;
  });
  return best;
}

interface Frame {
  data: Uint8Array;
  /** the IPv4 source the program looks up, when the frame has a whole IPv4 header */
  source?: number[];
}

function frames(): Frame[] {
  const next = P.rng(0x1b10c);
  const bases = [[10, 0, 9], [10, 1, 0], [10, 1, 2], [10, 2, 2], [192, 0, 2], [192, 0, 3], [203, 0, 113], [172, 16, 0]];
  const out: Frame[] = [];
  for (let i = 0; i < 240; i++) {
    const src = [...bases[next() % bases.length]!, next() % 12];
    const kind = next() % 6;
    if (kind === 0) out.push({ data: P.ethernet({ proto: P.ETH_P_IPV6 }, new Uint8Array(40)) });
    else if (kind === 1) out.push({ data: P.truncate(P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src }, P.udp(1, 2))), 14 + (next() % 20)) });
    else out.push({ data: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: kind === 2 ? P.IPPROTO_TCP : P.IPPROTO_UDP, src }, P.udp(1000, 53))), source: src });
  }
  // Every prefix, and an address just outside each, at least once.
  for (const [p, len] of PREFIXES) {
    const outside = [...p];
    outside[Math.floor((len - 1) / 8)] = (outside[Math.floor((len - 1) / 8)]! + (1 << ((32 - len) % 8))) & 0xff;
    for (const src of [p, outside]) out.push({ data: P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src }, P.udp(1, 2))), source: src });
  }
  return out;
}

function hits(obj: LoadedObject): bigint[] {
  return PREFIXES.map(([p, len]) => u64Value(obj.map("blocked").lookup(prefixKey(p, len))!));
}

describe.skipIf(skipKernel)("LPM trie: examples/source_prefix_blocklist.ts against its C twin", () => {
  let dir: string;
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-lpm-"));
    const r = compile({ file: "examples/source_prefix_blocklist.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!, { name: "spb_ts" }));
    if (clang) {
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      const out = path.join(dir, "c.o");
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/twins/source_prefix_blocklist.c", "-o", out]);
      objects.push(loadObject(out));
    } else if (inCI) {
      throw new Error("clang-14 is missing: .ci/run installs it");
    }
    for (const obj of objects) for (const [p, len] of PREFIXES) obj.map("blocked").update(prefixKey(p, len), new Uint8Array(8), "noexist");
  });
  afterAll(() => {
    for (const obj of objects) obj.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the trie is created as the kernel wants it", () => {
    for (const obj of objects) {
      expect(obj.map("blocked").info()).toMatchObject({ typeName: "lpm_trie", keySize: 8, valueSize: 8, maxEntries: 1024, flags: 1 });
      expect(obj.map("blocked").info().btfKeyTypeId).toBeGreaterThan(0);
      expect(obj.map("blocked").keys().length).toBe(PREFIXES.length);
    }
  });

  test("the same frames get the same verdicts, and the longest prefix counts each drop", () => {
    const list = frames();
    const want = PREFIXES.map(() => 0n);
    let drops = 0;
    for (const f of list) {
      const match = f.source ? longestMatch(f.source) : -1;
      if (match >= 0) want[match]! += 1n;
      const verdicts = objects.map((obj) => obj.program("source_prefix_blocklist").testRun({ data: f.data }));
      for (const v of verdicts) {
        expect(v.action).toBe(match >= 0 ? "DROP" : "PASS");
        expect(Buffer.from(v.data).equals(Buffer.from(f.data))).toBe(true);
      }
      if (match >= 0) drops++;
    }
    expect(drops).toBeGreaterThan(50);
    expect(want.every((n) => n > 0n)).toBe(true);
    for (const obj of objects) expect(hits(obj)).toEqual(want);
  });

  test("a prefix removed from userspace stops matching", () => {
    const src = [10, 1, 2, 5];
    for (const obj of objects) {
      const prog = obj.program("source_prefix_blocklist");
      const frame = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src }, P.udp(1, 2)));
      const before = hits(obj);
      expect(obj.map("blocked").delete(prefixKey([10, 1, 2, 0], 24))).toBe(true);
      // The /16 covers it now.
      expect(prog.testRun({ data: frame }).action).toBe("DROP");
      expect(hits(obj)[1]).toBe(before[1]! + 1n);
      for (const [p, len] of [[[10, 1, 0, 0], 16], [[10, 0, 0, 0], 8]] as const) expect(obj.map("blocked").delete(prefixKey([...p], len))).toBe(true);
      expect(prog.testRun({ data: frame }).action).toBe("PASS");
    }
  });
});

describe.skipIf(skipKernel)("LPM trie with IPv6 keys", () => {
  test("the longest of 2001:db8::/32, 2001:db8:1::/48 and one /128 covering each source counts it", () => {
    const r = compile({ file: "test/fixtures/positive/lpm_ipv6.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const obj = loadObject(r.object!);
    try {
      const key = (len: number, ...head: number[]) => {
        const k = new Uint8Array(20);
        new DataView(k.buffer).setUint32(0, len, true);
        k.set(head, 4);
        return k;
      };
      const prefixes = [key(32, 0x20, 0x01, 0x0d, 0xb8), key(48, 0x20, 0x01, 0x0d, 0xb8, 0, 1), key(128, 0x20, 0x01, 0x0d, 0xb8, 0, 1, ...new Array(9).fill(0), 7)];
      const trie = obj.map("blocked6");
      expect(trie.info()).toMatchObject({ typeName: "lpm_trie", keySize: 20, valueSize: 8, flags: 1 });
      for (const k of prefixes) trie.update(k, new Uint8Array(8));
      const from = (...src: number[]) => {
        const f = P.ethernet({ proto: P.ETH_P_IPV6 }, P.ipv6({ nextHeader: P.IPPROTO_UDP }, P.udp(1, 2)));
        f.set(src.concat(new Array(16 - src.length).fill(0)), 14 + 8);
        return f;
      };
      const runs: [Uint8Array, string][] = [
        [from(0x20, 0x01, 0x0d, 0xb8, 0, 2), "DROP"],
        [from(0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 5), "DROP"],
        [from(0x20, 0x01, 0x0d, 0xb8, 0, 1, ...new Array(9).fill(0), 7), "DROP"],
        [from(0x20, 0x01, 0x0d, 0xb8, 0, 1, ...new Array(9).fill(0), 7), "DROP"],
        [from(0x20, 0x01, 0x0d, 0xb9), "PASS"],
        [from(0xfe, 0x80), "PASS"],
      ];
      for (const [f, action] of runs) expect(obj.program("lpm6").testRun({ data: f }).action).toBe(action);
      expect(prefixes.map((k) => u64Value(trie.lookup(k)!))).toEqual([1n, 1n, 2n]);
    } finally {
      obj.close();
    }
  });
});
