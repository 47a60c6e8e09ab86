/**
 * Tests of compiler/loader against the real kernel: objects are written in C
 * (test/fixtures/loader) and built with clang-14 into a temp directory, then
 * loaded through libbpf and run with BPF_PROG_TEST_RUN.
 *
 * Invariant: outside CI a missing prerequisite (root, clang-14, gcc) skips
 * with the reason in the suite name; with CI=true the same gap fails, so a
 * green CI run always means the kernel path was exercised.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import type { TypeObject } from "koffi";
import { BpfError, LoadError, loadObject } from "../compiler/loader";
import { BpfObjectOpenOpts, BpfProgInfo, BpfTestRunOpts, XdpMd } from "../compiler/loader/libbpf";

const CI = process.env.CI === "true";
const FIXTURES = resolve(fileURLToPath(new URL(".", import.meta.url)), "fixtures/loader");

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  const path = r.stdout.trim();
  return r.status === 0 && path !== "" ? path : undefined;
}

const isRoot = process.getuid?.() === 0;
const clang = which("clang-14");
const gcc = which("gcc");

const kernelSkip = !isRoot
  ? "needs root for BPF_PROG_LOAD and BPF_PROG_TEST_RUN"
  : clang === undefined
    ? "clang-14 is not installed (apt-get install clang-14)"
    : undefined;

const layoutSkip =
  gcc === undefined
    ? "gcc is not installed"
    : !existsSync("/usr/include/linux/bpf.h")
      ? "/usr/include/linux/bpf.h is missing (linux-libc-dev)"
      : undefined;

function suiteName(name: string, skip: string | undefined): string {
  if (skip === undefined) return name;
  return CI ? `${name} (cannot run: ${skip})` : `${name} (skipped: ${skip})`;
}

// ---------------------------------------------------------------------------

describe.skipIf(layoutSkip !== undefined && !CI)(suiteName("loader struct layouts", layoutSkip), () => {
  // Field lists come from the koffi declarations themselves, so a field added
  // there is checked automatically. Padding members ("_…") and the
  // gpl_compatible bitfield cannot be named by offsetof and are skipped.
  const uapi: [string, TypeObject][] = [
    ["bpf_prog_info", BpfProgInfo],
    ["xdp_md", XdpMd],
  ];
  const libbpfStructs: [string, TypeObject][] = [
    ["bpf_object_open_opts", BpfObjectOpenOpts],
    ["bpf_test_run_opts", BpfTestRunOpts],
  ];
  const haveLibbpfHeaders = existsSync("/usr/include/bpf/libbpf.h");

  let dir: string;
  let measured: Record<string, { size: number; offsets: Record<string, number> }>;

  beforeAll(() => {
    if (layoutSkip !== undefined) throw new Error(`layout check cannot run in CI: ${layoutSkip}`);
    dir = mkdtempSync(join(tmpdir(), "tsxdp-layout-"));
    const structs = haveLibbpfHeaders ? [...uapi, ...libbpfStructs] : uapi;
    const lines: string[] = [
      "#include <stdio.h>",
      "#include <stddef.h>",
      "#include <linux/bpf.h>",
      ...(haveLibbpfHeaders ? ["#include <bpf/libbpf.h>", "#include <bpf/bpf.h>"] : []),
      "int main(void) {",
      '  printf("{");',
    ];
    structs.forEach(([cName, type], i) => {
      const fields = Object.keys(type.members!).filter((f) => !f.startsWith("_") && f !== "gpl_compatible");
      lines.push(`  printf("${i ? "," : ""}\\"${cName}\\":{\\"size\\":%zu,\\"offsets\\":{", sizeof(struct ${cName}));`);
      fields.forEach((f, j) => {
        lines.push(`  printf("${j ? "," : ""}\\"${f}\\":%zu", offsetof(struct ${cName}, ${f}));`);
      });
      lines.push('  printf("}}");');
    });
    lines.push('  printf("}\\n");', "  return 0;", "}");
    writeFileSync(join(dir, "layout.c"), lines.join("\n"));
    execFileSync(gcc!, ["-o", join(dir, "layout"), join(dir, "layout.c")]);
    measured = JSON.parse(execFileSync(join(dir, "layout"), { encoding: "utf8" }));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(uapi)("%s matches linux/bpf.h", (cName, type) => {
    const c = measured[cName]!;
    expect(koffi.sizeof(type)).toBe(c.size);
    for (const [field, offset] of Object.entries(c.offsets)) {
      expect([field, koffi.offsetof(type, field)]).toEqual([field, offset]);
    }
  });

  it.skipIf(!haveLibbpfHeaders)(
    `libbpf opts structs match the libbpf 1.1 headers${haveLibbpfHeaders ? "" : " (skipped: libbpf-dev not installed)"}`,
    () => {
      for (const [cName, type] of libbpfStructs) {
        const c = measured[cName]!;
        expect([cName, koffi.sizeof(type)]).toEqual([cName, c.size]);
        for (const [field, offset] of Object.entries(c.offsets)) {
          expect([cName, field, koffi.offsetof(type, field)]).toEqual([cName, field, offset]);
        }
      }
    },
  );
});

// ---------------------------------------------------------------------------

describe.skipIf(kernelSkip !== undefined && !CI)(suiteName("loader", kernelSkip), () => {
  let dir: string;
  const obj = (name: string) => join(dir, `${name}.o`);

  beforeAll(() => {
    if (kernelSkip !== undefined) throw new Error(`loader tests cannot run in CI: ${kernelSkip}`);
    dir = mkdtempSync(join(tmpdir(), "tsxdp-loader-"));
    for (const name of ["xdp_pass", "xdp_swap_mac", "xdp_bad", "xdp_frags"]) {
      execFileSync(clang!, [
        "-O2", "-g", "-target", "bpf", "-I", FIXTURES,
        "-c", join(FIXTURES, `${name}.c`), "-o", obj(name),
      ]);
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ethFrame = (len: number) => {
    const frame = new Uint8Array(len);
    for (let i = 0; i < len; i++) frame[i] = (i * 7 + 3) & 0xff;
    return frame;
  };

  it("loads an XDP_PASS program from a file and from bytes", () => {
    const pkt = ethFrame(64);
    for (const source of [obj("xdp_pass"), new Uint8Array(readFileSync(obj("xdp_pass")))]) {
      const o = loadObject(source);
      try {
        expect(o.programs.map((p) => [p.name, p.section])).toEqual([["xdp_pass", "xdp"]]);
        const prog = o.program("xdp_pass");
        expect(prog.fd).toBeGreaterThan(0);
        const r = prog.testRun({ data: pkt, repeat: 5 });
        expect(r.retval).toBe(2);
        expect(r.action).toBe("PASS");
        expect(r.data).toEqual(pkt);
        expect(r.durationNs).toBeGreaterThanOrEqual(0);
        expect(o.libbpfLog).toContain("xdp_pass");
      } finally {
        o.close();
      }
    }
  });

  it("runs a MAC-swapping XDP_TX program and returns the rewritten frame", () => {
    const o = loadObject(obj("xdp_swap_mac"), { name: "swapper" });
    try {
      expect(o.programs.map((p) => p.name)).toEqual(["xdp_swap_mac", "xdp_drop"]);
      const dst = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
      const src = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
      const pkt = new Uint8Array([...dst, ...src, 0x08, 0x00, ...Array.from({ length: 46 }, (_, i) => i)]);
      const r = o.program("xdp_swap_mac").testRun({ data: pkt });
      expect(r.action).toBe("TX");
      expect(r.retval).toBe(3);
      expect(Array.from(r.data.subarray(0, 14))).toEqual([...src, ...dst, 0x08, 0x00]);
      expect(r.data.subarray(14)).toEqual(pkt.subarray(14));
      expect(r.data.length).toBe(pkt.length);

      expect(o.program("xdp_drop").testRun({ data: pkt }).action).toBe("DROP");
      expect(() => o.program("nope")).toThrow(/no program named 'nope'/);
    } finally {
      o.close();
    }
  });

  it("reports a verifier rejection as LoadError with EACCES and the verifier log", () => {
    let err: unknown;
    try {
      loadObject(obj("xdp_bad"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoadError);
    const le = err as LoadError;
    expect(le.errno).toBe(13);
    expect(le.program).toBe("xdp_bad");
    expect(le.verifierLog).toContain("invalid access to packet");
    expect(le.libbpfLog).toContain("xdp_bad");
    expect(le.message).toMatch(/EACCES/);
    expect(le.message).toContain("invalid access to packet");
  });

  it("reports unreadable objects as LoadError from open", () => {
    const garbage = () => loadObject(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]));
    expect(garbage).toThrow(LoadError);
    try {
      garbage();
    } catch (e) {
      expect((e as LoadError).errno).toBeGreaterThan(0);
      expect((e as LoadError).verifierLog).toBe("");
    }
    try {
      loadObject(join(dir, "missing.o"));
      expect.unreachable();
    } catch (e) {
      expect((e as LoadError).errno).toBe(2);
    }
  });

  it("info() exposes BTF, func_info and line_info for an object built with -g", () => {
    const o = loadObject(obj("xdp_swap_mac"));
    try {
      const info = o.program("xdp_swap_mac").info();
      expect(info.id).toBeGreaterThan(0);
      expect(info.name).toBe("xdp_swap_mac");
      expect(info.type).toBe(6); // BPF_PROG_TYPE_XDP
      expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
      expect(info.btfId).toBeGreaterThan(0);
      expect(info.nrFuncInfo).toBeGreaterThanOrEqual(1);
      expect(info.nrLineInfo).toBeGreaterThan(0);
      expect(info.xlatedProgLen).toBeGreaterThan(0);
      expect(info.verifiedInsns).toBeGreaterThan(0);
    } finally {
      o.close();
    }
  });

  it("runs an xdp.frags program on a 5000-byte multi-buffer frame", () => {
    const o = loadObject(obj("xdp_frags"));
    try {
      const prog = o.program("xdp_frags_len");
      expect(prog.section).toBe("xdp.frags");
      const pkt = ethFrame(5000);
      const r = prog.testRun({ data: pkt });
      expect(r.action).toBe("PASS");
      expect(r.data.length).toBe(5000);
      const view = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      expect(view.getUint32(0, true)).toBe(5000);
      expect(r.data.subarray(4)).toEqual(pkt.subarray(4));
    } finally {
      o.close();
    }
  });

  it("passes kernel test-run errors through with errno", () => {
    const o = loadObject(obj("xdp_pass"));
    try {
      const prog = o.program("xdp_pass");
      expect(() => prog.testRun({ data: new Uint8Array(10) })).toThrow(/ETH_HLEN/);
      try {
        prog.testRun({ data: ethFrame(64), dataSizeOut: 16 });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(BpfError);
        expect((e as BpfError).errno).toBe(28); // ENOSPC
        expect((e as BpfError).code).toBe("ENOSPC");
      }
    } finally {
      o.close();
    }
  });

  it("keeps the verifier log of successful loads at logLevel 1", () => {
    const o = loadObject(obj("xdp_pass"), { logLevel: 1 });
    try {
      expect(o.program("xdp_pass").verifierLog).toMatch(/processed \d+ insns/);
    } finally {
      o.close();
    }
  });

  it("close() is idempotent and invalidates the programs", () => {
    const o = loadObject(obj("xdp_pass"));
    const prog = o.program("xdp_pass");
    o.close();
    o.close();
    expect(prog.fd).toBe(-1);
    expect(() => prog.testRun({ data: ethFrame(64) })).toThrow(/closed/);
    expect(() => prog.info()).toThrow(/closed/);
  });

  it("pins a program into a bpffs", (ctx) => {
    const mnt = mkdtempSync(join(tmpdir(), "tsxdp-bpffs-"));
    const mounted = spawnSync("mount", ["-t", "bpf", "bpf", mnt]).status === 0;
    try {
      if (!mounted) ctx.skip("cannot mount a private bpffs");
      const o = loadObject(obj("xdp_pass"));
      try {
        const path = join(mnt, "xdp_pass");
        o.program("xdp_pass").pin(path);
        expect(statSync(path).isFile() || existsSync(path)).toBe(true);
        expect(() => o.program("xdp_pass").pin(path)).toThrow(BpfError); // EEXIST
        rmSync(path);
      } finally {
        o.close();
      }
    } finally {
      if (mounted) spawnSync("umount", [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it("does not leak file descriptors over 200 load/close cycles", () => {
    const countFds = () => readdirSync("/proc/self/fd").length;
    const bytes = new Uint8Array(readFileSync(obj("xdp_swap_mac")));
    // Warm-up: libbpf probes kernel features once per process.
    loadObject(bytes).close();
    const before = countFds();
    for (let i = 0; i < 200; i++) {
      const o = loadObject(i % 2 ? bytes : obj("xdp_swap_mac"));
      o.program("xdp_swap_mac").testRun({ data: ethFrame(64) });
      o.close();
    }
    for (let i = 0; i < 10; i++) {
      expect(() => loadObject(obj("xdp_bad"))).toThrow(LoadError);
    }
    expect(countFds()).toBe(before);
  }, 120_000);
});
