/**
 * The type section of raw BTF (an object's .BTF section, or a blob the
 * kernel returns for a map's btf_id), and two uses of it: `format` turns the
 * bytes of a key or value into JSON-friendly data, `parse` turns command-line
 * text back into bytes (`tsxdp map`).
 *
 * Decoded forms (documented in README "Command line"):
 * - integers: a number, or a decimal string beyond 2^53; bool as a boolean;
 * - typedefs named `__be16`/`__be32`/`__be64` (network byte order):
 *   `{ be: "0x0800", host: 2048 }`, the hex digits in network order and the
 *   value in host order;
 * - structs and unions: an object by member name (bitfields included;
 *   anonymous members merged into their parent); arrays: a list, char
 *   arrays a string up to the first NUL; enums: the enumerator's name (its
 *   number when no enumerator matches); pointers: "0x…" hex;
 * - anything else (or no BTF): "hex:…" raw bytes, which `parse` accepts.
 *
 * Invariant: every offset and type id is checked against the blob, so a
 * malformed one gives a BtfError, never an out-of-range read. The layout is
 * that of include/uapi/linux/btf.h (little-endian only).
 */
import { BtfError } from "./btf";

export { BtfError };

export const BTF_KIND = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11,
  FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

const KIND_NAMES = ["UNKN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64"];

/** BTF_INT_ENCODING bits */
const BTF_INT_SIGNED = 1;
const BTF_INT_CHAR = 2;
const BTF_INT_BOOL = 4;

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  /** 0 unless a bitfield */
  readonly bitSize: number;
}

export interface BtfType {
  readonly id: number;
  readonly kind: number;
  readonly kindName: string;
  readonly name: string;
  /** size in bytes for INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC */
  readonly size: number;
  /** the referenced type for PTR, TYPEDEF, modifiers, FUNC, VAR, DECL_TAG; the return type of FUNC_PROTO */
  readonly type: number;
  readonly kindFlag: boolean;
  /** INT */
  readonly int?: { readonly encoding: number; readonly bitOffset: number; readonly bits: number };
  /** ARRAY */
  readonly array?: { readonly type: number; readonly indexType: number; readonly nelems: number };
  /** STRUCT, UNION */
  readonly members?: readonly BtfMember[];
  /** ENUM, ENUM64 (values as bigint, signed when kindFlag) */
  readonly enumerators?: readonly { readonly name: string; readonly value: bigint }[];
  /** DATASEC: its variables (VAR type ids) with their byte offset and size in the section */
  readonly vars?: readonly { readonly type: number; readonly offset: number; readonly size: number }[];
  /** FUNC_PROTO: its parameters (type 0 for a trailing `...`) */
  readonly params?: readonly { readonly name: string; readonly type: number }[];
}

export type Decoded = number | string | boolean | null | Decoded[] | { [name: string]: Decoded };

const HEADER_MIN = 24;
const MAX_RESOLVE_DEPTH = 32;

export class BtfTypes {
  /** index = type id; [0] is void */
  readonly types: readonly BtfType[];

