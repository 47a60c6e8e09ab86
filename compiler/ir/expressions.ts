/**
 * Expressions to IR. Two entry points: `lowerExpression` for a value and
 * `lowerCondition` for control flow, which lowers `&&`, `||`, `!` and
 * comparisons straight into branches (as the kernel verifier wants to see
 * packet checks: a compare and a jump). Constants fold on the way, with the
 * exact wraparound of their type.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { locationOf } from "../diagnostics/diagnostic";
import type { HelperSpec } from "../dialect/helpers";
import { type ByteSwapName, redirectMaps } from "../dialect/intrinsics";
import { kernelFieldWritable } from "../dialect/kfuncs";
import type { FunctionBuilder } from "./builder";
import { bpfLoopCall, byteSwapCall, checksumReplace, conversion, helperCall, inlineCall, printk } from "./calls";
import { kfuncCall } from "./kfuncs";
import { plainLiteral, structSlot, zeroedCall } from "./structs";
import { type SlotType, type StructLiteral, isLayout, slotSize, type BinaryKind, type Block, type Const, type CtxField, type MapDecl, type Operand, type Predicate, type Temp, isJumpedTo } from "./ir";
import {
  type Untyped,
  boolConst,
  commonType,
  constant,
  fitConstant,
  foldBinary,
  foldCompare,
  foldUntyped,
  implicitlyConvertible,
  toHost,
  toNet,
  untyped,
} from "./typing";
import { type Field, type FieldType, type Layout, LayoutError, sizeOfField } from "./layout";
import { ringBufMethod } from "./ringbuf";
import { perfEventMethod } from "./perf-event";
import { valueMapMethod, valueMaps } from "./queue-maps";
import { tailCall } from "./tail-call";
import { forEachCall } from "./for-each";
import { spinLockCall } from "./locks";
import { snprintfBtfCall, snprintfCall, strncmpCall } from "./strings";
import { timerCall } from "./timers";
import { kptrCall, kptrRead } from "./kptrs";
import { type IntType, type ValueType, bool, byteSwap, int, mapValuePtr, metaPtr, packetEnd, packetPtr, typeName, u16, u32, u64, i64, isInt } from "./types";

/**
 * A header struct (or fixed array) in the packet: `ptr + offset`, shaped by
 * a layout. `nullable` until tested: the null test is the bounds check.
 */
export interface View {
  readonly kind: "view";
  /** Packet memory (proven against data_end), a map value (proven non-null) or a local struct on the stack. */
  readonly region: "packet" | "map" | "stack";
  readonly ptr: Temp;
  readonly offset: number;
  readonly shape: FieldType;
  readonly nullable: boolean;
  /** A value the kernel maps read-only into the program (a redirect map's entry): the map class, for messages. */
  readonly readOnly?: string;
  /** A copy a helper may not have written (a queue's pop): present when this is true, not when the pointer is non-null. */
  readonly present?: Temp;
}

export type Value = Operand | Untyped | { readonly kind: "ctx" } | View | MapValue;

/** A declared map, or an inner map a map of maps' lookup gave (`via`, null until tested; `map` is the template). */
export interface MapValue {
  readonly kind: "map";
  readonly map: MapDecl;
  readonly via?: Temp;
}

export interface LowerOptions {
  /** The value is not used (expression statement). */
  readonly discard?: boolean;
}

const ctxFields: Readonly<Record<CtxField, ValueType>> = {
  data: packetPtr,
  data_end: packetEnd,
  data_meta: metaPtr,
  ingress_ifindex: u32,
  rx_queue_index: u32,
  egress_ifindex: u32,
};

export function ctxField(fb: FunctionBuilder, name: string, node: ts.Node): Temp {
  if (!(name in ctxFields)) {
    throw fb.fail(Codes.contextUse, node, `the XDP context has no field \`${name}\``, { hints: [`its fields are ${Object.keys(ctxFields).join(", ")}`] });
  }
  const field = name as CtxField;
  // The kernel refuses the read elsewhere (xdp_is_valid_access: egress_ifindex needs BPF_XDP_DEVMAP).
  if (field === "egress_ifindex" && fb.section !== undefined && !fb.section.endsWith("/devmap")) {
    throw fb.fail(Codes.contextUse, node, "`egress_ifindex` exists only in programs run from a DEVMAP entry", {
      hints: ["declare the program with `xdp.devmap(…)` (or `xdp.frags.devmap(…)`), or do not read the field here"],
    });
  }
  const cached = fb.ctxPointers.get(field) ?? fb.ctxScalars.get(field);
  if (cached) return cached;
  const dst = fb.temp(ctxFields[field]);
  fb.emit({ op: "ctx", dst, field, node });
  return dst;
}

export function lowerExpression(fb: FunctionBuilder, e: ts.Expression, expected?: ValueType, opts: LowerOptions = {}): Value {
  switch (e.kind) {
    case ts.SyntaxKind.ParenthesizedExpression:
      return lowerExpression(fb, (e as ts.ParenthesizedExpression).expression, expected, opts);
    case ts.SyntaxKind.NumericLiteral:
      // The source text, not `.text`: TypeScript rewrites 0x… literals through a double,
      // which rounds u64 constants above 2^53 (0xffffffffffffffff would become 2^64).
      return untyped(BigInt(e.getText().replace(/_/g, "")));
    case ts.SyntaxKind.TrueKeyword:
      return boolConst(true);
    case ts.SyntaxKind.FalseKeyword:
      return boolConst(false);
    case ts.SyntaxKind.Identifier:
      return identifier(fb, e as ts.Identifier);
    case ts.SyntaxKind.PropertyAccessExpression:
      return propertyAccess(fb, e as ts.PropertyAccessExpression);
    case ts.SyntaxKind.CallExpression:
      return call(fb, e as ts.CallExpression);
    case ts.SyntaxKind.BinaryExpression:
      return binary(fb, e as ts.BinaryExpression, expected);
    case ts.SyntaxKind.PrefixUnaryExpression:
      return prefixUnary(fb, e as ts.PrefixUnaryExpression, expected);
    case ts.SyntaxKind.PostfixUnaryExpression:
      return increment(fb, e as ts.PostfixUnaryExpression, (e as ts.PostfixUnaryExpression).operator === ts.SyntaxKind.PlusPlusToken ? "add" : "sub", !opts.discard);
    case ts.SyntaxKind.ElementAccessExpression:
      return elementAccess(fb, e as ts.ElementAccessExpression);
    case ts.SyntaxKind.ConditionalExpression:
      return conditional(fb, e as ts.ConditionalExpression, expected);
    default:
      throw fb.fail(Codes.unsupportedSyntax, e, `this expression (${ts.SyntaxKind[e.kind]}) is not supported`);
  }
}

function identifier(fb: FunctionBuilder, id: ts.Identifier): Value {
  const b = fb.binding(id);
  if (b?.kind === "value") return b.value;
  if (b?.kind === "global") {
    const dst = fb.temp(b.global.type);
    fb.emit({ op: "global_load", dst, global: b.global, node: id });
    return dst;
  }
  if (b?.kind === "local") {
    const dst = fb.temp(b.local.type);
    fb.emit({ op: "local_get", dst, local: b.local, node: id });
    return dst;
  }
  const literal = fb.intrinsics.literalConstant(id);
  if (literal !== undefined) return untyped(literal);
  if (fb.intrinsics.resolve(id)) throw fb.fail(Codes.unsupportedReference, id, `\`${id.text}\` can only be called`);
  throw fb.fail(Codes.unsupportedReference, id, `\`${id.text}\` is not a value this program can use`, {
    hints: ["programs can use their context, their own constants and variables, and module-level `const` numbers"],
  });
}

