/**
 * examples/syn_flood_guard.ts specialised at load time: SYN_LIMIT 3 and a
 * 2 s WINDOW_NS set in .rodata of both the example and its C twin
 * (test/twins/syn_flood_guard.c). Three SYNs of a source pass, the fourth
 * and fifth are dropped; after the window the source starts again from one,
 * while a source whose window has not ended stays dropped. Both agree on
 * every packet.
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
const settings = { SYN_LIMIT: 3, WINDOW_NS: 2_000_000_000n };

const syn = (last: number) => P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_TCP, src: [198, 51, 100, last] }, P.tcp(40000, 80, 0x02)));

describe.skipIf(skipKernel || (!clang && !inCI))("syn_flood_guard with its settings changed at load, against its C twin", () => {
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    if (!clang) throw new Error("clang-14 is missing: .ci/run installs it");
    const r = compile({ file: "examples/syn_flood_guard.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-synflood-"));
    try {
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/twins/syn_flood_guard.c", "-o", path.join(dir, "c.o")]);
      objects.push(loadObject(r.object!, { rodata: settings }), loadObject(new Uint8Array(fs.readFileSync(path.join(dir, "c.o"))), { rodata: settings }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(() => {
    for (const o of objects) o.close();
  });

  /** The verdict of each object on this frame; they must agree. */
  const send = (frame: Uint8Array): string => {
    const [ours, theirs] = objects.map((o) => o.program("syn_flood_guard").testRun({ data: frame }).action);
    expect(theirs).toBe(ours);
    return ours!;
  };

  test("a limit of 3 per window, and a new window once 2 s have passed", async () => {
    expect([1, 2, 3, 4, 5].map(() => send(syn(1)))).toEqual(["PASS", "PASS", "PASS", "DROP", "DROP"]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect([1, 2, 3, 4].map(() => send(syn(2)))).toEqual(["PASS", "PASS", "PASS", "DROP"]);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // 198.51.100.1's window has ended (2.1 s or more): it starts again; 198.51.100.2's has not
    // (it would need a delay of 1.4 s more than asked for).
    expect([1, 2, 3, 4].map(() => send(syn(1)))).toEqual(["PASS", "PASS", "PASS", "DROP"]);
    expect(send(syn(2))).toBe("DROP");
  });
});