  constructor(raw: Uint8Array) {
    if (raw.length < HEADER_MIN) throw new BtfError("BTF is truncated");
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const magic = view.getUint16(0, true);
    if (magic === 0x9feb) throw new BtfError("BTF is big-endian; only little-endian BTF is supported");
    if (magic !== 0xeb9f) throw new BtfError(`BTF has a bad magic number 0x${magic.toString(16)}`);
    const hdrLen = view.getUint32(4, true);
    const typeOff = view.getUint32(8, true);
    const typeLen = view.getUint32(12, true);
    const strOff = view.getUint32(16, true);
    const strLen = view.getUint32(20, true);
    if (hdrLen < HEADER_MIN || hdrLen + typeOff + typeLen > raw.length || hdrLen + strOff + strLen > raw.length) throw new BtfError("BTF sections are out of bounds");
    const strings = raw.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    const decoder = new TextDecoder();
    const str = (off: number): string => {
      if (off === 0) return "";
      if (off >= strings.length) throw new BtfError(`BTF string offset ${off} is out of bounds`);
      const end = strings.indexOf(0, off);
      if (end < 0) throw new BtfError(`BTF string at ${off} is not terminated`);
      return decoder.decode(strings.subarray(off, end));
    };
    const types: BtfType[] = [{ id: 0, kind: 0, kindName: "VOID", name: "void", size: 0, type: 0, kindFlag: false }];
    let o = hdrLen + typeOff;
    const end = o + typeLen;
    const need = (n: number) => {
      if (o + n > end) throw new BtfError(`BTF type ${types.length} is truncated`);
    };
    const u32 = (at: number) => view.getUint32(at, true);
    while (o < end) {
      need(12);
      const id = types.length;
      const name = str(u32(o));
      const info = u32(o + 4);
      const sizeOrType = u32(o + 8);
      o += 12;
      const vlen = info & 0xffff;
      const kind = (info >>> 24) & 0x1f;
      const kindFlag = info >>> 31 === 1;
      const base = { id, kind, kindName: KIND_NAMES[kind] ?? `KIND${kind}`, name, kindFlag };
      switch (kind) {
        case BTF_KIND.INT: {
          need(4);
          const v = u32(o);
          o += 4;
          types.push({ ...base, size: sizeOrType, type: 0, int: { encoding: (v >>> 24) & 0x0f, bitOffset: (v >>> 16) & 0xff, bits: v & 0xff } });
          break;
        }
        case BTF_KIND.ARRAY: {
          need(12);
          types.push({ ...base, size: 0, type: 0, array: { type: u32(o), indexType: u32(o + 4), nelems: u32(o + 8) } });
          o += 12;
          break;
        }
        case BTF_KIND.STRUCT:
        case BTF_KIND.UNION: {
          need(12 * vlen);
          const members: BtfMember[] = [];
          for (let i = 0; i < vlen; i++, o += 12) {
            const off = u32(o + 8);
            members.push({ name: str(u32(o)), type: u32(o + 4), bitOffset: kindFlag ? off & 0xffffff : off, bitSize: kindFlag ? off >>> 24 : 0 });
          }
          types.push({ ...base, size: sizeOrType, type: 0, members });
          break;
        }
        case BTF_KIND.ENUM: {
          need(8 * vlen);
          const enumerators = [];
          for (let i = 0; i < vlen; i++, o += 8) {
            const v = kindFlag ? BigInt(view.getInt32(o + 4, true)) : BigInt(u32(o + 4));
            enumerators.push({ name: str(u32(o)), value: v });
          }
          types.push({ ...base, size: sizeOrType, type: 0, enumerators });
          break;
        }
        case BTF_KIND.ENUM64: {
          need(12 * vlen);
          const enumerators = [];
          for (let i = 0; i < vlen; i++, o += 12) {
            let v = (BigInt(u32(o + 8)) << 32n) | BigInt(u32(o + 4));
            if (kindFlag) v = BigInt.asIntN(64, v);
            enumerators.push({ name: str(u32(o)), value: v });
          }
          types.push({ ...base, size: sizeOrType, type: 0, enumerators });
          break;
        }
        case BTF_KIND.FUNC_PROTO: {
          need(8 * vlen);
          const params = [];
          for (let i = 0; i < vlen; i++, o += 8) params.push({ name: str(u32(o)), type: u32(o + 4) });
          types.push({ ...base, size: 0, type: sizeOrType, params });
          break;
        }
        case BTF_KIND.VAR:
        case BTF_KIND.DECL_TAG:
          need(4);
          o += 4;
          types.push({ ...base, size: 0, type: sizeOrType });
          break;
        case BTF_KIND.DATASEC: {
          need(12 * vlen);
          const vars = [];
          for (let i = 0; i < vlen; i++, o += 12) vars.push({ type: u32(o), offset: u32(o + 4), size: u32(o + 8) });
          types.push({ ...base, size: sizeOrType, type: 0, vars });
          break;
        }
        case BTF_KIND.FLOAT:
          types.push({ ...base, size: sizeOrType, type: 0 });
          break;
        case BTF_KIND.PTR:
        case BTF_KIND.FWD:
        case BTF_KIND.TYPEDEF:
        case BTF_KIND.VOLATILE:
        case BTF_KIND.CONST:
        case BTF_KIND.RESTRICT:
        case BTF_KIND.FUNC:
        case BTF_KIND.TYPE_TAG:
          types.push({ ...base, size: 0, type: sizeOrType });
          break;
        default:
          throw new BtfError(`BTF type ${id} has unknown kind ${kind}`);
      }
    }
    this.types = types;
  }

