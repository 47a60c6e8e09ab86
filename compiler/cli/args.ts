/**
 * Command-line parsing for `tsxdp`, by hand: the grammar is small, and a
 * hand parser gives exact messages for each mistake.
 */

export class UsageError extends Error {}

export interface Parsed {
  readonly command: "build" | "check" | "help" | "version";
  readonly topic?: string;
  readonly input?: string;
  readonly output?: string;
  readonly optLevel: number;
  readonly cpu: "v1" | "v2" | "v3" | "v4";
  readonly emitLlvm: boolean;
  readonly emitAsm: boolean;
  readonly emitIr: boolean;
  readonly json: boolean;
  readonly noColor: boolean;
}

const commands = new Set(["build", "check"]);

export function parseArgs(argv: readonly string[]): Parsed {
  const base = { optLevel: 2, cpu: "v3" as const, emitLlvm: false, emitAsm: false, emitIr: false, json: false, noColor: false };
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    return { ...base, command: "help", topic: argv[0] === "help" ? argv[1] : undefined };
  }
  if (argv[0] === "--version" || argv[0] === "-v") return { ...base, command: "version" };
  const command = argv[0]!;
  if (!commands.has(command)) throw new UsageError(`unknown command '${command}'`);
  const r: { -readonly [K in keyof Parsed]: Parsed[K] } = { ...base, command: command as "build" | "check" };
  const inputs: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || (v.startsWith("-") && v !== "-")) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "--help" || a === "-h") return { ...base, command: "help", topic: command };
    else if (a === "-o" || a === "--output") r.output = value();
    else if (/^-O[0-3]$/.test(a)) r.optLevel = Number(a.slice(2));
    else if (a.startsWith("-O")) throw new UsageError(`unknown optimisation level '${a}' (use -O0 to -O3)`);
    else if (a === "--mcpu" || a.startsWith("--mcpu=")) {
      const v = a.includes("=") ? a.slice(7) : value();
      if (!/^v[1-4]$/.test(v)) throw new UsageError(`unknown --mcpu '${v}' (use v1, v2, v3 or v4)`);
      r.cpu = v as Parsed["cpu"];
    } else if (a === "--emit-llvm") r.emitLlvm = true;
    else if (a === "--emit-asm") r.emitAsm = true;
    else if (a === "--emit-ir") r.emitIr = true;
    else if (a === "--json") r.json = true;
    else if (a === "--no-color") r.noColor = true;
    else if (a.startsWith("-")) throw new UsageError(`unknown option '${a}' for '${command}'`);
    else inputs.push(a);
  }
  if (command === "check" && (r.output || r.emitLlvm || r.emitAsm || r.emitIr)) throw new UsageError("'check' writes no files; use 'build' for -o and --emit-*");
  if (inputs.length !== 1) throw new UsageError(inputs.length === 0 ? `'${command}' needs an input file` : `'${command}' takes one input file, got ${inputs.length}`);
  r.input = inputs[0];
  return r;
}
