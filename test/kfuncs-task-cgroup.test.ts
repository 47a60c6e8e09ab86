/**
 * Cgroup kfuncs: `bpf_cgroup_from_id` (cgroup v2, by its directory's inode
 * number), `bpf_task_get_cgroup1` (a task's cgroup in a v1 hierarchy),
 * `bpf_cgroup_ancestor`, `bpf_cgroup_acquire`, `bpf_cgroup_release` and
 * `bpf_task_under_cgroup`, with `level` read through CO-RE. A child process
 * is moved into a fresh cgroup v2 directory; the ids come from `.rodata`.
 * Our program and its clang-14 twin write the same levels and answers under
 * BPF_PROG_TEST_RUN, and they are the kernel's (the depths of the
 * directories in /proc/PID/cgroup). Keeping a cgroup, or reading one after
 * its release, is refused at compile time and, in C, by the kernel.
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

const imports = `import { xdp, XdpAction, config, i32, i64, u64, bpf_task_from_pid, bpf_task_release, bpf_cgroup_from_id, bpf_task_get_cgroup1, bpf_cgroup_acquire, bpf_cgroup_ancestor, bpf_cgroup_release, bpf_task_under_cgroup } from "tsxdp";

const CGID = config<u64>(1);
const PID = config<i32>(1);
const HIERARCHY = config<i32>(1);
`;

const source = `${imports}
export const cgroup = xdp((ctx) => {
  const data = ctx.data;
  if (data + 24 > ctx.data_end) return XdpAction.ABORTED;
  const cg = bpf_cgroup_from_id(CGID);
  if (!cg) return XdpAction.DROP;
  data.store<i32>(0, cg.level);
  const root = bpf_cgroup_ancestor(cg, 0);
  if (root) {
    data.store<i32>(4, root.level + 100);
    bpf_cgroup_release(root);
  }
  const again = bpf_cgroup_acquire(cg);
  if (again) {
    data.store<i32>(8, again.level + 100);
    bpf_cgroup_release(again);
  }
  const t = bpf_task_from_pid(PID);
  if (!t) {
    bpf_cgroup_release(cg);
    return XdpAction.TX;
  }
  const v1 = bpf_task_get_cgroup1(t, HIERARCHY);
  if (v1) {
    data.store<i32>(12, v1.level + 100);
    bpf_cgroup_release(v1);
  }
  data.store<i64>(16, bpf_task_under_cgroup(t, cg));
  bpf_task_release(t);
  bpf_cgroup_release(cg);
  return XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct task_struct {
	int pid;
} __attribute__((preserve_access_index));
struct cgroup {
	int level;
} __attribute__((preserve_access_index));
extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern struct cgroup *bpf_cgroup_from_id(__u64 cgid) __ksym;
extern struct cgroup *bpf_task_get_cgroup1(struct task_struct *task, int hierarchy_id) __ksym;
extern struct cgroup *bpf_cgroup_acquire(struct cgroup *cgrp) __ksym;
extern struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
extern long bpf_task_under_cgroup(struct task_struct *task, struct cgroup *ancestor) __ksym;
const volatile __u64 CGID = 1;
const volatile int PID = 1;
const volatile int HIERARCHY = 1;
char LICENSE[] SEC("license") = "GPL";
`;

const twin = `${header}
SEC("xdp")
int cgroup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 24 > data_end)
		return XDP_ABORTED;
	struct cgroup *cg = bpf_cgroup_from_id(CGID);
	if (!cg)
		return XDP_DROP;
	*(int *)data = cg->level;
	struct cgroup *root = bpf_cgroup_ancestor(cg, 0);
	if (root) {
		*(int *)(data + 4) = root->level + 100;
		bpf_cgroup_release(root);
	}
	struct cgroup *again = bpf_cgroup_acquire(cg);
	if (again) {
		*(int *)(data + 8) = again->level + 100;
		bpf_cgroup_release(again);
	}
	struct task_struct *t = bpf_task_from_pid(PID);
	if (!t) {
		bpf_cgroup_release(cg);
		return XDP_TX;
	}
	struct cgroup *v1 = bpf_task_get_cgroup1(t, HIERARCHY);
	if (v1) {
		*(int *)(data + 12) = v1->level + 100;
		bpf_cgroup_release(v1);
	}
	*(long *)(data + 16) = bpf_task_under_cgroup(t, cg);
	bpf_task_release(t);
	bpf_cgroup_release(cg);
	return XDP_PASS;
}
`;

/** The same mistake in the dialect and in C: our code, and the verifier's words for the C. */
const refused: [string, string, string, string, string][] = [
  [
    "a cgroup kept on one path",
    "const cg = bpf_cgroup_from_id(CGID); if (!cg) return XdpAction.PASS; if (cg.level === 1) return XdpAction.DROP; bpf_cgroup_release(cg); return XdpAction.PASS;",
    "struct cgroup *cg = bpf_cgroup_from_id(CGID); if (!cg) return XDP_PASS; if (cg->level == 1) return XDP_DROP; bpf_cgroup_release(cg); return XDP_PASS;",
    "TSX3020",
    "Unreleased reference",
  ],
  [
    "an ancestor kept",
    "const cg = bpf_cgroup_from_id(CGID); if (!cg) return XdpAction.PASS; const a = bpf_cgroup_ancestor(cg, 0); bpf_cgroup_release(cg); return a ? XdpAction.DROP : XdpAction.PASS;",
    "struct cgroup *cg = bpf_cgroup_from_id(CGID); if (!cg) return XDP_PASS; struct cgroup *a = bpf_cgroup_ancestor(cg, 0); bpf_cgroup_release(cg); return a ? XDP_DROP : XDP_PASS;",
    "TSX3020",
    "Unreleased reference",
  ],
  [
    "a cgroup read after its release",
    "const cg = bpf_cgroup_from_id(CGID); if (!cg) return XdpAction.PASS; bpf_cgroup_release(cg); return cg.level === 1 ? XdpAction.DROP : XdpAction.PASS;",
    "struct cgroup *cg = bpf_cgroup_from_id(CGID); if (!cg) return XDP_PASS; bpf_cgroup_release(cg); return cg->level == 1 ? XDP_DROP : XDP_PASS;",
    "TSX3021",
    "invalid mem access 'scalar'",
  ],
];

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

