/**
 * `map.forEach(callback, state?)`: bpf_for_each_map_elem (164). The callback,
 * one of the file's functions `(key: K, value: ValueRef<V>, state?: S): i64`,
 * becomes a static subprogram with the kernel's signature
 * `long (struct bpf_map *map, const void *key, void *value, void *ctx)`: the
 * map is passed but not declared, the key is read-only (PTR_TO_MAP_KEY), the
 * value is the element itself (PTR_TO_MAP_VALUE, writable), the state is the
 * caller's struct on its stack.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { lowerExpression, type Value } from "./expressions";
import { type MapDecl, type Subprogram, type SubprogramParam, type Temp, isLayout, slotSize } from "./ir";
import { type FieldType, type Layout, sameShape, shapeName } from "./layout";
import { structShape } from "./structs";
import { i64, mapValuePtr, stackPtr } from "./types";

/** The maps whose ops have map_for_each_callback (kernel/bpf/arraymap.c, hashtab.c). */
const iterable = new Set(["HashMap", "ArrayMap", "PerCpuHash", "PerCpuArray", "LruHash", "LruPerCpuHash"]);

/** A map value as `lookup` gives it: a struct whose one field `value` is the map's value. */
export function valueRefShape(map: MapDecl): FieldType {
  const v = map.value;
  const layout: Layout = {
    name: `${map.name} value`,
    size: slotSize(v),
    align: isLayout(v) ? v.align : v.bits / 8,
    packed: false,
    fields: new Map([["value", { name: "value", offset: 0, size: slotSize(v), type: isLayout(v) ? { kind: "struct", layout: v } : { kind: "scalar", type: v } }]]),
  };
  return { kind: "struct", layout };
}

function keyShape(map: MapDecl): FieldType {
  return isLayout(map.key) ? { kind: "struct", layout: map.key } : { kind: "scalar", type: map.key };
}

function valueShape(map: MapDecl): FieldType {
  return isLayout(map.value) ? { kind: "struct", layout: map.value } : { kind: "scalar", type: map.value };
}

export function forEachCall(fb: FunctionBuilder, map: MapDecl, e: ts.CallExpression): Value {
  if (!iterable.has(map.className)) {
    throw fb.fail(Codes.mapOperation, e.expression, `the kernel walks only hash and array maps with bpf_for_each_map_elem; \`${map.name}\` is a ${map.className}`);
  }
  if (e.arguments.length < 1 || e.arguments.length > 2) throw fb.fail(Codes.callArguments, e, "`forEach` takes a callback and, optionally, the callback's state");
  const [callbackExpr, stateExpr] = e.arguments as unknown as [ts.Expression, ts.Expression | undefined];
  const sym = ts.isIdentifier(callbackExpr) ? fb.symbolOf(callbackExpr) : undefined;
  const fn = sym && fb.scope.functions.get(sym);
  if (!fn) {
    throw fb.fail(Codes.loopCallback, callbackExpr, "the callback is one of the file's functions, named here", {
      hints: ["declare `function visit(key: K, value: ValueRef<V>, state: State): i64 { … }` at the top level and pass `visit`"],
    });
  }
  const callback = forEachSubprogram(fb, fn, map, callbackExpr);
  const shape = callback.params[3]?.shape;
  let state: Temp | undefined;
  if (shape) {
    if (!stateExpr) throw fb.fail(Codes.callArguments, e, `\`${callback.name}\` takes a state: pass the struct it works on`);
    const v = lowerExpression(fb, stateExpr);
    if (v.kind !== "view" || v.region !== "stack" || v.offset !== 0 || !sameShape(v.shape, shape)) {
      throw fb.fail(Codes.callArguments, stateExpr, `the state is a local \`${shapeName(shape)}\` (the kernel passes the callback a pointer to the caller's stack)`, {
        hints: [`declare it with \`const state: ${shapeName(shape)} = zeroed();\` and pass \`state\``],
      });
    }
    state = v.ptr;
  } else if (stateExpr) {
    throw fb.fail(Codes.callArguments, stateExpr, `\`${callback.name}\` takes no state`);
  }
  const dst = fb.temp(i64);
  fb.emit({ op: "for_each_map", dst, map, callback, state, node: e });
  return dst;
}

/**
 * A function used as a forEach callback of `map`, or as the callback of a
 * timer in `map`'s values (`timer`: `(key, value)`, the kernel's
 * `(map, key, value)`), as a static subprogram.
 */
