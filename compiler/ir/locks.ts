/**
 * `bpf_spin_lock(ref.value.lock)` and `bpf_spin_unlock(ref.value.lock)`:
 * helpers 93 and 94 on the `SpinLock` field of a map value. The verifier's
 * rules around them are checked on the IR by analysis/locks.ts.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { argument, lowerExpression, type Value } from "./expressions";
import { spinLockLayout } from "./layout";
import { bool } from "./types";

export function spinLockCall(fb: FunctionBuilder, unlock: boolean, e: ts.CallExpression): Value {
  const name = unlock ? "bpf_spin_unlock" : "bpf_spin_lock";
  const argExpr = argument(fb, e, 0);
  const v = lowerExpression(fb, argExpr);
  // The helper takes PTR_TO_MAP_VALUE at the offset of the value's bpf_spin_lock, and nothing else.
  if (v.kind !== "view" || v.region !== "map" || v.shape.kind !== "struct" || v.shape.layout !== spinLockLayout || v.readOnly) {
    throw fb.fail(Codes.callArguments, argExpr, `\`${name}\` takes the \`SpinLock\` field of a map value: \`${name}(ref.value.lock)\`, the lookup tested`);
  }
  fb.emit({ op: "spin_lock", unlock, ptr: v.ptr, offset: v.offset, node: e });
  return { kind: "const", value: 0n, type: bool };
}
