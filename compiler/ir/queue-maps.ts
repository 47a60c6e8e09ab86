/**
 * The keyless maps' methods, over bpf_map_push_elem (87), bpf_map_pop_elem
 * (88) and bpf_map_peek_elem (89): a Queue or Stack pushes a value and pops
 * or peeks one into zeroed stack memory (present when the helper returned
 * 0); a BloomFilter pushes a value and peeks with one to ask whether it may
 * be there.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { type Value, convertTo, lowerExpression } from "./expressions";
import { type MapDecl, type Operand, type SlotType, type StructLiteral, isLayout, slotSize } from "./ir";
import { newStackValue } from "./structs";
import { bool, i64, u64 } from "./types";
import { constant } from "./typing";

export const valueMaps = new Set(["Queue", "Stack", "BloomFilter"]);

export function valueMapMethod(fb: FunctionBuilder, map: MapDecl, method: string, e: ts.CallExpression, slotValue: (i: number, t: SlotType) => Operand | StructLiteral): Value {
  const bloom = map.className === "BloomFilter";
  const count = (min: number, max: number, what: string) => {
    if (e.arguments.length < min || e.arguments.length > max) throw fb.fail(Codes.callArguments, e, `\`${method}\` takes ${what}`);
  };
  switch (method) {
    case "push": {
      if (bloom) count(1, 1, "a value");
      else count(1, 2, "a value and optional flags");
      const value = slotValue(0, map.value);
      const flags = e.arguments[1] ? (convertTo(fb, lowerExpression(fb, e.arguments[1], u64), u64, e.arguments[1]) as Operand) : constant(0n, u64);
      const dst = fb.temp(i64);
      fb.emit({ op: "map_push", dst, map, value, flags, node: e });
      return dst;
    }
    case "contains": {
      if (!bloom) break;
      count(1, 1, "a value");
      const rc = fb.temp(i64);
      fb.emit({ op: "map_peek", dst: rc, map, value: slotValue(0, map.value), node: e });
      // 0: maybe there; -ENOENT: certainly not.
      const dst = fb.temp(bool);
      fb.emit({ op: "cmp", dst, pred: "eq", a: rc, b: constant(0n, i64), node: e });
      return dst;
    }
    case "pop":
    case "peek": {
      if (bloom) break;
      count(0, 0, "no arguments");
      const v = map.value;
      const layout = {
        name: `${map.name} value`,
        size: slotSize(v),
        align: isLayout(v) ? v.align : v.bits / 8,
        packed: false,
        fields: new Map([["value", { name: "value", offset: 0, size: slotSize(v), type: isLayout(v) ? ({ kind: "struct", layout: v } as const) : ({ kind: "scalar", type: v } as const) }]]),
      };
      const out = newStackValue(fb, { kind: "struct", layout }, `${map.name}_${method}`, e);
      const rc = fb.temp(i64);
      fb.emit({ op: method === "pop" ? "map_pop" : "map_peek", dst: rc, map, out: out.ptr, node: e });
      const present = fb.temp(bool);
      fb.emit({ op: "cmp", dst: present, pred: "eq", a: rc, b: constant(0n, i64), node: e });
      return { ...out, nullable: true, present };
    }
  }
  throw fb.fail(Codes.unsupportedCall, e.expression, bloom ? "a BloomFilter has `push` and `contains`" : `a ${map.className} has \`push\`, \`pop\` and \`peek\``);
}
