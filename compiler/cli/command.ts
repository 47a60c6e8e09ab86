/**
 * What a `tsxdp` subcommand is: a name, a usage line for the overview, a
 * help text, and a function from its arguments to an exit code (0 success,
 * 1 problems in the user's program or data, 2 usage or environment).
 * Commands print through `Output`, so tests and scripts see the same text.
 */
import { formatDiagnostics, toJson } from "../diagnostics/format";
import type { CompileResult } from "../driver";

export interface Command {
  readonly name: string;
  /** One or more lines for the overview, without the leading "tsxdp ". */
  readonly usage: string;
  readonly help: string;
  run(argv: readonly string[]): number;
}

export function colorWanted(noColor: boolean): boolean {
  return !noColor && !process.env.NO_COLOR && process.stderr.isTTY === true;
}

/** Prints a compilation's diagnostics: pretty on stderr, or JSON on stdout with `extra` fields. */
export function reportCompile(result: CompileResult, opts: { json: boolean; noColor: boolean }, extra: Record<string, unknown> = {}): void {
  if (opts.json) {
    const out = { ok: result.ok, programs: result.programs, ...extra, diagnostics: toJson(result.diagnostics, result.sources) };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return;
  }
  if (result.diagnostics.length > 0) process.stderr.write(formatDiagnostics(result.diagnostics, result.sources, { color: colorWanted(opts.noColor) }));
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  if (errors > 0) process.stderr.write(`Found ${errors} error${errors === 1 ? "" : "s"}.\n`);
}
