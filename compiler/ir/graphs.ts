/**
 * Arguments of the list and tree kfuncs (bpf_list_*, bpf_rbtree_*): the
 * `ListHead` or `RbRoot` field of a map value, the objects it holds (of the
 * struct its type names), bpf_rbtree_add's `less` compiled as a static
 * subprogram, and bpf_rbtree_remove's node from bpf_rbtree_first. The lock
 * and ownership rules are proven on the IR (analysis/locks.ts,
 * analysis/references.ts).
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type KfuncSpec, kfuncs } from "../dialect/kfuncs";
import type { FunctionBuilder } from "./builder";
import { lowerExpression, type View } from "./expressions";
import type { Operand, Subprogram, SubprogramParam, Temp } from "./ir";
import type { GraphRoot, Layout } from "./layout";
import { structShape } from "./structs";
import { constant } from "./typing";
import { i64, mapValuePtr } from "./types";

const spelled = (spec: KfuncSpec) => spec.spelled ?? spec.name;

/**
 * The objects out of a list or tree, by function and temp: the kernel returns
 * the node's address, so the object begins `nodeOffset` bytes before it (C's
 * container_of), read at negative offsets from that pointer.
 */
const nodes = new WeakMap<FunctionBuilder, Map<number, number>>();

/** How far into its object the pointer `id` is: a node's offset, or 0. */
export function nodeOffsetOf(fb: FunctionBuilder, id: number): number {
  return nodes.get(fb)?.get(id) ?? 0;
}

/** The object a list or tree kfunc returned at its node, null until tested. */
export function nodeView(fb: FunctionBuilder, dst: Temp, graph: GraphRoot): View {
  const known = nodes.get(fb) ?? new Map<number, number>();
  nodes.set(fb, known);
  known.set(dst.id, graph.nodeOffset);
  return { kind: "view", region: "map", ptr: dst, offset: -graph.nodeOffset, shape: { kind: "struct", layout: graph.of }, nullable: true };
}

/** `ptr + offset`: an object's address from its node's, or its node's from the object's. */
export function objectAddress(fb: FunctionBuilder, ptr: Temp, offset: number, at: ts.Node): Temp {
  if (offset === 0) return ptr;
  const dst = fb.temp(ptr.type);
  fb.emit({ op: "ptr_add", dst, base: ptr, offset: constant(BigInt(offset), i64), node: at });
  return dst;
}

/** `ref.value.head`: the root's address in the map value, and what it holds. */
export function graphRootArg(fb: FunctionBuilder, spec: KfuncSpec, kind: GraphRoot["kind"], argExpr: ts.Expression): { ptr: Operand; graph: GraphRoot } {
  const v = lowerExpression(fb, argExpr);
  const graph = v.kind === "view" && v.shape.kind === "struct" ? v.shape.layout.graph : undefined;
  if (v.kind !== "view" || v.region !== "map" || graph?.kind !== kind || !mapValue(fb, v.ptr)) {
    const type = kind === "list" ? "ListHead" : "RbRoot";
    throw fb.fail(Codes.callArguments, argExpr, `\`${spelled(spec)}\` takes the \`${type}\` field of a map value: \`${spelled(spec)}(ref.value.${kind === "list" ? "head" : "root"}, …)\`, the lookup tested`);
  }
  if (v.offset === 0) return { ptr: v.ptr, graph };
  const ptr = fb.temp(v.ptr.type);
  fb.emit({ op: "ptr_add", dst: ptr, base: v.ptr, offset: constant(BigInt(v.offset), i64), node: argExpr });
  return { ptr, graph };
}

/** A map value's address: a lookup's result, or the value a forEach callback visits. */
function mapValue(fb: FunctionBuilder, ptr: Temp): boolean {
  const def = fb.defs.get(ptr.id);
  if (def?.op === "map_lookup") return true;
  return def?.op === "param" && fb.subprogram?.forEachOf !== undefined && !fb.subprogram.timer && fb.subprogram.params[def.index]?.slot === "value";
}

/** An object pushed or added must be of the struct the root holds (the verifier compares the node's BTF owner). */
export function sameObject(fb: FunctionBuilder, spec: KfuncSpec, graph: GraphRoot, layout: Layout, argExpr: ts.Expression): void {
  if (layout === graph.of) return;
  throw fb.fail(Codes.callArguments, argExpr, `this ${graph.kind === "list" ? "list" : "tree"} holds \`${graph.of.name}\`s, not \`${layout.name}\`s: \`${spelled(spec)}\` takes one of those`);
}

