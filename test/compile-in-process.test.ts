/**
 * A build pipeline compiles many programs in one process. LLVM's BPF
 * backend keeps CO-RE accesses in a process-wide map that outlives each
 * module, so a second compile reading the same kernel field crashed the
 * process (a freed global reused). Each compile must succeed, give the
 * same .BTF (kernel struct names as the kernel's, whatever LLVM was told),
 * and load: libbpf relocates every access against the running kernel.
 */
import { afterAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { readElf } from "../compiler/object/elf";
import { BTF_KIND, BtfTypes } from "../compiler/object/btf-types";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable();

// This process's own task: its ids are known here.
const taskSource = `import { xdp, XdpAction, bpf_task_from_pid, bpf_task_release } from "tsxdp";
export const own_task = xdp((ctx) => {
  const t = bpf_task_from_pid(${process.pid});
  if (!t) return XdpAction.ABORTED;
  const same = t.pid === ${process.pid} && t.tgid === ${process.pid};
  bpf_task_release(t);
  return same ? XdpAction.PASS : XdpAction.DROP;
});
`;

function build(input: Parameters<typeof compile>[0]): Uint8Array {
  const r = compile(input);
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
  return r.object!;
}

const btfOf = (object: Uint8Array) => {
  const elf = readElf(object);
  return elf.contents(elf.section(".BTF")!);
};

describe("many compiles of kernel field reads in one process", () => {
  const conntrack = [1, 2, 3].map(() => build({ file: "test/kfuncs/ct-fields.ts" }));
  const tasks = [1, 2, 3].map(() => build({ source: taskSource, fileName: "own_task.ts" }));

  it("each gives the same .BTF, the kernel structs under their own names", () => {
    for (const objects of [conntrack, tasks]) for (const o of objects.slice(1)) expect(btfOf(o)).toEqual(btfOf(objects[0]!));
    const names = (o: Uint8Array) => new BtfTypes(btfOf(o)).types.filter((t) => t.kind === BTF_KIND.STRUCT).map((t) => t.name);
    expect(names(conntrack[2]!)).toContain("nf_conn");
    expect(names(tasks[2]!)).toContain("task_struct");
    expect([...names(conntrack[2]!), ...names(tasks[2]!)].filter((n) => n.includes("___tsxdp"))).toEqual([]);
  });

  describe.skipIf(unavailable !== undefined && !inCI)(`loaded${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
    const loaded: LoadedObject[] = [];
    afterAll(() => loaded.forEach((o) => o.close()));

    it("each loads, its accesses relocated by libbpf; the task read gives this process's ids", () => {
      if (unavailable) throw new Error(`kernel tests cannot run in CI: ${unavailable}`);
      for (const o of conntrack) loaded.push(loadObject(o));
      for (const o of tasks) {
        const l = loadObject(o);
        loaded.push(l);
        expect(l.program("own_task").testRun({ data: new Uint8Array(64) }).retval).toBe(2);
      }
    });
  });
});
