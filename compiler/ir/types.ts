/**
 * The dialect's value types, as the compiler sees them. TypeScript sees every
 * integer as `number`; these carry what BPF needs: width, signedness, byte
 * order, and for pointers which memory region they point into.
 */

export type IntBits = 8 | 16 | 32 | 64;

export interface IntType {
  readonly kind: "int";
  readonly bits: IntBits;
  readonly signed: boolean;
  /** Network byte order: the value as it sits in the packet, unswapped. */
  readonly be: boolean;
}

export interface BoolType {
  readonly kind: "bool";
}

/** A pointer into packet data (`data`), the metadata area (`data_meta`), a map value, or the program's stack (a local struct). */
export interface PointerType {
  readonly kind: "ptr";
  readonly region: "packet" | "meta" | "map" | "stack";
}

/** `data_end`: comparable only. */
export interface PacketEndType {
  readonly kind: "pkt_end";
}

export interface ContextType {
  readonly kind: "ctx";
}

export type ValueType = IntType | BoolType | PointerType | PacketEndType | ContextType;

const intTypes = new Map<string, IntType>();

export function int(bits: IntBits, signed: boolean, be = false): IntType {
  const key = `${signed ? "i" : be ? "be" : "u"}${bits}`;
  let t = intTypes.get(key);
  if (!t) {
    t = { kind: "int", bits, signed, be };
    intTypes.set(key, t);
  }
  return t;
}

export const u8 = int(8, false);
export const u16 = int(16, false);
export const u32 = int(32, false);
export const u64 = int(64, false);
export const i32 = int(32, true);
export const i64 = int(64, true);
export const bool: BoolType = { kind: "bool" };
export const packetPtr: PointerType = { kind: "ptr", region: "packet" };
export const metaPtr: PointerType = { kind: "ptr", region: "meta" };
export const mapValuePtr: PointerType = { kind: "ptr", region: "map" };
export const stackPtr: PointerType = { kind: "ptr", region: "stack" };
export const packetEnd: PacketEndType = { kind: "pkt_end" };
export const context: ContextType = { kind: "ctx" };

/** Type names as the user writes them. */
export const intTypeByName: ReadonlyMap<string, IntType> = new Map([
  ["u8", u8],
  ["u16", u16],
  ["u32", u32],
  ["u64", u64],
  ["i8", int(8, true)],
  ["i16", int(16, true)],
  ["i32", i32],
  ["i64", i64],
  ["be16", int(16, false, true)],
  ["be32", int(32, false, true)],
  ["be64", int(64, false, true)],
]);

export function typeName(t: ValueType): string {
  switch (t.kind) {
    case "int":
      return `${t.signed ? "i" : t.be ? "be" : "u"}${t.bits}`;
    case "bool":
      return "boolean";
    case "ptr":
      return t.region === "packet" ? "PacketPointer" : t.region === "meta" ? "MetaPointer" : t.region === "stack" ? "struct" : "ValueRef";
    case "pkt_end":
      return "PacketEnd";
    case "ctx":
      return "XdpContext";
  }
}

export function sameType(a: ValueType, b: ValueType): boolean {
  if (a.kind === "int" && b.kind === "int") return a.bits === b.bits && a.signed === b.signed && a.be === b.be;
  if (a.kind === "ptr" && b.kind === "ptr") return a.region === b.region;
  return a.kind === b.kind;
}

export function isInt(t: ValueType): t is IntType {
  return t.kind === "int";
}

/** Smallest and largest value of an integer type. */
export function intRange(t: IntType): [bigint, bigint] {
  const bits = BigInt(t.bits);
  return t.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

/** Wraps an arbitrary integer to the type's width, as the hardware would. */
export function wrap(value: bigint, t: IntType): bigint {
  return t.signed ? BigInt.asIntN(t.bits, value) : BigInt.asUintN(t.bits, value);
}

export function byteSwap(value: bigint, bits: IntBits): bigint {
  let v = BigInt.asUintN(bits, value);
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) {
    out = (out << 8n) | (v & 0xffn);
    v >>= 8n;
  }
  return out;
}
