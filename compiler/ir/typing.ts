/**
 * The dialect's integer rules, in one place: how untyped constants take a
 * type, which mixes are refused, what a binary operation's type is, and
 * compile-time folding with exactly the wraparound the hardware applies.
 *
 * The rules are stricter than C's on purpose: signed/unsigned and
 * network/host order never mix silently, because those mixes are where
 * packet-parsing bugs come from.
 */
import type { BinaryKind, Const, Predicate } from "./ir";
import { type IntType, type ValueType, bool, int, intRange, sameType, typeName, wrap } from "./types";

/** An integer constant whose type is decided by where it is used (`14`, `XdpAction.PASS`). */
export interface Untyped {
  readonly kind: "untyped";
  readonly value: bigint;
}

export function untyped(value: bigint): Untyped {
  return { kind: "untyped", value };
}

export function constant(value: bigint, type: IntType): Const {
  return { kind: "const", value: wrap(value, type), type };
}

export function boolConst(value: boolean): Const {
  return { kind: "const", value: value ? 1n : 0n, type: bool };
}

export type Refusal = { readonly code: "signMix" | "byteOrderMix" | "constantOverflow" | "typeMismatch"; readonly message: string; readonly hint?: string };

/**
 * The type an untyped constant takes beside `t`, or why it can't. Any value
 * that the width can hold in two's complement is accepted (so `x & ~0xff`
 * and `x + -1` work), wrapped to the type.
 */
export function fitConstant(value: bigint, t: IntType, explicit = false): Const | Refusal {
  if (t.be && value !== 0n && !explicit) {
    const swap = t.bits === 16 ? "htons" : t.bits === 32 ? "htonl" : "htonll";
    return {
      code: "byteOrderMix",
      message: `the constant ${fmt(value)} is in host byte order but ${typeName(t)} is network order`,
      hint: `write \`${swap}(${fmt(value)})\``,
    };
  }
  if (!explicit) {
    const [min] = intRange(int(t.bits, true));
    const [, max] = intRange(int(t.bits, false));
    const limit = t.signed ? intRange(t)[1] : max;
    if (value < min || value > limit) return { code: "constantOverflow", message: `${fmt(value)} does not fit in ${typeName(t)}` };
  }
  return constant(value, t);
}

function fmt(v: bigint): string {
  return v >= 0n && v > 255n ? `0x${v.toString(16)}` : v.toString();
}

/**
 * The type of a binary operation on two integer types. Same signedness
 * widens to the larger; an unsigned type narrower than a signed one fits in
 * it; anything else needs an explicit conversion.
 */
export function commonType(a: IntType, b: IntType): IntType | Refusal {
  if (sameType(a, b)) return a;
  if (a.be || b.be) {
    return {
      code: "byteOrderMix",
      message: `\`${typeName(a)}\` and \`${typeName(b)}\` do not mix`,
      hint: a.be ? `convert with \`${toHost(a)}(…)\` or compare with \`${toNet(a)}(…)\`` : `convert with \`${toHost(b)}(…)\` or compare with \`${toNet(b)}(…)\``,
    };
  }
  if (a.signed === b.signed) return a.bits >= b.bits ? a : b;
  const [s, u] = a.signed ? [a, b] : [b, a];
  if (u.bits < s.bits) return s;
  return {
    code: "signMix",
    message: `\`${typeName(a)}\` and \`${typeName(b)}\` do not mix: the result's signedness would be a guess`,
    hint: `convert one side explicitly, e.g. \`${typeName(int(Math.max(a.bits, b.bits) as 64, false))}(x)\` or \`${typeName(int(Math.max(a.bits, b.bits) as 64, true))}(x)\``,
  };
}

export function toHost(t: IntType): string {
  return t.bits === 16 ? "ntohs" : t.bits === 32 ? "ntohl" : "ntohll";
}

export function toNet(t: IntType): string {
  return t.bits === 16 ? "htons" : t.bits === 32 ? "htonl" : "htonll";
}