/** `view.field` as a value: a load for a scalar field, a narrower view for a nested struct or array. */
function fieldOf(fb: FunctionBuilder, view: View, name: string, node: ts.Node): View | { field: Field; view: View } {
  if (view.shape.kind !== "struct") throw fb.fail(Codes.unsupportedReference, node, "a fixed array has no fields; index it with a constant: `a[0]`");
  const field = view.shape.layout.fields.get(name);
  if (!field) throw fb.fail(Codes.unsupportedReference, node, `\`${view.shape.layout.name}\` has no field \`${name}\``);
  if (field.type.kind === "scalar") return { field, view };
  if (field.type.kind === "struct" && field.type.layout.kptr) return kptrRead(fb, view, field, node);
  return { kind: "view", region: view.region, ptr: view.ptr, offset: view.offset + field.offset, shape: field.type, nullable: false, readOnly: view.readOnly };
}

function loadField(fb: FunctionBuilder, view: View, offset: number, type: IntType, node: ts.Node): Temp {
  const dst = fb.temp(type);
  const core = view.shape.kind === "struct" && view.shape.layout.kernel ? view.shape.layout : undefined;
  fb.emit({ op: "load", dst, ptr: view.ptr, region: view.region, offset: view.offset + offset, size: (type.bits / 8) as 1 | 2 | 4 | 8, ...(core ? { core } : {}), node });
  return dst;
}

/** Where a field or element lives: the view, its byte offset in the view, its scalar type. */
interface Place {
  readonly view: View;
  readonly offset: number;
  readonly type: IntType;
}

function place(fb: FunctionBuilder, e: ts.Expression): Place | View | undefined {
  if (ts.isPropertyAccessExpression(e)) {
    const base = lowerExpression(fb, e.expression);
    if (base.kind !== "view") return undefined;
    const f = fieldOf(fb, base, e.name.text, e.name);
    return "field" in f ? { view: f.view, offset: f.field.offset, type: (f.field.type as { type: IntType }).type } : f;
  }
  if (ts.isElementAccessExpression(e)) {
    const base = lowerExpression(fb, e.expression);
    if (base.kind !== "view") return undefined;
    if (base.shape.kind !== "array") throw fb.fail(Codes.unsupportedOperator, e, "only fixed arrays of header structs can be indexed");
    const index = lowerExpression(fb, e.argumentExpression);
    const i = index.kind === "untyped" ? index.value : index.kind === "const" ? index.value : undefined;
    if (i === undefined) {
      throw fb.fail(Codes.packetVariableOffset, e.argumentExpression, "an array index must be a constant", { hints: ["unroll with a counted loop: its counter is a constant in each copy"] });
    }
    if (i < 0n || i >= BigInt(base.shape.count)) throw fb.fail(Codes.packetBounds, e.argumentExpression, `index ${i} is outside the array (${base.shape.count} elements)`);
    const element = base.shape.element;
    const size = sizeOfField(element);
    if (element.kind === "scalar") return { view: base, offset: Number(i) * size, type: element.type };
    return { kind: "view", region: base.region, ptr: base.ptr, offset: base.offset + Number(i) * size, shape: element, nullable: false };
  }
  return undefined;
}

function elementAccess(fb: FunctionBuilder, e: ts.ElementAccessExpression): Value {
  const p = place(fb, e);
  if (!p) throw fb.fail(Codes.unsupportedOperator, e, "indexing works on fixed arrays in header structs only", { hints: ["read packet bytes with `p.load<u8>(offset)`"] });
  return "kind" in p ? p : loadField(fb, p.view, p.offset, p.type, e);
}

function propertyAccess(fb: FunctionBuilder, e: ts.PropertyAccessExpression): Value {
  const intrinsic = fb.intrinsics.resolve(e);
  if (intrinsic?.kind === "action" || intrinsic?.kind === "constant") return untyped(intrinsic.value);
  const base = lowerExpression(fb, e.expression);
  if (base.kind === "ctx") return ctxField(fb, e.name.text, e.name);
  if (base.kind === "view") {
    const f = fieldOf(fb, base, e.name.text, e.name);
    return "field" in f ? loadField(fb, f.view, f.field.offset, (f.field.type as { type: IntType }).type, e) : f;
  }
  throw fb.fail(Codes.unsupportedReference, e, `\`${e.getText()}\` is not supported here`);
}

// ------------------------------------------------------------------ calls

function call(fb: FunctionBuilder, e: ts.CallExpression): Value {
  const callee = e.expression;
  if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression)) {
    const b = fb.binding(callee.expression);
    if (b?.kind === "value" && b.value.kind === "map") return mapMethod(fb, b.value.map, callee.name.text, e, b.value.via);
  }
  if (ts.isPropertyAccessExpression(callee) && fb.intrinsics.dialectSymbol(callee.name)) {
    const method = callee.name.text;
    if (method === "header") return headerView(fb, e, callee);
    if (method === "load" || method === "store" || method === "add") {
      const base = operand(fb, lowerExpression(fb, callee.expression), callee.expression);
      if (base.kind !== "temp" || base.type.kind !== "ptr") throw fb.fail(Codes.typeMismatch, callee.expression, "only packet and metadata pointers have `load`, `store` and `add`");
      if (method === "add") return pointerAdd(fb, base, argument(fb, e, 0), e, "add");
      return memoryAccess(fb, base, e, method);
    }
  }
  if (ts.isIdentifier(callee)) {
    const sym = fb.symbolOf(callee);
    const fn = sym && fb.scope.functions.get(sym);
    if (fn) return inlineCall(fb, fn, e);
  }
  if (ts.isIdentifier(callee) && fb.intrinsics.dialectSymbol(callee)?.name === "bpfLoop") return bpfLoopCall(fb, e);
  const intrinsic = fb.intrinsics.resolve(callee);
  if (!intrinsic) {
    throw fb.fail(Codes.unsupportedCall, callee, `\`${callee.getText()}\` cannot be called from an XDP program`, {
      hints: ["programs can call the tsxdp helpers (`bpf_…`), conversions (`u32(x)`, …) and byte-order functions (`ntohs(x)`, …)"],
    });
  }
  switch (intrinsic.kind) {
    case "conversion":
      return conversion(fb, intrinsic.to, e);
    case "printk":
      return printk(fb, e);
    case "atomic":
      return atomic(fb, intrinsic.op, e);
    case "checksum":
      return checksumReplace(fb, intrinsic.bits, e);
    case "config":
      throw fb.fail(Codes.unsupportedTopLevel, e, "`config` declares a setting at the top level: `const PORT = config<u16>(53);`");
    case "tailCall":
      return tailCall(fb, e);
    case "spinLock":
      return spinLockCall(fb, intrinsic.unlock, e);
    case "strncmp":
      return strncmpCall(fb, e);
    case "snprintf":
      return snprintfCall(fb, e);
    case "snprintfBtf":
      return snprintfBtfCall(fb, e);
    case "timer":
      return timerCall(fb, intrinsic.op, e);
    case "constant":
      throw fb.fail(Codes.unsupportedCall, callee, "a constant is not a function");
    case "sizeof": {
      const typeArg = e.typeArguments?.[0];
      if (!typeArg || e.arguments.length > 0) throw fb.fail(Codes.callArguments, e, "write `sizeof<T>()` with a type argument and no arguments");
      try {
        return untyped(BigInt(fb.scope.layouts.sizeOf(typeArg)));
      } catch (err) {
        if (err instanceof LayoutError) throw fb.fail(Codes.typeMismatch, err.node, err.message);
        throw err;
      }
    }
    case "byteswap":
      return byteSwapCall(fb, intrinsic.name, e);
    case "zeroed":
      return zeroedCall(fb, e);
    case "helper":
      return helperCall(fb, intrinsic.helper, e);
    case "kptr":
      return kptrCall(fb, intrinsic.helper, e);
    case "kfunc":
      return kfuncCall(fb, intrinsic.kfunc, e);
    case "section":
      throw fb.fail(Codes.programPlacement, e, "programs are declared at the top level: `export const name = xdp((ctx) => { … })`");
    case "license":
      throw fb.fail(Codes.licenseArgument, e, "`license(…)` is a top-level statement");
    case "action":
      throw fb.fail(Codes.unsupportedCall, callee, "an action is not a function");
  }
}

