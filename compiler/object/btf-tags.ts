/**
 * BTF tags the verifier reads and LLVM's C API cannot emit (its DIBuilder
 * calls take no annotations): `btf_decl_tag` on a struct member or a global
 * variable ("contains:node_data:node" on a `bpf_list_head`) and
 * `btf_type_tag` on a pointer member's pointee ("kptr" on a field that holds
 * an object). They are added to the object's .BTF after LLVM, as the records
 * clang writes for the attributes.
 *
 * New types and strings go at the end of their sections, so every type id
 * and string offset LLVM wrote (in .BTF, .BTF.ext and their relocations)
 * stays valid; only a tagged pointer member's type id changes, to a new
 * PTR -> TYPE_TAG -> pointee chain (the old PTR may be shared). The ELF
 * grows in place: sections after .BTF move by a multiple of 8 bytes, which
 * keeps their alignment.
 */
import { InternalError } from "../diagnostics/diagnostic";
import { readElf } from "./elf";
import { BTF_KIND } from "./btf-types";

export type BtfTag =
  /** btf_decl_tag on a member of a struct. */
  | { readonly on: "member"; readonly struct: string; readonly member: string; readonly tag: string }
  /** btf_decl_tag on a global variable (a VAR; component -1). */
  | { readonly on: "variable"; readonly variable: string; readonly tag: string }
  /** btf_type_tag on what a struct's pointer member points to. */
  | { readonly on: "pointee"; readonly struct: string; readonly member: string; readonly tag: string };

interface TypeRecord {
  readonly id: number;
  readonly kind: number;
  readonly name: string;
  /** Byte offset of the record in the type section. */
  readonly at: number;
  readonly vlen: number;
}

const headerLen = 24;

/** The object with `tags` in its .BTF (the same bytes when there are none). */
export function addBtfTags(object: Uint8Array, tags: readonly BtfTag[]): Uint8Array {
  if (tags.length === 0) return object;
  const elf = readElf(object);
  const section = elf.section(".BTF");
  if (!section) throw new InternalError("the object has no .BTF to tag");
  const btf = elf.contents(section);
  const view = new DataView(btf.buffer, btf.byteOffset, btf.byteLength);
  const hdrLen = view.getUint32(4, true);
  const typeOff = view.getUint32(8, true);
  const typeLen = view.getUint32(12, true);
  const strOff = view.getUint32(16, true);
  const strLen = view.getUint32(20, true);
  if (hdrLen !== headerLen || typeOff !== 0 || strOff !== typeLen) throw new InternalError("unexpected .BTF layout");
  const types = hdrLen;
  const strings = btf.slice(hdrLen + strOff, hdrLen + strOff + strLen);

  const decoder = new TextDecoder();
  const str = (off: number) => decoder.decode(strings.subarray(off, strings.indexOf(0, off)));
  const records = walk(view, types, typeLen, str);
  let nextId = records.length + 1;

  const newStrings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const addString = (s: string): number => {
    const known = stringOffsets.get(s);
    if (known !== undefined) return known;
    const off = strings.length + newStrings.length;
    newStrings.push(...new TextEncoder().encode(s), 0);
    stringOffsets.set(s, off);
    return off;
  };
  const newTypes: number[][] = [];
  const addType = (nameOff: number, kind: number, sizeOrType: number, extra?: number): number => {
    newTypes.push(extra === undefined ? [nameOff, kind << 24, sizeOrType] : [nameOff, kind << 24, sizeOrType, extra]);
    return nextId++;
  };
  const memberOf = (struct: string, member: string) => {
    const found = records.flatMap((r) => {
      if (r.kind !== BTF_KIND.STRUCT || r.name !== struct) return [];
      for (let i = 0; i < r.vlen; i++) {
        const at = types + r.at + 12 + i * 12;
        if (str(view.getUint32(at, true)) === member) return [{ record: r, index: i, at }];
      }
      return [];
    });
    if (found.length === 0) throw new InternalError(`no member ${struct}.${member} in BTF to tag`);
    return found;
  };

  for (const tag of tags) {
    if (tag.on === "member") {
      for (const m of memberOf(tag.struct, tag.member)) addType(addString(tag.tag), BTF_KIND.DECL_TAG, m.record.id, m.index);
    } else if (tag.on === "variable") {
      const vars = records.filter((r) => r.kind === BTF_KIND.VAR && r.name === tag.variable);
      if (vars.length === 0) throw new InternalError(`no variable ${tag.variable} in BTF to tag`);
      for (const v of vars) addType(addString(tag.tag), BTF_KIND.DECL_TAG, v.id, 0xffffffff);
    } else {
      for (const m of memberOf(tag.struct, tag.member)) {
        const ptrId = view.getUint32(m.at + 4, true);
        const ptr = records[ptrId - 1];
        if (!ptr || ptr.kind !== BTF_KIND.PTR) throw new InternalError(`${tag.struct}.${tag.member} is not a pointer in BTF`);
        const pointee = view.getUint32(types + ptr.at + 8, true);
        const tagged = addType(addString(tag.tag), BTF_KIND.TYPE_TAG, pointee);
        view.setUint32(m.at + 4, addType(0, BTF_KIND.PTR, tagged), true);
      }
    }
  }

  const addedTypes = newTypes.flat();
  const out = new Uint8Array(hdrLen + typeLen + addedTypes.length * 4 + strings.length + newStrings.length);
  const outView = new DataView(out.buffer);
  out.set(btf.subarray(0, hdrLen + typeLen));
  addedTypes.forEach((word, i) => outView.setUint32(hdrLen + typeLen + i * 4, word >>> 0, true));
  out.set(strings, hdrLen + typeLen + addedTypes.length * 4);
  out.set(newStrings, hdrLen + typeLen + addedTypes.length * 4 + strings.length);
  outView.setUint32(12, typeLen + addedTypes.length * 4, true);
  outView.setUint32(16, typeLen + addedTypes.length * 4, true);
  outView.setUint32(20, strings.length + newStrings.length, true);
  return replaceSection(object, ".BTF", out);
}

