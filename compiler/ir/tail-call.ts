/**
 * `tailCall(ctx, progs, index)`: bpf_tail_call (12) into a ProgArray of the
 * same file. The kernel wants the program's own context (R1 as it came in)
 * and a PROG_ARRAY named directly; when the entry is empty the call returns
 * and the program goes on.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { type Value, convertTo, lowerExpression } from "./expressions";
import type { Operand } from "./ir";
import { u32, u64 } from "./types";
import { constant } from "./typing";

export function tailCall(fb: FunctionBuilder, e: ts.CallExpression): Value {
  if (e.arguments.length !== 3) throw fb.fail(Codes.callArguments, e, "`tailCall` takes the context, a ProgArray and an index: `tailCall(ctx, progs, 0)`");
  const [ctxArg, mapArg, indexArg] = e.arguments as unknown as [ts.Expression, ts.Expression, ts.Expression];
  if (lowerExpression(fb, ctxArg).kind !== "ctx") throw fb.fail(Codes.typeMismatch, ctxArg, "`tailCall` takes the program's context as it came in: `tailCall(ctx, …)`");
  const target = lowerExpression(fb, mapArg);
  if (target.kind !== "map" || target.map.className !== "ProgArray") throw fb.fail(Codes.mapOperation, mapArg, "`tailCall` jumps through a ProgArray declared at the top level");
  const index = convertTo(fb, lowerExpression(fb, indexArg, u32), u32, indexArg) as Operand;
  fb.emit({ op: "tail_call", map: target.map, index, node: e });
  return constant(0n, u64);
}