  type(id: number): BtfType {
    const t = this.types[id];
    if (t === undefined) throw new BtfError(`BTF type id ${id} is out of range (${this.types.length - 1} types)`);
    return t;
  }

  /** The type behind typedefs and modifiers, and whether a `__beNN` typedef was on the way. */
  resolve(id: number): { type: BtfType; bigEndian: boolean } {
    let t = this.type(id);
    let bigEndian = false;
    for (let depth = 0; ; depth++) {
      if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(`BTF type ${id}: typedef chain too long`);
      if (t.kind === BTF_KIND.TYPEDEF && /^__be(16|32|64)$/.test(t.name)) bigEndian = true;
      if (t.kind === BTF_KIND.TYPEDEF || t.kind === BTF_KIND.VOLATILE || t.kind === BTF_KIND.CONST || t.kind === BTF_KIND.RESTRICT || t.kind === BTF_KIND.TYPE_TAG) t = this.type(t.type);
      else return { type: t, bigEndian };
    }
  }

  /** Size in bytes of a type (btf__resolve_size), or undefined when it has none. */
  sizeOf(id: number): number | undefined {
    const { type: t } = this.resolve(id);
    switch (t.kind) {
      case BTF_KIND.INT:
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64:
      case BTF_KIND.FLOAT:
      case BTF_KIND.DATASEC:
        return t.size;
      case BTF_KIND.PTR:
        return 8;
      case BTF_KIND.ARRAY: {
        const elem = this.sizeOf(t.array!.type);
        return elem === undefined ? undefined : elem * t.array!.nelems;
      }
      default:
        return undefined;
    }
  }

  /** A C-like name for people: "__be32", "struct flow", "__u64[4]". */
  typeName(id: number): string {
    const t = this.type(id);
    switch (t.kind) {
      case 0:
        return "void";
      case BTF_KIND.STRUCT:
        return t.name ? `struct ${t.name}` : "struct (anon)";
      case BTF_KIND.UNION:
        return t.name ? `union ${t.name}` : "union (anon)";
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64:
        return t.name ? `enum ${t.name}` : "enum (anon)";
      case BTF_KIND.PTR:
        return `${this.typeName(t.type)} *`;
      case BTF_KIND.ARRAY:
        return `${this.typeName(t.array!.type)}[${t.array!.nelems}]`;
      case BTF_KIND.CONST:
        return `const ${this.typeName(t.type)}`;
      case BTF_KIND.VOLATILE:
        return `volatile ${this.typeName(t.type)}`;
      default:
        return t.name || t.kindName.toLowerCase();
    }
  }

  /** The bytes of a value of type `id` as JSON-friendly data (see the module comment). */
  format(id: number, bytes: Uint8Array): Decoded {
    return this.formatAt(id, bytes, 0);
  }

