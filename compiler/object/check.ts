/**
 * The object stage: the bytes LLVM wrote must be the object the programs
 * promise, before anyone tries to load them. Each program's function in its
 * section, the license, and BTF with its extension (without which libbpf
 * would silently load the programs with no line info). A failure here is a
 * compiler bug, reported as one.
 */
import { Codes } from "../diagnostics/codes";
import type { DiagnosticBag } from "../diagnostics/diagnostic";
import type { ModuleIR } from "../ir/ir";
import { EM_BPF, readElf } from "./elf";
import { maxStack, stackChains } from "./stack";

const STT_FUNC = 2;

export function checkObject(object: Uint8Array, module: ModuleIR, diagnostics: DiagnosticBag): void {
  const problems: string[] = [];
  const elf = readElf(object);
  if (elf.machine !== EM_BPF) problems.push(`machine ${elf.machine} is not BPF`);
  for (const name of ["license", ".BTF", ".BTF.ext"]) if (!elf.section(name)) problems.push(`section ${name} is missing`);
  if (elf.section(".eh_frame")) problems.push("an .eh_frame section was emitted");
  for (const p of module.programs) {
    const section = elf.section(p.section);
    const sym = elf.symbols.find((s) => s.name === p.name && s.type === STT_FUNC);
    if (!section || section.size === 0) problems.push(`section ${p.section} of program ${p.name} is missing or empty`);
    else if (!sym || elf.sections[sym.sectionIndex]?.name !== p.section) problems.push(`program ${p.name} is not a function in section ${p.section}`);
  }
  // The kernel's limit on a chain of calls; LLVM checked each function alone.
  for (const c of stackChains(elf, module.programs.map((p) => p.name))) {
    const program = module.programs.find((p) => p.name === c.program)!;
    const what = c.chain.length === 1 ? `program \`${c.program}\` uses ${c.bytes} bytes of stack` : `program \`${c.program}\` and the functions it calls use ${c.bytes} bytes of stack together`;
    diagnostics.report(Codes.stackLimit, program.node, `${what}, more than the ${maxStack} the kernel allows${c.chain.length === 1 ? "" : `: ${c.chain.join(" → ")}`}`, {
      hints: ["the kernel counts each frame rounded up to 32 bytes along the deepest chain of calls; inline a function (drop its `noinline`) or make its local structs smaller"],
    });
  }
  for (const problem of problems) {
    diagnostics.report(Codes.internal, undefined, `internal compiler error: the emitted object is wrong: ${problem}`, {
      hints: ["this is a bug in tsxdp, not in your program; please report it with the file that triggered it"],
    });
  }
}
