/**
 * bpf_iter_css_task_new/next/destroy: the kernel registers the css task
 * iterator for every program type, but its verifier lets only LSM, bpf_iter
 * and sleepable programs make one (check_css_task_iter_allowlist), so a
 * clang-14 C XDP program walking a cgroup's tasks is refused at load time.
 * tsxdp refuses the names at compile time (TSX4021) and names the way an
 * XDP program does it: walk the tasks with `bpf_iter_task` and test each
 * with `bpf_task_under_cgroup` (KF_RCU: a task loop's task is taken, as by
 * `bpf_task_acquire`). That way finds the children put into a fresh cgroup
 * v2 directory, as its clang-14 twin does and as cgroup.procs lists them;
 * `bpf_task_get_cgroup1` takes a task loop's task as well.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1 hierarchies). */
function cgroup2Mount(): string | undefined {
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [before, after] = line.split(" - ");
    if (after?.split(" ")[0] === "cgroup2") return before!.split(" ")[4];
  }
  return undefined;
}

const mount = cgroup2Mount();
const unavailable =
  kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : mount === undefined ? "no cgroup v2 hierarchy is mounted" : undefined);

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct task_struct {
	int pid;
} __attribute__((preserve_access_index));
struct cgroup;
struct cgroup_subsys_state {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));
struct cgroup {
	struct cgroup_subsys_state self;
	int level;
} __attribute__((preserve_access_index));
struct bpf_iter_task {
	__u64 __opaque[3];
} __attribute__((aligned(8)));
struct bpf_iter_css_task {
	__u64 __opaque[1];
} __attribute__((aligned(8)));
extern int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task__nullable, unsigned int flags) __ksym;
extern struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it) __ksym;
extern void bpf_iter_task_destroy(struct bpf_iter_task *it) __ksym;
extern int bpf_iter_css_task_new(struct bpf_iter_css_task *it, struct cgroup_subsys_state *css, unsigned int flags) __ksym;
extern struct task_struct *bpf_iter_css_task_next(struct bpf_iter_css_task *it) __ksym;
extern void bpf_iter_css_task_destroy(struct bpf_iter_css_task *it) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern struct cgroup *bpf_cgroup_from_id(__u64 cgid) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
extern long bpf_task_under_cgroup(struct task_struct *task, struct cgroup *ancestor) __ksym;
const volatile __u64 CGID = 1;
__u64 found, pids;
char LICENSE[] SEC("license") = "GPL";
`;

/** The css task iterator over the cgroup (CSS_TASK_ITER_PROCS), as an LSM program would write it. */
const cssTaskC = `${header}
SEC("xdp")
int prog(struct xdp_md *ctx)
{
	struct cgroup *cg = bpf_cgroup_from_id(CGID);
	if (!cg)
		return XDP_DROP;
	struct bpf_iter_css_task it;
	struct task_struct *t;
	bpf_iter_css_task_new(&it, &cg->self, 1);
	while ((t = bpf_iter_css_task_next(&it)))
		found += 1;
	bpf_iter_css_task_destroy(&it);
	bpf_cgroup_release(cg);
	return XDP_PASS;
}
`;

/**
 * `members`: the processes under the cgroup, counted and their ids summed;
 * `v1`: a task loop's task passed to bpf_task_get_cgroup1 (KF_RCU too), its
 * cgroup v1 depth plus 100, or 0. One module: LLVM's BPF backend keeps its
 * CO-RE globals across modules of a process, so a test compiles once.
 */
const source = `import { xdp, XdpAction, config, i32, u64, bpf_cgroup_from_id, bpf_cgroup_release, bpf_iter_task, bpf_task_under_cgroup, bpf_task_acquire, bpf_task_release, bpf_task_get_cgroup1, BPF_TASK_ITER_ALL_PROCS } from "tsxdp";

const CGID = config<u64>(1);
const PID = config<i32>(1);
const HIERARCHY = config<i32>(1);
let found: u64 = 0;
let pids: u64 = 0;

