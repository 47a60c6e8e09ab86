/**
 * Objects kept in map values: a `Kptr<T>` or `PercpuKptr<T>` field holds a
 * pointer to an object bpf_obj_new (or bpf_percpu_obj_new) allocated.
 *
 * - Read, the field is the object or null, RCU-protected (the verifier's
 *   MEM_RCU: an XDP program is non-sleepable, so always in an RCU read
 *   section; kernel/bpf/verifier.c btf_ld_kptr_type): a `T` read and written
 *   in place once tested, or for a per-CPU object a handle for
 *   bpf_this_cpu_ptr / bpf_per_cpu_ptr. It is never stored to ("store to
 *   referenced kptr disallowed").
 * - bpf_kptr_xchg(field, obj) moves an owned object (or null) in and the old
 *   one out: the argument is released (analysis/references.ts), the result a
 *   reference dropped or put back on every path.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { HelperSpec } from "../dialect/helpers";
import { kfunc } from "../dialect/kfuncs";
import type { FunctionBuilder } from "./builder";
import { convertTo, lowerExpression, type Value, type View } from "./expressions";
import { type DiagnosticBag } from "../diagnostics/diagnostic";
import { type Operand, type SlotType, type Temp, isLayout } from "./ir";
import type { Field, FieldType, KptrTarget, Layout } from "./layout";
import { nodeOffsetOf, objectAddress } from "./graphs";
import { constant } from "./typing";
import { i64, mapValuePtr, u32, u64 } from "./types";

/** Per-CPU handles, one per struct: no fields, as an owned per-CPU object has none the program reaches. */
const handles = new Map<Layout, Layout>();

function percpuHandle(target: Layout, name: string): Layout {
  let h = handles.get(target);
  if (!h) {
    h = { name: `${name}<${target.name}>`, size: 0, align: 8, packed: false, fields: new Map() };
    handles.set(target, h);
  }
  return h;
}

/** `ref.value.flow`, a kptr field of a map value, read: the object it holds or null. */
export function kptrRead(fb: FunctionBuilder, view: View, field: Field, node: ts.Node): View {
  const kptr = (field.type as { layout: Layout }).layout.kptr!;
  const access = node.parent;
  if (ts.isBinaryExpression(access.parent) && access.parent.left === access && access.parent.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && access.parent.operatorToken.kind <= ts.SyntaxKind.LastAssignment) {
    throw fb.fail(Codes.mapOperation, access.parent, `\`${access.getText()}\` holds an object: the kernel refuses a store to it (store to referenced kptr disallowed)`, {
      hints: [`put an object in with \`bpf_kptr_xchg(${access.getText()}, obj)\`, and take it out with \`bpf_kptr_xchg(${access.getText()}, null)\``],
    });
  }
  if (view.region !== "map" || fb.defs.get(view.ptr.id)?.op !== "map_lookup") {
    throw fb.fail(Codes.typeMismatch, node, `\`${field.name}\` holds an object only in a map value: read it from a lookup's \`.value\``);
  }
  const dst = fb.temp(mapValuePtr);
  fb.emit({ op: "load", dst, ptr: view.ptr, region: "map", offset: view.offset + field.offset, size: 8, node: access });
  if (kptr.percpu) {
    const handle = percpuHandle(kptr.target, "PercpuRef");
    return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: handle }, nullable: true, readOnly: handle.name };
  }
  return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: kptr.target }, nullable: true };
}