/** The maps bpf_map_lookup_percpu_elem takes. */
const perCpuMaps = new Set(["PerCpuArray", "PerCpuHash", "LruPerCpuHash"]);

/** `map.lookup(k)`, `map.update(k, v, flags?)`, `map.delete(k)`: the map helpers, keys and values passed on the stack. */
function mapMethod(fb: FunctionBuilder, map: MapDecl, method: string, e: ts.CallExpression, via?: Temp): Value {
  const slotValue = (i: number, t: SlotType): Operand | StructLiteral =>
    isLayout(t) ? structLiteral(fb, e.arguments[i]!, t) : (convertTo(fb, lowerExpression(fb, e.arguments[i]!, t), t, e.arguments[i]!) as Operand);
  if (map.inner) return innerMapLookup(fb, map, map.inner, method, e, slotValue);
  if (map.className === "PerfEventArray") return perfEventMethod(fb, map, method, e, slotValue);
  if (via && method === "forEach") throw fb.fail(Codes.mapOperation, e.expression, "`forEach` walks a declared map; an inner map has `lookup`, `update` and `delete`");
  if (method === "forEach") return forEachCall(fb, map, e);
  if (map.className === "RingBuf") return ringBufMethod(fb, map, method, e, slotValue);
  if (valueMaps.has(map.className)) return valueMapMethod(fb, map, method, e, slotValue);
  // check_map_func_compatibility: a PROG_ARRAY goes only to bpf_tail_call.
  if (map.className === "ProgArray") throw fb.fail(Codes.mapOperation, e.expression, `a ProgArray is used only through \`tailCall(ctx, ${map.name}, index)\`; userspace fills it`);
  const key = (i: number) => slotValue(i, map.key);
  const redirect = redirectMaps.get(map.className);
  if (method === "redirect") {
    if (!redirect) throw fb.fail(Codes.mapOperation, e.expression, `only DevMap, DevMapHash, CpuMap and XskMap redirect; \`${map.name}\` is a ${map.className}`);
    if (e.arguments.length < 1 || e.arguments.length > 2) throw fb.fail(Codes.callArguments, e, "`redirect` takes a key and optional flags");
    const flags = e.arguments[1] ? (convertTo(fb, lowerExpression(fb, e.arguments[1], u64), u64, e.arguments[1]) as Operand) : constant(0n, u64);
    const dst = fb.temp(u32);
    fb.emit({ op: "map_redirect", dst, map, key: key(0) as Operand, flags, node: e });
    return dst;
  }
  // check_map_func_compatibility (kernel/bpf/verifier.c): a program only redirects through these
  // maps, and looks up entries in all of them but CPUMAP; userspace writes their entries.
  if (redirect && (method === "update" || method === "delete" || (method === "lookup" && !redirect.lookup))) {
    throw fb.fail(Codes.mapOperation, e.expression, `the kernel refuses \`${method}\` on a ${map.className} from a program (check_map_func_compatibility)`, {
      hints: [redirect.lookup ? `a program can \`redirect\` through a ${map.className} and \`lookup\` its entries; write entries from userspace (bpftool map update, or the loader)` : `a program can only \`redirect\` through a ${map.className}; write entries from userspace`],
    });
  }
  switch (method) {
    case "lookupOnCpu":
    case "lookup": {
      argument(fb, e, 0, method === "lookup" ? 1 : 2);
      let cpu: Operand | undefined;
      if (method === "lookupOnCpu") {
        // check_map_func_compatibility: bpf_map_lookup_percpu_elem reads per-CPU maps only.
        if (!perCpuMaps.has(map.className)) throw fb.fail(Codes.mapOperation, e.expression, `\`lookupOnCpu\` reads another CPU's value of a per-CPU map (${[...perCpuMaps].join(", ")}); \`${map.name}\` is a ${map.className}`);
        cpu = convertTo(fb, lowerExpression(fb, e.arguments[1]!, u32), u32, e.arguments[1]!) as Operand;
      }
      const dst = fb.temp(mapValuePtr);
      fb.emit({ op: "map_lookup", dst, map, key: key(0), ...(via ? { via } : {}), ...(cpu ? { cpu } : {}), node: e });
      const v = map.value;
      const layout: Layout = {
        name: `${map.name} value`,
        size: slotSize(v),
        align: isLayout(v) ? v.align : v.bits / 8,
        packed: false,
        fields: new Map([["value", { name: "value", offset: 0, size: slotSize(v), type: isLayout(v) ? { kind: "struct", layout: v } : { kind: "scalar", type: v } }]]),
      };
      return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout }, nullable: true, ...(redirect ? { readOnly: map.className } : {}) };
    }
    case "update": {
      if (e.arguments.length < 2 || e.arguments.length > 3) throw fb.fail(Codes.callArguments, e, "`update` takes a key, a value and optional flags");
      const value = slotValue(1, map.value);
      const flags = e.arguments[2] ? (convertTo(fb, lowerExpression(fb, e.arguments[2], u64), u64, e.arguments[2]) as Operand) : constant(0n, u64);
      const dst = fb.temp(i64);
      fb.emit({ op: "map_update", dst, map, key: key(0), value, flags, ...(via ? { via } : {}), node: e });
      return dst;
    }
    case "delete": {
      argument(fb, e, 0);
      const dst = fb.temp(i64);
      fb.emit({ op: "map_delete", dst, map, key: key(0), ...(via ? { via } : {}), node: e });
      return dst;
    }
    default:
      throw fb.fail(Codes.unsupportedCall, e.expression, redirect ? `a ${map.className} has \`redirect\`${redirect.lookup ? " and `lookup`" : ""}` : `maps have \`lookup\`, \`update\` and \`delete\``);
  }
}

/**
 * `outer.lookup(k)` on an ArrayOfMaps or HashOfMaps: the inner map or null
 * (bpf_map_lookup_elem gives the map itself), used as a map once tested.
 * check_map_func_compatibility lets a program only look up in a map of maps.
 */
function innerMapLookup(fb: FunctionBuilder, outer: MapDecl, inner: MapDecl, method: string, e: ts.CallExpression, slotValue: (i: number, t: SlotType) => Operand | StructLiteral): Value {
  if (method !== "lookup") {
    throw fb.fail(Codes.mapOperation, e.expression, `the kernel refuses \`${method}\` on a ${outer.className} from a program (check_map_func_compatibility): a program only looks inner maps up`, {
      hints: ["put maps in its slots from userspace (`LoadedMap.setInner`, or `tsxdp map set`)"],
    });
  }
  argument(fb, e, 0);
  const dst = fb.temp(mapValuePtr);
  fb.emit({ op: "map_lookup", dst, map: outer, key: slotValue(0, outer.key), node: e });
  return { kind: "map", map: inner, via: dst };
}

/**
 * A struct key or value written in place: `{ saddr: ip.saddr, dport: udp.dest }`
 * (TypeScript checks the fields against the interface). Nested structs are
 * nested literals; arrays are not supported here.
 */
