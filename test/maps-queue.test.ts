/**
 * QUEUE, STACK and BLOOM_FILTER end to end: test/fixtures/positive/value_maps.ts
 * and its C twin (test/twins/value_maps.c) run the same command frames
 * through BPF_PROG_TEST_RUN. Each step must give the same verdict and bytes
 * in both, and what this test's own model of a queue, a stack and a set
 * says; then userspace pushes, pops and peeks through the loader and the
 * program sees it, and the other way round.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { BpfError, type LoadedObject, loadObject, u32Key } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");

function command(cmd: number, arg: number, addr: number[]): Uint8Array {
  const f = new Uint8Array(16);
  f[0] = cmd;
  new DataView(f.buffer).setUint32(4, arg, true);
  f.set(addr, 8);
  return f;
}

/** A sample as the program writes it back: the address at 8, the length (host order) at 12. */
function answer(frame: Uint8Array, addr: readonly number[] | Uint8Array, len: number): Uint8Array {
  const out = frame.slice();
  out.set(addr, 8);
  new DataView(out.buffer).setUint32(12, len, true);
  return out;
}

const sample = (addr: readonly number[], len: number) => {
  const b = new Uint8Array(8);
  b.set(addr, 0);
  new DataView(b.buffer).setUint32(4, len, true);
  return b;
};

