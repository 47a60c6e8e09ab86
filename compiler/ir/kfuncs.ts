/**
 * Calls of kfuncs the dialect exposes by name (compiler/dialect/kfuncs.ts
 * says how each parameter is passed): local structs with their sizes, the
 * context, integers, and references an earlier kfunc returned. A kfunc that
 * acquires returns a reference that is null until tested and must be
 * released (analysis/references.ts), opaque to the program.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type KfuncSpec, type KfuncType, implicitArgs, kernelFields, kfuncs } from "../dialect/kfuncs";
import type { FunctionBuilder } from "./builder";
import { castTo, convertTo, lowerExpression, type Value } from "./expressions";
import type { MapDecl, Operand, Subprogram, Temp } from "./ir";
import { type Field, type FieldType, type GraphRoot, type Layout, listNodeLayout, rbNodeLayout, sameShape, shapeName, refcountLayout, sizeOfField, spinLockLayout, timerLayout } from "./layout";
import { graphRootArg, lessCallback, nodeOffsetOf, nodeView, nonOwningArg, objectAddress, sameObject } from "./graphs";
import { btfShownStructs } from "./strings";
import { helperMemory, structShape } from "./structs";
import { constant } from "./typing";
import { type ValueType, bool, i32, i64, mapValuePtr, u8, u32, u64 } from "./types";

/** How the dialect names a kernel struct a reference points to. */
const refNames: Readonly<Record<string, string>> = { nf_conn: "NfConn", nf_conn___init: "NfConnInit", task_struct: "TaskStruct", cgroup: "Cgroup", vm_area_struct: "VmArea", xdp_buff: "XdpBuff" };

/** The kfuncs that return a reference to `struct`, for messages. */
function producers(struct: string): string {
  const names = [...kfuncs.values()].filter((k) => k.call && k.returns.kind === "ptr" && k.returns.to.kind === "struct" && k.returns.to.name === struct).map((k) => `\`${k.name}\``);
  return names.join(" or ");
}

function resultType(t: KfuncType): ValueType | undefined {
  if (t.kind === "void") return undefined;
  if (t.kind === "int") return t.type;
  // _Bool comes back in a byte, and the kernel returns 0 or 1.
  if (t.kind === "bool") return u8;
  if (t.kind === "enum") return i32;
  return mapValuePtr;
}

