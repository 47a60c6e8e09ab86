/**
 * A ring buffer's methods: `output(value)` copies a record from the stack;
 * `query(what)` reads the ring's positions or size; `reserve()` returns room in the ring as a nullable record (a view of the
 * record type, like a lookup's value) that `submit` or `discard` releases.
 * That every reservation is released exactly once is checked afterwards,
 * over the whole program (analysis/references.ts), as the verifier does.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { type Value, convertTo, lowerExpression } from "./expressions";
import { type MapDecl, type Operand, type SlotType, type StructLiteral, isLayout, slotSize } from "./ir";
import type { Layout } from "./layout";
import { i64, mapValuePtr, u64 } from "./types";
import { constant } from "./typing";

export function ringBufMethod(fb: FunctionBuilder, map: MapDecl, method: string, e: ts.CallExpression, slotValue: (i: number, t: SlotType) => Operand | StructLiteral): Value {
  const flags = (i: number): Operand => (e.arguments[i] ? (convertTo(fb, lowerExpression(fb, e.arguments[i]!, u64), u64, e.arguments[i]!) as Operand) : constant(0n, u64));
  const count = (min: number, max: number, what: string) => {
    if (e.arguments.length < min || e.arguments.length > max) throw fb.fail(Codes.callArguments, e, `\`${method}\` takes ${what}`);
  };
  switch (method) {
    case "output": {
      count(1, 2, "a record and optional flags");
      const value = slotValue(0, map.value);
      const dst = fb.temp(i64);
      fb.emit({ op: "ringbuf_output", dst, map, value, flags: flags(1), node: e });
      return dst;
    }
    case "reserve": {
      count(0, 0, "no arguments");
      const dst = fb.temp(mapValuePtr);
      fb.emit({ op: "ringbuf_reserve", dst, map, node: e });
      return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: recordLayout(map) }, nullable: true };
    }
    case "query": {
      count(1, 1, "what to ask: a `RingBufQuery` (AVAIL_DATA, RING_SIZE, CONS_POS or PROD_POS)");
      const dst = fb.temp(u64);
      fb.emit({ op: "ringbuf_query", dst, map, flags: flags(0), node: e });
      return dst;
    }
    case "submit":
    case "discard": {
      count(1, 2, "a reserved record and optional flags");
      const arg = e.arguments[0]!;
      const record = lowerExpression(fb, arg);
      const def = record.kind === "view" ? fb.defs.get(record.ptr.id) : undefined;
      if (record.kind !== "view" || record.offset !== 0 || def?.op !== "ringbuf_reserve" || def.map !== map) {
        throw fb.fail(Codes.mapOperation, arg, `\`${method}\` takes a record reserved from \`${map.name}\` (the result of \`${map.name}.reserve()\`)`);
      }
      fb.emit({ op: method === "submit" ? "ringbuf_submit" : "ringbuf_discard", record: record.ptr, flags: flags(1), node: e });
      return constant(0n, u64);
    }
    default:
      throw fb.fail(Codes.unsupportedCall, e.expression, "a RingBuf has `output`, `reserve`, `submit`, `discard` and `query`");
  }
}

/** A record seen as `{ value: T }`, as a lookup's value is. */
function recordLayout(map: MapDecl): Layout {
  const v = map.value;
  return {
    name: `${map.name} record`,
    size: slotSize(v),
    align: isLayout(v) ? v.align : v.bits / 8,
    packed: false,
    fields: new Map([["value", { name: "value", offset: 0, size: slotSize(v), type: isLayout(v) ? { kind: "struct", layout: v } : { kind: "scalar", type: v } }]]),
  };
}
