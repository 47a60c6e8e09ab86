/**
 * The pipeline, in order: front end (TypeScript) → dialect checks → IR →
 * analyses → lowering to LLVM IR → optimisation and BPF object. Each stage
 * reports into one DiagnosticBag and the driver stops after a stage that
 * reported an error, so later stages only ever see valid input.
 * A throw from inside a stage is a compiler bug: it becomes a TSX9001
 * diagnostic, never a stack trace in the user's face.
 */
import ts from "typescript";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { checkModuleBounds } from "./analysis/bounds";
import { checkReferences } from "./analysis/references";
import { checkLocks } from "./analysis/locks";
import { checkRcu } from "./analysis/rcu";
import { Codes } from "./diagnostics/codes";
import { type Diagnostic, DiagnosticBag, EnvironmentError, InternalError, locationOf } from "./diagnostics/diagnostic";
import { checkDialect } from "./dialect/check";
import { dialectExports, explainUnknownHelper } from "./dialect/unknown-helpers";
import { Intrinsics } from "./dialect/intrinsics";
import { InputError, parseProgram, type SourceInput } from "./frontend/program";
import { buildModule } from "./ir/build";
import type { ModuleIR, SectionName } from "./ir/ir";
import { printModule } from "./ir/print";
import { LlvmError, generateObject, type CpuVersion, type OptLevel } from "./lower/generate";
import { checkObject } from "./object/check";
import { fixLineZero } from "./object/line-info";
import { addBtfTags } from "./object/btf-tags";
import { restoreBtfNames } from "./object/btf-names";

export interface CompileOptions {
  /** Optimisation level, as clang's -O (default 2). */
  readonly optLevel?: OptLevel;
  /** BPF ISA version, as clang's -mcpu (default "v3"). */
  readonly cpu?: CpuVersion;
  /** Stop after the analyses: diagnostics only, no LLVM. */
  readonly checkOnly?: boolean;
  /** Also return the optimised LLVM IR text. */
  readonly emitLlvm?: boolean;
  /** Also return the BPF assembly text. */
  readonly emitAsm?: boolean;
  /** Also return the tsxdp IR dump. */
  readonly emitIr?: boolean;
}

export interface ProgramInfo {
  readonly name: string;
  readonly section: SectionName;
}

export interface CompileResult {
  /** True when an object was produced (or, with checkOnly, when there are no errors). */
  readonly ok: boolean;
  readonly object?: Uint8Array;
  readonly diagnostics: readonly Diagnostic[];
  /** Texts of the files diagnostics point into, for rendering code frames. */
  readonly sources: ReadonlyMap<string, string>;
  readonly programs: readonly ProgramInfo[];
  readonly license?: string;
  readonly llvmIr?: string;
  readonly assembly?: string;
  readonly ir?: string;
}

export type CompileInput = SourceInput & CompileOptions;

/**
 * Compiles one program file. Never throws for bad programs: they come back
 * as diagnostics. Throws `EnvironmentError` when the machine lacks LLVM,
 * and `InputError` when the input file cannot be read.
 */
