/**
 * Load-time configuration through `.rodata` (C's `const volatile` globals,
 * `config<T>()` in the TypeScript dialect): values userspace writes between
 * `bpf_object__open` and `bpf_object__load`, so one object is specialised at
 * load time without recompiling; the verifier then sees them as constants.
 *
 * Design invariants:
 * - The layout comes from the BTF libbpf holds after open, not from the
 *   ELF's `.BTF`: clang leaves the DATASEC's size and variable offsets at
 *   zero and libbpf fills them from the symbol table while opening, so its
 *   copy is the one that matches the map it will create.
 * - Every value is checked and encoded before a single byte is written;
 *   any mistake is a RodataError naming the variables that exist, and the
 *   caller (loadObject) closes the object without loading anything.
 * - Encoding and decoding are btf-types' `encode`/`parse`/`format`, so
 *   `--set proto=0x0800` means here what `tsxdp map set` means for a map
 *   value of the same type (`__beNN` typedefs take host-order numbers).
 */
import koffi from "koffi";
import { BtfError, BtfTypes, BTF_KIND } from "../object/btf-types";
import type { Decoded } from "../object/btf-types";
import { libbpf } from "./libbpf";
import type { Ptr } from "./libbpf";

/** A value for one `.rodata` variable: integers (range-checked), booleans, raw bytes of its exact size, or text as `tsxdp map set` parses it. */
export type RodataValue = number | bigint | boolean | string | Uint8Array;

export interface RodataVariable {
  readonly name: string;
  /** the variable's type id, const/volatile stripped */
  readonly type: number;
  /** C-like type name, e.g. "__u32", "__be16" */
  readonly typeName: string;
  readonly offset: number;
  readonly size: number;
}

export interface RodataLayout {
  /** libbpf's internal map for `.rodata` (struct bpf_map *) */
  readonly map: Ptr;
  /** libbpf's name for it, e.g. "xdp_roda.rodata" */
  readonly mapName: string;
  readonly size: number;
  readonly btf: BtfTypes;
  readonly variables: readonly RodataVariable[];
}

/** A `.rodata` value that cannot be set: unknown name, wrong type, out of range. */
export class RodataError extends Error {
  /** the variable concerned, when there is one */
  readonly variable: string | undefined;
  /** every `.rodata` variable of the object, "name (type)" */
  readonly known: readonly string[];

  constructor(message: string, variable: string | undefined, known: readonly string[]) {
    super(message);
    this.name = "RodataError";
    this.variable = variable;
    this.known = known;
  }
}

const RODATA = ".rodata";

/**
 * The `.rodata` map of an opened (or loaded) object and its variables, or
 * undefined when it has none. Throws BtfError on malformed BTF.
 */
export function rodataLayout(obj: Ptr): RodataLayout | undefined {
  const lb = libbpf();
  let map: Ptr | null = null;
  let mapName = "";
  for (let m = lb.bpf_object__next_map(obj, null); m !== null; m = lb.bpf_object__next_map(obj, m)) {
    const name = lb.bpf_map__name(m);
    // libbpf names it "<object name prefix>.rodata"; custom ".rodata.foo" sections are other maps.
    if (name === RODATA || name.endsWith(RODATA)) {
      map = m;
      mapName = name;
      break;
    }
  }
  if (map === null) return undefined;
  const btfPtr = lb.bpf_object__btf(obj);
  if (btfPtr === null) throw new BtfError(`the object has a ${RODATA} section but no BTF, so its variables cannot be found by name (compile with -g)`);
  const rawSize: [number] = [0];
  const raw = lb.btf__raw_data(btfPtr, rawSize);
  if (raw === null || rawSize[0] === 0) throw new BtfError("libbpf could not produce the object's BTF");
  const btf = new BtfTypes(new Uint8Array(koffiView(raw, rawSize[0])).slice());
  const sec = btf.types.find((t) => t.kind === BTF_KIND.DATASEC && t.name === RODATA);
  const variables: RodataVariable[] = [];
  for (const v of sec?.vars ?? []) {
    const varType = btf.type(v.type);
    if (varType.kind !== BTF_KIND.VAR) continue;
    const type = stripQualifiers(btf, varType.type);
    variables.push({ name: varType.name, type, typeName: btf.typeName(type), offset: v.offset, size: v.size });
  }
  return { map, mapName, size: lb.bpf_map__value_size(map), btf, variables };
}

/**
 * Writes `values` into the `.rodata` initial value of an opened, not yet
 * loaded object. Throws RodataError (nothing written) on any bad value.
 */
