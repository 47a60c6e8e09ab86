/**
 * PROG_ARRAY and tail calls: test/fixtures/positive/tail_calls.ts and its C
 * twin get the same programs in their arrays from userspace (by name, from
 * their own object), then run the same frames through BPF_PROG_TEST_RUN.
 * The verdict and bytes are those of the program jumped to, the same in
 * both and as this test expects; an empty entry falls through, and a chain
 * stops after the kernel's 33 jumps.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { BpfError, type LoadedObject, loadObject } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";

const clang = which("clang-14");

const frame = (...head: number[]) => {
  const f = new Uint8Array(14);
  f.set(head);
  return f;
};
const marked = (f: Uint8Array, mark: number) => {
  const out = f.slice();
  out[1] = mark;
  return out;
};

describe.skipIf(skipKernel)("tail calls through a ProgArray, against the C twin", () => {
  let dir: string;
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-tailcall-"));
    const r = compile({ file: "test/fixtures/positive/tail_calls.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!, { name: "tail_calls" }));
    if (clang) {
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/twins/tail_calls.c", "-o", path.join(dir, "c.o")]);
      objects.push(loadObject(path.join(dir, "c.o")));
    } else if (inCI) {
      throw new Error("clang-14 is missing: .ci/run installs it");
    }
    for (const obj of objects) {
      obj.map("jump").setProgram(0, "drop_it");
      obj.map("jump").setProgram(1, "bounce");
    }
  });
  afterAll(() => {
    for (const o of objects) o.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the array is a PROG_ARRAY of u32 indexes and program fds", () => {
    for (const obj of objects) expect(obj.map("jump").info()).toMatchObject({ typeName: "prog_array", keySize: 4, valueSize: 4, maxEntries: 4 });
  });

  test("the verdict and bytes are the jumped-to program's; an empty entry falls through", () => {
    const cases: [string, Uint8Array, string, Uint8Array][] = [
      ["entry 0: drop_it", frame(0), "DROP", frame(0)],
      ["entry 1: bounce, whose own jump (9) is out of range", frame(1, 0, 9), "TX", marked(frame(1, 0, 9), 0xbb)],
      ["entry 1: bounce, then entry 0 from there", frame(1, 0, 0), "DROP", marked(frame(1, 0, 0), 0xbb)],
      ["entry 1: bounce into itself until the kernel's limit of 33 jumps", frame(1, 0, 1), "TX", marked(frame(1, 0, 1), 0xbb)],
      ["entry 2: empty", frame(2), "PASS", marked(frame(2), 0xee)],
      ["index 200: beyond the array", frame(200), "PASS", marked(frame(200), 0xee)],
    ];
    for (const [what, data, action, output] of cases) {
      for (const obj of objects) {
        const r = obj.program("dispatch").testRun({ data });
        expect(r.action, what).toBe(action);
        expect(Buffer.from(r.data).toString("hex"), what).toBe(Buffer.from(output).toString("hex"));
      }
    }
  });

  test("userspace empties and refills entries; refusals say why", () => {
    for (const obj of objects) {
      const jump = obj.map("jump");
      jump.setProgram(0, null);
      expect(obj.program("dispatch").testRun({ data: frame(0) }).action).toBe("PASS");
      jump.setProgram(0, "bounce");
      expect(obj.program("dispatch").testRun({ data: frame(0, 0, 3) }).action).toBe("TX");
      jump.setProgram(0, "drop_it");
      expect(() => jump.setProgram(4, "drop_it")).toThrow(BpfError);
      expect(() => jump.setProgram(0, "no_such_program")).toThrow(/no_such_program/);
    }
  });
});