function structLiteral(fb: FunctionBuilder, e: ts.Expression, layout: Layout, base = 0, stores: { offset: number; value: Operand }[] = []): StructLiteral {
  // A local struct, or a literal with spreads or arrays: built on the stack, then copied.
  if (base === 0 && !plainLiteral(e, layout)) return structSlot(fb, e, layout);
  const expr = ts.isParenthesizedExpression(e) ? e.expression : e;
  if (!ts.isObjectLiteralExpression(expr)) {
    throw fb.fail(Codes.mapType, e, `a \`${layout.name}\` key or value is written as an object literal here`, { hints: [`e.g. \`{ ${[...layout.fields.keys()].join(", ")} }\``] });
  }
  for (const prop of expr.properties) {
    const name = ts.isPropertyAssignment(prop) || ts.isShorthandPropertyAssignment(prop) ? (ts.isIdentifier(prop.name) ? prop.name.text : undefined) : undefined;
    const field = name !== undefined ? layout.fields.get(name) : undefined;
    if (!field) throw fb.fail(Codes.mapType, prop, `\`${layout.name}\` has no such field`);
    const valueExpr = ts.isPropertyAssignment(prop) ? prop.initializer : (prop as ts.ShorthandPropertyAssignment).name;
    if (field.type.kind === "struct") {
      structLiteral(fb, valueExpr, field.type.layout, base + field.offset, stores);
    } else if (field.type.kind === "scalar") {
      stores.push({ offset: base + field.offset, value: convertTo(fb, lowerExpression(fb, valueExpr, field.type.type), field.type.type, valueExpr) as Operand });
    } else {
      throw fb.fail(Codes.mapType, prop, "array fields of map keys and values cannot be written in a literal yet");
    }
  }
  return { kind: "struct", layout, stores };
}

/** A write to a redirect map's entry: the kernel maps it read-only (BPF_F_RDONLY_PROG, or a socket's fields). */
function readOnlyValue(fb: FunctionBuilder, node: ts.Node, className: string) {
  return fb.fail(Codes.mapOperation, node, `a ${className} entry is read-only in a program; the kernel refuses writes to it`, {
    hints: [className === "bpf_dynptr_slice" ? "take the slice with `bpf_dynptr_slice_rdwr` to write through it" : "write the entry from userspace (bpftool map update, or the loader)"],
  });
}

/**
 * `atomicAdd(ref, v)` and its siblings on a map value. Only a plain add
 * exists before BPF ISA v3 (the old XADD); and, or, xor, exchange and
 * compare-exchange with the old value back came with v3 (kernel 5.12).
 */
function atomic(fb: FunctionBuilder, kind: "add" | "and" | "or" | "xor" | "xchg" | "cmpxchg", e: ts.CallExpression): Value {
  const name = e.expression.getText();
  const refExpr = argument(fb, e, 0, kind === "cmpxchg" ? 3 : 2);
  const ref = lowerExpression(fb, refExpr);
  if (ref.kind !== "view" || ref.region !== "map" || ref.shape.kind !== "struct") {
    throw fb.fail(Codes.typeMismatch, refExpr, `${name} works on a map value (the result of \`lookup\`, tested)`);
  }
  if (ref.readOnly) throw readOnlyValue(fb, refExpr, ref.readOnly);
  const field = ref.shape.layout.fields.get("value")!;
  const type = (field.type as { type: IntType }).type;
  if (type.signed || type.be || type.bits < 32) throw fb.fail(Codes.typeMismatch, refExpr, "atomic operations work on u32 and u64 values");
  if (kind !== "add" && fb.scope.options.cpu < 3) {
    throw fb.fail(Codes.signedDivision, e, `${name} needs BPF ISA v3 (\`--mcpu v3\`, the default); v1 and v2 only have atomicAdd`);
  }
  const arg = (i: number) => convertTo(fb, lowerExpression(fb, e.arguments[i]!, type), type, e.arguments[i]!) as Operand;
  const expected = kind === "cmpxchg" ? arg(1) : undefined;
  const value = arg(kind === "cmpxchg" ? 2 : 1);
  const fetches = kind === "xchg" || kind === "cmpxchg";
  const dst = fetches ? fb.temp(type) : undefined;
  fb.emit({ op: "atomic", kind, dst, ptr: ref.ptr, offset: ref.offset + field.offset, value, expected, node: e });
  return dst ?? { kind: "const", value: 0n, type: bool };
}

/** `p.header<T>(offset)`: no code yet; the null test emits the bounds check, fields emit loads. */
function headerView(fb: FunctionBuilder, e: ts.CallExpression, callee: ts.PropertyAccessExpression): Value {
  const base = operand(fb, lowerExpression(fb, callee.expression), callee.expression);
  if (base.kind !== "temp" || base.type.kind !== "ptr" || base.type.region !== "packet") {
    throw fb.fail(Codes.typeMismatch, callee.expression, "headers are read from packet pointers (`data`, or a pointer moved from it)");
  }
  const typeArg = e.typeArguments?.[0];
  if (!typeArg) throw fb.fail(Codes.loadType, e.expression, "a header view needs its struct as an explicit type argument", { hints: ["e.g. `data.header<EthHdr>(0)`"] });
  let layout;
  try {
    layout = fb.scope.layouts.ofTypeNode(typeArg);
  } catch (err) {
    if (err instanceof LayoutError) throw fb.fail(Codes.typeMismatch, err.node, err.message);
    throw err;
  }
  const offArg = argument(fb, e, 0);
  const off = lowerExpression(fb, offArg);
  const offset = off.kind === "untyped" || off.kind === "const" ? off.value : undefined;
  if (offset === undefined || offset < 0n || offset > 0xffffn) {
    throw fb.fail(Codes.packetVariableOffset, offArg, "the offset of a header must be a constant (0 to 65535)", { hints: ["move the pointer instead: `p.add(n).header<T>(0)`"] });
  }
  return { kind: "view", region: "packet", ptr: base, offset: Number(offset), shape: { kind: "struct", layout }, nullable: true };
}

export function argument(fb: FunctionBuilder, e: ts.CallExpression, i: number, count = 1): ts.Expression {
  if (e.arguments.length !== count) {
    throw fb.fail(Codes.callArguments, e, `\`${e.expression.getText()}\` takes ${count} argument${count === 1 ? "" : "s"}`);
  }
  return e.arguments[i]!;
}

/** `p.load<T>(off)` and `p.store<T>(off, v)`: a constant offset and an explicit scalar type. */
function memoryAccess(fb: FunctionBuilder, ptr: Temp, e: ts.CallExpression, method: "load" | "store"): Value {
  const typeArg = e.typeArguments?.[0];
  const t = typeArg && fb.intrinsics.intType(typeArg);
  if (!t) {
    throw fb.fail(Codes.loadType, typeArg ?? e.expression, `a packet ${method} needs its type as an explicit type argument`, {
      hints: [method === "load" ? "e.g. `data.load<be16>(12)` or `data.load<u8>(23)`" : "e.g. `data.store<u8>(22, ttl)`"],
    });
  }
  const offArg = argument(fb, e, 0, method === "load" ? 1 : 2);
  const off = lowerExpression(fb, offArg);
  const offset = off.kind === "untyped" ? off.value : off.kind === "const" && off.type.kind === "int" ? (off.type.signed ? BigInt.asIntN(off.type.bits, off.value) : off.value) : undefined;
  if (offset === undefined) {
    throw fb.fail(Codes.packetVariableOffset, offArg, `the offset of a ${method} must be a constant`, {
      hints: ["move the pointer instead: `p.add(n).load<u8>(0)` is checked like any other pointer"],
    });
  }
  if (offset > 0xffffn || offset < -0xffffn) throw fb.fail(Codes.packetOffsetLimit, offArg, `offset ${offset} is beyond the largest packet offset the verifier tracks (65535)`);
  const region = (ptr.type as { region: "packet" | "meta" }).region;
  const size = (t.bits / 8) as 1 | 2 | 4 | 8;
  if (method === "store") {
    const valueArg = e.arguments[1]!;
    const value = convertTo(fb, lowerExpression(fb, valueArg, t), t, valueArg) as Operand;
    fb.emit({ op: "store", ptr, region, offset: Number(offset), size, value, node: e });
    return { kind: "const", value: 0n, type: bool };
  }
  const dst = fb.temp(t);
  fb.emit({ op: "load", dst, ptr, region, offset: Number(offset), size, node: e });
  return dst;
}