export function applyRodata(obj: Ptr, values: Readonly<Record<string, RodataValue>>): void {
  const names = Object.keys(values);
  if (names.length === 0) return;
  const layout = rodataLayout(obj);
  const known = layout ? describeVariables(layout) : [];
  const list = known.length > 0 ? ` (.rodata variables: ${known.join(", ")})` : " (the object has no .rodata variables: nothing is declared `const volatile` / config<T>())";
  if (!layout || layout.variables.length === 0) {
    throw new RodataError(`cannot set '${names[0]}': no .rodata variable of that name${list}`, names[0], known);
  }
  const lb = libbpf();
  const size: [number] = [0];
  const current = lb.bpf_map__initial_value(layout.map, size);
  if (current === null || size[0] !== layout.size) throw new RodataError(`libbpf has no initial value for ${layout.mapName}; cannot set .rodata before load`, undefined, known);
  const image = new Uint8Array(koffiView(current, layout.size)).slice();

  const writes: { at: number; bytes: Uint8Array }[] = [];
  for (const name of names) {
    const v = layout.variables.find((x) => x.name === name);
    if (!v) throw new RodataError(`cannot set '${name}': no .rodata variable of that name${list}`, name, known);
    if (v.offset + v.size > layout.size) throw new RodataError(`.rodata variable '${name}' lies outside ${layout.mapName} (BTF and section disagree)`, name, known);
    writes.push({ at: v.offset, bytes: encodeValue(layout.btf, v, values[name], known) });
  }
  for (const w of writes) image.set(w.bytes, w.at);
  const rc = lb.bpf_map__set_initial_value(layout.map, image, image.length);
  if (rc < 0) throw new RodataError(`bpf_map__set_initial_value(${layout.mapName}) failed with errno ${-rc}`, undefined, known);
}

/** Each variable of `bytes` (the whole `.rodata` image) decoded by BTF, in section order. */
export function decodeRodata(layout: RodataLayout, bytes: Uint8Array): Record<string, Decoded> {
  const out: Record<string, Decoded> = {};
  for (const v of layout.variables) {
    const slice = bytes.subarray(v.offset, v.offset + v.size);
    out[v.name] = slice.length === v.size ? layout.btf.format(v.type, slice) : null;
  }
  return out;
}

/** The current `.rodata` image libbpf holds (before load: what will be loaded). */
export function rodataInitialValue(layout: RodataLayout): Uint8Array | undefined {
  const size: [number] = [0];
  const ptr = libbpf().bpf_map__initial_value(layout.map, size);
  return ptr === null ? undefined : new Uint8Array(koffiView(ptr, Math.min(size[0], layout.size))).slice();
}

export function describeVariables(layout: RodataLayout): string[] {
  return layout.variables.map((v) => `${v.name} (${v.typeName})`);
}

function encodeValue(btf: BtfTypes, v: RodataVariable, value: RodataValue | undefined, known: readonly string[]): Uint8Array {
  const fail = (why: string) => new RodataError(`cannot set .rodata '${v.name}' (${v.typeName}, ${v.size} bytes): ${why}`, v.name, known);
  let bytes: Uint8Array;
  try {
    if (value instanceof Uint8Array) {
      if (value.length !== v.size) throw fail(`${value.length} bytes given, ${v.size} needed`);
      bytes = value;
    } else if (typeof value === "string") {
      const t = btf.resolve(v.type).type;
      const flag = value === "true" || value === "false";
      // "true"/"false" for a non-_Bool integer (a u8 flag) mean 1 and 0, as booleans do.
      bytes = flag && t.kind === BTF_KIND.INT && (t.int!.encoding & 4) === 0 ? btf.encode(v.type, value === "true" ? 1 : 0) : btf.parse(v.type, value);
    } else if (typeof value === "number" || typeof value === "bigint") {
      if (typeof value === "number" && !Number.isSafeInteger(value)) {
        const t = btf.resolve(v.type).type;
        if (t.kind !== BTF_KIND.FLOAT) throw fail(`${value} is not an integer`);
      }
      bytes = btf.encode(v.type, value);
    } else if (typeof value === "boolean") {
      const t = btf.resolve(v.type).type;
      // A C `_Bool` takes it as is; any other integer as 1 or 0.
      bytes = btf.encode(v.type, t.kind === BTF_KIND.INT && (t.int!.encoding & 4) === 0 ? (value ? 1 : 0) : value);
    } else {
      throw fail(`a ${value === null ? "null" : typeof value} is not a value (give a number, bigint, boolean, string or Uint8Array)`);
    }
  } catch (e) {
    if (e instanceof BtfError) throw fail(e.message);
    throw e;
  }
  if (bytes.length !== v.size) throw fail(`its type has ${bytes.length} bytes but the section gives it ${v.size}`);
  return bytes;
}

function stripQualifiers(btf: BtfTypes, id: number): number {
  for (let depth = 0; depth < 32; depth++) {
    const t = btf.type(id);
    if (t.kind !== BTF_KIND.CONST && t.kind !== BTF_KIND.VOLATILE && t.kind !== BTF_KIND.RESTRICT) return id;
    id = t.type;
  }
  return id;
}

function koffiView(ptr: Ptr, size: number): ArrayBuffer {
  return koffi.view(ptr, size);
}

