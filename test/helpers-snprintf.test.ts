/**
 * bpf_snprintf, run in the kernel: test/helpers/snprintf.ts and its C twin
 * test/helpers/snprintf.c format the same values with the kernel's integer
 * conversions (flags, widths, l and ll, %%), no values, and the most values
 * the kernel takes; both must return the same lengths and bytes, which
 * must be what printf gives (the text cut to the buffer, NUL-terminated,
 * the length the whole text needs). Formats the kernel would refuse are
 * compile errors (test/fixtures/negative/snprintf_*.ts).
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { compileC, clang } from "./support/clang";
import { inCI, skipKernel } from "./support/kernel";
import * as P from "./support/packets";

/** The text printf makes of format `which` from the frame's values. */
function expected(which: number, f: Buffer): string {
  const a = f.readUInt32LE(16);
  const b = f.readInt32LE(20);
  const c = f.readBigUInt64LE(24);
  const port = f.readUInt16BE(12);
  switch (which) {
    case 0:
      return `a=${a} b=${b} c=${c.toString(16)} port=${port}`;
    case 1:
      return `[${a.toString(16).padStart(8, "0")}|${String(b).padEnd(6)}|${b >= 0 ? "+" : ""}${b}|${b >= 0 ? " " : ""}${b}|${a.toString(16).toUpperCase()}] 100%`;
    case 2:
      return `${c}-${BigInt.asIntN(64, c)}-${c}-${c.toString(16)}-${b}`;
    case 3:
      return "no values";
    default:
      return Array(12).fill(a).join(" ");
  }
}

describe.skipIf(skipKernel)("bpf_snprintf against its C twin and printf", () => {
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    const r = compile({ file: "test/helpers/snprintf.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!));
    if (clang) objects.push(loadObject(compileC(fs.readFileSync("test/helpers/snprintf.c", "utf8"))));
    else if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
  });
  afterAll(() => {
    for (const o of objects) o.close();
  });

  test("each format's text and length, cut to the 48-byte buffer, the same from both", () => {
    const next = P.rng(0x5f5f);
    let cut = 0;
    for (let k = 0; k < 100; k++) {
      const f = Buffer.from(Uint8Array.from({ length: 88 }, () => next() & 0xff));
      const which = k % 5;
      f[14] = which;
      // Small values now and then: short texts that fit.
      if (k % 7 === 0) f.fill(0, 16, 32);
      const text = expected(which, f);
      const want = Buffer.alloc(48);
      want.write(text.slice(0, 47), "latin1");
      if (text.length > 47) cut++;
      for (const obj of objects) {
        const run = obj.program("fmt").testRun({ data: f });
        expect(run.action).toBe("TX");
        const out = Buffer.from(run.data);
        expect({ which, n: Number(out.readBigInt64LE(32)), text: out.subarray(40, 88).toString("latin1") }).toEqual({ which, n: text.length + 1, text: want.toString("latin1") });
      }
    }
    expect(cut).toBeGreaterThan(0);
  });
});
