/**
 * The kernel's css iterator as a loop: `for (const c of bpf_iter_css(cg,
 * order))` becomes bpf_iter_css_new over the cgroup's own css before the
 * loop, _next at its head and _destroy after it; each css's cgroup
 * (`pos->cgroup`) and its `level` are read through CO-RE. A small tree of
 * cgroup v2 directories is made for the test; our program and its clang-14
 * twin walk it in each order and write what they saw: the same under
 * BPF_PROG_TEST_RUN, and the tree's (how many directories, their depths,
 * which comes first and last). Starting from a released cgroup, releasing
 * a walked one, and a `return` inside the loop are refused at compile time
 * as the kernel refuses the C.
 */
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

const imports = `import { xdp, XdpAction, config, i32, u32, u64, bpf_cgroup_from_id, bpf_cgroup_release, bpf_iter_css } from "tsxdp";

const CGID = config<u64>(1);
const ORDER = config<u32>(2);
let visited: u32 = 0;
let levels: u32 = 0;
`;

const source = `${imports}
export const walk = xdp((ctx) => {
  const data = ctx.data;
  if (data + 16 > ctx.data_end) return XdpAction.ABORTED;
  const cg = bpf_cgroup_from_id(CGID);
  if (!cg) return XdpAction.DROP;
  let first: i32 = -1;
  let last: i32 = -1;
  for (const c of bpf_iter_css(cg, ORDER)) {
    visited += 1;
    levels += u32(c.level);
    if (first === -1) first = c.level;
    last = c.level;
  }
  bpf_cgroup_release(cg);
  data.store<u32>(0, visited);
  data.store<u32>(4, levels);
  data.store<i32>(8, first);
  data.store<i32>(12, last);
  return XdpAction.PASS;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct cgroup;
struct cgroup_subsys_state {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));
struct cgroup {
	struct cgroup_subsys_state self;
	int level;
} __attribute__((preserve_access_index));
struct bpf_iter_css {
	__u64 __opaque[3];
} __attribute__((aligned(8)));
extern int bpf_iter_css_new(struct bpf_iter_css *it, struct cgroup_subsys_state *start, unsigned int flags) __ksym;
extern struct cgroup_subsys_state *bpf_iter_css_next(struct bpf_iter_css *it) __ksym;
extern void bpf_iter_css_destroy(struct bpf_iter_css *it) __ksym;
extern struct cgroup *bpf_cgroup_from_id(__u64 cgid) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
const volatile __u64 CGID = 1;
const volatile unsigned int ORDER = 2;
__u32 visited, levels;
char LICENSE[] SEC("license") = "GPL";
`;

const twin = `${header}
SEC("xdp")
int walk(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 16 > data_end)
		return XDP_ABORTED;
	struct cgroup *cg = bpf_cgroup_from_id(CGID);
	if (!cg)
		return XDP_DROP;
	int first = -1, last = -1;
	struct bpf_iter_css it;
	struct cgroup_subsys_state *pos;
	bpf_iter_css_new(&it, &cg->self, ORDER);
	while ((pos = bpf_iter_css_next(&it))) {
		visited += 1;
		levels += pos->cgroup->level;
		if (first == -1)
			first = pos->cgroup->level;
		last = pos->cgroup->level;
	}
	bpf_iter_css_destroy(&it);
	bpf_cgroup_release(cg);
	*(__u32 *)data = visited;
	*(__u32 *)(data + 4) = levels;
	*(int *)(data + 8) = first;
	*(int *)(data + 12) = last;
	return XDP_PASS;
}
`;

/** The same mistake in the dialect and in C: our code, and the verifier's words for the C. */
const refused: [string, string, string, string, string][] = [
  [
    "a walk from a released cgroup",
    "const cg = bpf_cgroup_from_id(CGID); if (!cg) return XdpAction.PASS; bpf_cgroup_release(cg); let l: i32 = 0; for (const c of bpf_iter_css(cg, ORDER)) l = c.level; return l === 0 ? XdpAction.DROP : XdpAction.PASS;",
    "struct cgroup *cg = bpf_cgroup_from_id(CGID); if (!cg) return XDP_PASS; bpf_cgroup_release(cg); int l = 0; struct bpf_iter_css it; struct cgroup_subsys_state *pos; bpf_iter_css_new(&it, &cg->self, ORDER); while ((pos = bpf_iter_css_next(&it))) l = pos->cgroup->level; bpf_iter_css_destroy(&it); return l == 0 ? XDP_DROP : XDP_PASS;",
    "TSX3021",
    "arg#1 pointer type STRUCT cgroup_subsys_state must point to scalar",
  ],
  [
    "a walked cgroup released: it is no reference",
    "const cg = bpf_cgroup_from_id(CGID); if (!cg) return XdpAction.PASS; for (const c of bpf_iter_css(cg, ORDER)) { bpf_cgroup_release(c); break; } bpf_cgroup_release(cg); return XdpAction.PASS;",
    "struct cgroup *cg = bpf_cgroup_from_id(CGID); if (!cg) return XDP_PASS; struct bpf_iter_css it; struct cgroup_subsys_state *pos; bpf_iter_css_new(&it, &cg->self, ORDER); while ((pos = bpf_iter_css_next(&it))) { bpf_cgroup_release(pos->cgroup); break; } bpf_iter_css_destroy(&it); bpf_cgroup_release(cg); return XDP_PASS;",
    "TSX2010",
    "R1 must be referenced or trusted",
  ],
  [
    "a return out of the loop, skipping the destroy",
    "const cg = bpf_cgroup_from_id(CGID); if (!cg) return XdpAction.PASS; for (const c of bpf_iter_css(cg, ORDER)) { if (c.level === 2) { bpf_cgroup_release(cg); return XdpAction.DROP; } } bpf_cgroup_release(cg); return XdpAction.PASS;",
    "struct cgroup *cg = bpf_cgroup_from_id(CGID); if (!cg) return XDP_PASS; struct bpf_iter_css it; struct cgroup_subsys_state *pos; bpf_iter_css_new(&it, &cg->self, ORDER); while ((pos = bpf_iter_css_next(&it))) if (pos->cgroup->level == 2) { bpf_cgroup_release(cg); return XDP_DROP; } bpf_iter_css_destroy(&it); bpf_cgroup_release(cg); return XDP_PASS;",
    "TSX1008",
    "would lead to reference leak",
  ],
];

