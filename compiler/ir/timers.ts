/**
 * The bpf_timer helpers on the `Timer` field of a map value. The map the
 * value lives in is known from the value itself (a lookup's result, or a
 * forEach or timer callback's value), so bpf_timer_init gets it without the
 * user naming it, and a callback is typed for that map's key and value.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { convertTo, lowerExpression, type Value } from "./expressions";
import { forEachSubprogram } from "./for-each";
import type { MapDecl, Operand, Subprogram, Temp } from "./ir";
import { timerLayout } from "./layout";
import { constant } from "./typing";
import { i64, u64 } from "./types";

const argumentCounts = { init: [2, 2], set_callback: [2, 2], start: [2, 3], cancel: [1, 1] } as const;

export function timerCall(fb: FunctionBuilder, kind: "init" | "set_callback" | "start" | "cancel", e: ts.CallExpression): Value {
  const name = `bpf_timer_${kind}`;
  const [min, max] = argumentCounts[kind];
  if (e.arguments.length < min || e.arguments.length > max) throw fb.fail(Codes.callArguments, e, `\`${name}\` takes ${min === max ? min : `${min} or ${max}`} argument${max === 1 ? "" : "s"}`);
  const timerExpr = e.arguments[0]!;
  const v = lowerExpression(fb, timerExpr);
  if (v.kind !== "view" || v.region !== "map" || v.shape.kind !== "struct" || v.shape.layout !== timerLayout || v.readOnly) {
    throw fb.fail(Codes.callArguments, timerExpr, `\`${name}\` takes the \`Timer\` field of a map value: \`${name}(ref.value.timer, …)\`, the lookup tested`);
  }
  const map = valueMap(fb, v.ptr);
  if (!map) throw fb.fail(Codes.callArguments, timerExpr, `\`${name}\` takes a timer in a value of one of the file's maps, looked up here or passed to a callback`);
  const arg = (i: number): Operand => (e.arguments[i] ? (convertTo(fb, lowerExpression(fb, e.arguments[i]!, u64), u64, e.arguments[i]!) as Operand) : constant(0n, u64));
  let callback: Subprogram | undefined;
  let args: Operand[] = [];
  if (kind === "init") args = [arg(1)];
  else if (kind === "start") args = [arg(1), arg(2)];
  else if (kind === "set_callback") {
    const callbackExpr = e.arguments[1]!;
    const sym = ts.isIdentifier(callbackExpr) ? fb.symbolOf(callbackExpr) : undefined;
    const fn = sym && fb.scope.functions.get(sym);
    if (!fn) throw fb.fail(Codes.loopCallback, callbackExpr, "the callback is one of the file's functions, named here", { hints: ["declare `function fire(key: K, value: ValueRef<V>): i64 { … return 0; }` at the top level and pass `fire`"] });
    callback = forEachSubprogram(fb, fn, map, callbackExpr, true);
  }
  const dst = fb.temp(i64);
  fb.emit({ op: "timer", kind, dst, ptr: v.ptr, offset: v.offset, map, ...(callback ? { callback } : {}), args, node: e });
  return dst;
}

/** The map whose value `ptr` points into: a lookup's result, or the value a forEach or timer callback gets. */
function valueMap(fb: FunctionBuilder, ptr: Temp): MapDecl | undefined {
  const def = fb.defs.get(ptr.id);
  // An inner map of a map of maps has no map pointer of its own here to pass to bpf_timer_init.
  if (def?.op === "map_lookup") return (def as { via?: unknown }).via ? undefined : def.map;
  if (def?.op === "param" && fb.subprogram?.params[def.index]?.slot === "value") return fb.subprogram.forEachOf;
  return undefined;
}
