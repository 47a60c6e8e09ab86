/**
 * The arguments only the dynptr helpers take (bpf_dynptr_from_mem,
 * bpf_ringbuf_reserve_dynptr, …, bpf_dynptr_data): a local `BpfDynptr`,
 * initialised before use as for the dynptr kfuncs (ir/kfuncs.ts); the ring
 * buffer a reservation is made in; and `bpf_dynptr_data`'s type argument,
 * whose size is the call's constant length. That a ring buffer dynptr is
 * submitted or discarded on every path is checked afterwards, over the
 * whole program (analysis/references.ts), as the verifier does.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { HelperSpec } from "../dialect/helpers";
import type { FunctionBuilder } from "./builder";
import { lowerExpression } from "./expressions";
import type { MapDecl } from "./ir";
import type { FieldType } from "./layout";
import { sizeOfField } from "./layout";
import { structShape } from "./structs";

/** BPF_MAP_TYPE_RINGBUF (include/uapi/linux/bpf.h). */
const BPF_MAP_TYPE_RINGBUF = 27;

/** A `RingBuf` of the file, by its name (not an inner map: a reservation needs the map's own address). */
export function ringBufArgument(fb: FunctionBuilder, helper: HelperSpec, argExpr: ts.Expression): MapDecl {
  const v = lowerExpression(fb, argExpr);
  if (v.kind !== "map" || v.via || v.map.type !== BPF_MAP_TYPE_RINGBUF) {
    throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` takes one of the file's \`RingBuf\`s, by its name`);
  }
  return v.map;
}

/** `bpf_dynptr_data<T>(dp, offset)`: `T`, whose size the kernel checks against the dynptr's at run time. */
export function dataType(fb: FunctionBuilder, helper: HelperSpec, e: ts.CallExpression): { shape: FieldType; size: number } {
  const typeArg = e.typeArguments?.[0];
  const shape = typeArg ? structShape(fb, typeArg) : undefined;
  if (!typeArg || !shape) {
    throw fb.fail(Codes.callArguments, e, `\`${helper.name}\` needs the struct or FixedArray it returns as its type argument: \`${helper.name}<Record>(dp, 0)\``);
  }
  return { shape, size: sizeOfField(shape) };
}
