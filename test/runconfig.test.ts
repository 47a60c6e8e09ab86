/**
 * libxdp's run configuration (XDP_RUN_CONFIG): a program's priority and
 * chain-call actions, as tsxdp emits them, read back by libxdp itself
 * (Debian's libxdp1, through koffi), so xdp-loader and libxdp's dispatcher
 * see what the TypeScript declared. No kernel needed: libxdp reads the BTF.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import koffi from "koffi";
import { describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { inCI } from "./support/kernel";

const libxdpPath = ["/usr/lib/x86_64-linux-gnu/libxdp.so.1", "/usr/lib/aarch64-linux-gnu/libxdp.so.1", "/usr/lib/libxdp.so.1"].find((p) => fs.existsSync(p));

const source = `
import { xdp, XdpAction } from "tsxdp";
export const first = xdp(() => XdpAction.PASS, { priority: 10, chainCallActions: [XdpAction.PASS, XdpAction.TX] });
export const plain = xdp(() => XdpAction.DROP);
export const last = xdp.frags(() => XdpAction.PASS, { priority: 999, chainCallActions: [] });
`;

describe.skipIf(!libxdpPath && !inCI)("libxdp reads the run configuration tsxdp emits", () => {
  test("priority and chain-call actions per program, libxdp's defaults where none is given", () => {
    if (!libxdpPath) throw new Error("libxdp1 is missing: .ci/run installs it");
    const lib = koffi.load(libxdpPath);
    const open = lib.func("void *xdp_program__open_file(const char *file, const char *section, void *opts)");
    const getError = lib.func("long libxdp_get_error(const void *ptr)");
    const runPrio = lib.func("unsigned int xdp_program__run_prio(const void *prog)");
    const chains = lib.func("bool xdp_program__chain_call_enabled(const void *prog, int action)");
    const name = lib.func("const char *xdp_program__name(const void *prog)");
    const close = lib.func("void xdp_program__close(void *prog)");

    const r = compile({ source, fileName: "chain.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-runconfig-"));
    const file = path.join(dir, "chain.o");
    fs.writeFileSync(file, r.object!);
    try {
      const read = (section: string) => {
        const prog = open(file, section, null);
        expect(Number(getError(prog)), `open ${section}`).toBe(0);
        try {
          const actions = [0, 1, 2, 3, 4].filter((a) => chains(prog, a));
          return { name: name(prog) as string, priority: runPrio(prog) as number, actions };
        } finally {
          close(prog);
        }
      };
      // xdp_program__open_file takes the first program of a section; `first` and `plain` share "xdp".
      expect(read("xdp")).toEqual({ name: "first", priority: 10, actions: [2, 3] });
      expect(read("xdp.frags")).toEqual({ name: "last", priority: 999, actions: [] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a priority out of range is refused at compile time", () => {
    const r = compile({ source: source.replace("priority: 999", "priority: 5000"), fileName: "chain.ts", checkOnly: true });
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0]).toMatchObject({ code: "TSX4007", location: { line: 5 } });
  });
});