export function kfuncCall(fb: FunctionBuilder, spec: KfuncSpec, e: ts.CallExpression): Value {
  if (spec.name === "bpf_throw") return throwAction(fb, spec, e);
  const call = spec.call!;
  const written = call.filter((p) => !implicitArgs.has(p.kind)).length;
  if (e.arguments.length !== written) {
    throw fb.fail(Codes.callArguments, e, `\`${spec.spelled ?? spec.name}\` takes ${written} argument${written === 1 ? "" : "s"}`);
  }
  let allocated: Layout | undefined;
  let next = 0;
  let lastSize = 0;
  let sliced: FieldType | undefined;
  let kernelType: string | undefined;
  let map: MapDecl | undefined;
  let graph: GraphRoot | undefined;
  let callback: Subprogram | undefined;
  const args = call.map((p, i): Operand => {
    if (p.kind === "size") return constant(BigInt(lastSize), p.type);
    if (p.kind === "null") return constant(0n, u64);
    if (p.kind === "typeId") {
      allocated = objectType(fb, spec, e);
      return constant(0n, u64);
    }
    const argExpr = e.arguments[next++]!;
    if (p.kind === "mem") {
      const m = helperMemory(fb, spec.name, p, argExpr);
      lastSize = m.size;
      return m.ptr;
    }
    if (p.kind === "ref") return reference(fb, spec, p.struct, argExpr, p.rcu === true);
    if (p.kind === "graphRoot") {
      const r = graphRootArg(fb, spec, p.graph, argExpr);
      graph = r.graph;
      return r.ptr;
    }
    if (p.kind === "callback") {
      callback = lessCallback(fb, spec, graph!, argExpr);
      return constant(0n, u64);
    }
    if (p.kind === "nonOwning") return nonOwningArg(fb, spec, graph!, argExpr);
    if (p.kind === "object") {
      const o = object(fb, spec, p.from, argExpr);
      if (graph) sameObject(fb, spec, graph, o.layout, argExpr);
      // The new reference is to the same struct: its fields, its drop.
      if (spec.name === "bpf_refcount_acquire_impl") allocated = refcounted(fb, spec, o.layout, argExpr);
      // The object's address (a popped one is held by its node), or the node's for a list or tree.
      return objectAddress(fb, o.ptr, (o.offset ?? 0) + (graph?.nodeOffset ?? 0), argExpr);
    }
    if (p.kind === "dynptr") return dynptr(fb, spec, argExpr, p.uninit === true);
    if (p.kind === "anyPointer") return anyPointer(fb, spec, argExpr);
    if (p.kind === "ptRegs") return ptRegs(fb, spec, argExpr);
    if (p.kind === "map") {
      map = declaredMap(fb, spec, argExpr);
      return constant(0n, u64);
    }
    if (p.kind === "kernelTypeId") {
      const cast = kernelCast(fb, spec, e, argExpr);
      kernelType = cast.name;
      sliced = cast.shape;
      return constant(0n, u32);
    }
    if (p.kind === "buffer") {
      const b = buffer(fb, spec, e, argExpr);
      sliced = b.shape;
      lastSize = sizeOfField(b.shape);
      return b.ptr;
    }
    const v = lowerExpression(fb, argExpr, p.kind === "int" ? p.type : undefined);
    if (p.kind === "ctx") {
      if (v.kind !== "ctx") throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes the program's context here`);
      const dst = fb.temp({ kind: "ctx" });
      fb.emit({ op: "ctx_ptr", dst, node: argExpr });
      return dst;
    }
    const converted = convertTo(fb, v, p.type, argExpr) as Operand;
    // Typed as the dialect takes it (bpf_ct_set_nat_info's port a u16), passed as the kernel declares it.
    const kernel = spec.params[i]!.type;
    return p.kind === "int" && kernel.kind === "int" && kernel.type !== p.type ? castTo(fb, converted, kernel.type, argExpr) : converted;
  });
  if (spec.name === "bpf_ct_set_nat_info") natManip(fb, args[3]!, e.arguments[3]!);
  // A node a list or tree gives back stands for its object.
  if (graph && spec.returns.kind === "ptr") allocated = graph.of;
  const type = resultType(spec.returns);
  const dst = type ? fb.temp(type) : undefined;
  fb.emit({ op: "kfunc", ...(dst ? { dst } : {}), name: spec.name, args, ...(allocated ? { typeId: allocated } : {}), ...(kernelType ? { kernelType } : {}), ...(map ? { map } : {}), ...(callback ? { callback } : {}), node: e });
  if (!dst) return constant(0n, i32);
  // A per-CPU object: only a handle to drop (the verifier gives an owned one no per-CPU address).
  if (allocated && spec.name === "bpf_percpu_obj_new_impl") {
    const handle: Layout = { name: `PercpuObj<${allocated.name}>`, size: 0, align: 8, packed: false, fields: new Map() };
    return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: handle }, nullable: true, readOnly: handle.name };
  }
  // The kernel's object of the program's struct: fields read and written in place once tested
  // (out of a list or tree, through the node's address the kernel returns).
  if (allocated && graph) return nodeView(fb, dst, graph);
  if (allocated) return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: allocated }, nullable: true };
  if (sliced) {
    // PTR_TO_MEM of the buffer's size, or NULL: read (and for _rdwr written) like a tested map value.
    const readOnly = spec.name === "bpf_dynptr_slice" || spec.name === "bpf_rdonly_cast" ? spec.name : undefined;
    return { kind: "view", region: "map", ptr: dst, offset: 0, shape: sliced, nullable: true, ...(readOnly ? { readOnly } : {}) };
  }
  if (spec.name === "bpf_cast_to_kern_ctx") {
    // The verifier's type for the result: the context's kernel struct, trusted and never NULL; read-only for XDP.
    const layout = kernelLayout("xdp_buff");
    return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout }, nullable: false, readOnly: layout.name };
  }
  if (spec.returns.kind === "bool") {
    const b = fb.temp(bool);
    fb.emit({ op: "cmp", dst: b, pred: "ne", a: dst, b: constant(0n, u8), node: e });
    return b;
  }
  if (spec.acquires && spec.returns.kind === "ptr" && spec.returns.to.kind === "struct") {
    const layout = kernelLayout(spec.returns.to.name);
    return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout }, nullable: true, readOnly: layout.name };
  }
  return dst;
}

