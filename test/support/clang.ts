/**
 * C twins written inline in a test, built by clang-14 -O2 as a C XDP
 * developer would build them: the reference a tsxdp program is compared with.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { machine, tmpdir } from "node:os";
import { join } from "node:path";
import { which } from "./kernel";

export const clang = which("clang-14");
/** For twins that need what clang-14 does not write: btf_type_tag in BTF (a `struct T __kptr *` member). */
export const clang19 = which("clang-19");

/** clang's -target bpf does not search the multiarch include dir that holds asm/types.h. */
function multiarchIncludes(): string[] {
  const dir = `/usr/include/${machine()}-linux-gnu`;
  return existsSync(dir) ? ["-I", dir] : [];
}

/** The object clang-14 (or `cc`) -O2 -g makes of `source` (a whole C file). */
export function compileC(source: string, cc = clang): Uint8Array {
  if (!cc) throw new Error(`${cc === clang ? "clang-14" : "the C compiler"} is not installed (apt-get install clang-14 clang-19)`);
  const dir = mkdtempSync(join(tmpdir(), "tsxdp-twin-"));
  try {
    writeFileSync(join(dir, "twin.c"), source);
    execFileSync(cc, ["-O2", "-g", "-target", "bpf", ...multiarchIncludes(), "-c", join(dir, "twin.c"), "-o", join(dir, "twin.o")]);
    return new Uint8Array(readFileSync(join(dir, "twin.o")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
