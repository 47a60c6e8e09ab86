/**
 * Task kfuncs: `bpf_task_from_pid` (a reference, or null), `bpf_task_acquire`
 * (a second one) and `bpf_task_release`, with the task's `pid` and `tgid`
 * read where the running kernel has them (CO-RE relocations against
 * vmlinux's struct task_struct). The id looked up comes from `.rodata`
 * (`config<i32>`, C's `const volatile`), set before load to this test
 * process and to one of its threads; our program and its clang-14 twin put
 * the same ids into the packet under BPF_PROG_TEST_RUN, and they are the
 * kernel's (a thread's own id, its process's). A reference kept on a path
 * is refused at compile time (TSX3020) and, in C, by the kernel.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, config, i32, bpf_task_from_pid, bpf_task_acquire, bpf_task_release } from "tsxdp";

const PID = config<i32>(1);
`;

const source = `${imports}
export const task = xdp((ctx) => {
  const data = ctx.data;
  if (data + 16 > ctx.data_end) return XdpAction.ABORTED;
  const t = bpf_task_from_pid(PID);
  if (!t) return XdpAction.DROP;
  data.store<i32>(0, t.pid);
  data.store<i32>(4, t.tgid);
  const again = bpf_task_acquire(t);
  bpf_task_release(t);
  if (!again) return XdpAction.TX;
  data.store<i32>(8, again.tgid);
  bpf_task_release(again);
  return XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));
extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
const volatile int PID = 1;
char LICENSE[] SEC("license") = "GPL";
`;

const twin = `${header}
SEC("xdp")
int task(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 16 > data_end)
		return XDP_ABORTED;
	struct task_struct *t = bpf_task_from_pid(PID);
	if (!t)
		return XDP_DROP;
	*(int *)data = t->pid;
	*(int *)(data + 4) = t->tgid;
	struct task_struct *again = bpf_task_acquire(t);
	bpf_task_release(t);
	if (!again)
		return XDP_TX;
	*(int *)(data + 8) = again->tgid;
	bpf_task_release(again);
	return XDP_PASS;
}
`;

/** The same mistake in the dialect and in C: our code, and the verifier's words for the C. */
const refused: [string, string, string, string, string][] = [
  [
    "a task kept on one path",
    "const t = bpf_task_from_pid(PID); if (!t) return XdpAction.PASS; if (t.pid === 1) return XdpAction.DROP; bpf_task_release(t); return XdpAction.PASS;",
    "struct task_struct *t = bpf_task_from_pid(PID); if (!t) return XDP_PASS; if (t->pid == 1) return XDP_DROP; bpf_task_release(t); return XDP_PASS;",
    "TSX3020",
    "Unreleased reference",
  ],
  [
    "the second reference kept",
    "const t = bpf_task_from_pid(PID); if (!t) return XdpAction.PASS; const u = bpf_task_acquire(t); bpf_task_release(t); if (!u) return XdpAction.PASS; return XdpAction.DROP;",
    "struct task_struct *t = bpf_task_from_pid(PID); if (!t) return XDP_PASS; struct task_struct *u = bpf_task_acquire(t); bpf_task_release(t); if (!u) return XDP_PASS; return XDP_DROP;",
    "TSX3020",
    "Unreleased reference",
  ],
  [
    "a task read after its release",
    "const t = bpf_task_from_pid(PID); if (!t) return XdpAction.PASS; bpf_task_release(t); return t.pid === 1 ? XdpAction.DROP : XdpAction.PASS;",
    "struct task_struct *t = bpf_task_from_pid(PID); if (!t) return XDP_PASS; bpf_task_release(t); return t->pid == 1 ? XDP_DROP : XDP_PASS;",
    "TSX3021",
    "invalid mem access 'scalar'",
  ],
];

/** A thread of this process other than the main one (node runs several). */
function otherThread(): number {
  const tid = fs
    .readdirSync("/proc/self/task")
    .map(Number)
    .find((t) => t !== process.pid);
  if (tid === undefined) throw new Error("this process has no second thread");
  return tid;
}

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_task_from_pid / bpf_task_acquire / bpf_task_release${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let cObject: Uint8Array;
  const loaded: LoadedObject[] = [];

  beforeAll(() => {
    if (unavailable) throw new Error(`task kfunc tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "task.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    cObject = compileC(twin);
  });

  afterAll(() => {
    for (const o of loaded) o.close();
  });

  /** Both objects loaded with PID set to `pid`, run on one packet: verdict and the three ids written. */
  const run = (pid: number) => {
    const out = [object, cObject].map((o) => {
      const l = loadObject(o, { rodata: { PID: pid } });
      loaded.push(l);
      const r = l.program("task").testRun({ data: new Uint8Array(16) });
      const v = Buffer.from(r.data);
      return { action: r.action, pid: v.readInt32LE(0), tgid: v.readInt32LE(4), again: v.readInt32LE(8) };
    });
    expect(out[0]).toEqual(out[1]);
    return out[0]!;
  };

  it("this process: its id is both pid and tgid, through both references", () => {
    expect(run(process.pid)).toEqual({ action: "PASS", pid: process.pid, tgid: process.pid, again: process.pid });
  });

  it("one of its threads: the thread's own id, and the process's as tgid", () => {
    const tid = otherThread();
    expect(run(tid)).toEqual({ action: "PASS", pid: tid, tgid: process.pid, again: process.pid });
  });

  it("no such task: null, and nothing read", () => {
    expect(run(0x3ffffff0)).toEqual({ action: "DROP", pid: 0, tgid: 0, again: 0 });
  });

  it.each(refused)("%s: refused at compile time, and by the kernel in C", (_what, body, c, code, words) => {
    const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "task_refused.ts" });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toEqual([code]);
    let error: unknown;
    try {
      loadObject(compileC(`${header}\nSEC("xdp")\nint prog(struct xdp_md *ctx)\n{\n\t${c}\n}\n`)).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).verifierLog).toContain(words);
  });
});
