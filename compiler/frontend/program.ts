/**
 * Front end: one TypeScript program per compilation, from a file on disk or
 * from text in memory. The dialect import `tsxdp` always resolves to the
 * runtime-types shipped beside this compiler, whatever the user's setup, so
 * the declarations the checker sees are the ones the compiler understands.
 *
 * Programs are type-checked against a minimal global library: BPF has no
 * `Math`, `console` or `Array`, and saying so early is kinder than later.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { DiagnosticBag } from "../diagnostics/diagnostic";
import { runtimeTypesDir } from "./package-root";

export type SourceInput = { readonly file: string } | { readonly source: string; readonly fileName?: string };

export interface FrontEnd {
  readonly program: ts.Program;
  readonly checker: ts.TypeChecker;
  readonly sourceFile: ts.SourceFile;
  /** Absolute path of the dialect declarations, to recognise intrinsics by symbol. */
  readonly dialectFile: string;
  /** Texts of every file a diagnostic may point into. */
  readonly sources: Map<string, string>;
}

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  strict: true,
  noLib: true,
  noEmit: true,
  types: [],
  skipLibCheck: true,
  noFallthroughCasesInSwitch: true,
  allowImportingTsExtensions: true,
};

// The dialect's declarations never change within a process: parse them once.
const declarationCache = new Map<string, ts.SourceFile>();

export function parseProgram(input: SourceInput, diagnostics: DiagnosticBag): FrontEnd | undefined {
  const typesDir = runtimeTypesDir();
  const dialectFile = path.join(typesDir, "index.d.ts");
  const libFile = path.join(typesDir, "lib.d.ts");

  let rootFile: string;
  let rootText: string;
  if ("file" in input) {
    rootFile = path.resolve(input.file);
    try {
      rootText = fs.readFileSync(rootFile, "utf8");
    } catch (e) {
      throw new InputError(`cannot read ${input.file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  } else {
    rootFile = path.resolve(input.fileName ?? "program.ts");
    rootText = input.source;
  }

  const host = ts.createCompilerHost(compilerOptions, true);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (path.resolve(name) === rootFile ? rootText : readFile(name));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === rootFile || fileExists(name);
  host.getSourceFile = (name, languageVersion) => {
    const abs = path.resolve(name);
    if (abs === rootFile) return ts.createSourceFile(rootFile, rootText, languageVersion, true);
    const cached = declarationCache.get(abs);
    if (cached) return cached;
    const text = readFile(abs);
    if (text === undefined) return undefined;
    const sf = ts.createSourceFile(abs, text, languageVersion, true);
    if (abs.startsWith(typesDir)) declarationCache.set(abs, sf);
    return sf;
  };
  host.resolveModuleNameLiterals = (literals, containingFile) =>
    literals.map((lit) => {
      if (lit.text === "tsxdp" || lit.text === "tsxdp/net") {
        const resolvedFileName = lit.text === "tsxdp" ? dialectFile : path.join(typesDir, "net.d.ts");
        return { resolvedModule: { resolvedFileName, extension: ts.Extension.Dts, isExternalLibraryImport: false } };
      }
      return ts.resolveModuleName(lit.text, containingFile, compilerOptions, host);
    });

  const program = ts.createProgram({ rootNames: [rootFile, libFile], options: compilerOptions, host });
  const sourceFile = program.getSourceFile(rootFile);
  if (!sourceFile) throw new InputError(`cannot read ${rootFile}`);

  const sources = new Map<string, string>([[rootFile, rootText]]);
  diagnostics.addTypeScript(program.getSyntacticDiagnostics(sourceFile));
  if (!diagnostics.hasErrors) {
    const found = [...program.getGlobalDiagnostics(), ...program.getSemanticDiagnostics(sourceFile)];
    // A global complaint ("Cannot find global value 'Promise'") has no location; it comes
    // with the located error of the construct that needed it, which says more: keep that one.
    const located = found.some((d) => d.file !== undefined && d.category === ts.DiagnosticCategory.Error);
    diagnostics.addTypeScript(found.filter((d) => !located || d.file !== undefined));
  }
  for (const d of diagnostics.all) {
    const f = d.location?.file;
    if (f && !sources.has(f)) {
      const text = program.getSourceFile(f)?.text;
      if (text !== undefined) sources.set(f, text);
    }
  }
  return { program, checker: program.getTypeChecker(), sourceFile, dialectFile, sources };
}

/** The input itself is unusable (missing file): a usage error, exit code 2. */
export class InputError extends Error {}
