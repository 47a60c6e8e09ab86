/**
 * A repair of the line info LLVM writes: where the optimiser merges
 * instructions from different lines (a select of two return values, say),
 * it gives them line 0, which tools show as an empty line with no file
 * line. Such records take the location of the record before them (or,
 * first in their section, the one after), so every instruction of a program
 * maps to a real line of the .ts file. Only the location fields of
 * `.BTF.ext` line_info records change; sizes, offsets and relocations stay.
 *
 * Layout (include/uapi/linux/btf.h, libbpf's btf_ext): a header
 * { magic u16, version u8, flags u8, hdr_len u32, func_info_off u32,
 * func_info_len u32, line_info_off u32, line_info_len u32, … }, then at
 * hdr_len + line_info_off: rec_size u32, then per section
 * { sec_name_off u32, num_info u32, num_info × { insn_off, file_name_off,
 * line_off, line_col } }.
 */
import { readElf } from "./elf";

const btfMagic = 0xeb9f;

/** Fixes line-0 records in place; returns how many were fixed. */
export function fixLineZero(object: Uint8Array): number {
  const elf = readElf(object);
  const ext = elf.section(".BTF.ext");
  if (!ext || ext.size < 32) return 0;
  const view = new DataView(object.buffer, object.byteOffset + ext.offset, ext.size);
  if (view.getUint16(0, true) !== btfMagic) return 0;
  const hdrLen = view.getUint32(4, true);
  const lineOff = hdrLen + view.getUint32(16, true);
  const lineLen = view.getUint32(20, true);
  if (lineLen < 4 || lineOff + lineLen > ext.size) return 0;
  const recSize = view.getUint32(lineOff, true);
  if (recSize < 16) return 0;
  let fixed = 0;
  let pos = lineOff + 4;
  const end = lineOff + lineLen;
  while (pos + 8 <= end) {
    const count = view.getUint32(pos + 4, true);
    const first = pos + 8;
    const records = Array.from({ length: count }, (_, i) => first + i * recSize).filter((r) => r + recSize <= end);
    const lineOf = (r: number) => view.getUint32(r + 12, true) >>> 10;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (lineOf(r) !== 0) continue;
      const donor = records.slice(0, i).reverse().find((d) => lineOf(d) !== 0) ?? records.slice(i + 1).find((d) => lineOf(d) !== 0);
      if (donor === undefined) continue;
      for (const field of [4, 8, 12]) view.setUint32(r + field, view.getUint32(donor + field, true), true);
      fixed++;
    }
    pos = first + count * recSize;
  }
  return fixed;
}
