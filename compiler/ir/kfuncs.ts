/**
 * Calls of kfuncs the dialect exposes by name (compiler/dialect/kfuncs.ts
 * says how each parameter is passed): local structs with their sizes, the
 * context, integers, and references an earlier kfunc returned. A kfunc that
 * acquires returns a reference that is null until tested and must be
 * released (analysis/references.ts), opaque to the program.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type KfuncSpec, type KfuncType, kfuncs } from "../dialect/kfuncs";
import type { FunctionBuilder } from "./builder";
import { convertTo, lowerExpression, type Value } from "./expressions";
import type { Operand, Temp } from "./ir";
import type { Layout } from "./layout";
import { helperMemory } from "./structs";
import { constant } from "./typing";
import { type ValueType, i32, mapValuePtr, u8 } from "./types";

/** How the dialect names a kernel struct a reference points to. */
const refNames: Readonly<Record<string, string>> = { nf_conn: "NfConn", nf_conn___init: "NfConnInit" };

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
  const call = spec.call!;
  const written = call.filter((p) => p.kind !== "size").length;
  if (e.arguments.length !== written) {
    throw fb.fail(Codes.callArguments, e, `\`${spec.name}\` takes ${written} argument${written === 1 ? "" : "s"}`);
  }
  let next = 0;
  let lastSize = 0;
  const args = call.map((p): Operand => {
    if (p.kind === "size") return constant(BigInt(lastSize), p.type);
    const argExpr = e.arguments[next++]!;
    if (p.kind === "mem") {
      const m = helperMemory(fb, spec.name, p, argExpr);
      lastSize = m.size;
      return m.ptr;
    }
    if (p.kind === "ref") return reference(fb, spec, p.struct, argExpr);
    const v = lowerExpression(fb, argExpr, p.kind === "int" ? p.type : undefined);
    if (p.kind === "ctx") {
      if (v.kind !== "ctx") throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes the program's context here`);
      const dst = fb.temp({ kind: "ctx" });
      fb.emit({ op: "ctx_ptr", dst, node: argExpr });
      return dst;
    }
    return convertTo(fb, v, p.type, argExpr) as Operand;
  });
  const type = resultType(spec.returns);
  const dst = type ? fb.temp(type) : undefined;
  fb.emit({ op: "kfunc", ...(dst ? { dst } : {}), name: spec.name, args, node: e });
  if (!dst) return constant(0n, i32);
  if (spec.acquires && spec.returns.kind === "ptr" && spec.returns.to.kind === "struct") {
    const layout: Layout = { name: refNames[spec.returns.to.name] ?? spec.returns.to.name, size: 0, align: 8, packed: false, fields: new Map() };
    return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout }, nullable: true, readOnly: layout.name };
  }
  return dst;
}

/** A reference a kfunc returned (tested or not: analysis/references.ts follows that, and its release). */
function reference(fb: FunctionBuilder, spec: KfuncSpec, struct: string, argExpr: ts.Expression): Temp {
  const v = lowerExpression(fb, argExpr);
  const def = v.kind === "view" ? fb.defs.get(v.ptr.id) : undefined;
  const from = def?.op === "kfunc" ? kfuncs.get(def.name) : undefined;
  if (v.kind !== "view" || v.offset !== 0 || !from?.acquires || from.returns.kind !== "ptr" || from.returns.to.kind !== "struct" || from.returns.to.name !== struct) {
    throw fb.fail(Codes.callArguments, argExpr, `\`${spec.name}\` takes ${refNames[struct] ? `an \`${refNames[struct]}\`` : `a \`struct ${struct}\``} returned by ${producers(struct)}`);
  }
  return v.ptr;
}