/** A kernel struct as the program sees it: opaque, but for the fields read through CO-RE. */
export function kernelLayout(kernel: string): Layout {
  const known = kernelFields.get(kernel) ?? [];
  const fields = new Map(known.map((f): [string, Field] => [f.name, { name: f.name, offset: f.offset, size: f.type.bits / 8, type: { kind: "scalar", type: f.type } }]));
  const size = Math.ceil(Math.max(0, ...known.map((f) => f.offset + f.type.bits / 8)) / 8) * 8;
  return { name: refNames[kernel] ?? kernel, size, align: 8, packed: false, fields, ...(known.length ? { kernel } : {}) };
}

/**
 * `bpf_throw(action)`: the program returns `action` at once (the kernel's
 * default exception callback returns the cookie), so the path ends here as
 * a `return` would, and what the program holds is checked as at a return
 * ("bpf_throw would lead to reference leak", "bpf_throw cannot be used
 * inside bpf_rcu_read_lock-ed region"). A statement of the program's own
 * body only: from a function the IR's return would end the function alone.
 */
function throwAction(fb: FunctionBuilder, spec: KfuncSpec, e: ts.CallExpression): Value {
  if (e.arguments.length !== 1) throw fb.fail(Codes.callArguments, e, "`bpf_throw` takes 1 argument: the action the program returns");
  if (!ts.isExpressionStatement(e.parent) || fb.subprogram || fb.inlineFrames.length > 0) {
    throw fb.fail(Codes.unsupportedCall, e, "`bpf_throw(action)` is a statement of the program's own body in tsxdp, not of a function it calls", {
      hints: ["return a value the program tests, and call `bpf_throw` (or `return`) there"],
    });
  }
  const argExpr = e.arguments[0]!;
  const action = convertTo(fb, lowerExpression(fb, argExpr, u32), u32, argExpr);
  if (action.kind !== "temp" && action.kind !== "const") throw fb.fail(Codes.typeMismatch, argExpr, "`bpf_throw` takes an action");
  fb.emit({ op: "kfunc", name: spec.name, args: [castTo(fb, action, u64, argExpr)], node: e });
  fb.terminate({ op: "ret", value: action, node: e });
  return constant(0n, i32);
}

/**
 * Dynptrs a call has initialised so far, by function, as stack pointer and
 * offset: the verifier refuses one used before `bpf_dynptr_from_xdp` or
 * `bpf_dynptr_clone` made it ("Expected an initialized dynptr"). Source
 * order, so an initialisation on one branch only counts for what follows.
 */
const initialised = new WeakMap<FunctionBuilder, Set<string>>();

/** A local `BpfDynptr`, passed by address (to a kfunc, or to a dynptr helper: ir/calls.ts). */
export function dynptr(fb: FunctionBuilder, spec: { readonly name: string }, argExpr: ts.Expression, uninit: boolean): Operand {
  const v = lowerExpression(fb, argExpr);
  if (v.kind !== "view" || v.region !== "stack" || v.shape.kind !== "struct" || v.shape.layout.name !== "BpfDynptr") {
    throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes a local \`BpfDynptr\``, { hints: ["`const dp = zeroed<BpfDynptr>(); bpf_dynptr_from_xdp(ctx, 0, dp);`"] });
  }
  const key = `${v.ptr.id}+${v.offset}`;
  const done = initialised.get(fb) ?? new Set<string>();
  initialised.set(fb, done);
  if (uninit) done.add(key);
  else if (!done.has(key)) {
    throw fb.fail(Codes.dynptrUninit, argExpr, `\`${argExpr.getText()}\` is not a dynptr yet: \`${spec.name}\` needs one that \`bpf_dynptr_from_xdp\` (or \`bpf_dynptr_clone\`, \`bpf_dynptr_from_mem\`, \`bpf_ringbuf_reserve_dynptr\`) made`, {
      hints: [`call \`bpf_dynptr_from_xdp(ctx, 0, ${argExpr.getText()})\` first, on the way to this call`],
    });
  }
  if (v.offset === 0) return v.ptr;
  const ptr = fb.temp(v.ptr.type);
  fb.emit({ op: "ptr_add", dst: ptr, base: v.ptr, offset: constant(BigInt(v.offset), i64), node: argExpr });
  return ptr;
}