  private formatAt(id: number, bytes: Uint8Array, depth: number): Decoded {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(`BTF type ${id} nests too deeply`);
    const { type: t, bigEndian } = this.resolve(id);
    const size = this.sizeOf(id);
    if (size !== undefined && size > bytes.length) throw new BtfError(`${this.typeName(id)} needs ${size} bytes, got ${bytes.length}`);
    switch (t.kind) {
      case BTF_KIND.INT: {
        const enc = t.int!.encoding;
        let v = readUnsigned(bytes, t.size, bigEndian);
        if (t.int!.bits < t.size * 8 || t.int!.bitOffset) v = (v >> BigInt(t.int!.bitOffset)) & ((1n << BigInt(t.int!.bits)) - 1n);
        if (enc & BTF_INT_BOOL) return v !== 0n;
        if (enc & BTF_INT_SIGNED) v = BigInt.asIntN(t.int!.bits, v);
        if (bigEndian) return { be: `0x${readUnsigned(bytes, t.size, true).toString(16).padStart(t.size * 2, "0")}`, host: jsonInt(v) };
        return jsonInt(v);
      }
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64: {
        let v = readUnsigned(bytes, t.size, false);
        if (t.kindFlag) v = BigInt.asIntN(t.size * 8, v);
        return t.enumerators!.find((e) => e.value === v)?.name ?? jsonInt(v);
      }
      case BTF_KIND.PTR:
        return `0x${readUnsigned(bytes, 8, false).toString(16)}`;
      case BTF_KIND.FLOAT: {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        if (t.size === 4) return view.getFloat32(0, true);
        if (t.size === 8) return view.getFloat64(0, true);
        return hexText(bytes.subarray(0, t.size));
      }
      case BTF_KIND.ARRAY: {
        const a = t.array!;
        const elemSize = this.sizeOf(a.type);
        if (elemSize === undefined) return hexText(bytes.subarray(0, size));
        const elem = this.resolve(a.type).type;
        if (elem.kind === BTF_KIND.INT && elem.size === 1 && (elem.int!.encoding & BTF_INT_CHAR || elem.name === "char")) {
          const s = bytes.subarray(0, a.nelems);
          const nul = s.indexOf(0);
          return new TextDecoder().decode(nul < 0 ? s : s.subarray(0, nul));
        }
        const out: Decoded[] = [];
        for (let i = 0; i < a.nelems; i++) out.push(this.formatAt(a.type, bytes.subarray(i * elemSize, (i + 1) * elemSize), depth + 1));
        return out;
      }
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION: {
        const out: { [name: string]: Decoded } = {};
        for (const m of t.members!) {
          let v: Decoded;
          if (m.bitSize > 0 || m.bitOffset % 8 !== 0) {
            const mt = this.resolve(m.type).type;
            const whole = readUnsigned(bytes, Math.min(t.size, bytes.length), false);
            const bits = m.bitSize || (this.sizeOf(m.type) ?? 0) * 8;
            let bv = (whole >> BigInt(m.bitOffset)) & ((1n << BigInt(bits)) - 1n);
            if (mt.kind === BTF_KIND.INT && mt.int!.encoding & BTF_INT_SIGNED) bv = BigInt.asIntN(bits, bv);
            v = mt.kind === BTF_KIND.INT && mt.int!.encoding & BTF_INT_BOOL ? bv !== 0n : jsonInt(bv);
          } else {
            v = this.formatAt(m.type, bytes.subarray(m.bitOffset / 8), depth + 1);
          }
          if (m.name === "" && v !== null && typeof v === "object" && !Array.isArray(v)) Object.assign(out, v);
          else out[m.name || `(anon@${m.bitOffset / 8})`] = v;
        }
        return out;
      }
      default:
        return hexText(bytes.subarray(0, size ?? bytes.length));
    }
  }

