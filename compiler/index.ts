/**
 * The compiler's public API: `compile()` and what it returns, the
 * diagnostic renderers, and the error classes a caller may want to tell
 * apart. Everything else under compiler/ is internal.
 */
export { compile, type CompileInput, type CompileOptions, type CompileResult, type ProgramInfo } from "./driver";
export type { SourceInput } from "./frontend/program";
export { InputError } from "./frontend/program";
export type { Diagnostic, Location, RelatedInformation, Severity } from "./diagnostics/diagnostic";
export { EnvironmentError } from "./diagnostics/diagnostic";
export { formatDiagnostics, toJson, type FormatOptions, type JsonDiagnostic } from "./diagnostics/format";
export { Codes } from "./diagnostics/codes";
export { llvmInUse, type CpuVersion, type OptLevel } from "./lower/generate";