export const v1 = xdp((ctx) => {
  const data = ctx.data;
  if (data + 4 > ctx.data_end) return XdpAction.ABORTED;
  let level: i32 = 0;
  for (const t of bpf_iter_task(BPF_TASK_ITER_ALL_PROCS)) {
    if (t.pid !== PID) continue;
    const cg = bpf_task_get_cgroup1(t, HIERARCHY);
    if (cg) {
      level = cg.level + 100;
      bpf_cgroup_release(cg);
    }
    break;
  }
  data.store<i32>(0, level);
  return XdpAction.PASS;
});

export const members = xdp((ctx) => {
  const data = ctx.data;
  if (data + 16 > ctx.data_end) return XdpAction.ABORTED;
  const cg = bpf_cgroup_from_id(CGID);
  if (!cg) return XdpAction.DROP;
  for (const t of bpf_iter_task(BPF_TASK_ITER_ALL_PROCS)) {
    if (bpf_task_under_cgroup(t, cg) !== 1) continue;
    const held = bpf_task_acquire(t);
    if (!held) continue;
    found += 1;
    pids += u64(held.pid);
    bpf_task_release(held);
  }
  bpf_cgroup_release(cg);
  data.store<u64>(0, found);
  data.store<u64>(8, pids);
  return XdpAction.PASS;
});
`;

const twin = `${header}
extern struct cgroup *bpf_task_get_cgroup1(struct task_struct *task, int hierarchy_id) __ksym;
const volatile int PID = 1;
const volatile int HIERARCHY = 1;

SEC("xdp")
int v1(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 4 > data_end)
		return XDP_ABORTED;
	int level = 0;
	struct bpf_iter_task it;
	struct task_struct *t;
	bpf_iter_task_new(&it, NULL, 0);
	while ((t = bpf_iter_task_next(&it))) {
		if (t->pid != PID)
			continue;
		struct cgroup *cg = bpf_task_get_cgroup1(t, HIERARCHY);
		if (cg) {
			level = cg->level + 100;
			bpf_cgroup_release(cg);
		}
		break;
	}
	bpf_iter_task_destroy(&it);
	*(int *)data = level;
	return XDP_PASS;
}

SEC("xdp")
int members(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 16 > data_end)
		return XDP_ABORTED;
	struct cgroup *cg = bpf_cgroup_from_id(CGID);
	if (!cg)
		return XDP_DROP;
	struct bpf_iter_task it;
	struct task_struct *t;
	bpf_iter_task_new(&it, NULL, 0);
	while ((t = bpf_iter_task_next(&it))) {
		if (bpf_task_under_cgroup(t, cg) != 1)
			continue;
		struct task_struct *held = bpf_task_acquire(t);
		if (!held)
			continue;
		found += 1;
		pids += held->pid;
		bpf_task_release(held);
	}
	bpf_iter_task_destroy(&it);
	bpf_cgroup_release(cg);
	*(__u64 *)data = found;
	*(__u64 *)(data + 8) = pids;
	return XDP_PASS;
}
`;

/** A process's deepest cgroup v1 membership (hierarchy id and depth), from /proc/PID/cgroup. */
function deepestV1(pid: number): { hierarchy: number; level: number } | undefined {
  let best: { hierarchy: number; level: number } | undefined;
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n")) {
    const [id, , dir] = line.split(":");
    if (id === "0" || dir === undefined) continue;
    const level = dir.split("/").filter(Boolean).length;
    if (!best || level > best.level) best = { hierarchy: Number(id), level };
  }
  return best;
}

/** The css task iterator in the dialect: by the loop's name, and by a kfunc's. */
const refused = [
  `import { xdp, XdpAction, config, u64, bpf_cgroup_from_id, bpf_cgroup_release, bpf_iter_css_task } from "tsxdp";
const CGID = config<u64>(1);
export const prog = xdp((ctx) => {
  const cg = bpf_cgroup_from_id(CGID);
  if (!cg) return XdpAction.DROP;
  for (const t of bpf_iter_css_task(cg, 1)) if (t.pid === 1) break;
  bpf_cgroup_release(cg);
  return XdpAction.PASS;
});
`,
  `import { xdp, XdpAction, bpf_iter_css_task_new } from "tsxdp";
