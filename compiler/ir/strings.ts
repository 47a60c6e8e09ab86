/**
 * `bpf_strncmp(buf, "text")`: helper 182. The kernel takes the second string
 * only from a frozen read-only map (ARG_PTR_TO_CONST_STR), so it is a literal
 * written in place that becomes a NUL-terminated constant in `.rodata`; the
 * first is stack memory (the helper has no packet access), its whole size.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import type { Value } from "./expressions";
import { helperMemory } from "./structs";
import { i64 } from "./types";

export function strncmpCall(fb: FunctionBuilder, e: ts.CallExpression): Value {
  if (e.arguments.length !== 2) throw fb.fail(Codes.callArguments, e, "`bpf_strncmp` takes a buffer and a string literal");
  const [bufExpr, textExpr] = e.arguments as unknown as [ts.Expression, ts.Expression];
  const text = ts.isParenthesizedExpression(textExpr) ? textExpr.expression : textExpr;
  if (!ts.isStringLiteral(text) && !ts.isNoSubstitutionTemplateLiteral(text)) {
    throw fb.fail(Codes.unsupportedString, textExpr, "`bpf_strncmp` compares with a string literal written in place: the kernel takes it only from read-only memory", {
      hints: ['e.g. `bpf_strncmp(method, "GET ")`'],
    });
  }
  if (text.text.includes("\0")) throw fb.fail(Codes.unsupportedString, textExpr, "the string ends at its first NUL byte: write it without one");
  const s1 = helperMemory(fb, "bpf_strncmp", { kind: "mem", access: "read" }, bufExpr);
  const dst = fb.temp(i64);
  fb.emit({ op: "strncmp", dst, s1: s1.ptr, size: s1.size, text: text.text, node: e });
  return dst;
}