  /**
   * Bytes of type `id` from command-line text: `hex:…` raw bytes for any
   * type; integers in decimal or 0x hex (for `__beNN`, the host-order value,
   * or a dotted quad for `__be32`); enumerator names; `true`/`false`; and
   * JSON (as `format` prints it) for structs and arrays.
   */
  parse(id: number, text: string): Uint8Array {
    const size = this.sizeOf(id);
    if (size === undefined) throw new BtfError(`cannot write a value of type ${this.typeName(id)}`);
    const raw = parseHexText(text, size);
    if (raw) return raw;
    const { type: t } = this.resolve(id);
    let value: unknown = text;
    if (t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION || (t.kind === BTF_KIND.ARRAY && /^\s*[[{"]/.test(text)) || /^\s*\{/.test(text)) {
      try {
        value = JSON.parse(text);
      } catch {
        throw new BtfError(`'${text}' is not JSON for ${this.typeName(id)} (or use hex:<${size} bytes>)`);
      }
    }
    const out = new Uint8Array(size);
    this.write(id, value, out, 0);
    return out;
  }

  /**
   * Bytes of type `id` from a JS value in the forms `parse` accepts once
   * decoded: a number or bigint for integers (range-checked; for `__beNN`
   * the host-order value), a boolean for bool, an enumerator name, a list or
   * object for arrays and structs, `hex:…` strings.
   */
  encode(id: number, value: unknown): Uint8Array {
    const size = this.sizeOf(id);
    if (size === undefined) throw new BtfError(`cannot write a value of type ${this.typeName(id)}`);
    const out = new Uint8Array(size);
    this.write(id, value, out, 0);
    return out;
  }

  private write(id: number, value: unknown, out: Uint8Array, depth: number): void {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(`BTF type ${id} nests too deeply`);
    const { type: t, bigEndian } = this.resolve(id);
    const size = this.sizeOf(id) ?? 0;
    const what = this.typeName(id);
    if (typeof value === "string" && value.startsWith("hex:")) {
      const raw = parseHexText(value, size);
      if (!raw) throw new BtfError(`'${value}' is not ${size} bytes of hex for ${what}`);
      out.set(raw);
      return;
    }
    switch (t.kind) {
      case BTF_KIND.INT: {
        const int = t.int!;
        const signed = (int.encoding & BTF_INT_SIGNED) !== 0;
        let v: bigint | undefined;
        if (int.encoding & BTF_INT_BOOL && (value === true || value === "true")) v = 1n;
        else if (int.encoding & BTF_INT_BOOL && (value === false || value === "false")) v = 0n;
        else if (bigEndian && value !== null && typeof value === "object" && ("host" in value || "be" in value)) {
          const o = value as { host?: unknown; be?: unknown };
          v = o.host !== undefined ? toBigInt(o.host) : toBigInt(o.be);
        } else if (bigEndian && t.size === 4 && typeof value === "string" && /^\d+\.\d+\.\d+\.\d+$/.test(value)) {
          const parts = value.split(".").map(Number);
          if (parts.every((p) => p <= 255)) v = parts.reduce((a, p) => (a << 8n) | BigInt(p), 0n);
        } else v = toBigInt(value);
        if (v === undefined) throw new BtfError(`'${show(value)}' is not ${bigEndian && t.size === 4 ? "an integer or an IPv4 address" : "an integer"} for ${what}`);
        const bits = BigInt(int.bits);
        const min = signed ? -(1n << (bits - 1n)) : 0n;
        const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
        if (v < min || v > max) throw new BtfError(`${show(value)} is out of range for ${what} (${min}..${max})`);
        writeUnsigned(out, BigInt.asUintN(t.size * 8, v << BigInt(int.bitOffset)), t.size, bigEndian);
        return;
      }
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64: {
        const named = typeof value === "string" ? t.enumerators!.find((e) => e.name === value) : undefined;
        const v = named?.value ?? toBigInt(value);
        if (v === undefined) throw new BtfError(`'${show(value)}' is not a value of ${what} (${t.enumerators!.map((e) => e.name).join(", ")})`);
        writeUnsigned(out, BigInt.asUintN(t.size * 8, v), t.size, false);
        return;
      }
      case BTF_KIND.PTR: {
        const v = toBigInt(value);
        if (v === undefined) throw new BtfError(`'${show(value)}' is not an address`);
        writeUnsigned(out, BigInt.asUintN(64, v), 8, false);
        return;
      }
      case BTF_KIND.FLOAT: {
        const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
        if (Number.isNaN(n) && value !== "NaN") throw new BtfError(`'${show(value)}' is not a number for ${what}`);
        const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
        if (t.size === 4) view.setFloat32(0, n, true);
        else if (t.size === 8) view.setFloat64(0, n, true);
        else throw new BtfError(`cannot write a ${t.size}-byte float`);
        return;
      }
      case BTF_KIND.ARRAY: {
        const a = t.array!;
        const elemSize = this.sizeOf(a.type) ?? 0;
        if (typeof value === "string") {
          const bytes = new TextEncoder().encode(value);
          if (elemSize !== 1 || bytes.length > a.nelems) throw new BtfError(`'${value}' does not fit ${what}`);
          out.set(bytes);
          return;
        }
        if (!Array.isArray(value) || value.length > a.nelems) throw new BtfError(`${what} needs a list of at most ${a.nelems} elements, got ${show(value)}`);
        value.forEach((v, i) => this.write(a.type, v, out.subarray(i * elemSize, (i + 1) * elemSize), depth + 1));
        return;
      }
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION: {
        if (value === null || typeof value !== "object" || Array.isArray(value)) throw new BtfError(`${what} needs a JSON object of its members, got ${show(value)}`);
        const given = value as Record<string, unknown>;
        const known = new Set<string>();
        const visit = (members: readonly BtfMember[], base: number, target: Record<string, unknown>) => {
          for (const m of members) {
            const mt = this.resolve(m.type).type;
            if (m.name === "" && (mt.kind === BTF_KIND.STRUCT || mt.kind === BTF_KIND.UNION)) {
              visit(mt.members!, base + m.bitOffset, target);
              continue;
            }
            known.add(m.name);
            if (!(m.name in target)) continue;
            const bitOffset = base + m.bitOffset;
            if (m.bitSize > 0 || bitOffset % 8 !== 0) {
              const bits = m.bitSize || (this.sizeOf(m.type) ?? 0) * 8;
              const v = toBigInt(target[m.name]);
              const signed = mt.kind === BTF_KIND.INT && (mt.int!.encoding & BTF_INT_SIGNED) !== 0;
              const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
              const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
              if (v === undefined || v < lo || v > hi) throw new BtfError(`'${show(target[m.name])}' does not fit bitfield ${m.name} (${lo}..${hi})`);
              let whole = readUnsigned(out, size, false);
              const mask = ((1n << BigInt(bits)) - 1n) << BigInt(bitOffset);
              whole = (whole & ~mask) | ((BigInt.asUintN(bits, v) << BigInt(bitOffset)) & mask);
              writeUnsigned(out, whole, size, false);
            } else {
              const ms = this.sizeOf(m.type) ?? 0;
              this.write(m.type, target[m.name], out.subarray(bitOffset / 8, bitOffset / 8 + ms), depth + 1);
            }
          }
        };
        visit(t.members!, 0, given);
        const unknown = Object.keys(given).filter((k) => !known.has(k));
        if (unknown.length > 0) throw new BtfError(`${what} has no member '${unknown[0]}' (members: ${[...known].join(", ")})`);
        return;
      }
      default:
        throw new BtfError(`cannot write a value of type ${what}: use hex:<${size} bytes>`);
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers, also used by `tsxdp map` for maps without BTF.

export function hexText(bytes: Uint8Array): string {
  return `hex:${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

/** `hex:0a000001` (spaces and colons allowed) as exactly `size` bytes, or undefined when `text` does not start with `hex:`. */
export function parseHexText(text: string, size: number): Uint8Array | undefined {
  if (!text.startsWith("hex:")) return undefined;
  const digits = text.slice(4).replace(/[\s:]/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new BtfError(`'${text}' is not hex bytes`);
  if (digits.length !== size * 2) throw new BtfError(`'${text}' is ${digits.length / 2} bytes; ${size} are needed`);
  return Uint8Array.from(Buffer.from(digits, "hex"));
}

/** A decimal or 0x integer (optionally negative) as bytes of `size`, little-endian: keys of maps without BTF. */
export function parseHostInt(text: string, size: number): Uint8Array | undefined {
  const v = toBigInt(text);
  if (v === undefined || size < 1 || size > 8) return undefined;
  const bits = BigInt(size * 8);
  if (v >= 1n << bits || v < -(1n << (bits - 1n))) throw new BtfError(`${text} does not fit in ${size} bytes`);
  const out = new Uint8Array(size);
  writeUnsigned(out, BigInt.asUintN(size * 8, v), size, false);
  return out;
}

function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : undefined;
  if (typeof value === "bigint") return value;
  if (typeof value !== "string") return undefined;
  const s = value.trim();
  const m = /^(-?)(0x[0-9a-fA-F]+|\d+)$/.exec(s);
  if (!m) return undefined;
  const v = BigInt(m[2]!);
  return m[1] ? -v : v;
}

function jsonInt(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
}

function readUnsigned(bytes: Uint8Array, size: number, bigEndian: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(bytes[bigEndian ? i : size - 1 - i] ?? 0);
  return v;
}

function writeUnsigned(out: Uint8Array, v: bigint, size: number, bigEndian: boolean): void {
  for (let i = 0; i < size; i++) {
    out[bigEndian ? size - 1 - i : i] = Number(v & 0xffn);
    v >>= 8n;
  }
}