describe.skipIf(skipKernel)("queue, stack and bloom filter against the C twin and a model", () => {
  let dir: string;
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-queue-"));
    const r = compile({ file: "test/fixtures/positive/value_maps.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!, { name: "value_maps" }));
    if (clang) {
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/twins/value_maps.c", "-o", path.join(dir, "c.o")]);
      objects.push(loadObject(path.join(dir, "c.o")));
    } else if (inCI) {
      throw new Error("clang-14 is missing: .ci/run installs it");
    }
  });
  afterAll(() => {
    for (const o of objects) o.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the maps are created keyless, with their value types and the bloom filter's hash count", () => {
    for (const obj of objects) {
      expect(obj.map("recent").info()).toMatchObject({ typeName: "queue", keySize: 0, valueSize: 8, maxEntries: 4 });
      expect(obj.map("lifo").info()).toMatchObject({ typeName: "stack", keySize: 0, valueSize: 4, maxEntries: 8 });
      expect(obj.map("seen").info()).toMatchObject({ typeName: "bloom_filter", keySize: 0, valueSize: 4, maxEntries: 256, flags: 64 });
    }
  });

  test("400 random commands: the same verdicts and bytes as C and as the model", () => {
    const next = P.rng(0x9e3e);
    const queue: [number[], number][] = [];
    const stack: number[] = [];
    const set = new Set<string>();
    const seenVerdicts = new Set<string>();
    for (let step = 0; step < 400; step++) {
      const cmd = next() % 7;
      const arg = next() % 100000;
      const addr = [192, 0, 2, next() % 40];
      const frame = command(cmd, arg, addr);
      let want: { action: string; data: Uint8Array };
      switch (cmd) {
        case 0:
          if (queue.length === 4) queue.shift();
          queue.push([addr, arg]);
          want = { action: "PASS", data: frame };
          break;
        case 1:
        case 2: {
          const head = cmd === 1 ? queue.shift() : queue[0];
          want = head ? { action: "TX", data: answer(frame, head[0], head[1]) } : { action: "DROP", data: frame };
          break;
        }
        case 3:
          want = stack.length < 8 ? (stack.push(arg), { action: "PASS", data: frame }) : { action: "DROP", data: frame };
          break;
        case 4: {
          const top = stack.pop();
          want = top === undefined ? { action: "DROP", data: frame } : { action: "TX", data: answer(frame, addr, top) };
          break;
        }
        case 5:
          set.add(addr.join("."));
          want = { action: "PASS", data: frame };
          break;
        default:
          // A pushed value is always found; an absent one may be a false positive, the same in both.
          want = { action: set.has(addr.join(".")) ? "DROP" : "either", data: frame };
      }
      const runs = objects.map((o) => o.program("value_maps").testRun({ data: frame }));
      const label = `step ${step}: command ${cmd}`;
      if (want.action !== "either") expect(runs[0]!.action, label).toBe(want.action);
      expect(Buffer.from(runs[0]!.data).toString("hex"), label).toBe(Buffer.from(want.data).toString("hex"));
      if (runs[1]) {
        expect(runs[1].action, label).toBe(runs[0]!.action);
        expect(Buffer.from(runs[1].data).equals(Buffer.from(runs[0]!.data)), label).toBe(true);
      }
      seenVerdicts.add(`${cmd}:${runs[0]!.action}`);
    }
    // Every command ran, with both outcomes where there are two.
    for (const v of ["0:PASS", "1:TX", "1:DROP", "2:TX", "2:DROP", "3:PASS", "3:DROP", "4:TX", "4:DROP", "5:PASS", "6:DROP", "6:PASS"]) expect(seenVerdicts).toContain(v);
    // What the program left behind, read from userspace: the queue's and the stack's contents in order.
    for (const obj of objects) {
      const q = obj.map("recent");
      expect(q.peek()).toEqual(queue[0] ? sample(...queue[0]) : undefined);
      const left: Uint8Array[] = [];
      for (let v = q.pop(); v; v = q.pop()) left.push(v);
      expect(left).toEqual(queue.map(([a, l]) => sample(a, l)));
      const s = obj.map("lifo");
      const popped: number[] = [];
      for (let v = s.pop(); v; v = s.pop()) popped.push(new DataView(v.buffer).getUint32(0, true));
      expect(popped).toEqual([...stack].reverse());
      for (const a of set) expect(obj.map("seen").contains(Uint8Array.from(a.split(".").map(Number)))).toBe(true);
    }
  });

  test("userspace pushes what the program pops, and pops what the program pushes", () => {
    for (const obj of objects) {
      const prog = obj.program("value_maps");
      const q = obj.map("recent");
      q.push(sample([10, 0, 0, 1], 111));
      q.push(sample([10, 0, 0, 2], 222));
      const pop = command(1, 0, [0, 0, 0, 0]);
      expect(prog.testRun({ data: pop }).data).toEqual(answer(pop, [10, 0, 0, 1], 111));
      expect(prog.testRun({ data: command(0, 333, [10, 0, 0, 3]) }).action).toBe("PASS");
      expect(q.pop()).toEqual(sample([10, 0, 0, 2], 222));
      expect(q.pop()).toEqual(sample([10, 0, 0, 3], 333));
      expect(q.pop()).toBeUndefined();
      expect(prog.testRun({ data: pop }).action).toBe("DROP");

      // A full queue refuses a plain push; "exist" drops the oldest.
      for (let i = 0; i < 4; i++) q.push(sample([10, 0, 1, i], i));
      expect(() => q.push(sample([10, 0, 1, 9], 9))).toThrow(BpfError);
      q.push(sample([10, 0, 1, 9], 9), "exist");
      expect(q.peek()).toEqual(sample([10, 0, 1, 1], 1));
      while (q.pop());

      const s = obj.map("lifo");
      s.push(u32Key(7));
      s.push(u32Key(8));
      expect(s.peek()).toEqual(u32Key(8));
      const spop = command(4, 0, [0, 0, 0, 0]);
      expect(prog.testRun({ data: spop }).data).toEqual(answer(spop, [0, 0, 0, 0], 8));
      expect(s.pop()).toEqual(u32Key(7));

      const bloom = obj.map("seen");
      bloom.push(Uint8Array.from([198, 51, 100, 7]));
      expect(prog.testRun({ data: command(6, 0, [198, 51, 100, 7]) }).action).toBe("DROP");
      expect(prog.testRun({ data: command(5, 0, [198, 51, 100, 8]) }).action).toBe("PASS");
      expect(bloom.contains(Uint8Array.from([198, 51, 100, 8]))).toBe(true);
      expect(() => bloom.pop()).toThrow(/bloom_filter/);
      expect(() => bloom.keys()).toThrow(/no keys: test values with contains/);
      expect(() => q.keys()).toThrow(/no keys: read it with pop\(\) or peek\(\)/);
      expect(() => q.contains(new Uint8Array(8))).toThrow(BpfError);
    }
  });
});