/** Every type record with where it starts, in id order (id 1 first). */
function walk(view: DataView, start: number, length: number, str: (off: number) => string): TypeRecord[] {
  const out: TypeRecord[] = [];
  let at = 0;
  while (at < length) {
    const info = view.getUint32(start + at + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    out.push({ id: out.length + 1, kind, name: str(view.getUint32(start + at, true)), at, vlen });
    at += 12 + trailing(kind, vlen);
  }
  if (at !== length) throw new InternalError("truncated .BTF type section");
  return out;
}

function trailing(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND.INT:
    case BTF_KIND.VAR:
    case BTF_KIND.DECL_TAG:
      return 4;
    case BTF_KIND.ARRAY:
      return 12;
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION:
    case BTF_KIND.DATASEC:
    case BTF_KIND.ENUM64:
      return 12 * vlen;
    case BTF_KIND.ENUM:
    case BTF_KIND.FUNC_PROTO:
      return 8 * vlen;
    default:
      return 0;
  }
}

/**
 * The object with one section's contents replaced: the sections and the
 * section header table after it move by the growth rounded up to 8 bytes
 * (the widest alignment in a BPF object), the gap zero-filled.
 */
function replaceSection(object: Uint8Array, name: string, contents: Uint8Array): Uint8Array {
  const elf = readElf(object);
  const section = elf.section(name);
  if (!section) throw new InternalError(`no section ${name}`);
  if (contents.length < section.size) throw new InternalError(`section ${name} would shrink`);
  const growth = Math.ceil((contents.length - section.size) / 8) * 8;
  const oldEnd = section.offset + section.size;
  const out = new Uint8Array(object.length + growth);
  out.set(object.subarray(0, section.offset));
  out.set(contents, section.offset);
  out.set(object.subarray(oldEnd), oldEnd + growth);
  const view = new DataView(out.buffer);
  const shoff = Number(view.getBigUint64(40, true));
  const newShoff = shoff >= oldEnd ? shoff + growth : shoff;
  view.setBigUint64(40, BigInt(newShoff), true);
  const shentsize = view.getUint16(58, true);
  const moved = (offset: number) => (offset >= oldEnd ? offset + growth : offset);
  for (const s of elf.sections) {
    const header = newShoff + s.index * shentsize;
    if (s.index === section.index) view.setBigUint64(header + 32, BigInt(contents.length), true);
    else if (s.type !== 8 /* SHT_NOBITS */ && s.index !== 0) view.setBigUint64(header + 24, BigInt(moved(s.offset)), true);
  }
  return out;
}