function pointerAdd(fb: FunctionBuilder, base: Temp, offsetExpr: ts.Expression, node: ts.Node, kind: "add" | "sub"): Value {
  const off = lowerExpression(fb, offsetExpr);
  if (off.kind === "untyped") {
    const v = kind === "add" ? off.value : -off.value;
    if (v > 0xffffn || v < -0xffffn) throw fb.fail(Codes.packetOffsetLimit, offsetExpr, `offset ${v} is beyond the largest packet offset the verifier tracks (65535)`);
    const dst = fb.temp(base.type);
    fb.emit({ op: "ptr_add", dst, base, offset: constant(v, i64), node });
    return dst;
  }
  const o = operand(fb, off, offsetExpr);
  if (!isInt(o.type) || o.type.be) throw fb.fail(Codes.pointerArithmetic, offsetExpr, `a pointer moves by a host-order integer, not by \`${typeName(o.type)}\``);
  // The verifier refuses packet pointers moved by a value that may be negative
  // (check_packet_access: "min value is negative"), so variable moves are unsigned and forward.
  if (o.type.signed) {
    throw fb.fail(Codes.pointerArithmetic, offsetExpr, `a packet pointer moves by an unsigned amount; \`${typeName(o.type)}\` may be negative`, {
      hints: [`convert it, e.g. \`u${o.type.bits}(…)\`, once you know it is not negative`],
    });
  }
  if (kind === "sub") {
    throw fb.fail(Codes.pointerArithmetic, node, "a packet pointer can move back only by a constant", { hints: ["move forward from an earlier pointer instead"] });
  }
  const wide = widen(fb, o, u64, offsetExpr);
  const dst = fb.temp(base.type);
  fb.emit({ op: "ptr_add", dst, base, offset: wide, node });
  return dst;
}

// -------------------------------------------------------------- operators

const arithmeticOps = new Map<ts.SyntaxKind, BinaryKind | "shr" | "div" | "rem">([
  [ts.SyntaxKind.PlusToken, "add"],
  [ts.SyntaxKind.MinusToken, "sub"],
  [ts.SyntaxKind.AsteriskToken, "mul"],
  [ts.SyntaxKind.SlashToken, "div"],
  [ts.SyntaxKind.PercentToken, "rem"],
  [ts.SyntaxKind.AmpersandToken, "and"],
  [ts.SyntaxKind.BarToken, "or"],
  [ts.SyntaxKind.CaretToken, "xor"],
  [ts.SyntaxKind.LessThanLessThanToken, "shl"],
  [ts.SyntaxKind.GreaterThanGreaterThanToken, "shr"],
  [ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken, "lshr"],
]);

/** `x op= y` as `x = x op y`: the operator of each compound assignment. */
export const compoundOps = new Map<ts.SyntaxKind, ts.SyntaxKind>([
  [ts.SyntaxKind.PlusEqualsToken, ts.SyntaxKind.PlusToken],
  [ts.SyntaxKind.MinusEqualsToken, ts.SyntaxKind.MinusToken],
  [ts.SyntaxKind.AsteriskEqualsToken, ts.SyntaxKind.AsteriskToken],
  [ts.SyntaxKind.SlashEqualsToken, ts.SyntaxKind.SlashToken],
  [ts.SyntaxKind.PercentEqualsToken, ts.SyntaxKind.PercentToken],
  [ts.SyntaxKind.AmpersandEqualsToken, ts.SyntaxKind.AmpersandToken],
  [ts.SyntaxKind.BarEqualsToken, ts.SyntaxKind.BarToken],
  [ts.SyntaxKind.CaretEqualsToken, ts.SyntaxKind.CaretToken],
  [ts.SyntaxKind.LessThanLessThanEqualsToken, ts.SyntaxKind.LessThanLessThanToken],
  [ts.SyntaxKind.GreaterThanGreaterThanEqualsToken, ts.SyntaxKind.GreaterThanGreaterThanToken],
  [ts.SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken, ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken],
]);

const comparisonOps = new Map<ts.SyntaxKind, "eq" | "ne" | "lt" | "le" | "gt" | "ge">([
  [ts.SyntaxKind.EqualsEqualsEqualsToken, "eq"],
  [ts.SyntaxKind.EqualsEqualsToken, "eq"],
  [ts.SyntaxKind.ExclamationEqualsEqualsToken, "ne"],
  [ts.SyntaxKind.ExclamationEqualsToken, "ne"],
  [ts.SyntaxKind.LessThanToken, "lt"],
  [ts.SyntaxKind.LessThanEqualsToken, "le"],
  [ts.SyntaxKind.GreaterThanToken, "gt"],
  [ts.SyntaxKind.GreaterThanEqualsToken, "ge"],
]);

function binary(fb: FunctionBuilder, e: ts.BinaryExpression, expected?: ValueType): Value {
  const op = e.operatorToken.kind;
  if (op === ts.SyntaxKind.EqualsToken) return assign(fb, e.left, () => lowerExpression(fb, e.right, assignedType(fb, e.left)), e);
  const compound = compoundOps.get(op);
  if (compound !== undefined) {
    return assign(fb, e.left, () => arithmetic(fb, arithmeticOps.get(compound)!, lowerExpression(fb, e.left), e.left, lowerExpression(fb, e.right), e.right, e), e);
  }
  const arith = arithmeticOps.get(op);
  if (arith) {
    const left = lowerExpression(fb, e.left, expected);
    if (left.kind === "temp" && left.type.kind === "ptr" && (arith === "add" || arith === "sub")) return pointerAdd(fb, left, e.right, e, arith);
    const right = lowerExpression(fb, e.right, expected);
    if (right.kind === "temp" && right.type.kind === "ptr" && arith === "add") return pointerAdd(fb, right, e.left, e, "add");
    return arithmetic(fb, arith, left, e.left, right, e.right, e);
  }
  if (comparisonOps.has(op) || op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
    const cmp = comparisonOps.has(op) ? compareDirect(fb, e) : undefined;
    if (cmp) return cmp;
    return materializeCondition(fb, e);
  }
  throw fb.fail(Codes.unsupportedOperator, e.operatorToken, `operator \`${e.operatorToken.getText()}\` is not supported`);
}

function assignedType(fb: FunctionBuilder, target: ts.Expression): ValueType | undefined {
  if (ts.isPropertyAccessExpression(target) || ts.isElementAccessExpression(target)) {
    // Typing only: the store itself re-evaluates the place (reading a view emits no code).
    const b = ts.isIdentifier(target.expression) ? fb.binding(target.expression) : undefined;
    if (b?.kind === "value" && b.value.kind === "view" && ts.isPropertyAccessExpression(target) && b.value.shape.kind === "struct") {
      const f = b.value.shape.layout.fields.get(target.name.text);
      return f?.type.kind === "scalar" ? f.type.type : undefined;
    }
    return undefined;
  }
  if (!ts.isIdentifier(target)) return undefined;
  const b = fb.binding(target);
  return b?.kind === "local" ? b.local.type : undefined;
}