export function forEachSubprogram(fb: FunctionBuilder, fn: ts.FunctionDeclaration, map: MapDecl, at: ts.Node, timer = false): Subprogram {
  const name = fn.name!.text;
  const role = timer ? "a timer callback" : "a forEach callback";
  const existing = fb.scope.subprograms.get(fn);
  if (existing?.forEachOf === map && !!existing.timer === timer) return existing;
  if (existing) {
    const what = existing.forEachOf ? `${existing.timer ? "the timer" : "the forEach"} callback of \`${existing.forEachOf.name}\`` : existing.callback ? "a bpf_loop callback" : `marked \`${existing.linkage === "global" ? "globalFunction" : "noinline"}\``;
    throw fb.fail(Codes.loopCallback, at, `\`${name}\` is already ${what}; ${role} is called by the kernel for one map only`, { hints: ["write a function for each use"] });
  }
  const hint = timer
    ? `write \`function fire(key: K, value: ValueRef<V>): i64\` for the key and value types of \`${map.name}\`, returning 0`
    : `write \`function visit(key: K, value: ValueRef<V>, state: State): i64\` for the key and value types of \`${map.name}\``;
  if (fn.parameters.length < 2 || fn.parameters.length > (timer ? 2 : 3)) {
    throw fb.fail(Codes.loopCallback, fn.name!, `${role} takes the key, the value${timer ? "" : " and, optionally, a state"}: \`${name}\` takes ${fn.parameters.length}`, { hints: [hint] });
  }
  const params: SubprogramParam[] = [{ name: "map", type: mapValuePtr, node: fn, hidden: true }];
  for (const [i, p] of fn.parameters.entries()) {
    if (!ts.isIdentifier(p.name) || p.dotDotDotToken || p.initializer || p.questionToken || !p.type) throw fb.fail(Codes.unsupportedSyntax, p, "parameters are plain names with a type (no defaults, rest or optional parameters)");
    // TypeScript has checked a forEach callback's key and value types against the map's
    // declaration; nothing ties a timer callback's to the map of the timer, so they are checked here.
    if (timer && i < 2) checkTimerParam(fb, p.type, i === 0 ? keyShape(map) : valueShape(map), i === 0 ? "key" : "value", map, name, hint);
    if (i === 0) params.push({ name: p.name.text, type: mapValuePtr, node: p, shape: keyShape(map), slot: "key" });
    else if (i === 1) params.push({ name: p.name.text, type: mapValuePtr, node: p, shape: valueRefShape(map), slot: "value" });
    else {
      const shape = structShape(fb, p.type);
      if (!shape) throw fb.fail(Codes.loopCallback, p.type, "a forEach callback's state is a struct on its caller's stack", { hints: [hint] });
      params.push({ name: p.name.text, type: stackPtr, node: p, shape });
    }
  }
  if (!fn.type) throw fb.fail(Codes.untypedNumber, fn.name!, `\`${name}\` needs its return type written (\`: i64\`)`);
  const returns = fb.annotatedType(fn.type);
  if (returns.kind !== "int") throw fb.fail(Codes.loopCallback, fn.type, `${role} returns an integer${timer ? ", 0" : ", 0 to go on or 1 to stop"}`, { hints: [hint] });
  const sub: Subprogram = { name, linkage: "static", params, returns, node: fn, changesPacket: false, callback: true, forEachOf: map, ...(timer ? { timer } : {}) };
  fb.scope.subprograms.set(fn, sub);
  return sub;
}

function checkTimerParam(fb: FunctionBuilder, typeNode: ts.TypeNode, expected: FieldType, slot: "key" | "value", map: MapDecl, name: string, hint: string): void {
  let node = typeNode;
  if (slot === "value") {
    const arg = ts.isTypeReferenceNode(typeNode) && fb.intrinsics.dialectSymbol(typeNode.typeName)?.name === "ValueRef" ? typeNode.typeArguments?.[0] : undefined;
    if (!arg) throw fb.fail(Codes.loopCallback, typeNode, `a timer callback takes the value as \`ValueRef<${shapeName(expected)}>\``, { hints: [hint] });
    node = arg;
  }
  const declared = structShape(fb, node);
  const type = declared ? undefined : fb.annotatedType(node);
  const shape: FieldType | undefined = declared ?? (type?.kind === "int" ? { kind: "scalar", type } : undefined);
  if (!shape || !sameShape(shape, expected)) {
    throw fb.fail(Codes.loopCallback, node, `\`${name}\` runs for the timers of \`${map.name}\`, whose ${slot} is ${shapeName(expected)}, not ${shape ? shapeName(shape) : node.getText()}`, { hints: [hint] });
  }
}

/**
 * A forEach callback's key or value, bound to its parameter: an integer key
 * is read once into a variable (the kernel refuses writes to the key), a
 * struct key is a read-only view, the value a view of the element itself.
 */
export function bindMapSlot(fb: FunctionBuilder, sym: ts.Symbol, slot: "key" | "value", ptr: Temp, shape: FieldType, decl: ts.ParameterDeclaration, at = 0): void {
  if (slot === "value") {
    fb.bindings.set(sym, { kind: "value", value: { kind: "view", region: "map", ptr, offset: at, shape, nullable: false } });
    return;
  }
  if (shape.kind !== "scalar") {
    fb.bindings.set(sym, { kind: "value", value: { kind: "view", region: "map", ptr, offset: 0, shape, nullable: false, readOnly: "forEach key" } });
    return;
  }
  const dst = fb.temp(shape.type);
  fb.emit({ op: "load", dst, ptr, region: "map", offset: 0, size: (shape.type.bits / 8) as 1 | 2 | 4 | 8, node: decl });
  const local = fb.local((decl.name as ts.Identifier).text, shape.type, decl);
  fb.emit({ op: "local_set", local, value: dst, node: decl });
  fb.bindings.set(sym, { kind: "local", local, mutable: false });
}