/** Whether a value of type `from` may be used where `to` is expected without a conversion. */
export function implicitlyConvertible(from: ValueType, to: ValueType): Refusal | undefined {
  if (sameType(from, to)) return undefined;
  if (from.kind === "int" && to.kind === "int") {
    if (from.be !== to.be) {
      const conv = from.be ? toHost(from) : toNet(to);
      return { code: "byteOrderMix", message: `\`${typeName(from)}\` is not \`${typeName(to)}\``, hint: `convert with \`${conv}(…)\`` };
    }
    if (from.be) return { code: "typeMismatch", message: `\`${typeName(from)}\` is not \`${typeName(to)}\`` };
    const widening = from.signed === to.signed ? from.bits <= to.bits : !from.signed && from.bits < to.bits;
    if (widening) return undefined;
    return {
      code: from.signed !== to.signed ? "signMix" : "typeMismatch",
      message: `\`${typeName(from)}\` does not convert implicitly to \`${typeName(to)}\`${from.bits > to.bits ? " (it would truncate)" : ""}`,
      hint: `convert explicitly with \`${typeName(to)}(…)\``,
    };
  }
  return { code: "typeMismatch", message: `\`${typeName(from)}\` is not \`${typeName(to)}\`` };
}

/** Folds an operation on constants of type `t`, with the wraparound of its width. */
export function foldBinary(kind: BinaryKind, a: bigint, b: bigint, t: IntType): bigint {
  const bits = BigInt(t.bits);
  const ua = BigInt.asUintN(t.bits, a);
  const ub = BigInt.asUintN(t.bits, b);
  switch (kind) {
    case "add":
      return wrap(a + b, t);
    case "sub":
      return wrap(a - b, t);
    case "mul":
      return wrap(a * b, t);
    case "udiv":
      return wrap(ub === 0n ? 0n : ua / ub, t);
    case "urem":
      return wrap(ub === 0n ? ua : ua % ub, t);
    case "sdiv":
      return wrap(b === 0n ? 0n : a / b, t);
    case "srem":
      return wrap(b === 0n ? a : a % b, t);
    case "and":
      return wrap(a & b, t);
    case "or":
      return wrap(a | b, t);
    case "xor":
      return wrap(a ^ b, t);
    case "shl":
      return wrap(ua << (ub % bits), t);
    case "lshr":
      return wrap(ua >> (ub % bits), t);
    case "ashr":
      return wrap(BigInt.asIntN(t.bits, a) >> (ub % bits), t);
  }
}

export function foldCompare(pred: Predicate, a: bigint, b: bigint, t: IntType | undefined): boolean {
  const bits = t?.bits ?? 64;
  const ua = BigInt.asUintN(bits, a);
  const ub = BigInt.asUintN(bits, b);
  const sa = BigInt.asIntN(bits, a);
  const sb = BigInt.asIntN(bits, b);
  switch (pred) {
    case "eq":
      return ua === ub;
    case "ne":
      return ua !== ub;
    case "ult":
      return ua < ub;
    case "ule":
      return ua <= ub;
    case "ugt":
      return ua > ub;
    case "uge":
      return ua >= ub;
    case "slt":
      return sa < sb;
    case "sle":
      return sa <= sb;
    case "sgt":
      return sa > sb;
    case "sge":
      return sa >= sb;
  }
}

/** Exact arithmetic on untyped constants, as written in the source. */
export function foldUntyped(kind: BinaryKind | "shr", a: bigint, b: bigint): bigint | undefined {
  switch (kind) {
    case "add":
      return a + b;
    case "sub":
      return a - b;
    case "mul":
      return a * b;
    case "udiv":
    case "sdiv":
      return b === 0n ? undefined : a / b;
    case "urem":
    case "srem":
      return b === 0n ? undefined : a % b;
    case "and":
      return a & b;
    case "or":
      return a | b;
    case "xor":
      return a ^ b;
    case "shl":
      return a << b;
    case "shr":
    case "ashr":
    case "lshr":
      return a >> b;
  }
}