/** Stores into a `let` variable; the expression's value is the stored value. */
function assign(fb: FunctionBuilder, target: ts.Expression, value: () => Value, node: ts.Node): Value {
  const t = ts.isParenthesizedExpression(target) ? target.expression : target;
  if (ts.isPropertyAccessExpression(t) || ts.isElementAccessExpression(t)) {
    const p = place(fb, t);
    if (p && !("kind" in p)) {
      // A kernel struct's field through CO-RE: read-only but for the one the verifier lets a program write.
      const core = p.view.shape.kind === "struct" && p.view.shape.layout.kernel ? p.view.shape.layout : undefined;
      if (p.view.readOnly && !(core && kernelFieldWritable(core.kernel!, p.view.offset + p.offset))) throw readOnlyValue(fb, t, p.view.readOnly);
      const v = convertTo(fb, value(), p.type, node) as Operand;
      fb.emit({ op: "store", ptr: p.view.ptr, region: p.view.region, offset: p.view.offset + p.offset, size: (p.type.bits / 8) as 1 | 2 | 4 | 8, value: v, ...(core ? { core } : {}), node });
      return v;
    }
    if (p) throw fb.fail(Codes.unsupportedSyntax, t, "a whole struct or array cannot be assigned; assign its fields");
  }
  if (!ts.isIdentifier(t)) {
    if (ts.isPropertyAccessExpression(t)) throw fb.fail(Codes.contextUse, t, "the XDP context is read-only");
    throw fb.fail(Codes.unsupportedSyntax, t, "only `let` variables can be assigned");
  }
  const b = fb.binding(t);
  if (b?.kind === "global") {
    if (b.global.section === ".rodata") {
      throw fb.fail(Codes.assignConst, t, `\`${t.text}\` is a setting, read-only in the program`, { hints: ["the loader sets it before load; use a module-level `let` for state"] });
    }
    const v = convertTo(fb, value(), b.global.type, node) as Operand;
    fb.emit({ op: "global_store", global: b.global, value: v, node });
    return v;
  }
  if (b?.kind === "value" && b.value.kind === "view" && b.value.region === "stack") {
    throw fb.fail(Codes.assignConst, t, `\`${t.text}\` is a local struct: its fields change, the name never does`, { hints: ["assign its fields, or declare a new one: `const next: T = { ...old, field: v }`"] });
  }
  if (!b || b.kind !== "local") throw fb.fail(Codes.assignConst, t, `\`${t.text}\` cannot be assigned`, { hints: ["declare it with `let` and a type"] });
  const v = convertTo(fb, value(), b.local.type, node) as Operand;
  fb.emit({ op: "local_set", local: b.local, value: v, node });
  return v;
}

function increment(fb: FunctionBuilder, e: ts.PrefixUnaryExpression | ts.PostfixUnaryExpression, kind: "add" | "sub", wantOld: boolean): Value {
  let old: Value | undefined;
  const stored = assign(
    fb,
    e.operand,
    () => {
      old = lowerExpression(fb, e.operand);
      return arithmetic(fb, kind, old, e.operand, untyped(1n), e, e);
    },
    e,
  );
  return wantOld && old ? old : stored;
}

function prefixUnary(fb: FunctionBuilder, e: ts.PrefixUnaryExpression, expected?: ValueType): Value {
  switch (e.operator) {
    case ts.SyntaxKind.PlusPlusToken:
      return increment(fb, e, "add", false);
    case ts.SyntaxKind.MinusMinusToken:
      return increment(fb, e, "sub", false);
    case ts.SyntaxKind.ExclamationToken:
      return materializeCondition(fb, e);
    case ts.SyntaxKind.MinusToken: {
      const v = lowerExpression(fb, e.operand, expected);
      if (v.kind === "untyped") return untyped(-v.value);
      return arithmetic(fb, "sub", zeroLike(fb, v, e), e, v, e.operand, e);
    }
    case ts.SyntaxKind.TildeToken: {
      const v = lowerExpression(fb, e.operand, expected);
      if (v.kind === "untyped") return untyped(~v.value);
      const o = operand(fb, v, e.operand);
      if (!isInt(o.type)) throw fb.fail(Codes.operatorType, e, `\`~\` does not apply to \`${typeName(o.type)}\``);
      return arithmetic(fb, "xor", o, e.operand, constant(-1n, o.type), e, e);
    }
    default:
      throw fb.fail(Codes.unsupportedOperator, e, `unary \`${ts.tokenToString(e.operator)}\` is not supported`);
  }
}

function zeroLike(fb: FunctionBuilder, v: Value, node: ts.Node): Value {
  const o = operand(fb, v, node);
  if (!isInt(o.type)) throw fb.fail(Codes.operatorType, node, `\`-\` does not apply to \`${typeName(o.type)}\``);
  return constant(0n, o.type);
}

/**
 * An integer operation with the dialect's typing rules; folds when both
 * sides are constants. `op` "div"/"rem"/"shr" pick their signed or unsigned
 * form from the operand type.
 */
function arithmetic(fb: FunctionBuilder, op: BinaryKind | "shr" | "div" | "rem", left: Value, leftNode: ts.Node, right: Value, rightNode: ts.Node, node: ts.Node): Value {
  const isShift = op === "shl" || op === "shr" || op === "lshr";
  if (left.kind === "untyped" && right.kind === "untyped") {
    if ((op === "div" || op === "rem") && right.value === 0n) throw fb.fail(Codes.divisionByZero, rightNode, "division by zero");
    if (isShift && (right.value < 0n || right.value > 1024n)) throw fb.fail(Codes.shiftRange, rightNode, `cannot shift by ${right.value}`);
    const kind = op === "div" ? "sdiv" : op === "rem" ? "srem" : op;
    return untyped(foldUntyped(kind, left.value, right.value)!);
  }
  for (const [v, n] of [
    [left, leftNode],
    [right, rightNode],
  ] as const) {
    if (v.kind === "ctx") throw fb.fail(Codes.contextUse, n, "the context is not a number");
    if (v.kind === "view" || v.kind === "map") throw notANumber(fb, n);
    if (v.kind !== "untyped" && !isInt(v.type)) throw fb.fail(Codes.operatorType, n, `arithmetic does not apply to \`${typeName(v.type)}\``);
  }
  let type: IntType;
  let a: Operand;
  let b: Operand;
  if (isShift) {
    // A shift has the type of its left side; the amount is any integer.
    if (left.kind === "untyped") {
      const rt = (right as Operand).type as IntType;
      type = rt.be ? u64 : rt;
      a = fitOrFail(fb, left.value, type, leftNode);
    } else {
      a = left as Operand;
      type = a.type as IntType;
    }
    if (type.be) throw fb.fail(Codes.byteOrderMix, leftNode, `shifting a network-order \`${typeName(type)}\` reorders nothing useful`, { hints: [`convert with \`${toHost(type)}(…)\` first`] });
    if (right.kind === "untyped" || right.kind === "const") {
      const amount = right.kind === "untyped" ? right.value : (right as Const).value;
      if (amount < 0n || amount >= BigInt(type.bits)) throw fb.fail(Codes.shiftRange, rightNode, `shift by ${amount} is out of range for \`${typeName(type)}\` (0 to ${type.bits - 1})`);
      b = constant(amount, type);
    } else {
      // Out-of-range shifts are undefined in LLVM; masking gives the defined, wrapping behaviour.
      const amount = castTo(fb, right as Operand, type, rightNode);
      b = arith(fb, "and", amount, constant(BigInt(type.bits - 1), type), rightNode);
    }
  } else {
    if (left.kind === "untyped") {
      type = (right as Operand).type as IntType;
      a = fitOrFail(fb, left.value, type, leftNode);
      b = right as Operand;
    } else if (right.kind === "untyped") {
      type = (left as Operand).type as IntType;
      a = left as Operand;
      b = fitOrFail(fb, right.value, type, rightNode);
    } else {
      const common = commonType((left as Operand).type as IntType, (right as Operand).type as IntType);
      if ("code" in common) throw fb.refuse(common, node);
      type = common;
      a = castTo(fb, left as Operand, type, leftNode);
      b = castTo(fb, right as Operand, type, rightNode);
    }
    if (type.be && op !== "and" && op !== "or" && op !== "xor") {
      throw fb.fail(Codes.byteOrderMix, node, `arithmetic on network-order \`${typeName(type)}\` gives wrong results`, { hints: [`convert with \`${toHost(type)}(…)\` first`] });
    }
  }
  let kind: BinaryKind;
  if (op === "div" || op === "rem") {
    if (b.kind === "const" && b.value === 0n) throw fb.fail(Codes.divisionByZero, rightNode, "division by zero");
    if (type.signed && fb.scope.options.cpu < 4) {
      throw fb.fail(Codes.signedDivision, node, `signed ${op === "div" ? "division" : "remainder"} needs BPF ISA v4 (\`--mcpu v4\`)`, {
        hints: [`convert to unsigned first, e.g. \`u${type.bits}(a) ${op === "div" ? "/" : "%"} u${type.bits}(b)\``],
      });
    }
    kind = op === "div" ? (type.signed ? "sdiv" : "udiv") : type.signed ? "srem" : "urem";
  } else if (op === "shr") {
    kind = type.signed ? "ashr" : "lshr";
  } else {
    kind = op;
  }
  return arith(fb, kind, a, b, node);
}

