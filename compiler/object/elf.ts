/**
 * A reader for the ELF64 little-endian relocatable objects the BPF backend
 * writes: section headers and the symbol table, which is all the compiler,
 * the CLI and the tests need to see what an object holds. Read-only and
 * bounds-checked: a truncated or foreign file gives an ElfError, not garbage.
 */

export class ElfError extends Error {}

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
}

export interface ElfSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
  /** STT_*: 2 is a function. */
  readonly type: number;
  /** STB_*: 1 is global. */
  readonly bind: number;
  readonly sectionIndex: number;
}

export interface ElfObject {
  readonly machine: number;
  readonly type: number;
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  section(name: string): ElfSection | undefined;
  contents(section: ElfSection): Uint8Array;
}

export const EM_BPF = 247;
const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;

export function readElf(bytes: Uint8Array): ElfObject {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw new ElfError("not an ELF file");
  if (bytes[4] !== 2) throw new ElfError("not a 64-bit ELF file");
  if (bytes[5] !== 1) throw new ElfError("not a little-endian ELF file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => check(o, 2) && view.getUint16(o, true);
  const u32 = (o: number) => check(o, 4) && view.getUint32(o, true);
  const u64 = (o: number) => (check(o, 8), view.getBigUint64(o, true));
  function check(o: number, n: number): true {
    if (o < 0 || o + n > bytes.length) throw new ElfError("truncated ELF file");
    return true;
  }
  const type = u16(16) as number;
  const machine = u16(18) as number;
  const shoff = Number(u64(40));
  const shentsize = u16(58) as number;
  const shnum = u16(60) as number;
  const shstrndx = u16(62) as number;
  if (shnum > 0 && shentsize < 64) throw new ElfError("bad section header size");
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push({
      nameOff: u32(o) as number,
      type: u32(o + 4) as number,
      flags: u64(o + 8),
      offset: Number(u64(o + 24)),
      size: Number(u64(o + 32)),
      link: u32(o + 40) as number,
      info: u32(o + 44) as number,
      entsize: Number(u64(o + 56)),
    });
  }
  const strtab = raw[shstrndx];
  const str = (table: { offset: number; size: number } | undefined, off: number): string => {
    if (!table || off >= table.size) return "";
    const start = table.offset + off;
    let end = start;
    while (end < table.offset + table.size && end < bytes.length && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(start, end));
  };
  const sections: ElfSection[] = raw.map((s, index) => {
    if (s.type !== SHT_NOBITS && s.size > 0) check(s.offset, s.size);
    return { index, name: str(strtab, s.nameOff), type: s.type, flags: s.flags, offset: s.offset, size: s.size, link: s.link, info: s.info, entsize: s.entsize };
  });
  const symbols: ElfSymbol[] = [];
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (symtab && symtab.entsize >= 24) {
    const names = sections[symtab.link];
    for (let o = symtab.offset; o + 24 <= symtab.offset + symtab.size; o += symtab.entsize) {
      const info = bytes[o + 4]!;
      symbols.push({ name: str(names, u32(o) as number), type: info & 0xf, bind: info >> 4, sectionIndex: u16(o + 6) as number, value: u64(o + 8), size: u64(o + 16) });
    }
  }
  return {
    machine,
    type,
    sections,
    symbols,
    section: (name) => sections.find((s) => s.name === name),
    contents: (s) => (s.type === SHT_NOBITS ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size)),
  };
}