export function compile(input: CompileInput): CompileResult {
  const diagnostics = new DiagnosticBag();
  let sources = new Map<string, string>();
  const done = (extra: Partial<CompileResult> = {}): CompileResult => ({
    ok: !diagnostics.hasErrors && (input.checkOnly === true || extra.object !== undefined),
    diagnostics: diagnostics.all,
    sources,
    programs: [],
    ...extra,
  });
  let module: ModuleIR | undefined;
  try {
    const fe = parseProgram(input, diagnostics);
    if (!fe) return done();
    sources = fe.sources;
    if (diagnostics.hasErrors) {
      const exported = dialectExports(fe.program, fe.checker, fe.dialectFile);
      diagnostics.rewrite((d) => explainUnknownHelper(d, exported));
      return done();
    }

    const intrinsics = new Intrinsics(fe.checker, fe.dialectFile);
    checkDialect(fe.sourceFile, intrinsics, diagnostics);
    if (diagnostics.hasErrors) return done();

    module = buildModule(fe.sourceFile, fe.checker, intrinsics, diagnostics, { cpu: cpuNumber(input.cpu ?? "v3") });
    const programs = module.programs.map((p) => ({ name: p.name, section: p.section }));
    if (diagnostics.hasErrors) return done({ programs });

    checkModuleBounds(module, diagnostics);
    // A reservation cannot leave the function that made it (a subprogram returns only a scalar).
    for (const p of [...module.programs, ...module.subprograms.flatMap((s) => (s.ir ? [s.ir] : []))]) checkReferences(p, diagnostics);
    checkLocks(module, diagnostics);
    checkRcu(module, diagnostics);
    const ir = input.emitIr ? printModule(module) : undefined;
    if (diagnostics.hasErrors || input.checkOnly) return done({ programs, license: module.license, ir });

    let out;
    try {
      out = generateObject(module, {
        optLevel: input.optLevel ?? 2,
        cpu: input.cpu ?? "v3",
        emitLlvm: input.emitLlvm ?? false,
        emitAsm: input.emitAsm ?? false,
      });
    } catch (e) {
      if (!(e instanceof LlvmError)) throw e;
      reportLlvm(e, module, diagnostics);
      return done({ programs, license: module.license, ir });
    }
    const object = addBtfTags(out.object, out.btfTags);
    restoreBtfNames(object, out.btfNames);
    fixLineZero(object);
    checkObject(object, module, diagnostics);
    if (diagnostics.hasErrors) return done({ programs, license: module.license, ir });
    keepObject(object);
    return done({ programs, license: module.license, object, llvmIr: out.llvmIr, assembly: out.assembly, ir });
  } catch (e) {
    if (e instanceof EnvironmentError || e instanceof InputError) throw e;
    reportInternal(e, diagnostics);
    return done();
  }
}

/**
 * TSXDP_KEEP_OBJECTS=<dir> keeps a copy of every object produced, named by
 * its hash: a test suite (ours included) can then load them all and hold
 * the compiler to its promise that what compiles, the kernel accepts.
 */
function keepObject(object: Uint8Array): void {
  const dir = process.env.TSXDP_KEEP_OBJECTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${createHash("sha256").update(object).digest("hex").slice(0, 16)}.o`), object);
}

/**
 * LLVM's errors about the program: the BPF backend names the function
 * ("in function NAME"), so the diagnostic points at that program. The stack
 * limit is the kernel's (MAX_BPF_STACK, 512 bytes) and the user's to fix;
 * anything else is reported as LLVM failing.
 */
function reportLlvm(e: LlvmError, module: ModuleIR, diagnostics: DiagnosticBag): void {
  for (const message of e.messages) {
    const program = module.programs.find((p) => message.includes(`in function ${p.name} `));
    const where = program ? locationOf(ts.isVariableDeclaration(program.node) ? program.node.name : program.node) : undefined;
    if (/stack limit/i.test(message)) {
      diagnostics.report(Codes.stackLimit, where, `\`${program?.name ?? "a program"}\` needs more than the 512 bytes of stack the kernel gives a BPF program`, {
        hints: ["keep large keys and values in a per-CPU array map instead of on the stack, or split the work over fewer live values"],
      });
    } else {
      diagnostics.report(Codes.llvm, where, `LLVM could not compile this program: ${message}`, {
        hints: ["this is probably a bug in tsxdp; please report it with the file that triggered it"],
      });
    }
  }
}

function reportInternal(e: unknown, diagnostics: DiagnosticBag): void {
  const err = e instanceof Error ? e : new Error(String(e));
  const node = e instanceof InternalError ? e.node : undefined;
  const frames = (err.stack ?? "").split("\n").slice(1, 6).map((l) => l.trim());
  diagnostics.report(Codes.internal, node ? locationOf(node) : undefined, `internal compiler error: ${err.message}`, {
    hints: ["this is a bug in tsxdp, not in your program; please report it with the file that triggered it", ...frames],
  });
}

function cpuNumber(cpu: CpuVersion): 1 | 2 | 3 | 4 {
  return Number(cpu.slice(1)) as 1 | 2 | 3 | 4;
}

