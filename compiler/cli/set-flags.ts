/**
 * `--set NAME=VALUE` (repeatable) for `tsxdp run` and `tsxdp attach`:
 * `.rodata` variables (C `const volatile` globals, `config<T>()` in
 * TypeScript) written between open and load (LoadOptions.rodata). The
 * values stay text here; the loader parses them for each variable's BTF
 * type, as `tsxdp map set` does, and names the variables that exist when
 * one is unknown.
 */
import { UsageError } from "./args";

/** Takes every `--set NAME=VALUE` / `--set=NAME=VALUE` out of argv (the shared parser keeps one value per flag). */
export function takeSetFlags(argv: readonly string[]): { rest: string[]; rodata: Record<string, string> | undefined } {
  const rest: string[] = [];
  const pairs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === "--set") {
      const v = argv[++i];
      if (v === undefined) throw new UsageError("--set needs NAME=VALUE");
      pairs.push(v);
    } else if (a.startsWith("--set=")) pairs.push(a.slice("--set=".length));
    else rest.push(a);
  }
  if (pairs.length === 0) return { rest, rodata: undefined };
  const rodata: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const p of pairs) {
    const eq = p.indexOf("=");
    const name = eq > 0 ? p.slice(0, eq) : "";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--set '${p}': expected NAME=VALUE, NAME a .rodata variable (const volatile / config<T>())`);
    if (Object.hasOwn(rodata, name)) throw new UsageError(`--set: '${name}' is set twice`);
    rodata[name] = p.slice(eq + 1);
  }
  return { rest, rodata };
}
