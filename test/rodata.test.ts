/**
 * Load-time configuration through `.rodata` (compiler/loader/rodata.ts):
 * `loadObject(source, { rodata })` writes `const volatile` globals between
 * open and load, so one object built by clang-14 from
 * test/fixtures/loader/xdp_rodata.c gives different verdicts under
 * BPF_PROG_TEST_RUN depending on the values; `rodata()` decodes them back;
 * bad names and values are refused before anything is loaded; and
 * `tsxdp run --set NAME=VALUE` passes them through.
 *
 * Kernel tests skip without root and fail under CI=true (support/kernel.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadObject, RodataError } from "../compiler/loader";
import type { LoadedObject, RodataValue } from "../compiler/loader";
import { loadedProgramIds } from "../compiler/loader/bpf-objects";
import { compile } from "../compiler/index";
import { inCI, skipReason, which } from "./support/kernel";
import * as P from "./support/packets";

const FIXTURES = resolve(fileURLToPath(new URL(".", import.meta.url)), "fixtures/loader");
const clang = which("clang-14");
const kernelSkip = process.getuid?.() !== 0 ? skipReason || "kernel tests need root" : clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined;
const cli = resolve("dist/cli.js");

function suiteName(name: string, skip: string | undefined): string {
  if (skip === undefined) return name;
  return inCI ? `${name} (cannot run: ${skip})` : `${name} (skipped: ${skip})`;
}

const udpTo = (port: number) => P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(40000, port)));
const arp = P.padTo(P.ethernet({ proto: P.ETH_P_ARP }, new Uint8Array(28)), 60);

function rodataError(fn: () => unknown): RodataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RodataError);
    return e as RodataError;
  }
  throw new Error("expected a RodataError, nothing was thrown");
}

describe.skipIf(kernelSkip !== undefined && !inCI)(suiteName(".rodata configuration", kernelSkip), () => {
  let dir: string;
  let objPath: string;
  let bytes: Uint8Array;

  beforeAll(() => {
    if (kernelSkip !== undefined) throw new Error(`.rodata tests cannot run in CI: ${kernelSkip}`);
    dir = mkdtempSync(join(tmpdir(), "tsxdp-rodata-"));
    objPath = join(dir, "xdp_rodata.o");
    execFileSync(clang!, ["-O2", "-g", "-target", "bpf", "-c", join(FIXTURES, "xdp_rodata.c"), "-o", objPath]);
    bytes = readFileSync(objPath);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The verdicts of [UDP to 53, UDP to 9, ARP] with the object loaded under `rodata`. */
  function verdicts(rodata: Record<string, RodataValue> | undefined, source: string | Uint8Array = objPath): string[] {
    const obj = loadObject(source, rodata === undefined ? {} : { rodata });
    try {
      const prog = obj.program("xdp_rodata");
      return [udpTo(53), udpTo(9), arp].map((data) => prog.testRun({ data }).action);
    } finally {
      obj.close();
    }
  }

  it("the compiled-in defaults: nothing dropped", () => {
    expect(verdicts(undefined)).toEqual(["PASS", "PASS", "PASS"]);
    expect(verdicts({})).toEqual(["PASS", "PASS", "PASS"]);
  });

  it("one object, specialised at load: drop_port, enabled, proto (from a path and from memory)", () => {
    expect(verdicts({ drop_port: 53 })).toEqual(["DROP", "PASS", "PASS"]);
    expect(verdicts({ drop_port: 9 }, bytes)).toEqual(["PASS", "DROP", "PASS"]);
    expect(verdicts({ drop_port: 9n, enabled: 0 })).toEqual(["PASS", "PASS", "PASS"]);
    expect(verdicts({ drop_port: 9, enabled: false })).toEqual(["PASS", "PASS", "PASS"]);
    // __be16 takes the host-order value and stores network order, which the program compares with h_proto.
    expect(verdicts({ proto: 0x0806, drop_port: 53 })).toEqual(["DROP", "PASS", "TX"]);
    expect(verdicts({ proto: P.ETH_P_IP })).toEqual(["TX", "TX", "PASS"]);
    // Text as `tsxdp map set` parses it, and raw bytes of the exact size.
    expect(verdicts({ proto: "0x0806", drop_port: "9" })).toEqual(["PASS", "DROP", "TX"]);
    expect(verdicts({ proto: Uint8Array.from([0x08, 0x06]), drop_port: Uint8Array.from([53, 0, 0, 0]) }, bytes)).toEqual(["DROP", "PASS", "TX"]);
  });

  it("rodata() decodes the values as loaded, by BTF", () => {
    let obj: LoadedObject = loadObject(objPath);
    try {
      expect(obj.rodata()).toEqual({ drop_port: 0, enabled: 1, proto: { be: "0x0000", host: 0 }, bias: -5, verbose: false });
    } finally {
      obj.close();
    }
    obj = loadObject(bytes, { rodata: { drop_port: 4789, proto: 0x86dd, bias: -2147483648, verbose: true, enabled: "0" } });
    try {
      expect(obj.rodata()).toEqual({ drop_port: 4789, enabled: 0, proto: { be: "0x86dd", host: 0x86dd }, bias: -2147483648, verbose: true });
      // The kernel's map holds the same bytes: network order for proto.
      const raw = obj.map(".rodata").lookup(new Uint8Array(4))!;
      expect(Array.from(raw.subarray(0, 4))).toEqual([0xb5, 0x12, 0, 0]);
    } finally {
      obj.close();
    }
    expect(() => obj.rodata()).toThrow(/closed/);
  });

  it("an unknown name lists the variables that exist, and nothing is loaded", () => {
    const before = loadedProgramIds().length;
    const e = rodataError(() => loadObject(objPath, { rodata: { drop_prot: 53 } }));
    expect(e.message).toContain("'drop_prot'");
    expect(e.message).toContain("drop_port (__u32), enabled (__u8), proto (__be16), bias (__s32), verbose (_Bool)");
    expect(e.variable).toBe("drop_prot");
    expect(e.known).toEqual(["drop_port (__u32)", "enabled (__u8)", "proto (__be16)", "bias (__s32)", "verbose (_Bool)"]);
    expect(loadedProgramIds().length).toBe(before);
  });

  it("values that do not fit the variable's type", () => {
    expect(rodataError(() => loadObject(objPath, { rodata: { enabled: 256 } })).message).toMatch(/'enabled' \(__u8, 1 bytes\): 256 is out of range for __u8 \(0\.\.255\)/);
    expect(rodataError(() => loadObject(objPath, { rodata: { enabled: -1 } })).message).toMatch(/out of range/);
    expect(rodataError(() => loadObject(objPath, { rodata: { proto: 0x10000 } })).message).toMatch(/'proto'.*out of range for __be16/);
    expect(rodataError(() => loadObject(objPath, { rodata: { bias: 2 ** 31 } })).message).toMatch(/'bias'.*out of range/);
    expect(rodataError(() => loadObject(objPath, { rodata: { drop_port: 1.5 } })).message).toMatch(/1\.5 is not an integer/);
    expect(rodataError(() => loadObject(objPath, { rodata: { drop_port: "fifty-three" } })).message).toMatch(/'drop_port'.*'fifty-three' is not an integer for __u32/);
    expect(rodataError(() => loadObject(objPath, { rodata: { drop_port: Uint8Array.from([1, 2]) } })).message).toMatch(/2 bytes given, 4 needed/);
    expect(rodataError(() => loadObject(objPath, { rodata: { drop_port: null as unknown as number } })).message).toMatch(/null is not a value/);
    // Every value is checked before anything is written or loaded: a good one next to a bad one changes nothing.
    expect(rodataError(() => loadObject(objPath, { rodata: { drop_port: 53, enabled: 300 } })).variable).toBe("enabled");
    expect(() => loadObject(objPath, { rodata: 5 as unknown as Record<string, number> })).toThrow(TypeError);
  });

  it("an object without .rodata says so", () => {
    const plain = join(dir, "xdp_pass.o");
    execFileSync(clang!, ["-O2", "-g", "-target", "bpf", "-c", join(FIXTURES, "xdp_pass.c"), "-o", plain]);
    expect(rodataError(() => loadObject(plain, { rodata: { x: 1 } })).message).toMatch(/no \.rodata variables/);
    const obj = loadObject(plain, { rodata: {} });
    try {
      expect(obj.rodata()).toEqual({});
    } finally {
      obj.close();
    }
  });

  it("tsxdp run --set NAME=VALUE", () => {
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [cli, "run", objPath, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const packet = Buffer.from(udpTo(53)).toString("hex");
    const verdict = (r: { stdout: string }) => (JSON.parse(r.stdout) as { action: string }[]).map((x) => x.action);
    expect(verdict(run("--packet", packet, "--json"))).toEqual(["PASS"]);
    expect(verdict(run("--packet", packet, "--json", "--set", "drop_port=53"))).toEqual(["DROP"]);
    expect(verdict(run("--packet", packet, "--json", "--set", "drop_port=53", "--set=enabled=0"))).toEqual(["PASS"]);
    expect(verdict(run("--packet", packet, "--json", "--set", "proto=0x0800"))).toEqual(["TX"]);
    const unknown = run("--packet", packet, "--set", "port=53");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("drop_port (__u32), enabled (__u8), proto (__be16)");
    const range = run("--packet", packet, "--set", "enabled=256");
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/out of range for __u8/);
    const syntax = run("--packet", packet, "--set", "enabled");
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/--set.*NAME=VALUE/);
    const twice = run("--packet", packet, "--set", "enabled=1", "--set", "enabled=0");
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/'enabled' is set twice/);
  });

  it("tsxdp attach --set: a bad variable is refused before anything is attached", () => {
    const attach = (...args: string[]) => spawnSync(process.execPath, [cli, "attach", objPath, "--dev", "lo", "--mode", "generic", "--netlink", ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    const unknown = attach("--set", "dropport=53");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--set: cannot set 'dropport'.*drop_port \(__u32\)/);
    const json = attach("--set", "enabled=1000", "--json");
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { kind: "usage" } });
    expect(JSON.parse(json.stdout).error.message).toMatch(/out of range for __u8/);
    const help = spawnSync(process.execPath, [cli, "attach", "--help"], { encoding: "utf8" });
    expect(help.stdout).toMatch(/--set NAME=VALUE/);
  });

  it("a TypeScript program's config<T>() constants (compiled from memory, and through run --set)", () => {
    const src = join(dir, "udp_setting.ts");
    writeFileSync(
      src,
      [
        'import { xdp, XdpAction, config, htons, type be16, type u16, type u8 } from "tsxdp";',
        "const DROP_PORT = config<u16>(9);",
        "const ENABLED = config<u8>(1);",
        "export const udp_setting = xdp((ctx) => {",
        "  const { data, data_end } = ctx;",
        "  if (data + 42 > data_end) return XdpAction.PASS;",
        "  if (ENABLED === 0) return XdpAction.PASS;",
        "  return data.load<be16>(36) === htons(DROP_PORT) ? XdpAction.DROP : XdpAction.PASS;",
        "});",
        "",
      ].join("\n"),
    );
    const result = compile({ file: src });
    if (!result.ok || !result.object) {
      // The compiler side of config<T>() is another change; without it there is nothing TypeScript for the loader to load.
      if (inCI) throw new Error(`config<T>() does not compile: ${result.diagnostics.map((d) => d.message).join("; ")}`);
      console.warn(`config<T>() does not compile yet: ${result.diagnostics.map((d) => d.message).join("; ")}`);
      return;
    }
    const run = (rodata: Record<string, RodataValue>) => {
      const obj = loadObject(result.object!, { rodata });
      try {
        return { values: obj.rodata(), verdicts: [udpTo(9), udpTo(53)].map((data) => obj.program("udp_setting").testRun({ data }).action) };
      } finally {
        obj.close();
      }
    };
    expect(run({})).toEqual({ values: { DROP_PORT: 9, ENABLED: 1 }, verdicts: ["DROP", "PASS"] });
    expect(run({ DROP_PORT: 53 })).toEqual({ values: { DROP_PORT: 53, ENABLED: 1 }, verdicts: ["PASS", "DROP"] });
    expect(run({ ENABLED: false })).toEqual({ values: { DROP_PORT: 9, ENABLED: 0 }, verdicts: ["PASS", "PASS"] });
    expect(rodataError(() => run({ DROP_PORT: 65536 })).message).toMatch(/out of range for (__)?u16/i);
    expect(rodataError(() => run({ drop_port: 53 })).message).toMatch(/DROP_PORT \(.*\), ENABLED \(.*\)/);

    const cliRun = spawnSync(process.execPath, [cli, "run", src, "--packet", Buffer.from(udpTo(53)).toString("hex"), "--json", "--set", "DROP_PORT=53"], { cwd: dir, encoding: "utf8" });
    expect(cliRun.status).toBe(0);
    expect((JSON.parse(cliRun.stdout) as { action: string }[]).map((x) => x.action)).toEqual(["DROP"]);
  });
});