/** A slice's buffer (a local struct, or null) and the shape the slice has: the type argument's, or the buffer's. */
function buffer(fb: FunctionBuilder, spec: KfuncSpec, e: ts.CallExpression, argExpr: ts.Expression): { ptr: Operand; shape: FieldType } {
  const typeArg = e.typeArguments?.[0];
  const named = typeArg ? structShape(fb, typeArg) : undefined;
  if (typeArg && !named) throw fb.fail(Codes.typeMismatch, typeArg, `\`${typeArg.getText()}\` is not a struct or FixedArray`);
  let inner = argExpr;
  while (ts.isParenthesizedExpression(inner)) inner = inner.expression;
  if (inner.kind === ts.SyntaxKind.NullKeyword) {
    if (!named) throw fb.fail(Codes.callArguments, e, `\`${spec.name}\` without a buffer needs the slice's type: \`${spec.name}<EthHdr>(dp, 0, null)\``);
    return { ptr: constant(0n, u64), shape: named };
  }
  const v = lowerExpression(fb, argExpr);
  if (v.kind !== "view" || v.region !== "stack") {
    throw fb.fail(Codes.typeMismatch, argExpr, `\`${spec.name}\` copies into a local struct or FixedArray when the bytes are not contiguous, or takes null`, {
      hints: ["e.g. `const buf = zeroed<EthHdr>(); const eth = bpf_dynptr_slice(dp, 0, buf);`"],
    });
  }
  if (named && !sameShape(named, v.shape)) throw fb.fail(Codes.typeMismatch, argExpr, `the buffer is a \`${shapeName(v.shape)}\`, the slice a \`${shapeName(named)}\``);
  if (v.offset === 0) return { ptr: v.ptr, shape: v.shape };
  const ptr = fb.temp(v.ptr.type);
  fb.emit({ op: "ptr_add", dst: ptr, base: v.ptr, offset: constant(BigInt(v.offset), i64), node: argExpr });
  return { ptr, shape: v.shape };
}

/** A pointer passed as is: the packet's (`ctx.data`, moved or not), or the address of a view. */
function anyPointer(fb: FunctionBuilder, spec: KfuncSpec, argExpr: ts.Expression): Operand {
  const v = lowerExpression(fb, argExpr);
  if (v.kind === "temp" && v.type.kind === "ptr") return v;
  if (v.kind === "view") {
    if (v.offset === 0) return v.ptr;
    const ptr = fb.temp(v.ptr.type);
    fb.emit({ op: "ptr_add", dst: ptr, base: v.ptr, offset: constant(BigInt(v.offset), i64), node: argExpr });
    return ptr;
  }
  throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes a pointer: \`ctx.data\` (moved or not), or a header or struct`);
}

/**
 * `bpf_rdonly_cast<EthHdr>(data, "ethhdr")`: the vmlinux struct named by the
 * literal, read as the type argument, a local struct of at most its size
 * (the verifier checks every read against the kernel's struct).
 */
function kernelCast(fb: FunctionBuilder, spec: KfuncSpec, e: ts.CallExpression, nameExpr: ts.Expression): { name: string; shape: FieldType } {
  const name = ts.isParenthesizedExpression(nameExpr) ? nameExpr.expression : nameExpr;
  const size = ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name) ? btfShownStructs.get(name.text) : undefined;
  if (size === undefined) {
    throw fb.fail(Codes.callArguments, nameExpr, `\`${spec.name}\` names the kernel struct as a string literal, one of ${[...btfShownStructs.keys()].map((k) => `"${k}"`).join(", ")}`, {
      hints: ['e.g. `bpf_rdonly_cast<EthHdr>(ctx.data, "ethhdr")`'],
    });
  }
  const typeArg = e.typeArguments?.[0];
  const shape = typeArg ? structShape(fb, typeArg) : undefined;
  if (!typeArg || shape?.kind !== "struct") throw fb.fail(Codes.callArguments, e, `\`${spec.name}\` needs the struct it reads as its type argument: \`${spec.name}<EthHdr>(ctx.data, "ethhdr")\``);
  if (shape.layout.size > size) {
    throw fb.fail(Codes.typeMismatch, typeArg, `\`${typeArg.getText()}\` is ${shape.layout.size} bytes, \`struct ${(name as ts.StringLiteral).text}\` ${size}: the kernel refuses reads past its struct`);
  }
  return { name: (name as ts.StringLiteral).text, shape };
}

