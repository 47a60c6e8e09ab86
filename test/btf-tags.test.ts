/**
 * BTF tags written into .BTF after LLVM (compiler/object/btf-tags.ts):
 * the records must be those clang writes for `btf_decl_tag` and
 * `btf_type_tag`, and the object must stay one that libbpf opens and the
 * kernel loads with its BTF (tags included: read back from the kernel).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { addBtfTags, type BtfTag } from "../compiler/object/btf-tags";
import { readElf } from "../compiler/object/elf";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable, which } from "./support/kernel";

const bpftool = which("bpftool");
const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : bpftool === undefined ? "bpftool is not installed" : undefined);

const source = `import { xdp, XdpAction, ArrayMap, u32, u64 } from "tsxdp";
interface Slot {
  hits: u64;
  last: u32;
}
const slots = new ArrayMap<Slot>({ maxEntries: 4 });
let seen: u64 = 0;
export const tagged = xdp((ctx) => {
  const s = slots.lookup(0);
  if (s) s.value.hits += 1;
  seen += 1;
  return XdpAction.PASS;
});
`;

const twin = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct Slot {
	__u64 hits;
	__u32 last __attribute__((btf_decl_tag("note:last")));
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct Slot);
} slots SEC(".maps");
__u64 seen __attribute__((btf_decl_tag("note:seen"))) = 0;
char LICENSE[] SEC("license") = "GPL";
SEC("xdp")
int tagged(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct Slot *s = bpf_map_lookup_elem(&slots, &k);
	if (s)
		s->hits += 1;
	seen += 1;
	return XDP_PASS;
}
`;

const tags: BtfTag[] = [
  { on: "member", struct: "Slot", member: "last", tag: "note:last" },
  { on: "variable", variable: "seen", tag: "note:seen" },
];

/** Every DECL_TAG of an object's BTF as "tag -> kind 'target'[.member]", which ids do not change. */
function declTags(object: Uint8Array): string[] {
  const dir = mkdtempSync(join(tmpdir(), "tsxdp-tags-"));
  try {
    writeFileSync(join(dir, "o.o"), object);
    return describeTags(execFileSync(bpftool!, ["btf", "dump", "file", join(dir, "o.o")], { encoding: "utf8" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function describeTags(dump: string): string[] {
  type Entry = { kind: string; name: string; members: string[] };
  const types = new Map<number, Entry>();
  let last: Entry | undefined;
  for (const line of dump.split("\n")) {
    const t = /^\[(\d+)\] (\w+) '([^']*)'/.exec(line);
    if (t) types.set(Number(t[1]), (last = { kind: t[2]!, name: t[3]!, members: [] }));
    else if (last && /^\t'/.test(line)) last.members.push(/^\t'([^']*)'/.exec(line)![1]!);
  }
  const out: string[] = [];
  for (const line of dump.split("\n")) {
    const m = /DECL_TAG '([^']*)' type_id=(\d+) component_idx=(-?\d+)/.exec(line);
    if (!m) continue;
    const target = types.get(Number(m[2]));
    const idx = Number(m[3]);
    out.push(`${m[1]} -> ${target?.kind} '${target?.name}'${idx >= 0 ? `.${target?.members[idx]}` : ""}`);
  }
  return out.sort();
}

describe("BTF tags added after LLVM", () => {
  const r = compile({ source, fileName: "tagged.ts" });
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
  const tagged = addBtfTags(r.object!, tags);

  it("no tags: the same object", () => {
    expect(addBtfTags(r.object!, [])).toBe(r.object);
  });

  it("the sections after .BTF move by a multiple of 8, their bytes unchanged", () => {
    const before = readElf(r.object!);
    const after = readElf(tagged);
    expect(after.sections.map((s) => s.name)).toEqual(before.sections.map((s) => s.name));
    for (const s of before.sections) {
      const t = after.section(s.name)!;
      if (s.name === ".BTF") {
        expect(t.size).toBeGreaterThan(s.size);
        continue;
      }
      expect((t.offset - s.offset) % 8).toBe(0);
      if (s.type !== 8) expect(after.contents(t)).toEqual(before.contents(s));
    }
  });

  it("a tag on a name the BTF lacks is a compiler bug, not a bad object", () => {
    expect(() => addBtfTags(r.object!, [{ on: "member", struct: "Slot", member: "nope", tag: "x" }])).toThrow(/no member Slot.nope/);
  });

  describe.skipIf(unavailable !== undefined && !inCI)(`against clang and the kernel${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
    let loaded: LoadedObject;
    beforeAll(() => {
      if (unavailable) throw new Error(`BTF tag tests cannot run in CI: ${unavailable}`);
      loaded = loadObject(tagged);
    });
    afterAll(() => loaded?.close());

    it("the decl tags are the records clang writes for btf_decl_tag", () => {
      const ours = declTags(tagged);
      expect(ours).toEqual(["note:last -> STRUCT 'Slot'.last", "note:seen -> VAR 'seen'"]);
      expect(ours).toEqual(declTags(compileC(twin)));
    });

    it("the kernel loads the program with the tagged BTF and keeps the tags", () => {
      const info = loaded.program("tagged").info();
      expect(info.btfId).toBeGreaterThan(0);
      expect(info.nrLineInfo).toBeGreaterThan(0);
      const dump = execFileSync(bpftool!, ["btf", "dump", "id", String(info.btfId)], { encoding: "utf8" });
      expect(describeTags(dump)).toEqual(["note:last -> STRUCT 'Slot'.last", "note:seen -> VAR 'seen'"]);
    });
  });
});