/** bpf_rbtree_remove's node: what bpf_rbtree_first returned for the same tree (not owned: the lock must still be held, analysis/locks.ts). */
export function nonOwningArg(fb: FunctionBuilder, spec: KfuncSpec, graph: GraphRoot, argExpr: ts.Expression): Temp {
  const v = lowerExpression(fb, argExpr);
  const def = v.kind === "view" ? fb.defs.get(v.ptr.id) : undefined;
  if (v.kind !== "view" || v.offset !== -graph.nodeOffset || def?.op !== "kfunc" || def.name !== "bpf_rbtree_first" || def.typeId !== graph.of) {
    throw fb.fail(Codes.callArguments, argExpr, `\`${spelled(spec)}\` takes a node \`bpf_rbtree_first\` returned for this tree, tested`, {
      hints: ["`const n = bpf_rbtree_first(ref.value.root); if (n) { const mine = bpf_rbtree_remove(ref.value.root, n); … }`"],
    });
  }
  return v.ptr;
}

/**
 * bpf_rbtree_add's `less(a, b)`: one of the file's functions, `(a: T, b: T)
 * => boolean`, a static subprogram the kernel calls with two nodes of the
 * tree (bound as the objects holding them), the lock held.
 */
export function lessCallback(fb: FunctionBuilder, spec: KfuncSpec, graph: GraphRoot, argExpr: ts.Expression): Subprogram {
  const hint = `write \`function less(a: ${graph.of.name}, b: ${graph.of.name}): boolean { return a.key < b.key; }\` at the top level and pass \`less\``;
  const sym = ts.isIdentifier(argExpr) ? fb.symbolOf(argExpr) : undefined;
  const fn = sym && fb.scope.functions.get(sym);
  if (!fn) throw fb.fail(Codes.loopCallback, argExpr, `\`${spelled(spec)}\`'s order is one of the file's functions, named here`, { hints: [hint] });
  const name = fn.name!.text;
  const existing = fb.scope.subprograms.get(fn);
  if (existing?.rbtreeLess && existing.params[0]?.shape?.kind === "struct" && existing.params[0].shape.layout === graph.of) return existing;
  if (existing) throw fb.fail(Codes.loopCallback, argExpr, `\`${name}\` is already called otherwise; a tree's order is called by the kernel only, for one struct`, { hints: [hint] });
  if (fn.parameters.length !== 2) throw fb.fail(Codes.loopCallback, fn.name!, `a tree's order takes two objects: \`${name}\` takes ${fn.parameters.length}`, { hints: [hint] });
  const params: SubprogramParam[] = fn.parameters.map((p) => {
    if (!ts.isIdentifier(p.name) || p.dotDotDotToken || p.initializer || p.questionToken || !p.type) throw fb.fail(Codes.unsupportedSyntax, p, "parameters are plain names with a type (no defaults, rest or optional parameters)");
    const shape = structShape(fb, p.type);
    if (shape?.kind !== "struct" || shape.layout !== graph.of) throw fb.fail(Codes.loopCallback, p.type, `the tree holds \`${graph.of.name}\`s: its order compares two of them`, { hints: [hint] });
    // The kernel passes the nodes themselves, never null: bound as the objects holding them.
    return { name: p.name.text, type: mapValuePtr, node: p, shape, slot: "value", at: -graph.nodeOffset };
  });
  if (!fn.type) throw fb.fail(Codes.untypedNumber, fn.name!, `\`${name}\` needs its return type written (\`: boolean\`)`);
  const returns = fb.annotatedType(fn.type);
  if (returns.kind !== "bool") throw fb.fail(Codes.loopCallback, fn.type, "a tree's order returns a boolean: whether `a` goes before `b`", { hints: [hint] });
  const sub: Subprogram = { name, linkage: "static", params, returns, node: fn, changesPacket: false, callback: true, rbtreeLess: true };
  fb.scope.subprograms.set(fn, sub);
  return sub;
}

/** The kfuncs that take a list head or tree root, whose calls need its lock held. */
export const graphKfuncs: ReadonlySet<string> = new Set([...kfuncs.values()].filter((k) => k.call?.some((a) => a.kind === "graphRoot")).map((k) => k.name));