function fitOrFail(fb: FunctionBuilder, value: bigint, t: IntType, node: ts.Node): Const {
  const c = fitConstant(value, t);
  if ("code" in c) throw fb.refuse(c, node);
  return c as Const;
}

/** Emits (or folds) one typed operation whose operands already have the result type. */
function arith(fb: FunctionBuilder, kind: BinaryKind, a: Operand, b: Operand, node: ts.Node): Operand {
  const type = a.type as IntType;
  if (a.kind === "const" && b.kind === "const") return constant(foldBinary(kind, a.value, b.value, type), type);
  const dst = fb.temp(type);
  fb.emit({ op: "binary", dst, kind, a, b, node });
  return dst;
}

/** A comparison as a value, or undefined when it is `&&`/`||`-shaped. */
function compareDirect(fb: FunctionBuilder, e: ts.BinaryExpression): Operand | undefined {
  const rel = comparisonOps.get(e.operatorToken.kind)!;
  const left = lowerExpression(fb, e.left);
  const right = lowerExpression(fb, e.right);
  return compare(fb, rel, left, e.left, right, e.right, e);
}

/** A comparison of two lowered values, with the dialect's typing rules (for `switch` and loops). */
export function compareValues(fb: FunctionBuilder, rel: "eq" | "ne" | "lt" | "le" | "gt" | "ge", left: Value, leftNode: ts.Node, right: Value, rightNode: ts.Node, node: ts.Node): Operand {
  return compare(fb, rel, left, leftNode, right, rightNode, node);
}

export function relationOf(kind: ts.SyntaxKind): "eq" | "ne" | "lt" | "le" | "gt" | "ge" | undefined {
  return comparisonOps.get(kind);
}

/** An arithmetic operation on two lowered values, with the dialect's typing rules and folding. */
export function arithmeticValues(fb: FunctionBuilder, kind: ts.SyntaxKind, left: Value, right: Value, node: ts.Node): Value {
  const op = arithmeticOps.get(kind);
  if (!op) throw fb.fail(Codes.unsupportedOperator, node, "this operator cannot update a loop counter");
  return arithmetic(fb, op, left, node, right, node, node);
}

function compare(fb: FunctionBuilder, rel: "eq" | "ne" | "lt" | "le" | "gt" | "ge", left: Value, leftNode: ts.Node, right: Value, rightNode: ts.Node, node: ts.Node): Operand {
  if (left.kind === "ctx" || right.kind === "ctx") throw fb.fail(Codes.contextUse, left.kind === "ctx" ? leftNode : rightNode, "the context cannot be compared");
  if (left.kind === "view" || right.kind === "view" || left.kind === "map" || right.kind === "map") {
    throw fb.fail(Codes.unsupportedOperator, node, "header views are not compared; test one with `if (!view)` (the bounds check) or compare its fields");
  }
  if (left.kind === "untyped" && right.kind === "untyped") return boolConst(foldCompare(signedPred(rel), left.value, right.value, undefined));
  const lt = left.kind === "untyped" ? undefined : left.type;
  const rt = right.kind === "untyped" ? undefined : right.type;
  const pointerish = (t: ValueType | undefined) => t?.kind === "ptr" || t?.kind === "pkt_end";
  if (pointerish(lt) || pointerish(rt)) {
    if (!lt || !rt || !pointerish(lt) || !pointerish(rt)) {
      throw fb.fail(Codes.pointerCompare, node, "a pointer can only be compared with another pointer", { hints: ["e.g. `if (data + 14 > data_end) return XdpAction.DROP;`"] });
    }
    if (lt.kind === "pkt_end" && rt.kind === "pkt_end") throw fb.fail(Codes.pointerCompare, node, "comparing data_end with itself proves nothing");
    const dst = fb.temp(bool);
    fb.emit({ op: "cmp", dst, pred: unsignedPred(rel), a: left as Operand, b: right as Operand, node });
    return dst;
  }
  if (lt?.kind === "bool" || rt?.kind === "bool") {
    if (lt?.kind !== rt?.kind || (rel !== "eq" && rel !== "ne")) throw fb.fail(Codes.operatorType, node, "booleans can only be compared with `===`/`!==` to booleans");
    return emitCompare(fb, rel === "eq" ? "eq" : "ne", left as Operand, right as Operand, node);
  }
  let type: IntType;
  let a: Operand;
  let b: Operand;
  if (left.kind === "untyped") {
    type = rt as IntType;
    a = fitOrFail(fb, left.value, type, leftNode);
    b = right as Operand;
  } else if (right.kind === "untyped") {
    type = lt as IntType;
    a = left;
    b = fitOrFail(fb, right.value, type, rightNode);
  } else {
    const common = commonType(lt as IntType, rt as IntType);
    if ("code" in common) throw fb.refuse(common, node);
    type = common;
    a = castTo(fb, left, type, leftNode);
    b = castTo(fb, right, type, rightNode);
  }
  if (type.be && rel !== "eq" && rel !== "ne") {
    throw fb.fail(Codes.byteOrderMix, node, `ordering network-order \`${typeName(type)}\` values compares the wrong bytes first`, { hints: [`convert both sides with \`${toHost(type)}(…)\``] });
  }
  return emitCompare(fb, type.signed ? signedPred(rel) : unsignedPred(rel), a, b, node);
}

function emitCompare(fb: FunctionBuilder, pred: Predicate, a: Operand, b: Operand, node: ts.Node): Operand {
  if (a.kind === "const" && b.kind === "const") return boolConst(foldCompare(pred, a.value, b.value, a.type.kind === "int" ? a.type : undefined));
  const dst = fb.temp(bool);
  fb.emit({ op: "cmp", dst, pred, a, b, node });
  return dst;
}

function unsignedPred(rel: "eq" | "ne" | "lt" | "le" | "gt" | "ge"): Predicate {
  return ({ eq: "eq", ne: "ne", lt: "ult", le: "ule", gt: "ugt", ge: "uge" } as const)[rel];
}

function signedPred(rel: "eq" | "ne" | "lt" | "le" | "gt" | "ge"): Predicate {
  return ({ eq: "eq", ne: "ne", lt: "slt", le: "sle", gt: "sgt", ge: "sge" } as const)[rel];
}

// ------------------------------------------------------- control as value

/** `a && b`, `!c`, … used as a value: branches into a hidden boolean variable. */
function materializeCondition(fb: FunctionBuilder, e: ts.Expression): Value {
  const t = fb.newBlock();
  const f = fb.newBlock();
  const join = fb.newBlock();
  const result = fb.local("cond", bool, e);
  lowerCondition(fb, e, t, f);
  fb.current = t;
  fb.emit({ op: "local_set", local: result, value: boolConst(true), node: e });
  fb.jump(join, e);
  fb.current = f;
  fb.emit({ op: "local_set", local: result, value: boolConst(false), node: e });
  fb.jump(join, e);
  fb.current = join;
  const dst = fb.temp(bool);
  fb.emit({ op: "local_get", dst, local: result, node: e });
  return dst;
}