export function kptrCall(fb: FunctionBuilder, helper: HelperSpec, e: ts.CallExpression): Value {
  const written = helper.params.length;
  if (e.arguments.length !== written) throw fb.fail(Codes.callArguments, e, `\`${helper.name}\` takes ${written} argument${written === 1 ? "" : "s"}`);
  if (helper.name === "bpf_kptr_xchg") return exchange(fb, helper, e);
  const ref = percpuRef(fb, helper, e.arguments[0]!);
  const args: Operand[] = [ref.ptr];
  if (helper.name === "bpf_per_cpu_ptr") {
    const cpuExpr = e.arguments[1]!;
    args.push(convertTo(fb, lowerExpression(fb, cpuExpr, u32), u32, cpuExpr) as Operand);
  }
  const dst = fb.temp(mapValuePtr);
  fb.emit({ op: "call", dst, helper, args, node: e });
  // bpf_this_cpu_ptr's copy is never NULL; bpf_per_cpu_ptr's is past the last possible CPU.
  return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: ref.target }, nullable: helper.name === "bpf_per_cpu_ptr" };
}

/** A per-CPU object read from a `PercpuKptr` field (tested: the bounds analysis checks it like a lookup's value). */
function percpuRef(fb: FunctionBuilder, helper: HelperSpec, argExpr: ts.Expression): { ptr: Temp; target: Layout } {
  const v = lowerExpression(fb, argExpr);
  const target = v.kind === "view" && v.offset === 0 ? [...handles].find(([, h]) => v.shape.kind === "struct" && h === v.shape.layout)?.[0] : undefined;
  if (v.kind !== "view" || !target || fb.defs.get(v.ptr.id)?.op !== "load") {
    throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` takes the object a \`PercpuKptr\` field holds, read from a map value and tested`, {
      hints: [`\`const pc = ref.value.counters; if (!pc) return XdpAction.PASS; const c = ${helper.name}(pc${helper.name === "bpf_per_cpu_ptr" ? ", cpu" : ""});\``],
    });
  }
  return { ptr: v.ptr, target };
}

/** `bpf_kptr_xchg(ref.value.flow, obj)`: the field's address, and the object moved in (or NULL). */
function exchange(fb: FunctionBuilder, helper: HelperSpec, e: ts.CallExpression): Value {
  const [fieldExpr, objExpr] = e.arguments as unknown as [ts.Expression, ts.Expression];
  const { ptr: slot, kptr } = fieldAddress(fb, helper, fieldExpr);
  let obj: Operand = constant(0n, u64);
  let inner = objExpr;
  while (ts.isParenthesizedExpression(inner)) inner = inner.expression;
  if (inner.kind !== ts.SyntaxKind.NullKeyword) obj = ownedObject(fb, helper, kptr, objExpr);
  const dst = fb.temp(mapValuePtr);
  fb.emit({ op: "call", dst, helper, args: [slot, obj], kptr, node: e });
  if (kptr.percpu) {
    const handle = percpuHandle(kptr.target, "PercpuObj");
    return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: handle }, nullable: true, readOnly: handle.name };
  }
  return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: kptr.target }, nullable: true };
}

/** `ref.value.flow` as the field's address (C's `&v->flow`), which the kernel finds the kptr by. */
function fieldAddress(fb: FunctionBuilder, helper: HelperSpec, fieldExpr: ts.Expression): { ptr: Operand; kptr: KptrTarget } {
  let inner = fieldExpr;
  while (ts.isParenthesizedExpression(inner)) inner = inner.expression;
  const base = ts.isPropertyAccessExpression(inner) ? lowerExpression(fb, inner.expression) : undefined;
  const field = base?.kind === "view" && base.shape.kind === "struct" && ts.isPropertyAccessExpression(inner) ? base.shape.layout.fields.get(inner.name.text) : undefined;
  const kptr = field?.type.kind === "struct" ? field.type.layout.kptr : undefined;
  if (!base || base.kind !== "view" || !field || !kptr) {
    throw fb.fail(Codes.callArguments, fieldExpr, `\`${helper.name}\` takes a \`Kptr\` or \`PercpuKptr\` field of a map value: \`${helper.name}(ref.value.flow, obj)\``);
  }
  if (base.region !== "map" || fb.defs.get(base.ptr.id)?.op !== "map_lookup") {
    throw fb.fail(Codes.callArguments, fieldExpr, `\`${helper.name}\` takes the field in a map value (a lookup's \`.value\`), where the kernel keeps the object`);
  }
  const offset = base.offset + field.offset;
  if (offset === 0) return { ptr: base.ptr, kptr };
  const ptr = fb.temp(base.ptr.type);
  fb.emit({ op: "ptr_add", dst: ptr, base: base.ptr, offset: constant(BigInt(offset), i64), node: fieldExpr });
  return { ptr, kptr };
}

