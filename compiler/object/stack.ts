/**
 * The stack of a call chain, as the kernel counts it (check_max_stack_depth,
 * kernel/bpf/verifier.c): every function's frame rounded up to 32 bytes,
 * summed along each chain of BPF-to-BPF calls (and of bpf_loop callbacks,
 * which run on top of their caller), at most MAX_BPF_STACK = 512 bytes.
 * LLVM checks each function alone; a program within 512 bytes that calls
 * a subprogram within 512 bytes can still be refused together, so the
 * object is measured here: a frame's size is the deepest r10-relative
 * access (or r10-derived pointer) in the function's instructions.
 */
import type { ElfObject, ElfSection, ElfSymbol } from "./elf";

export const maxStack = 512;

const STT_FUNC = 2;
const SHT_REL = 9;
const BPF_PSEUDO_CALL = 1;
const BPF_PSEUDO_FUNC = 4;

interface Fn {
  readonly name: string;
  readonly section: number;
  /** First instruction and instruction count, in 8-byte slots of its section. */
  readonly start: number;
  readonly count: number;
  depth: number;
  readonly callees: Set<Fn>;
}

/** Each program's deepest chain: its frames in order and the total, when it exceeds 512 bytes. */
export function stackChains(elf: ElfObject, programs: readonly string[]): { program: string; chain: string[]; bytes: number }[] {
  const fns = elf.symbols
    .filter((s) => s.type === STT_FUNC && s.sectionIndex > 0 && s.sectionIndex < elf.sections.length)
    .map((s): Fn => ({ name: s.name, section: s.sectionIndex, start: Number(s.value) / 8, count: Number(s.size) / 8, depth: 0, callees: new Set() }));
  const at = (section: number, insn: number) => fns.find((f) => f.section === section && insn >= f.start && insn < f.start + f.count);
  const relocations = relocationsBySection(elf);
  for (const f of fns) {
    const code = elf.contents(elf.sections[f.section]!);
    const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
    const relocs = relocations.get(f.section) ?? new Map<number, ElfSymbol>();
    const fp = new Set<number>([10]);
    for (let i = f.start; i < f.start + f.count; i++) {
      const o = i * 8;
      const opcode = view.getUint8(o);
      const regs = view.getUint8(o + 1);
      const dst = regs & 0xf;
      const src = regs >> 4;
      const off = view.getInt16(o + 2, true);
      const imm = view.getInt32(o + 4, true);
      const cls = opcode & 7;
      // Loads and stores through r10 (or a copy of it) at a negative offset.
      if (cls === 1 && fp.has(src) && off < 0) f.depth = Math.max(f.depth, -off);
      if ((cls === 2 || cls === 3) && fp.has(dst) && off < 0) f.depth = Math.max(f.depth, -off);
      if (opcode === 0xbf && src === 10) fp.add(dst);
      else if (opcode === 0x07 && fp.has(dst) && dst !== 10) f.depth = Math.max(f.depth, -imm);
      else if ((cls === 4 || cls === 7 || cls === 1 || opcode === 0x18) && dst !== 10) fp.delete(dst);
      if (opcode === 0x85 && src === BPF_PSEUDO_CALL) {
        const sym = relocs.get(o);
        const target = sym ? at(sym.sectionIndex, Number(sym.value) / 8 + imm + 1) : at(f.section, i + imm + 1);
        if (target) f.callees.add(target);
      }
      if (opcode === 0x18) {
        if (src === BPF_PSEUDO_FUNC) {
          const sym = relocs.get(o);
          const target = sym ? at(sym.sectionIndex, (Number(sym.value) + imm) / 8) : at(f.section, i + imm + 1);
          if (target) f.callees.add(target);
        }
        i++; // ld_imm64 takes two slots
      }
    }
  }
  const frame = (f: Fn) => Math.ceil(Math.max(f.depth, 1) / 32) * 32;
  const deepest = (f: Fn, seen: Set<Fn>): { bytes: number; chain: Fn[] } => {
    let best = { bytes: 0, chain: [] as Fn[] };
    for (const c of f.callees) {
      if (seen.has(c)) continue;
      const d = deepest(c, new Set([...seen, c]));
      if (d.bytes > best.bytes) best = d;
    }
    return { bytes: frame(f) + best.bytes, chain: [f, ...best.chain] };
  };
  const out = [];
  for (const name of programs) {
    const f = fns.find((x) => x.name === name);
    if (!f) continue;
    const d = deepest(f, new Set([f]));
    if (d.bytes > maxStack) out.push({ program: name, chain: d.chain.map((c) => `${c.name} (${frame(c)})`), bytes: d.bytes });
  }
  return out;
}

/** Relocations of each code section, by byte offset: the symbol a call or ld_imm64 refers to. */
function relocationsBySection(elf: ElfObject): Map<number, Map<number, ElfSymbol>> {
  const out = new Map<number, Map<number, ElfSymbol>>();
  for (const rel of elf.sections.filter((s: ElfSection) => s.type === SHT_REL && s.entsize >= 16)) {
    const data = elf.contents(rel);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const map = out.get(rel.info) ?? new Map<number, ElfSymbol>();
    for (let o = 0; o + 16 <= data.byteLength; o += rel.entsize) {
      const sym = elf.symbols[Number(view.getBigUint64(o + 8, true) >> 32n)];
      if (sym) map.set(Number(view.getBigUint64(o, true)), sym);
    }
    out.set(rel.info, map);
  }
  return out;
}
