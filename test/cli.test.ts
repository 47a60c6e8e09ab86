/**
 * The `tsxdp` command as users run it: the bundled dist/cli.js in a child
 * process, with its exit codes (0 ok, 1 program errors, 2 usage or
 * environment), its outputs and its JSON. Also the programmatic API's
 * options: in-memory sources, -O levels, --mcpu.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile } from "../compiler/index";
import { loadObject } from "../compiler/loader/index";
import { readElf } from "../compiler/object/elf";
import { findLLVM } from "../compiler/llvm/find-llvm";
import { skipKernel } from "./support/kernel";
import * as P from "./support/packets";

const cli = path.resolve("dist/cli.js");
let dir: string;

function tsxdp(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-cli-"));
  fs.writeFileSync(
    path.join(dir, "bad.ts"),
    ['import { xdp, XdpAction, type u8 } from "tsxdp";', "", "export const bad = xdp((ctx) => {", "  const data = ctx.data;", "  return data.load<u8>(20) === 1 ? XdpAction.DROP : XdpAction.PASS;", "});", ""].join("\n"),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("tsxdp build", () => {
  test("writes the object named after the input by default", () => {
    const r = tsxdp(["build", path.resolve("examples/drop_non_ipv4.ts")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("drop_non_ipv4.o: drop_non_ipv4 (xdp)");
    const elf = readElf(fs.readFileSync(path.join(dir, "drop_non_ipv4.o")));
    expect(elf.machine).toBe(247);
  });

  test("-o, -O0, --mcpu v2, --emit-llvm, --emit-asm, --emit-ir", () => {
    const r = tsxdp(["build", path.resolve("examples/swap_macs_tx.ts"), "-o", "swap.o", "-O0", "--mcpu", "v2", "--emit-llvm", "--emit-asm", "--emit-ir"]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, "swap.ll"), "utf8")).toContain('section "xdp"');
    expect(fs.readFileSync(path.join(dir, "swap.s"), "utf8")).toMatch(/\bexit\b/);
    expect(fs.readFileSync(path.join(dir, "swap.ir"), "utf8")).toContain("program swap_macs_tx");
    expect(readElf(fs.readFileSync(path.join(dir, "swap.o"))).section("xdp")).toBeDefined();
  });

  test("a program with errors: exit 1, a code frame, no object", () => {
    const r = tsxdp(["build", "bad.ts", "-o", "bad.o"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bad.ts:5:10 - error TSX5001: packet read of bytes [20, 21) is not proven within data_end");
    expect(r.stderr).toMatch(/^5 {3}return data\.load<u8>\(20\)/m);
    expect(r.stderr).toContain("Found 1 error.");
    expect(fs.existsSync(path.join(dir, "bad.o"))).toBe(false);
  });

  test("--json gives the diagnostics to tools", () => {
    const r = tsxdp(["build", "bad.ts", "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; diagnostics: { code: string; line: number; column: number; file: string }[] };
    expect(out.ok).toBe(false);
    expect(out.diagnostics).toHaveLength(1);
    expect(out.diagnostics[0]).toMatchObject({ code: "TSX5001", line: 5, column: 10, file: path.join(dir, "bad.ts") });
  });

  test("usage errors exit 2", () => {
    expect(tsxdp(["build"]).code).toBe(2);
    expect(tsxdp(["build", "a.ts", "b.ts"]).code).toBe(2);
    expect(tsxdp(["build", "bad.ts", "-O7"]).stderr).toContain("unknown optimisation level '-O7'");
    expect(tsxdp(["build", "bad.ts", "--mcpu", "v9"]).code).toBe(2);
    expect(tsxdp(["frobnicate"]).code).toBe(2);
    const missing = tsxdp(["build", "missing.ts"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read missing.ts: ENOENT");
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });

  test("no usable libLLVM: exit 2 and the package to install", () => {
    const r = tsxdp(["build", path.resolve("examples/pass.ts")], { TSXDP_LIBLLVM: "/nonexistent/libLLVM.so" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("libllvm14");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test("the README's `npx tsxdp build` in a checkout runs dist/cli.js itself: it must be executable", () => {
    const out = path.join(dir, "readme.o");
    const r = spawnSync("npx", ["tsxdp", "build", "examples/drop_non_ipv4.ts", "-o", out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(readElf(fs.readFileSync(out)).section("xdp")).toBeDefined();
  });

  test("help and version", () => {
    expect(tsxdp(["--help"]).stdout).toContain("tsxdp build <file.ts>");
    expect(tsxdp(["build", "--help"]).stdout).toContain("--emit-llvm");
    expect(tsxdp(["check", "--help"]).stdout).toContain("without generating");
    expect(tsxdp(["--version"]).stdout.trim()).toBe(JSON.parse(fs.readFileSync("package.json", "utf8")).version);
  });
});

describe.skipIf(skipKernel)("every installed libLLVM (14 and newer) builds objects the kernel runs alike", () => {
  const versions = [14, 15, 16, 17, 18, 19, 20, 21].filter((v) => {
    try {
      findLLVM({ version: v });
      return true;
    } catch {
      return false;
    }
  });
  test("libLLVM 14 is among them (the minimum we promise)", () => {
    expect(versions).toContain(14);
  });
  test.each(versions)("libLLVM %i", (v) => {
    const out = `llvm${v}.o`;
    const r = tsxdp(["build", path.resolve("examples/drop_non_ipv4.ts"), "-o", out], { TSXDP_LLVM_VERSION: String(v) });
    expect(r.code, r.stderr).toBe(0);
    const obj = loadObject(path.join(dir, out));
    try {
      const prog = obj.program("drop_non_ipv4");
      const ipv4 = P.ethernet({ proto: P.ETH_P_IP, vlans: [[P.ETH_P_8021Q, 5]] }, new Uint8Array(20));
      expect(prog.testRun({ data: ipv4 }).action).toBe("PASS");
      expect(prog.testRun({ data: P.ethernet({ proto: P.ETH_P_IPV6 }, new Uint8Array(40)) }).action).toBe("DROP");
      expect(prog.info().nrLineInfo).toBeGreaterThan(0);
    } finally {
      obj.close();
    }
  });
});

describe("tsxdp check", () => {
  test("a good program: exit 0, nothing written", () => {
    const r = tsxdp(["check", path.resolve("examples/drop_udp_port.ts")]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(fs.readdirSync(dir).some((f) => f.startsWith("drop_udp_port"))).toBe(false);
  });

  test("a bad program: exit 1 and the diagnostic", () => {
    const r = tsxdp(["check", "bad.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error TSX5001");
  });

  test("does not need LLVM", () => {
    const r = tsxdp(["check", path.resolve("examples/drop_udp_port.ts")], { TSXDP_LIBLLVM: "/nonexistent/libLLVM.so" });
    expect(r.code).toBe(0);
  });
});

describe("compile() API", () => {
  const source = [
    'import { xdp, XdpAction, license, type u8 } from "tsxdp";',
    'license("Dual MIT/GPL");',
    "export const first = xdp((ctx) => {",
    "  if (ctx.data + 1 > ctx.data_end) return XdpAction.ABORTED;",
    "  return ctx.data.load<u8>(0) === 0xff ? XdpAction.DROP : XdpAction.PASS;",
    "});",
    "export const second = xdp.frags(() => XdpAction.TX);",
    "",
  ].join("\n");

  test("compiles an in-memory source with several programs and a license", () => {
    const r = compile({ source, fileName: "generated/filter.ts" });
    expect(r.diagnostics).toEqual([]);
    expect(r.programs).toEqual([
      { name: "first", section: "xdp" },
      { name: "second", section: "xdp.frags" },
    ]);
    expect(r.license).toBe("Dual MIT/GPL");
    const elf = readElf(r.object!);
    expect(new TextDecoder().decode(elf.contents(elf.section("license")!))).toBe("Dual MIT/GPL\0");
  });

  test("every -O level and every -mcpu this LLVM supports gives an object", () => {
    for (const optLevel of [0, 1, 2, 3] as const) {
      for (const cpu of ["v1", "v2", "v3"] as const) {
        const r = compile({ source, fileName: "generated/filter.ts", optLevel, cpu });
        expect(r.ok, `-O${optLevel} --mcpu ${cpu}`).toBe(true);
      }
    }
  });

  test("--emit-llvm shows the program's section and the license", () => {
    const r = compile({ source, fileName: "generated/filter.ts", emitLlvm: true, emitAsm: true });
    expect(r.llvmIr).toContain('section "xdp.frags"');
    expect(r.llvmIr).toContain('c"Dual MIT/GPL\\00"');
    expect(r.assembly).toContain("exit");
  });

  test.skipIf(skipKernel)("every -O level and -mcpu loads and runs in the kernel the same way", () => {
    const frames = [Uint8Array.from([0xff, ...new Uint8Array(13)]), new Uint8Array(14), P.ethernet({ proto: P.ETH_P_IP }, new Uint8Array(20))];
    for (const optLevel of [0, 1, 2, 3] as const) {
      for (const cpu of ["v1", "v2", "v3"] as const) {
        const r = compile({ source, fileName: "generated/filter.ts", optLevel, cpu });
        const obj = loadObject(r.object!);
        try {
          expect(frames.map((f) => obj.program("first").testRun({ data: f }).action), `-O${optLevel} ${cpu}`).toEqual(["DROP", "PASS", "PASS"]);
          expect(obj.program("second").testRun({ data: frames[1]! }).action).toBe("TX");
        } finally {
          obj.close();
        }
      }
    }
  });
});