/** The kfuncs whose objects the program owns, as the drop of each kind takes them (bpf_obj_new's, a list's pop, …). */
function makers(percpu: boolean): readonly string[] {
  const drop = kfunc(percpu ? "bpf_percpu_obj_drop_impl" : "bpf_obj_drop_impl").call?.[0];
  return drop?.kind === "object" ? drop.from : [];
}

/** An object the program owns, of the field's struct: one it could drop (bpf_obj_new's, a list's pop, …), or one out of a field of the same kind. */
function ownedObject(fb: FunctionBuilder, helper: HelperSpec, kptr: KptrTarget, objExpr: ts.Expression): Temp {
  const v = lowerExpression(fb, objExpr);
  // A list's or tree's object is held at its node: the object starts before it (container_of).
  const def = v.kind === "view" && v.offset === -nodeOffsetOf(fb, v.ptr.id) ? fb.defs.get(v.ptr.id) : undefined;
  const layout =
    def?.op === "kfunc" && def.typeId && makers(kptr.percpu).includes(def.name)
      ? def.typeId
      : def?.op === "call" && def.kptr && def.kptr.percpu === kptr.percpu
        ? def.kptr.target
        : undefined;
  const made = kptr.percpu ? "bpf_percpu_obj_new" : "bpf_obj_new";
  if (v.kind !== "view" || !layout) {
    const from = kptr.percpu ? `\`${made}\`` : `\`${made}\`, a list's pop, a tree's remove`;
    throw fb.fail(Codes.callArguments, objExpr, `\`${helper.name}\` moves into the field an object the program owns (from ${from} or \`${helper.name}\`), or null`, {
      hints: [`an object read from a field belongs to the map; \`const obj = ${made}<${kptr.target.name}>(); if (!obj) return XdpAction.PASS;\``],
    });
  }
  if (layout !== kptr.target) throw fb.fail(Codes.typeMismatch, objExpr, `the field holds a \`${kptr.target.name}\`, this object is a \`${layout.name}\``);
  return objectAddress(fb, v.ptr, v.offset, objExpr);
}

/** The maps whose values the kernel lets hold kptrs (map_check_btf: BPF_KPTR_REF and BPF_KPTR_PERCPU). */
const kptrMaps = new Set(["HashMap", "ArrayMap", "LruHash", "PerCpuHash", "PerCpuArray", "LruPerCpuHash"]);

function holdsKptr(t: FieldType): boolean {
  if (t.kind === "scalar") return false;
  if (t.kind === "array") return holdsKptr(t.element);
  return t.layout.kptr !== undefined || [...t.layout.fields.values()].some((f) => holdsKptr(f.type));
}

/** A kptr field in a value of a map that may hold one, never in a key. */
export function kptrMapAllowed(d: DiagnosticBag, className: string, key: SlotType, value: SlotType, keyNode: ts.Node, valueNode: ts.Node): boolean {
  if (isLayout(key) && holdsKptr({ kind: "struct", layout: key })) {
    d.report(Codes.mapType, keyNode, "a map key cannot hold a `Kptr` or `PercpuKptr`", { hints: ["put it in the value struct"] });
    return false;
  }
  if (isLayout(value) && holdsKptr({ kind: "struct", layout: value }) && !kptrMaps.has(className)) {
    d.report(Codes.mapType, valueNode, `the kernel keeps objects only in ${[...kptrMaps].join(", ")} values, not in a ${className}'s`, { hints: ["declare the map as an ArrayMap, HashMap or LruHash"] });
    return false;
  }
  return true;
}
