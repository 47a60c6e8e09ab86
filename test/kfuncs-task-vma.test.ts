/**
 * The kernel's VMA iterator as a loop: `for (const v of bpf_iter_task_vma(task,
 * addr))` becomes bpf_iter_task_vma_new before the loop, _next at its head
 * and _destroy after it; `vm_start` and `vm_end` are read through CO-RE. The
 * kernel lets XDP use it with a task the program holds (bpf_task_from_pid)
 * or one a task loop is at (RCU-protected). Our program and its clang-14
 * twin count the memory areas of a child process and find the one holding
 * an address: the same answers under BPF_PROG_TEST_RUN, and the kernel's
 * own in /proc/PID/maps. An untested or released task, and a `return`
 * inside the loop, are refused at compile time as the kernel refuses the C
 * (the first by the types: the task is `TaskStruct | null` until tested).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, config, i32, u64, bpf_task_from_pid, bpf_task_release, bpf_iter_task, bpf_iter_task_vma, BPF_TASK_ITER_ALL_PROCS } from "tsxdp";

const PID = config<i32>(1);
const ADDR = config<u64>(0);
let vmas: u64 = 0;
`;

/** `held`: the areas counted, and the one holding ADDR, of the task from bpf_task_from_pid; `walked`: the first area from ADDR on of the task a task loop finds. */
const source = `${imports}
export const held = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const t = bpf_task_from_pid(PID);
  if (!t) return XdpAction.DROP;
  let start: u64 = 0;
  let end: u64 = 0;
  for (const v of bpf_iter_task_vma(t, 0)) {
    vmas += 1;
    if (v.vm_start <= ADDR && ADDR < v.vm_end) {
      start = v.vm_start;
      end = v.vm_end;
    }
  }
  bpf_task_release(t);
  data.store<u64>(0, vmas);
  data.store<u64>(8, start);
  data.store<u64>(16, end);
  return XdpAction.PASS;
});

export const walked = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  let start: u64 = 0;
  let end: u64 = 0;
  for (const t of bpf_iter_task(BPF_TASK_ITER_ALL_PROCS)) {
    if (t.pid !== PID) continue;
    for (const v of bpf_iter_task_vma(t, ADDR)) {
      start = v.vm_start;
      end = v.vm_end;
      break;
    }
    break;
  }
  data.store<u64>(0, 0);
  data.store<u64>(8, start);
  data.store<u64>(16, end);
  return start === 0 ? XdpAction.DROP : XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct task_struct {
	int pid;
} __attribute__((preserve_access_index));
struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
} __attribute__((preserve_access_index));
struct bpf_iter_task {
	__u64 __opaque[3];
} __attribute__((aligned(8)));
struct bpf_iter_task_vma {
	__u64 __opaque[1];
} __attribute__((aligned(8)));
extern int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task__nullable, unsigned int flags) __ksym;
extern struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it) __ksym;
extern void bpf_iter_task_destroy(struct bpf_iter_task *it) __ksym;
extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task, __u64 addr) __ksym;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __ksym;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __ksym;
extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
const volatile int PID = 1;
const volatile __u64 ADDR = 0;
__u64 vmas;
char LICENSE[] SEC("license") = "GPL";
`;

const twin = `${header}
SEC("xdp")
int held(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 24 > data_end)
		return XDP_ABORTED;
	struct task_struct *t = bpf_task_from_pid(PID);
	if (!t)
		return XDP_DROP;
	__u64 start = 0, end = 0;
	struct bpf_iter_task_vma it;
	struct vm_area_struct *v;
	bpf_iter_task_vma_new(&it, t, 0);
	while ((v = bpf_iter_task_vma_next(&it))) {
		vmas += 1;
		if (v->vm_start <= ADDR && ADDR < v->vm_end) {
			start = v->vm_start;
			end = v->vm_end;
		}
	}
	bpf_iter_task_vma_destroy(&it);
	bpf_task_release(t);
	*(__u64 *)data = vmas;
	*(__u64 *)(data + 8) = start;
	*(__u64 *)(data + 16) = end;
	return XDP_PASS;
}

SEC("xdp")
int walked(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 24 > data_end)
		return XDP_ABORTED;
	__u64 start = 0, end = 0;
	struct bpf_iter_task tasks;
	struct task_struct *t;
	bpf_iter_task_new(&tasks, NULL, 0);
	while ((t = bpf_iter_task_next(&tasks))) {
		if (t->pid != PID)
			continue;
		struct bpf_iter_task_vma it;
		struct vm_area_struct *v;
		bpf_iter_task_vma_new(&it, t, ADDR);
		while ((v = bpf_iter_task_vma_next(&it))) {
			start = v->vm_start;
			end = v->vm_end;
			break;
		}
		bpf_iter_task_vma_destroy(&it);
		break;
	}
	bpf_iter_task_destroy(&tasks);
	*(__u64 *)data = 0;
	*(__u64 *)(data + 8) = start;
	*(__u64 *)(data + 16) = end;
	return start == 0 ? XDP_DROP : XDP_PASS;
}
`;

