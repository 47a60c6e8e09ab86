/**
 * The kernel's open-coded task iterator as a loop: `for (const t of
 * bpf_iter_task(flags))` becomes bpf_iter_task_new before the loop,
 * bpf_iter_task_next at its head and bpf_iter_task_destroy after it (the
 * kernel lets XDP programs use it). Our program and its clang-14 twin look
 * for the task whose id is in `.rodata` and write its `tgid`: the same
 * answers under BPF_PROG_TEST_RUN, and the kernel's (a thread is found only
 * when threads are walked). Leaving the loop with `return` would skip the
 * destroy: refused at compile time, and by the kernel in C.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, config, i32, u32, bpf_iter_task } from "tsxdp";

const PID = config<i32>(1);
const FLAGS = config<u32>(0);
`;

const source = `${imports}
export const iter = xdp((ctx) => {
  const data = ctx.data;
  if (data + 8 > ctx.data_end) return XdpAction.ABORTED;
  let found: i32 = -1;
  for (const t of bpf_iter_task(FLAGS)) {
    if (t.pid === PID) {
      found = t.tgid;
      break;
    }
  }
  data.store<i32>(0, found);
  return found === -1 ? XdpAction.DROP : XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));
struct bpf_iter_task {
	__u64 __opaque[3];
} __attribute__((aligned(8)));
extern int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task__nullable, unsigned int flags) __ksym;
extern struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it) __ksym;
extern void bpf_iter_task_destroy(struct bpf_iter_task *it) __ksym;
const volatile int PID = 1;
const volatile unsigned int FLAGS = 0;
char LICENSE[] SEC("license") = "GPL";
`;

const twin = `${header}
SEC("xdp")
int iter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 8 > data_end)
		return XDP_ABORTED;
	int found = -1;
	struct bpf_iter_task it;
	struct task_struct *t;
	bpf_iter_task_new(&it, NULL, FLAGS);
	while ((t = bpf_iter_task_next(&it))) {
		if (t->pid == PID) {
			found = t->tgid;
			break;
		}
	}
	bpf_iter_task_destroy(&it);
	*(int *)data = found;
	return found == -1 ? XDP_DROP : XDP_PASS;
}
`;

const ALL_PROCS = 0;
const ALL_THREADS = 1;

/** A thread of this process other than the main one (node runs several). */
function otherThread(): number {
  const tid = fs
    .readdirSync("/proc/self/task")
    .map(Number)
    .find((t) => t !== process.pid);
  if (tid === undefined) throw new Error("this process has no second thread");
  return tid;
}

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_iter_task as a loop${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let cObject: Uint8Array;
  const loaded: LoadedObject[] = [];

  beforeAll(() => {
    if (unavailable) throw new Error(`task iterator tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "iter.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    cObject = compileC(twin);
  });

  afterAll(() => {
    for (const o of loaded) o.close();
  });

  /** Both objects loaded with these settings, run on one packet: verdict and the tgid found. */
  const run = (pid: number, flags: number) => {
    const out = [object, cObject].map((o) => {
      const l = loadObject(o, { rodata: { PID: pid, FLAGS: flags } });
      loaded.push(l);
      const r = l.program("iter").testRun({ data: new Uint8Array(16) });
      return { action: r.action, tgid: Buffer.from(r.data).readInt32LE(0) };
    });
    expect(out[0]).toEqual(out[1]);
    return out[0]!;
  };

  it("this process is found among the processes and among the threads", () => {
    expect(run(process.pid, ALL_PROCS)).toEqual({ action: "PASS", tgid: process.pid });
    expect(run(process.pid, ALL_THREADS)).toEqual({ action: "PASS", tgid: process.pid });
  });

  it("one of its threads only among the threads, with the process's id as tgid", () => {
    const tid = otherThread();
    expect(run(tid, ALL_THREADS)).toEqual({ action: "PASS", tgid: process.pid });
    expect(run(tid, ALL_PROCS)).toEqual({ action: "DROP", tgid: -1 });
  });

  it("no such task: the walk ends and nothing is found", () => {
    expect(run(0x3ffffff0, ALL_THREADS)).toEqual({ action: "DROP", tgid: -1 });
  });

  it("leaving the loop with return: refused at compile time, and by the kernel in C", () => {
    const r = compile({
      source: `${imports}\nexport const prog = xdp((ctx) => {\n  for (const t of bpf_iter_task(FLAGS)) {\n    if (t.pid === PID) return XdpAction.DROP;\n  }\n  return XdpAction.PASS;\n});\n`,
      fileName: "iter_refused.ts",
    });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX1008"]);
    let error: unknown;
    try {
      loadObject(
        compileC(
          `${header}\nSEC("xdp")\nint prog(struct xdp_md *ctx)\n{\n\tstruct bpf_iter_task it;\n\tstruct task_struct *t;\n\tbpf_iter_task_new(&it, NULL, FLAGS);\n\twhile ((t = bpf_iter_task_next(&it)))\n\t\tif (t->pid == PID)\n\t\t\treturn XDP_DROP;\n\tbpf_iter_task_destroy(&it);\n\treturn XDP_PASS;\n}\n`,
        ),
      ).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).verifierLog).toContain("Unreleased reference");
  });
});
