/**
 * Helper IDs are kernel ABI: each one in the compiler's table is checked
 * against the installed UAPI header (linux/bpf.h, from linux-libc-dev),
 * whose __BPF_FUNC_MAPPER lists helpers in ID order (newer headers also
 * spell the ID out: `FN(name, id, ...)`). Which helpers XDP programs may
 * call is the running kernel's answer: a call of each, by ID, built by
 * clang-14 and loaded as an XDP program.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { helpers } from "../compiler/dialect/helpers";
import { KERNEL_HELPERS, XDP_HELPERS } from "../compiler/dialect/kernel-helpers";
import { LoadError, loadObject } from "../compiler/loader/index";
import { clang } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const header = "/usr/include/linux/bpf.h";

function uapiHelperIds(text: string): Map<string, number> {
  const start = text.indexOf("#define ___BPF_FUNC_MAPPER") >= 0 ? text.indexOf("#define ___BPF_FUNC_MAPPER") : text.indexOf("#define __BPF_FUNC_MAPPER");
  const end = text.indexOf("\n\n", start);
  const ids = new Map<string, number>();
  let position = 0;
  for (const m of text.slice(start, end).matchAll(/FN\((\w+)(?:,\s*(\d+))?/g)) {
    ids.set(`bpf_${m[1]}`, m[2] !== undefined ? Number(m[2]) : position);
    position++;
  }
  return ids;
}

describe.skipIf(!fs.existsSync(header) && !inCI)("helper IDs match the kernel's UAPI header", () => {
  const ids = fs.existsSync(header) ? uapiHelperIds(fs.readFileSync(header, "utf8")) : new Map<string, number>();
  test("the header lists the helpers", () => {
    expect(ids.get("bpf_unspec")).toBe(0);
    expect(ids.get("bpf_map_lookup_elem")).toBe(1);
  });
  test.each([...helpers.values()])("$name is helper $id", (h) => {
    expect(ids.get(h.name)).toBe(h.id);
  });
  test("the list of every kernel helper has each at its ID", () => {
    const wrong = [...ids].filter(([name, id]) => id < KERNEL_HELPERS.length && `bpf_${KERNEL_HELPERS[id]}` !== name);
    expect(wrong).toEqual([]);
    expect(ids.size).toBeGreaterThan(200);
  });
});

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

describe.skipIf(unavailable !== undefined && !inCI)(`the helpers XDP programs may call are the kernel's${unavailable ? ` (${inCI ? "cannot run" : "skipped"}: ${unavailable})` : ""}`, () => {
  test("each helper called from an XDP program: refused as unavailable exactly when tsxdp says so (TSX4020)", () => {
    if (unavailable) throw new Error(`cannot run in CI: ${unavailable}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-helper-probe-"));
    try {
      const files: string[] = [];
      for (let id = 1; id < KERNEL_HELPERS.length; id++) {
        const file = `h${id}.c`;
        // A raw call by ID with zero arguments: a helper the program type may use fails on its arguments, if at all.
        fs.writeFileSync(
          path.join(dir, file),
          `#include <linux/bpf.h>\n__attribute__((section("xdp"), used)) int h(struct xdp_md *ctx) { return ((long (*)(long, long, long, long, long))${id})(0, 0, 0, 0, 0) ? 1 : 2; }\n` +
            `char _license[] __attribute__((section("license"), used)) = "GPL";\n`,
        );
        files.push(file);
      }
      execFileSync(clang!, ["-O2", "-target", "bpf", "-I", `/usr/include/${os.machine()}-linux-gnu`, "-c", ...files], { cwd: dir });
      const offered: string[] = [];
      const refused: string[] = [];
      for (let id = 1; id < KERNEL_HELPERS.length; id++) {
        try {
          loadObject(path.join(dir, `h${id}.o`)).close();
          offered.push(KERNEL_HELPERS[id]!);
        } catch (e) {
          if (!(e instanceof LoadError)) throw e;
          if (/cannot use helper|unknown func/.test(e.verifierLog)) refused.push(KERNEL_HELPERS[id]!);
          else offered.push(KERNEL_HELPERS[id]!);
        }
      }
      expect(refused.length, "the kernel refuses some helpers in XDP").toBeGreaterThan(50);
      expect(offered.filter((h) => !XDP_HELPERS.has(h)), "offered by the kernel, refused by tsxdp").toEqual([]);
      expect(refused.filter((h) => XDP_HELPERS.has(h)), "refused by the kernel, allowed by tsxdp").toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