/** nf_nat_setup_info takes NF_NAT_MANIP_SRC (0) or NF_NAT_MANIP_DST (1) and WARNs on another: a constant, one of those. */
function natManip(fb: FunctionBuilder, manip: Operand, argExpr: ts.Expression): void {
  if (manip.kind !== "const" || manip.value > 1n) {
    throw fb.fail(Codes.callArguments, argExpr, "`bpf_ct_set_nat_info` takes `NF_NAT_MANIP_SRC` or `NF_NAT_MANIP_DST` here, a constant (the kernel warns on anything else)");
  }
}

/** `bpf_task_pt_regs(task)`'s result, which the verifier types as the kernel's struct pt_regs: the call, or a const holding it. */
function ptRegs(fb: FunctionBuilder, spec: KfuncSpec, argExpr: ts.Expression): Operand {
  const expr = ts.isParenthesizedExpression(argExpr) ? argExpr.expression : argExpr;
  const isRegsCall = (x: ts.Expression | undefined) => x !== undefined && ts.isCallExpression(x) && fb.intrinsics.dialectSymbol(x.expression)?.name === "bpf_task_pt_regs";
  let ok = isRegsCall(expr);
  if (!ok && ts.isIdentifier(expr)) {
    const decl = fb.symbolOf(expr)?.valueDeclaration;
    ok = decl !== undefined && ts.isVariableDeclaration(decl) && ts.isVariableDeclarationList(decl.parent) && (decl.parent.flags & ts.NodeFlags.Const) !== 0 && isRegsCall(decl.initializer);
  }
  if (!ok) throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes the registers \`bpf_task_pt_regs(task)\` returns: the call, or a const holding it`);
  return convertTo(fb, lowerExpression(fb, expr, u64), u64, expr) as Operand;
}

/** One of the file's maps, by its name: an inner map of a map of maps has no address of its own here. */
function declaredMap(fb: FunctionBuilder, spec: KfuncSpec, argExpr: ts.Expression): MapDecl {
  const v = lowerExpression(fb, argExpr);
  if (v.kind !== "map" || v.via) throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes one of the file's maps, by its name`);
  return v.map;
}

/** A reference a kfunc returned (tested or not: analysis/references.ts follows that, and its release). */
function reference(fb: FunctionBuilder, spec: KfuncSpec, struct: string, argExpr: ts.Expression, rcu: boolean): Temp {
  const v = lowerExpression(fb, argExpr);
  const def = v.kind === "view" ? fb.defs.get(v.ptr.id) : undefined;
  const from = def?.op === "kfunc" ? kfuncs.get(def.name) : undefined;
  // KF_RCU: a task loop's task (bpf_iter_task_next's, RCU-protected) as well as a held one.
  const walked = rcu && from?.name === "bpf_iter_task_next";
  if (v.kind !== "view" || v.offset !== 0 || !(from?.acquires || walked) || from.returns.kind !== "ptr" || from.returns.to.kind !== "struct" || from.returns.to.name !== struct) {
    const loop = rcu ? ", or the task of a `bpf_iter_task` loop" : "";
    throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes ${refNames[struct] ? `${refNames[struct].startsWith("N") ? "an" : "a"} \`${refNames[struct]}\`` : `a \`struct ${struct}\``} returned by ${producers(struct)}${loop}`);
  }
  return v.ptr;
}

/** `bpf_obj_new<T>()`'s `T`: a struct of the program, which the kernel allocates by its BTF id. */
function objectType(fb: FunctionBuilder, spec: KfuncSpec, e: ts.CallExpression): Layout {
  const typeArg = e.typeArguments?.[0];
  const name = spec.spelled ?? spec.name;
  if (!typeArg) throw fb.fail(Codes.callArguments, e, `\`${name}\` needs the struct to allocate as its type argument: \`${name}<Counter>()\``);
  const shape = structShape(fb, typeArg);
  if (shape?.kind !== "struct") throw fb.fail(Codes.typeMismatch, typeArg, `\`${typeArg.getText()}\` is not a struct: \`${name}\` allocates structs only (the kernel refuses other types)`);
  if (spec.name === "bpf_percpu_obj_new_impl") {
    // The verifier's limits: "must be of a struct of scalars", and at most BPF_GLOBAL_PERCPU_MA_MAX_SIZE bytes.
    if (!scalarsOnly(shape)) throw fb.fail(Codes.typeMismatch, typeArg, `\`${typeArg.getText()}\` holds a \`SpinLock\`, \`Timer\`, \`Refcount\`, \`Kptr\` or list or tree field: \`${name}\` allocates structs of integers only (the kernel refuses others)`);
    if (shape.layout.size > 512) throw fb.fail(Codes.typeMismatch, typeArg, `\`${typeArg.getText()}\` is ${shape.layout.size} bytes: \`${name}\` allocates at most 512 (the kernel refuses larger)`);
  }
  return shape.layout;
}