function conditional(fb: FunctionBuilder, e: ts.ConditionalExpression, expected?: ValueType): Value {
  const t = fb.newBlock();
  const f = fb.newBlock();
  const join = fb.newBlock();
  lowerCondition(fb, e.condition, t, f);
  // Both arms are lowered before the result's type is known; each stores into it.
  fb.current = t;
  const a = lowerExpression(fb, e.whenTrue, expected);
  const tEnd = fb.current;
  fb.current = f;
  const b = lowerExpression(fb, e.whenFalse, expected);
  const fEnd = fb.current;
  let type: ValueType | undefined = expected;
  if (!type) {
    if (a.kind === "untyped" && b.kind === "untyped") {
      throw fb.fail(Codes.untypedNumber, e, "the type of this choice between two numbers is unknown", { hints: ["give the variable a type, e.g. `const x: u32 = c ? 1 : 2`"] });
    }
    if (a.kind === "ctx" || b.kind === "ctx") throw fb.fail(Codes.contextUse, e, "the context cannot be chosen conditionally");
    if (a.kind === "view" || b.kind === "view" || a.kind === "map" || b.kind === "map") throw notANumber(fb, e);
    const at = a.kind === "untyped" ? undefined : a.type;
    const bt = b.kind === "untyped" ? undefined : b.type;
    if (at && bt && isInt(at) && isInt(bt)) {
      const common = commonType(at, bt);
      if ("code" in common) throw fb.refuse(common, e);
      type = common;
    } else {
      type = at ?? bt!;
    }
  }
  const result = fb.local("choice", type, e);
  fb.current = tEnd;
  fb.emit({ op: "local_set", local: result, value: convertTo(fb, a, type, e.whenTrue) as Operand, node: e.whenTrue });
  fb.jump(join, e);
  fb.current = fEnd;
  fb.emit({ op: "local_set", local: result, value: convertTo(fb, b, type, e.whenFalse) as Operand, node: e.whenFalse });
  fb.jump(join, e);
  fb.current = join;
  const dst = fb.temp(type);
  fb.emit({ op: "local_get", dst, local: result, node: e });
  return dst;
}

/** Lowers `e` as a branch: to `t` when true, to `f` when false. */
export function lowerCondition(fb: FunctionBuilder, e: ts.Expression, t: Block, f: Block): void {
  if (ts.isParenthesizedExpression(e)) return lowerCondition(fb, e.expression, t, f);
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.ExclamationToken) return lowerCondition(fb, e.operand, f, t);
  if (ts.isBinaryExpression(e)) {
    const op = e.operatorToken.kind;
    if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
      const mid = fb.newBlock();
      if (op === ts.SyntaxKind.AmpersandAmpersandToken) lowerCondition(fb, e.left, mid, f);
      else lowerCondition(fb, e.left, t, mid);
      fb.current = mid;
      return lowerCondition(fb, e.right, t, f);
    }
  }
  const v = lowerExpression(fb, e);
  const cond = truth(fb, v, e);
  if (cond.kind === "const") return fb.jump(cond.value !== 0n ? t : f, e);
  fb.terminate({ op: "cond_br", cond, then: t, else: f, node: e });
}

/** A value as a boolean: integers test against zero; pointers are refused (always true). */
function truth(fb: FunctionBuilder, v: Value, node: ts.Node): Operand {
  if (v.kind === "untyped") return boolConst(v.value !== 0n);
  if (v.kind === "map" && v.via) {
    // An inner map from a map of maps: null when the slot is empty, tested like a map value.
    const dst = fb.temp(bool);
    fb.emit({ op: "cmp", dst, pred: "ne", a: v.via, b: constant(0n, u64), node });
    return dst;
  }
  if (v.kind === "map") throw fb.fail(Codes.typeMismatch, node, "a map is always there; look a value up and test that");
  if (v.kind === "view") {
    if (!v.nullable) return boolConst(true);
    if (v.present) return v.present;
    if (v.region === "map") {
      // The verifier's null test of a lookup's result: the pointer itself against 0.
      const dst = fb.temp(bool);
      fb.emit({ op: "cmp", dst, pred: "ne", a: v.ptr, b: constant(0n, u64), node });
      return dst;
    }
    // Present when its last byte is within the packet: `ptr + offset + size <= data_end`, the verifier's check.
    const end = ctxField(fb, "data_end", node);
    const last = fb.temp(v.ptr.type);
    fb.emit({ op: "ptr_add", dst: last, base: v.ptr, offset: constant(BigInt(v.offset + sizeOfField(v.shape)), i64), node });
    const dst = fb.temp(bool);
    fb.emit({ op: "cmp", dst, pred: "ule", a: last, b: end, node });
    return dst;
  }
  if (v.kind === "ctx") throw fb.fail(Codes.contextUse, node, "the context is always present; test one of its fields");
  if (v.type.kind === "bool") return v;
  if (isInt(v.type)) return emitCompare(fb, "ne", v, constant(0n, v.type), node);
  throw fb.fail(Codes.pointerCompare, node, `a \`${typeName(v.type)}\` is never null; compare it with data_end instead`, {
    hints: ["e.g. `if (data + 14 > data_end) return XdpAction.DROP;`"],
  });
}

// ------------------------------------------------------------ conversions

function notANumber(fb: FunctionBuilder, node: ts.Node): Error {
  return fb.fail(Codes.typeMismatch, node, "a header view, map value or map is not a number; read its fields (`eth.proto`, `ref.value`)");
}

export function operand(fb: FunctionBuilder, v: Value, node: ts.Node): Operand {
  if (v.kind === "view" || v.kind === "map") throw notANumber(fb, node);
  if (v.kind === "ctx") throw fb.fail(Codes.contextUse, node, "the context can only be read from (`ctx.data`, …) or passed to helpers");
  if (v.kind === "untyped") throw fb.fail(Codes.untypedNumber, node, "this number needs a type here", { hints: ["convert it, e.g. `u32(…)`"] });
  return v;
}

/** Implicit conversion at an assignment, argument or return. */
export function convertTo(fb: FunctionBuilder, v: Value, to: ValueType, node: ts.Node): Value {
  if (v.kind === "untyped") {
    if (to.kind !== "int") throw fb.fail(Codes.typeMismatch, node, `a number is not a \`${typeName(to)}\``);
    return fitOrFail(fb, v.value, to, node);
  }
  if (v.kind === "ctx") throw fb.fail(Codes.contextUse, node, "the context can only be read from (`ctx.data`, …) or passed to helpers");
  if (v.kind === "view" || v.kind === "map") throw notANumber(fb, node);
  const refusal = implicitlyConvertible(v.type, to);
  if (refusal) throw fb.refuse(refusal, node);
  return isInt(to) ? castTo(fb, v, to, node) : v;
}

/** Width change with the source's signedness deciding the extension; constants fold. */
export function castTo(fb: FunctionBuilder, v: Operand, to: IntType, node: ts.Node): Operand {
  if (v.type.kind === "int" && v.type.bits === to.bits && v.type.signed === to.signed && v.type.be === to.be) return v;
  if (v.kind === "const") {
    const src = v.type.kind === "int" && v.type.signed ? BigInt.asIntN(v.type.bits, v.value) : v.value;
    return constant(src, to);
  }
  if (v.type.kind === "int" && v.type.bits === to.bits) return { ...v, type: to } as Operand; // same bits: a relabel
  const dst = fb.temp(to);
  fb.emit({ op: "cast", dst, src: v, node });
  return dst;
}

function widen(fb: FunctionBuilder, v: Operand, to: IntType, node: ts.Node): Operand {
  return castTo(fb, v, to, node);
}
