/**
 * The kfunc table against the running kernel: every declaration's name,
 * parameter names (their suffixes mean something to the verifier), C types
 * and return type are read back from /sys/kernel/btf/vmlinux, where libbpf
 * resolves the program's `.ksyms` externs.
 */
import fs from "node:fs";
import { describe, expect, test } from "vitest";
import { type KfuncType, implicitArgs, kfuncs } from "../compiler/dialect/kfuncs";
import { BTF_KIND, BtfTypes } from "../compiler/object/btf-types";
import { inCI } from "./support/kernel";

const vmlinux = "/sys/kernel/btf/vmlinux";

/** The table's type as C, e.g. `const struct bpf_dynptr *`. */
function show(t: KfuncType): string {
  switch (t.kind) {
    case "void":
      return "void";
    case "bool":
      return "_Bool";
    case "int":
      return `${t.type.signed ? "s" : "u"}${t.type.bits}`;
    case "ptr":
      return `${t.const ? "const " : ""}${show(t.to)} *`;
    case "func":
      return `FUNC_PROTO (${[t.returns, ...t.params].map(show).join(", ")})`;
    default:
      return `${t.kind} ${t.name}`;
  }
}

/** The kernel's type written the same way: typedefs looked through, `const` kept on pointees. */
function showKernel(btf: BtfTypes, id: number): string {
  if (id === 0) return "void";
  let t = btf.type(id);
  let isConst = false;
  while (t.kind === BTF_KIND.TYPEDEF || t.kind === BTF_KIND.CONST || t.kind === BTF_KIND.VOLATILE || t.kind === BTF_KIND.TYPE_TAG) {
    if (t.kind === BTF_KIND.CONST) isConst = true;
    if (t.type === 0) return `${isConst ? "const " : ""}void`;
    t = btf.type(t.type);
  }
  const prefix = isConst ? "const " : "";
  switch (t.kind) {
    case BTF_KIND.INT:
      if (t.int!.encoding & 4) return `${prefix}_Bool`;
      return `${prefix}${t.int!.encoding & 1 ? "s" : "u"}${t.int!.bits}`;
    case BTF_KIND.PTR:
      return `${showKernel(btf, t.type)} *`;
    case BTF_KIND.FUNC_PROTO:
      return `FUNC_PROTO (${[t.type, ...t.params!.map((p) => p.type)].map((x) => showKernel(btf, x)).join(", ")})`;
    case BTF_KIND.STRUCT:
      return `${prefix}struct ${t.name}`;
    case BTF_KIND.UNION:
      return `${prefix}union ${t.name}`;
    case BTF_KIND.ENUM:
    case BTF_KIND.ENUM64:
      return `${prefix}enum ${t.name}`;
    default:
      return `${prefix}${t.kindName} ${t.name}`;
  }
}

describe("kfuncs the dialect exposes", () => {
  const dts = fs.readFileSync("runtime-types/index.d.ts", "utf8");
  const exposed = [...kfuncs.values()].filter((k) => k.call);

  test.each(exposed)("$name: one way of passing each kernel parameter, and a declaration in runtime-types taking the written ones", (k) => {
    expect(k.call!.length).toBe(k.params.length);
    const name = k.spelled ?? k.name;
    const m = new RegExp(`export declare function ${name}(?:<[^>]*>)?\\(([^)]*)\\)`).exec(dts);
    expect(m, `${name} is not declared in runtime-types/index.d.ts`).not.toBeNull();
    const declared = m![1]!.trim() === "" ? 0 : m![1]!.split(",").length;
    expect(declared).toBe(k.call!.filter((p) => !implicitArgs.has(p.kind)).length);
  });

  test("a constant (`__k`) the compiler fills in is a type id, and an ignored (`__ign`) parameter NULL", () => {
    for (const k of exposed) {
      k.params.forEach((p, i) => {
        // bpf_rdonly_cast's object is unchecked (`__ign`) but used: any pointer.
        if (p.name.endsWith("__ign")) expect(k.call![i]!.kind, `${k.name} ${p.name}`).toBe(k.name === "bpf_rdonly_cast" ? "anyPointer" : "null");
        if (k.call![i]!.kind === "typeId") expect(p.name, k.name).toBe("local_type_id__k");
        if (k.call![i]!.kind === "kernelTypeId") expect(p.name, k.name).toBe("btf_id__k");
      });
    }
  });

  test("a size follows every memory or buffer parameter whose kernel name says it has one", () => {
    for (const k of exposed) {
      k.params.forEach((p, i) => {
        if (/__szk?$/.test(p.name)) expect(k.call![i]!.kind, `${k.name} ${p.name}`).toBe("size");
      });
    }
  });
});

describe.skipIf(!fs.existsSync(vmlinux) && !inCI)("kfunc declarations match the kernel's BTF", () => {
  const btf = fs.existsSync(vmlinux) ? new BtfTypes(fs.readFileSync(vmlinux)) : undefined;
  const funcs = new Map(btf?.types.filter((t) => t.kind === BTF_KIND.FUNC).map((t) => [t.name, t]));
  const tagged = new Set(btf?.types.filter((t) => t.kind === BTF_KIND.DECL_TAG && t.name === "bpf_kfunc").map((t) => btf.type(t.type).name));

  test("the kernel's BTF is there", () => {
    expect(btf, `${vmlinux} is missing (CONFIG_DEBUG_INFO_BTF)`).toBeDefined();
    expect(funcs.size).toBeGreaterThan(1000);
  });

  // A kfunc only kernels built with some option have (crash_kexec: CONFIG_KEXEC_CORE) is checked where it is
  // there; elsewhere its declaration is compared with clang's (test/kfuncs-crash-kexec.test.ts).
  const absent = [...kfuncs.values()].filter((k) => k.requires !== undefined && btf !== undefined && !funcs.has(k.name));

  test.each([...kfuncs.values()].filter((k) => !absent.includes(k)))("$name", (k) => {
    const f = funcs.get(k.name);
    expect(f, `${k.name} is not in ${vmlinux}`).toBeDefined();
    // pahole tags kfuncs (bpf_kfunc) on kernels that have any tag at all.
    if (tagged.size > 0) expect(tagged.has(k.name), `${k.name} carries no bpf_kfunc tag`).toBe(true);
    const proto = btf!.type(f!.type);
    expect(proto.kind).toBe(BTF_KIND.FUNC_PROTO);
    const kernel = { returns: showKernel(btf!, proto.type), params: proto.params!.map((p) => `${showKernel(btf!, p.type)} ${p.name}`) };
    const ours = { returns: show(k.returns), params: k.params.map((p) => `${show(p.type)} ${p.name}`) };
    expect(ours).toEqual(kernel);
  });

  test("the comparison sees a difference", () => {
    // A wrong declaration must not pass: the iterator's start as unsigned.
    const f = funcs.get("bpf_iter_num_new")!;
    const start = btf!.type(f.type).params![1]!;
    expect(showKernel(btf!, start.type)).toBe("s32");
    expect(show({ kind: "int", type: { kind: "int", bits: 32, signed: false, be: false } })).not.toBe("s32");
  });
});