const DESCENDANTS_PRE = 2;
const DESCENDANTS_POST = 3;
const ANCESTORS_UP = 4;

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_iter_css as a loop${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let object: Uint8Array;
  let cObject: Uint8Array;
  const loaded: LoadedObject[] = [];
  // top, top/a, top/a/b, top/c: made in that order, which is the order of siblings in the kernel's lists.
  const top = path.join(mount ?? "/", `tsxdp-css-${process.pid}`);
  const tree = [top, path.join(top, "a"), path.join(top, "a", "b"), path.join(top, "c")];
  const depth = (dir: string) => path.relative(mount!, dir).split("/").length;
  const id = (dir: string) => fs.statSync(dir, { bigint: true }).ino;

  beforeAll(() => {
    if (unavailable) throw new Error(`css iterator tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "css_iter.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    cObject = compileC(twin);
    // Trees of earlier runs whose process is gone.
    for (const name of fs.readdirSync(mount!)) {
      const m = /^tsxdp-css-(\d+)$/.exec(name);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch {
        for (const sub of ["a/b", "a", "c", ""]) if (fs.existsSync(path.join(mount!, name, sub))) fs.rmdirSync(path.join(mount!, name, sub));
      }
    }
    for (const dir of tree) fs.mkdirSync(dir);
  });

  afterAll(() => {
    for (const o of loaded) o.close();
    for (const dir of [...tree].reverse()) if (fs.existsSync(dir)) fs.rmdirSync(dir);
  });

  /** Both objects loaded with these settings, run on one packet: what the walk saw. */
  const run = (cgid: bigint, order: number) => {
    const out = [object, cObject].map((o) => {
      const l = loadObject(o, { rodata: { CGID: cgid, ORDER: order } });
      loaded.push(l);
      const r = l.program("walk").testRun({ data: new Uint8Array(16) });
      const v = Buffer.from(r.data);
      return { action: r.action, visited: v.readUInt32LE(0), levels: v.readUInt32LE(4), first: v.readInt32LE(8), last: v.readInt32LE(12) };
    });
    expect(out[0]).toEqual(out[1]);
    return out[0]!;
  };

  const sum = (dirs: string[]) => dirs.reduce((s, d) => s + depth(d), 0);

  it("descendants, pre-order: the tree's four cgroups, the top first and the last made last", () => {
    expect(run(id(top), DESCENDANTS_PRE)).toEqual({ action: "PASS", visited: 4, levels: sum(tree), first: depth(top), last: depth(tree[3]!) });
  });

  it("descendants, post-order: the deepest first, the top last", () => {
    expect(run(id(top), DESCENDANTS_POST)).toEqual({ action: "PASS", visited: 4, levels: sum(tree), first: depth(tree[2]!), last: depth(top) });
    expect(run(id(tree[3]!), DESCENDANTS_POST)).toEqual({ action: "PASS", visited: 1, levels: depth(tree[3]!), first: depth(tree[3]!), last: depth(tree[3]!) });
  });

  it("ancestors, up: from the deepest to the root, one per level", () => {
    const d = depth(tree[2]!);
    expect(run(id(tree[2]!), ANCESTORS_UP)).toEqual({ action: "PASS", visited: d + 1, levels: (d * (d + 1)) / 2, first: d, last: 0 });
  });

  it("no such cgroup: null, no walk", () => {
    expect(run(id(tree[3]!) + 1000000n, DESCENDANTS_PRE).action).toBe("DROP");
  });

  it.each(refused)("%s: refused at compile time, and by the kernel in C", (_what, body, c, code, words) => {
    const r = compile({ source: `${imports}\nexport const prog = xdp((ctx) => {\n  ${body}\n});\n`, fileName: "css_iter_refused.ts" });
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