/** The same mistake in the dialect and in C: our code, and the verifier's words for the C. */
const refused: [string, string, string, string, string][] = [
  [
    "a task not tested for null (its type says so)",
    "const t = bpf_task_from_pid(PID); let s: u64 = 0; for (const v of bpf_iter_task_vma(t, 0)) s = v.vm_start; if (t) bpf_task_release(t); return s === 0 ? XdpAction.DROP : XdpAction.PASS;",
    "struct task_struct *t = bpf_task_from_pid(PID); __u64 s = 0; struct bpf_iter_task_vma it; struct vm_area_struct *v; bpf_iter_task_vma_new(&it, t, 0); while ((v = bpf_iter_task_vma_next(&it))) s = v->vm_start; bpf_iter_task_vma_destroy(&it); if (t) bpf_task_release(t); return s == 0 ? XDP_DROP : XDP_PASS;",
    "TS2345",
    "Possibly NULL pointer passed to trusted arg1",
  ],
  [
    "a task walked after its release",
    "const t = bpf_task_from_pid(PID); if (!t) return XdpAction.PASS; bpf_task_release(t); let s: u64 = 0; for (const v of bpf_iter_task_vma(t, 0)) s = v.vm_start; return s === 0 ? XdpAction.DROP : XdpAction.PASS;",
    "struct task_struct *t = bpf_task_from_pid(PID); if (!t) return XDP_PASS; bpf_task_release(t); __u64 s = 0; struct bpf_iter_task_vma it; struct vm_area_struct *v; bpf_iter_task_vma_new(&it, t, 0); while ((v = bpf_iter_task_vma_next(&it))) s = v->vm_start; bpf_iter_task_vma_destroy(&it); return s == 0 ? XDP_DROP : XDP_PASS;",
    "TSX3021",
    "arg#1 pointer type STRUCT task_struct must point to scalar",
  ],
  [
    "a return out of the loop, skipping the destroy",
    "const t = bpf_task_from_pid(PID); if (!t) return XdpAction.PASS; for (const v of bpf_iter_task_vma(t, 0)) { if (v.vm_start === ADDR) { bpf_task_release(t); return XdpAction.DROP; } } bpf_task_release(t); return XdpAction.PASS;",
    "struct task_struct *t = bpf_task_from_pid(PID); if (!t) return XDP_PASS; struct bpf_iter_task_vma it; struct vm_area_struct *v; bpf_iter_task_vma_new(&it, t, 0); while ((v = bpf_iter_task_vma_next(&it))) if (v->vm_start == ADDR) { bpf_task_release(t); return XDP_DROP; } bpf_iter_task_vma_destroy(&it); bpf_task_release(t); return XDP_PASS;",
    "TSX1008",
    "Unreleased reference",
  ],
];

/** The memory areas of a process as the kernel lists them: /proc/PID/maps without the vsyscall page, which is no area of the process's own. */
function maps(pid: number): { start: bigint; end: bigint }[] {
  return fs
    .readFileSync(`/proc/${pid}/maps`, "utf8")
    .trim()
    .split("\n")
    .filter((line) => !line.endsWith("[vsyscall]"))
    .map((line) => {
      const [start, end] = line.split(" ")[0]!.split("-");
      return { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`) };
    });
}

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_iter_task_vma as a loop${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let cObject: Uint8Array;
  const loaded: LoadedObject[] = [];
  let child: ChildProcess;

  beforeAll(async () => {
    if (unavailable) throw new Error(`VMA iterator tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "task_vma.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    cObject = compileC(twin);
    // A process whose memory stays as it is while we look, once sleep has been loaded and sleeps.
    child = spawn("sleep", ["600"], { stdio: "ignore" });
    let seen = "";
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const now = fs.readFileSync(`/proc/${child.pid}/maps`, "utf8");
      if (now === seen && fs.readlinkSync(`/proc/${child.pid}/exe`).endsWith("sleep")) break;
      seen = now;
    }
  });

  afterAll(async () => {
    for (const o of loaded) o.close();
    if (child) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await gone;
    }
  });

  /** Both objects loaded with these settings, one program run on one packet: verdict, count, and the area found. */
  const run = (program: string, pid: number, addr: bigint) => {
    const out = [object, cObject].map((o) => {
      const l = loadObject(o, { rodata: { PID: pid, ADDR: addr } });
      loaded.push(l);
      const r = l.program(program).testRun({ data: new Uint8Array(24) });
      const v = Buffer.from(r.data);
      return { action: r.action, count: v.readBigUInt64LE(0), start: v.readBigUInt64LE(8), end: v.readBigUInt64LE(16) };
    });
    expect(out[0]).toEqual(out[1]);
    return out[0]!;
  };

  it("a held task: every area of the child counted, and the one holding an address inside it found", () => {
    const areas = maps(child.pid!);
    expect(areas.length).toBeGreaterThan(5);
    const area = areas[2]!;
    expect(run("held", child.pid!, area.start + (area.end - area.start) / 2n)).toEqual({ action: "PASS", count: BigInt(areas.length), start: area.start, end: area.end });
  });

  it("an address in no area: counted all the same, none found", () => {
    expect(run("held", child.pid!, 16n)).toEqual({ action: "PASS", count: BigInt(maps(child.pid!).length), start: 0n, end: 0n });
  });

  it("a task a task loop is at: the walk starts at the area holding the address, or the next one", () => {
    const areas = maps(child.pid!);
    const area = areas[3]!;
    expect(run("walked", child.pid!, area.start + 1n)).toEqual({ action: "PASS", count: 0n, start: area.start, end: area.end });
    // Between two areas (or at the end of one): the next.
    const gap = areas.findIndex((a, i) => i > 0 && areas[i - 1]!.end < a.start);
    expect(gap).toBeGreaterThan(0);
    expect(run("walked", child.pid!, areas[gap - 1]!.end)).toMatchObject({ start: areas[gap]!.start, end: areas[gap]!.end });
    expect(run("walked", 0x3ffffff0, 0n)).toEqual({ action: "DROP", count: 0n, start: 0n, end: 0n });
  });

  it.each(refused)("%s: refused at compile time, and by the kernel in C", (_what, body, c, code, words) => {
    const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "task_vma_refused.ts" });
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