describe.skipIf(unavailable !== undefined && !inCI)(`cgroup kfuncs${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let cObject: Uint8Array;
  const loaded: LoadedObject[] = [];
  const dir = path.join(mount ?? "/", `tsxdp-cg-${process.pid}`);
  let child: ChildProcess;
  let cgid: bigint;
  let rootId: bigint;

  beforeAll(() => {
    if (unavailable) throw new Error(`cgroup kfunc tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "cgroup.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    cObject = compileC(twin);
    // Directories of earlier runs whose process is gone (empty once it is).
    for (const name of fs.readdirSync(mount!)) {
      const m = /^tsxdp-cg-(\d+)$/.exec(name);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch {
        fs.rmdirSync(path.join(mount!, name));
      }
    }
    fs.mkdirSync(dir);
    child = spawn("sleep", ["600"], { stdio: "ignore" });
    fs.writeFileSync(path.join(dir, "cgroup.procs"), String(child.pid));
    cgid = fs.statSync(dir, { bigint: true }).ino;
    rootId = fs.statSync(mount!, { bigint: true }).ino;
  });

  afterAll(async () => {
    for (const o of loaded) o.close();
    if (child) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await gone;
    }
    if (fs.existsSync(dir)) fs.rmdirSync(dir);
  });

  /** Both objects loaded with these ids, run on one packet: verdict and what was written. */
  const run = (CGID: bigint, PID: number, HIERARCHY: number) => {
    const out = [object, cObject].map((o) => {
      const l = loadObject(o, { rodata: { CGID, PID, HIERARCHY } });
      loaded.push(l);
      const r = l.program("cgroup").testRun({ data: new Uint8Array(24) });
      const v = Buffer.from(r.data);
      return { action: r.action, level: v.readInt32LE(0), root: v.readInt32LE(4), again: v.readInt32LE(8), v1: v.readInt32LE(12), under: v.readBigInt64LE(16) };
    });
    expect(out[0]).toEqual(out[1]);
    return out[0]!;
  };

  it("the child in its fresh cgroup: the directory's depth, the root at 0, under it, and its v1 cgroup's depth", () => {
    const level = path.relative(mount!, dir).split("/").length;
    const v1 = deepestV1(child.pid!);
    const r = run(cgid, child.pid!, v1?.hierarchy ?? 1);
    expect(r).toEqual({ action: "PASS", level, root: 100, again: level + 100, v1: v1 ? v1.level + 100 : 0, under: 1n });
  });

  it("this process, outside that cgroup: not under it; under the root", () => {
    expect(run(cgid, process.pid, 1).under).toBe(0n);
    const atRoot = run(rootId, process.pid, 1);
    expect([atRoot.action, atRoot.level, atRoot.root, atRoot.under]).toEqual(["PASS", 0, 100, 1n]);
  });

  it("no such cgroup: null; no such task: the cgroup released all the same", () => {
    expect(run(cgid + 1000000n, process.pid, 1).action).toBe("DROP");
    expect(run(cgid, 0x3ffffff0, 1)).toMatchObject({ action: "TX", under: 0n });
  });

  it.each(refused)("%s: refused at compile time, and by the kernel in C", (_what, body, c, code, words) => {
    const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "cgroup_refused.ts" });
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
