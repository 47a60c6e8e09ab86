/**
 * Module-level variables: `config<T>(v)` settings land in .rodata as
 * `const volatile` VARs, `let` state in .bss (zero) or .data, all with the
 * BTF libbpf uses; the program reads the settings and updates the state,
 * and userspace reads both back through libbpf's internal maps.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { loadObject, u64Value } from "../compiler/loader/index";
import { readElf } from "../compiler/object/elf";
import { skipKernel } from "./support/kernel";
import * as P from "./support/packets";

function build(): Uint8Array {
  const r = compile({ file: "examples/udp_port_setting.ts" });
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
  return r.object!;
}

describe("globals in the object", () => {
  test("settings are in .rodata, state in .bss and .data, with their initial values", () => {
    const elf = readElf(build());
    const rodata = elf.section(".rodata")!;
    const data = elf.section(".data")!;
    expect(rodata.size).toBeGreaterThanOrEqual(3);
    expect(elf.section(".bss")!.size).toBe(8);
    // DROP_PORT: u16 9 and ENABLED: u8 1, in declaration order.
    const r = elf.contents(rodata);
    expect([r[0], r[1], r[2]]).toEqual([9, 0, 1]);
    expect(u64Value(elf.contents(data).slice(0, 8))).toBe(7n);
    for (const name of ["DROP_PORT", "ENABLED", "seen", "lastLen"]) expect(elf.symbols.some((s) => s.name === name)).toBe(true);
  });
});

describe.skipIf(skipKernel)("globals in the kernel", () => {
  test("the program reads its settings and keeps state that userspace reads back", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-globals-"));
    const obj = loadObject(build());
    try {
      const prog = obj.program("udp_port_setting");
      const to9 = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(1000, 9)));
      const to53 = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(1000, 53)));
      expect(prog.testRun({ data: to9 }).action).toBe("DROP");
      expect(prog.testRun({ data: to53 }).action).toBe("PASS");
      expect(prog.testRun({ data: new Uint8Array(20) }).action).toBe("PASS");
      const bss = obj.maps.find((m) => m.name.endsWith(".bss"))!;
      const data = obj.maps.find((m) => m.name.endsWith(".data"))!;
      expect(u64Value(bss.lookup(new Uint8Array(4))!.slice(0, 8))).toBe(3n);
      expect(u64Value(data.lookup(new Uint8Array(4))!.slice(0, 8))).toBe(42n);
    } finally {
      obj.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
