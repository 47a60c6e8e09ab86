/**
 * Just enough of .BTF and .BTF.ext to map an instruction back to a source
 * line: the string section (file names and line texts) and the line_info
 * records, per ELF section. Types and func_info are not read.
 *
 * Invariant: every offset is checked against the section it points into; a
 * malformed or foreign section gives a BtfError, never an out-of-range read
 * or a made-up line. Offsets in the object file are in bytes from the start
 * of the ELF section (libbpf divides them by 8 before handing them to the
 * kernel, which is why the verifier log counts instructions instead).
 */
import type { ElfObject } from "./elf";

export class BtfError extends Error {}

export interface BtfLineInfo {
  /** Byte offset of the instruction from the start of its ELF section. */
  readonly insnOff: number;
  /** File name as the compiler wrote it (tsxdp and clang write the path they compiled). */
  readonly file: string;
  /** The source line's text, as read by the compiler at build time ("" when it could not read the file). */
  readonly text: string;
  /** 1-based; 0 means "no line" (compiler-generated code). */
  readonly line: number;
  /** 1-based; 0 when unknown. */
  readonly column: number;
}

const BTF_MAGIC = 0xeb9f;
/** struct btf_header: magic, version, flags, hdr_len, type_off/len, str_off/len. */
const BTF_HEADER_MIN = 24;
/** struct btf_ext_header up to line_info_len (the CO-RE fields come after and are optional). */
const BTF_EXT_HEADER_MIN = 24;
/** struct bpf_line_info: insn_off, file_name_off, line_off, line_col. */
const LINE_INFO_MIN = 16;

/** The strings of .BTF, addressed by offset like the kernel's btf_name_by_offset(). */
export function readBtfStrings(btf: Uint8Array): (offset: number) => string {
  const view = dataView(btf);
  if (btf.length < BTF_HEADER_MIN) throw new BtfError(".BTF is truncated");
  checkMagic(view, ".BTF");
  const hdrLen = view.getUint32(4, true);
  const strOff = view.getUint32(16, true);
  const strLen = view.getUint32(20, true);
  const start = hdrLen + strOff;
  if (hdrLen < BTF_HEADER_MIN || start + strLen > btf.length) throw new BtfError(".BTF string section is out of bounds");
  const strings = btf.subarray(start, start + strLen);
  const decoder = new TextDecoder();
  const cache = new Map<number, string>();
  return (offset) => {
    let s = cache.get(offset);
    if (s !== undefined) return s;
    if (offset < 0 || offset >= strings.length) throw new BtfError(`.BTF string offset ${offset} is out of bounds`);
    const end = strings.indexOf(0, offset);
    if (end < 0) throw new BtfError(`.BTF string at ${offset} is not terminated`);
    s = decoder.decode(strings.subarray(offset, end));
    cache.set(offset, s);
    return s;
  };
}

/** Line info records by ELF section name, each list sorted by instruction offset. */
export function readBtfLineInfo(btf: Uint8Array, btfExt: Uint8Array): Map<string, BtfLineInfo[]> {
  const str = readBtfStrings(btf);
  const view = dataView(btfExt);
  if (btfExt.length < BTF_EXT_HEADER_MIN) throw new BtfError(".BTF.ext is truncated");
  checkMagic(view, ".BTF.ext");
  const hdrLen = view.getUint32(4, true);
  const lineOff = view.getUint32(16, true);
  const lineLen = view.getUint32(20, true);
  const out = new Map<string, BtfLineInfo[]>();
  if (lineLen === 0) return out;
  let o = hdrLen + lineOff;
  const end = o + lineLen;
  if (hdrLen < BTF_EXT_HEADER_MIN || end > btfExt.length || lineLen < 4) throw new BtfError(".BTF.ext line_info is out of bounds");
  const recSize = view.getUint32(o, true);
  // Newer compilers may append fields; the first four keep their meaning.
  if (recSize < LINE_INFO_MIN) throw new BtfError(`.BTF.ext line_info record size ${recSize} is too small`);
  o += 4;
  while (o < end) {
    if (o + 8 > end) throw new BtfError(".BTF.ext line_info block header is truncated");
    const section = str(view.getUint32(o, true));
    const count = view.getUint32(o + 4, true);
    o += 8;
    if (o + count * recSize > end) throw new BtfError(`.BTF.ext line_info for section '${section}' is truncated`);
    const records = out.get(section) ?? [];
    for (let i = 0; i < count; i++, o += recSize) {
      const lineCol = view.getUint32(o + 12, true);
      records.push({
        insnOff: view.getUint32(o, true),
        file: str(view.getUint32(o + 4, true)),
        text: str(view.getUint32(o + 8, true)),
        // BPF_LINE_INFO_LINE_NUM / BPF_LINE_INFO_LINE_COL (uapi/linux/bpf.h)
        line: lineCol >>> 10,
        column: lineCol & 0x3ff,
      });
    }
    records.sort((a, b) => a.insnOff - b.insnOff);
    out.set(section, records);
  }
  return out;
}

/**
 * The line info of one program, re-based so that `insnOff` counts
 * instructions from the program's first one, as the verifier log does.
 * Undefined when the object has no BTF line info or no such program.
 */
export function programLineInfo(elf: ElfObject, program: string): BtfLineInfo[] | undefined {
  const btf = elf.section(".BTF");
  const ext = elf.section(".BTF.ext");
  if (!btf || !ext) return undefined;
  const STT_FUNC = 2;
  const sym = elf.symbols.find((s) => s.name === program && s.type === STT_FUNC && s.sectionIndex > 0 && s.sectionIndex < elf.sections.length);
  if (!sym) return undefined;
  const section = elf.sections[sym.sectionIndex]!;
  const start = Number(sym.value);
  const size = Number(sym.size);
  const records = readBtfLineInfo(elf.contents(btf), elf.contents(ext)).get(section.name);
  if (!records) return undefined;
  // Several programs can share a section; only this one's range is its own.
  return records
    .filter((r) => r.insnOff >= start && (size === 0 || r.insnOff < start + size))
    .map((r) => ({ ...r, insnOff: (r.insnOff - start) / 8 }));
}

/**
 * The record covering instruction `insn`: the last one at or before it,
 * which is how the kernel's find_linfo() (kernel/bpf/verifier.c) picks the
 * line it prints.
 */
export function lineForInsn(records: readonly BtfLineInfo[], insn: number): BtfLineInfo | undefined {
  let found: BtfLineInfo | undefined;
  for (const r of records) {
    if (r.insnOff > insn) break;
    found = r;
  }
  return found;
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkMagic(view: DataView, what: string): void {
  const magic = view.getUint16(0, true);
  if (magic === 0x9feb) throw new BtfError(`${what} is big-endian; only little-endian BPF objects are supported`);
  if (magic !== BTF_MAGIC) throw new BtfError(`${what} has a bad magic number 0x${magic.toString(16)}`);
}
