/** What an object's code calls, read from its instructions: the reference for "the helper calls are clang's". */
import { readElf } from "../../compiler/object/elf";

/** The immediates of the helper calls (BPF_JMP|BPF_CALL, src_reg 0) in `section`, in code order. */
export function helperCalls(object: Uint8Array, section = "xdp"): number[] {
  const elf = readElf(object);
  const code = elf.contents(elf.section(section)!);
  const ids: number[] = [];
  for (let i = 0; i + 8 <= code.length; i += 8) {
    if (code[i] === 0x85 && code[i + 1]! >> 4 === 0) ids.push(new DataView(code.buffer, code.byteOffset + i + 4, 4).getInt32(0, true));
  }
  return ids;
}
