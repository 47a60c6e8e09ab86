/**
 * `crash_kexec(regs)`: a destructive kfunc (KF_DESTRUCTIVE) that panics the
 * machine into its crash kernel. Never run here: the programs are compiled
 * and, at most, loaded. Our object's extern (an undefined global function
 * in `.ksyms`, its BTF prototype `void (struct pt_regs *)`) is the clang-14
 * twin's. The kernel has it only when built with CONFIG_KEXEC_CORE: this
 * one's BTF lacks it, and then loading either object fails with a message
 * naming the kfunc, not a bare errno; where it is there, both load (the
 * verifier accepts them) and are closed unrun.
 */
import fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { LoadError, loadObject } from "../compiler/loader/index";
import { BTF_KIND, BtfTypes } from "../compiler/object/btf-types";
import { readElf } from "../compiler/object/elf";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined;
const vmlinux = "/sys/kernel/btf/vmlinux";

// Guarded by a queue index no test run has: nothing here would call it even if it ran.
const source = `import { xdp, XdpAction, bpf_get_current_task_btf, bpf_task_pt_regs, crash_kexec } from "tsxdp";

export const crash = xdp((ctx) => {
  const regs = bpf_task_pt_regs(bpf_get_current_task_btf());
  if (ctx.rx_queue_index === 0x7fffffff) crash_kexec(regs);
  return XdpAction.PASS;
});
`;

const twin = `
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
extern void crash_kexec(struct pt_regs *regs) __ksym;
char LICENSE[] SEC("license") = "GPL";
SEC("xdp")
int crash(struct xdp_md *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (ctx->rx_queue_index == 0x7fffffff)
		crash_kexec(regs);
	return XDP_PASS;
}
`;

/** How an object declares `name`: its ELF symbol and its BTF, as libbpf reads them to resolve the kfunc. */
function extern(object: Uint8Array, name: string) {
  const elf = readElf(object);
  const sym = elf.symbols.find((s) => s.name === name)!;
  const btf = new BtfTypes(elf.contents(elf.section(".BTF")!));
  const func = btf.types.find((t) => t.kind === BTF_KIND.FUNC && t.name === name)!;
  const ksyms = btf.types.find((t) => t.kind === BTF_KIND.DATASEC && t.name === ".ksyms");
  const proto = btf.type(func.type);
  const shape = (id: number): string => {
    if (id === 0) return "void";
    const t = btf.resolve(id).type;
    return t.kind === BTF_KIND.PTR ? `${shape(t.type)} *` : `${t.kindName} ${t.name}`;
  };
  return {
    symbol: { undefined: sym.sectionIndex === 0, global: sym.bind === 1 },
    inKsyms: ksyms?.vars?.some((v) => v.type === func.id) ?? false,
    proto: `${shape(proto.type)} (${proto.params!.map((p) => shape(p.type)).join(", ")})`,
  };
}

describe.skipIf(unavailable !== undefined && !inCI)(`crash_kexec${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: Uint8Array;
  let theirs: Uint8Array;

  beforeAll(() => {
    if (unavailable) throw new Error(`crash_kexec tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "crash.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = r.object!;
    theirs = compileC(twin);
  });

  it("the extern is the clang-14 twin's: an undefined global in .ksyms, void (struct pt_regs *) in BTF", () => {
    const e = extern(ours, "crash_kexec");
    expect(extern(theirs, "crash_kexec")).toEqual(e);
    expect(e).toEqual({ symbol: { undefined: true, global: true }, inKsyms: true, proto: "void (STRUCT pt_regs *)" });
  });

  it("the registers are bpf_task_pt_regs's, as the verifier types them: anything else is refused at compile time", () => {
    const bad = compile({ source: source.replace("crash_kexec(regs)", "crash_kexec(0)"), fileName: "crash_refused.ts" });
    expect(bad.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(["TSX2010 `crash_kexec` takes the registers `bpf_task_pt_regs(task)` returns: the call, or a const holding it"]);
  });

  const kernelHasIt = fs.existsSync(vmlinux) && new BtfTypes(fs.readFileSync(vmlinux)).types.some((t) => t.kind === BTF_KIND.FUNC && t.name === "crash_kexec");
  const cannotLoad = kernelUnavailable();

  // Never run: loading is as far as a test goes with a kfunc that panics the machine.
  it.skipIf(cannotLoad !== undefined && !inCI)(
    kernelHasIt ? "this kernel has crash_kexec: both load, and are closed unrun" : "this kernel lacks crash_kexec: loading fails naming the kfunc",
    () => {
      for (const object of [ours, theirs]) {
        if (kernelHasIt) {
          loadObject(object).close();
          continue;
        }
        let error: unknown;
        try {
          loadObject(object).close();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(LoadError);
        expect((error as LoadError).missingKfuncs).toEqual(["crash_kexec"]);
        expect((error as LoadError).message).toMatch(/: the running kernel has no kfunc 'crash_kexec' \(not in its BTF: it is built without CONFIG_KEXEC_CORE\)$/);
      }
    },
  );
});