export const prog = xdp((ctx) => (bpf_iter_css_task_new ? XdpAction.PASS : XdpAction.DROP));
`,
];

describe.skipIf(unavailable !== undefined && !inCI)(`the css task iterator in XDP${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let cObject: Uint8Array;
  const loaded: LoadedObject[] = [];
  const dir = path.join(mount ?? "/", `tsxdp-csstask-${process.pid}`);
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (unavailable) throw new Error(`css task iterator tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "css_task_members.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    cObject = compileC(twin);
    // Directories of earlier runs whose process is gone, with the sleeps it left there if it died.
    for (const name of fs.readdirSync(mount!)) {
      const m = /^tsxdp-csstask-(\d+)$/.exec(name);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch {
        const procs = path.join(mount!, name, "cgroup.procs");
        for (const pid of fs.readFileSync(procs, "utf8").split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
        for (let i = 0; i < 100 && fs.readFileSync(procs, "utf8").trim() !== ""; i++) await new Promise((resolve) => setTimeout(resolve, 10));
        fs.rmdirSync(path.join(mount!, name));
      }
    }
    fs.mkdirSync(dir);
    for (let i = 0; i < 2; i++) {
      const child = spawn("sleep", ["600"], { stdio: "ignore" });
      fs.writeFileSync(path.join(dir, "cgroup.procs"), String(child.pid));
      children.push(child);
    }
  });

  afterAll(async () => {
    for (const o of loaded) o.close();
    for (const child of children) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await gone;
    }
    if (fs.existsSync(dir)) fs.rmdirSync(dir);
  });

  it("the kernel refuses the css task iterator in an XDP program written in C", () => {
    let error: unknown;
    try {
      loadObject(compileC(cssTaskC), { rodata: { CGID: fs.statSync(dir, { bigint: true }).ino } }).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).verifierLog).toContain("css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs");
  });

  it.each(refused.map((s, i) => [i === 0 ? "the loop's name" : "a kfunc's name", s]))("tsxdp refuses it by %s at compile time (TSX4021), naming the XDP way", (_what, text) => {
    const r = compile({ source: text, fileName: "css_task.ts" });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TSX4021"]);
    expect(r.diagnostics[0]!.message).toContain("css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs");
    expect(r.diagnostics[0]!.hints.join(" ")).toContain("bpf_task_under_cgroup");
  });

  it("the XDP way: the tasks walked and tested, the cgroup's processes found, as the clang-14 twin finds them and cgroup.procs lists them", () => {
    const cgid = fs.statSync(dir, { bigint: true }).ino;
    const out = [object, cObject].map((o) => {
      const l = loadObject(o, { rodata: { CGID: cgid } });
      loaded.push(l);
      const run = l.program("members").testRun({ data: new Uint8Array(16) });
      const v = Buffer.from(run.data);
      return { action: run.action, found: v.readBigUInt64LE(0), pids: v.readBigUInt64LE(8) };
    });
    expect(out[0]).toEqual(out[1]);
    const procs = fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").trim().split("\n").map(Number);
    expect(procs.sort()).toEqual(children.map((c) => c.pid!).sort());
    expect(out[0]).toEqual({ action: "PASS", found: BigInt(procs.length), pids: BigInt(procs.reduce((s, p) => s + p, 0)) });
  });

  it("a task loop's task takes bpf_task_get_cgroup1 too: its cgroup v1 depth, as the twin finds it and /proc/PID/cgroup says", () => {
    const pid = children[0]!.pid!;
    const v1 = deepestV1(pid);
    const out = [object, cObject].map((o) => {
      const l = loadObject(o, { rodata: { PID: pid, HIERARCHY: v1?.hierarchy ?? 1 } });
      loaded.push(l);
      return Buffer.from(l.program("v1").testRun({ data: new Uint8Array(16) }).data).readInt32LE(0);
    });
    expect(out[0]).toBe(out[1]);
    expect(out[0]).toBe(v1 ? v1.level + 100 : 0);
  });
});
