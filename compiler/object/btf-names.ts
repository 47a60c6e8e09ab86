/**
 * Type names in .BTF set back to what the program means: the code
 * generator may give a kernel struct a longer name for LLVM's sake (see
 * DebugInfo's flavor), and the object must show the kernel's. Each name is
 * a prefix of the one LLVM wrote, so it is rewritten in place, the rest of
 * its bytes NUL (empty strings nobody refers to): every string offset and
 * section size stays as it was.
 */
import { InternalError } from "../diagnostics/diagnostic";
import { readElf } from "./elf";

export function restoreBtfNames(object: Uint8Array, names: ReadonlyMap<string, string>): void {
  if (names.size === 0) return;
  const elf = readElf(object);
  const section = elf.section(".BTF");
  if (!section) throw new InternalError("the object has no .BTF");
  const btf = elf.contents(section);
  const view = new DataView(btf.buffer, btf.byteOffset, btf.byteLength);
  const hdrLen = view.getUint32(4, true);
  const strings = btf.subarray(hdrLen + view.getUint32(16, true), hdrLen + view.getUint32(16, true) + view.getUint32(20, true));
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  for (let at = 0; at < strings.length; ) {
    const end = strings.indexOf(0, at);
    if (end < 0) break;
    const to = names.get(decoder.decode(strings.subarray(at, end)));
    if (to !== undefined) {
      const bytes = encoder.encode(to);
      if (bytes.length > end - at) throw new InternalError(`BTF name ${to} is longer than the one it replaces`);
      strings.fill(0, at, end);
      strings.set(bytes, at);
    }
    at = end + 1;
  }
}
