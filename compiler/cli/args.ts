/**
 * Command-line parsing helpers shared by the commands: each command
 * declares its flags and gets exact messages for each mistake. By hand,
 * because the grammar is small and the messages matter.
 */

export class UsageError extends Error {}

export type FlagSpec = Readonly<Record<string, "boolean" | "string">>;

export interface ParsedFlags {
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

/**
 * Parses `argv` (after the command name) against `spec`: names are long
 * flags without dashes (`"mcpu"`), `aliases` maps short forms (`"-o"`) to
 * them. `--name=value` and `--name value` both work.
 */
export function parseFlags(command: string, argv: readonly string[], spec: FlagSpec, aliases: Readonly<Record<string, string>> = {}): ParsedFlags {
  const flags: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") return { flags, positionals, help: true };
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const raw = eq > 0 ? a.slice(0, eq) : a;
    const name = aliases[raw] ?? (raw.startsWith("--") ? raw.slice(2) : undefined);
    const kind = name !== undefined ? spec[name] : undefined;
    if (name === undefined || kind === undefined) throw new UsageError(`unknown option '${raw}' for '${command}'`);
    if (kind === "boolean") {
      if (eq > 0) throw new UsageError(`${raw} takes no value`);
      flags[name] = true;
    } else {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || (v.startsWith("-") && v !== "-" && eq < 0)) throw new UsageError(`${raw} needs a value`);
      flags[name] = v;
    }
  }
  return { flags, positionals, help: false };
}

/** The one input file a command takes. */
export function singleInput(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? `'${command}' needs an input file` : `'${command}' takes one input file, got ${positionals.length}`);
  return positionals[0]!;
}

export function cpuFlag(value: string | boolean | undefined): "v1" | "v2" | "v3" | "v4" {
  if (value === undefined) return "v3";
  if (typeof value !== "string" || !/^v[1-4]$/.test(value)) throw new UsageError(`unknown --mcpu '${String(value)}' (use v1, v2, v3 or v4)`);
  return value as "v1" | "v2" | "v3" | "v4";
}
