/**
 * A perf event array's one method: `output(ctx, value, flags?)` copies a
 * record from the stack into the perf buffer of the CPU the flags name
 * (bpf_perf_event_output); by default this CPU's, as C programs pass
 * BPF_F_CURRENT_CPU. check_map_func_compatibility lets a program do nothing
 * else with a PERF_EVENT_ARRAY.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { type Value, convertTo, lowerExpression } from "./expressions";
import type { MapDecl, Operand, SlotType, StructLiteral } from "./ir";
import { i64, u64 } from "./types";
import { constant } from "./typing";

/** BPF_F_CURRENT_CPU */
const currentCpu = 0xffffffffn;

export function perfEventMethod(fb: FunctionBuilder, map: MapDecl, method: string, e: ts.CallExpression, slotValue: (i: number, t: SlotType) => Operand | StructLiteral): Value {
  if (method !== "output") throw fb.fail(Codes.mapOperation, e.expression, `a PerfEventArray only has \`output(ctx, value, flags?)\`; userspace reads it (openPerfBuffer in tsxdp/loader)`);
  if (e.arguments.length < 2 || e.arguments.length > 3) throw fb.fail(Codes.callArguments, e, "`output` takes the program's context, a record and optional flags");
  const ctxArg = e.arguments[0]!;
  if (lowerExpression(fb, ctxArg).kind !== "ctx") throw fb.fail(Codes.callArguments, ctxArg, "`output` takes the program's context first");
  const ctx = fb.temp({ kind: "ctx" });
  fb.emit({ op: "ctx_ptr", dst: ctx, node: ctxArg });
  const value = slotValue(1, map.value);
  const flagsArg = e.arguments[2];
  const flags = flagsArg ? (convertTo(fb, lowerExpression(fb, flagsArg, u64), u64, flagsArg) as Operand) : constant(currentCpu, u64);
  const dst = fb.temp(i64);
  fb.emit({ op: "perf_event_output", dst, ctx, map, value, flags, node: e });
  return dst;
}