/** Integers, and structs and arrays of them: no field the kernel gives a meaning (locks, timers). */
export function scalarsOnly(t: FieldType): boolean {
  if (t.kind === "scalar") return true;
  if (t.kind === "array") return scalarsOnly(t.element);
  if (t.layout === spinLockLayout || t.layout === timerLayout || t.layout === refcountLayout || t.layout.kptr) return false;
  if (t.layout.graph || t.layout === listNodeLayout || t.layout === rbNodeLayout) return false;
  return [...t.layout.fields.values()].every((f) => scalarsOnly(f.type));
}

/** An object `from` (bpf_obj_new, bpf_percpu_obj_new) returned: the pointer itself (tested or not: analysis/references.ts follows that, and its drop). */
function object(fb: FunctionBuilder, spec: KfuncSpec, from: readonly string[], argExpr: ts.Expression): { ptr: Temp; layout: Layout; offset?: number } {
  const v = lowerExpression(fb, argExpr);
  const def = v.kind === "view" ? fb.defs.get(v.ptr.id) : undefined;
  // An object bpf_kptr_xchg took out of a field is owned like the one its maker returned.
  // One read from a Kptr field (RCU) may be counted again: bpf_refcount_acquire is KF_RCU.
  if (spec.name === "bpf_refcount_acquire_impl" && v.kind === "view" && v.offset === 0 && v.shape.kind === "struct" && def?.op === "load" && def.region === "map" && def.dst.type.kind === "ptr" && !def.core) {
    return { ptr: v.ptr, layout: v.shape.layout };
  }
  if (v.kind === "view" && v.offset === 0 && def?.op === "call" && def.kptr && from.includes(def.kptr.percpu ? "bpf_percpu_obj_new_impl" : "bpf_obj_new_impl")) return { ptr: v.ptr, layout: def.kptr.target };
  if (v.kind !== "view" || v.offset !== -nodeOffsetOf(fb, v.ptr.id) || def?.op !== "kfunc" || !def.typeId || !from.includes(def.name)) {
    const names = from.map((f) => `\`${kfuncs.get(f)?.spelled ?? f}\``).join(" or ");
    throw fb.fail(Codes.callArguments, argExpr, `\`${spec.spelled ?? spec.name}\` takes an object ${names} returned`);
  }
  return { ptr: v.ptr, layout: def.typeId, offset: v.offset };
}

/** The kernel counts references only to a struct with a `struct bpf_refcount` field of its own. */
function refcounted(fb: FunctionBuilder, spec: KfuncSpec, layout: Layout, argExpr: ts.Expression): Layout {
  if (![...layout.fields.values()].some((f) => f.type.kind === "struct" && f.type.layout === refcountLayout)) {
    throw fb.fail(Codes.typeMismatch, argExpr, `\`${layout.name}\` has no \`Refcount\` field: \`${spec.spelled ?? spec.name}\` needs one to count references (the kernel refuses others)`, {
      hints: [`add \`ref: Refcount\` to \`${layout.name}\``],
    });
  }
  return layout;
}
