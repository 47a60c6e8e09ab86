/**
 * The `tsxdp` command. Exit codes are a contract with scripts and editors:
 * 0 success, 1 the program has errors (diagnostics printed), 2 the command
 * line or the machine is wrong (usage, unreadable input, no libLLVM).
 * Nothing reaches the user as a stack trace: internal errors are
 * diagnostics too (TSX9001).
 */
import fs from "node:fs";
import path from "node:path";
import { compile, type CompileResult } from "../driver";
import { EnvironmentError } from "../diagnostics/diagnostic";
import { formatDiagnostics, toJson } from "../diagnostics/format";
import { InputError } from "../frontend/program";
import type { CpuVersion, OptLevel } from "../lower/generate";
import { parseArgs, UsageError, type Parsed } from "./args";
import { version } from "./version";

const usage = `tsxdp ${version}: compile TypeScript XDP programs to BPF objects

Usage:
  tsxdp build <file.ts> [-o out.o] [-O0|-O1|-O2|-O3] [--mcpu v1|v2|v3|v4]
              [--emit-llvm] [--emit-asm] [--emit-ir] [--json] [--no-color]
  tsxdp check <file.ts> [--json] [--no-color]
  tsxdp <command> --help
  tsxdp --version

Exit codes: 0 success, 1 errors in the program, 2 usage or environment error.`;

const buildHelp = `Usage: tsxdp build <file.ts> [options]

Compiles the XDP programs in <file.ts> into one BPF ELF object, loadable by
libbpf, bpftool, ip link and xdp-loader.

Options:
  -o <file>        output object (default: <file>.o in the current directory)
  -O0 … -O3        optimisation level (default -O2)
  --mcpu <vN>      BPF ISA version, v1 to v4 (default v3; v4 needs LLVM 18)
  --emit-llvm      also write the optimised LLVM IR beside the object (.ll)
  --emit-asm       also write the BPF assembly beside the object (.s)
  --emit-ir        also write tsxdp's own IR beside the object (.ir)
  --json           print the result and diagnostics as JSON on stdout
  --no-color       plain diagnostics (also: NO_COLOR=1)`;

const checkHelp = `Usage: tsxdp check <file.ts> [--json] [--no-color]

Type-checks <file.ts> and proves its packet accesses, without generating
code: fast, for editors and pre-commit hooks. Exit code 1 when there are
errors.`;

export function main(argv: readonly string[]): number {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tsxdp: ${e.message}\n\n${usage}\n`);
      return 2;
    }
    throw e;
  }
  if (parsed.command === "version") {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  if (parsed.command === "help") {
    process.stdout.write(`${parsed.topic === "build" ? buildHelp : parsed.topic === "check" ? checkHelp : usage}\n`);
    return 0;
  }
  try {
    return parsed.command === "check" ? check(parsed) : build(parsed);
  } catch (e) {
    if (e instanceof EnvironmentError || e instanceof InputError) {
      process.stderr.write(`tsxdp: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`tsxdp: internal error: ${e instanceof Error ? e.message : String(e)}\nThis is a bug in tsxdp; please report it with the command and the input file.\n`);
    return 2;
  }
}

function colorWanted(p: Parsed): boolean {
  return !p.noColor && !process.env.NO_COLOR && process.stderr.isTTY === true;
}

function report(p: Parsed, result: CompileResult, extra: Record<string, unknown> = {}): void {
  if (p.json) {
    const out = { ok: result.ok, programs: result.programs, ...extra, diagnostics: toJson(result.diagnostics, result.sources) };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return;
  }
  if (result.diagnostics.length > 0) process.stderr.write(formatDiagnostics(result.diagnostics, result.sources, { color: colorWanted(p) }));
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  if (errors > 0) process.stderr.write(`Found ${errors} error${errors === 1 ? "" : "s"}.\n`);
}

function check(p: Parsed): number {
  const result = compile({ file: p.input!, checkOnly: true, cpu: p.cpu });
  report(p, result);
  return result.ok ? 0 : 1;
}

function build(p: Parsed): number {
  const input = p.input!;
  const out = p.output ?? `${path.basename(input).replace(/\.[cm]?tsx?$/, "")}.o`;
  const result = compile({ file: input, optLevel: p.optLevel as OptLevel, cpu: p.cpu as CpuVersion, emitLlvm: p.emitLlvm, emitAsm: p.emitAsm, emitIr: p.emitIr });
  const written: string[] = [];
  if (result.ok && result.object) {
    const stem = out.replace(/\.o$/, "");
    try {
      fs.writeFileSync(out, result.object);
      written.push(out);
      if (result.llvmIr !== undefined) written.push(writeBeside(`${stem}.ll`, result.llvmIr));
      if (result.assembly !== undefined) written.push(writeBeside(`${stem}.s`, result.assembly));
      if (result.ir !== undefined) written.push(writeBeside(`${stem}.ir`, result.ir));
    } catch (e) {
      throw new InputError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  report(p, result, { outputs: written });
  if (!p.json && result.ok) {
    const programs = result.programs.map((prog) => `${prog.name} (${prog.section})`).join(", ");
    process.stdout.write(`${out}: ${programs}\n`);
  }
  return result.ok ? 0 : 1;
}

function writeBeside(file: string, text: string): string {
  fs.writeFileSync(file, text);
  return file;
}
