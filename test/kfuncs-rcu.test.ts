/**
 * RCU read-side sections: a program that opens one around a map lookup and
 * ends it on both branches runs like its C twin under BPF_PROG_TEST_RUN;
 * the three mistakes the compiler refuses (TSX3023: a section left open at
 * a return, a nested one, an unlock without a lock) are refused by the
 * kernel too, shown on C versions of them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import * as P from "./support/packets";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const source = `
import { xdp, XdpAction, ArrayMap, u8, u32, u64, bpf_rcu_read_lock, bpf_rcu_read_unlock } from "tsxdp";

const counts = new ArrayMap<u64>({ maxEntries: 4 });

export const rcu = xdp((ctx) => {
  const data = ctx.data;
  if (data + 14 > ctx.data_end) return XdpAction.ABORTED;
  const slot = u32(data.load<u8>(13) & 3);
  bpf_rcu_read_lock();
  const c = counts.lookup(slot);
  if (!c) {
    bpf_rcu_read_unlock();
    return XdpAction.ABORTED;
  }
  c.value += 1;
  const odd = (c.value & 1) === 1;
  bpf_rcu_read_unlock();
  return odd ? XdpAction.PASS : XdpAction.DROP;
});
`;

const header = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
char LICENSE[] SEC("license") = "GPL";
`;

const twin = `${header}
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("xdp")
int rcu(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 14 > data_end)
		return XDP_ABORTED;
	__u32 slot = ((__u8 *)data)[13] & 3;
	bpf_rcu_read_lock();
	__u64 *c = bpf_map_lookup_elem(&counts, &slot);
	if (!c) {
		bpf_rcu_read_unlock();
		return XDP_ABORTED;
	}
	*c += 1;
	int odd = (*c & 1) == 1;
	bpf_rcu_read_unlock();
	return odd ? XDP_PASS : XDP_DROP;
}
`;

/** C versions of what TSX3023 refuses, with the kernel's words for each. */
const refused: [string, string, string][] = [
  ["left open at a return", "bpf_rcu_read_lock(); return XDP_PASS;", "cannot be used inside bpf_rcu_read_lock-ed region"],
  ["nested", "bpf_rcu_read_lock(); bpf_rcu_read_lock(); bpf_rcu_read_unlock(); bpf_rcu_read_unlock(); return XDP_PASS;", "nested rcu read lock"],
  ["unlocked without a lock", "bpf_rcu_read_unlock(); return XDP_PASS;", "unmatched rcu read unlock"],
];

describe.skipIf(unavailable !== undefined && !inCI)(`RCU read sections${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`RCU tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "rcu.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("a section around a lookup, ended on both branches: the C twin's verdicts and counts", () => {
    const verdicts = new Set<string>();
    for (let n = 0; n < 24; n++) {
      const frame = P.ethernet({ proto: 0x0800 + (n % 5), dst: P.macB, src: P.macA }, new Uint8Array(46));
      const a = ours.program("rcu").testRun({ data: frame });
      const b = theirs.program("rcu").testRun({ data: frame });
      expect(a.action).toBe(b.action);
      verdicts.add(a.action);
    }
    expect([...verdicts].sort()).toEqual(["DROP", "PASS"]);
    for (let k = 0; k < 4; k++) {
      const key = new Uint8Array(new Uint32Array([k]).buffer);
      expect(ours.map("counts").lookup(key)).toEqual(theirs.map("counts").lookup(key));
    }
  });

  it.each(refused)("the kernel refuses a section %s, as TSX3023 does", (_what, body, words) => {
    let error: unknown;
    try {
      loadObject(compileC(`${header}\nSEC("xdp")\nint prog(struct xdp_md *ctx)\n{\n\t${body}\n}\n`)).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).verifierLog).toContain(words);
  });
});
