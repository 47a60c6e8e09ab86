/**
 * Diagnostics are plain data: a code, a span, a message, hints. Every stage
 * reports into a `DiagnosticBag`; the driver stops after a stage that
 * reported an error. TypeScript's own diagnostics are converted into the
 * same shape so that users see one format.
 */
import ts from "typescript";
import { codeString, type DiagnosticKind } from "./codes";

export type Severity = "error" | "warning";

export interface Location {
  /** File name as the user gave it. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based, in UTF-16 code units like tsc. */
  readonly column: number;
  /** Offsets into the file's text, for code frames. */
  readonly start: number;
  readonly length: number;
}

export interface RelatedInformation {
  readonly message: string;
  readonly location?: Location;
}

export interface Diagnostic {
  /** "TSX5001" for ours, "TS2322" for TypeScript's. */
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly location?: Location;
  /** What to do about it. */
  readonly hints: readonly string[];
  readonly related: readonly RelatedInformation[];
}

/** Source texts by file name, for code frames. */
export type SourceTexts = ReadonlyMap<string, string>;

export function locationOf(node: ts.Node, sourceFile = node.getSourceFile()): Location {
  const start = node.getStart(sourceFile);
  return locationAt(sourceFile, start, node.getEnd() - start);
}

export function locationAt(sourceFile: ts.SourceFile, start: number, length: number): Location {
  const { line, character } = sourceFile.getLineAndCharacterOfPosition(start);
  return { file: sourceFile.fileName, line: line + 1, column: character + 1, start, length };
}

export interface ReportOptions {
  readonly hints?: readonly string[];
  readonly related?: readonly RelatedInformation[];
  readonly severity?: Severity;
}

export class DiagnosticBag {
  private readonly items: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  get all(): readonly Diagnostic[] {
    return this.items;
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }

  add(diagnostic: Diagnostic): void {
    // One report per code and span: a fact repeated on several paths is noise.
    const loc = diagnostic.location;
    const key = `${diagnostic.code}@${loc ? `${loc.file}:${loc.start}:${loc.length}` : diagnostic.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push(diagnostic);
  }

  report(kind: DiagnosticKind, node: ts.Node | Location | undefined, message: string, opts: ReportOptions = {}): void {
    const location = node === undefined ? undefined : "kind" in node ? locationOf(node) : node;
    this.add({
      code: codeString(kind.code),
      severity: opts.severity ?? "error",
      message,
      location,
      hints: opts.hints ?? [],
      related: opts.related ?? [],
    });
  }

  /** Replaces each diagnostic by what `f` makes of it (a later stage explaining an earlier one). */
  rewrite(f: (d: Diagnostic) => Diagnostic): void {
    for (let i = 0; i < this.items.length; i++) this.items[i] = f(this.items[i]!);
  }

  addTypeScript(diagnostics: readonly ts.Diagnostic[]): void {
    for (const d of diagnostics) this.add(fromTypeScript(d));
  }
}

export function fromTypeScript(d: ts.Diagnostic): Diagnostic {
  const location = d.file && d.start !== undefined ? locationAt(d.file, d.start, d.length ?? 0) : undefined;
  const [message, ...chain] = flattenMessage(d.messageText);
  const related = (d.relatedInformation ?? []).map((r) => ({
    message: flattenMessage(r.messageText).join(" "),
    location: r.file && r.start !== undefined ? locationAt(r.file, r.start, r.length ?? 0) : undefined,
  }));
  return {
    code: `TS${d.code}`,
    severity: d.category === ts.DiagnosticCategory.Error ? "error" : "warning",
    message: [message, ...chain].join("\n  "),
    location,
    hints: [],
    related,
  };
}

function flattenMessage(text: string | ts.DiagnosticMessageChain): string[] {
  if (typeof text === "string") return [text];
  const out = [text.messageText];
  for (const next of text.next ?? []) out.push(...flattenMessage(next));
  return out;
}

/** A failure of the compiler itself: reported, never thrown at the user. */
export class InternalError extends Error {
  constructor(
    message: string,
    readonly node?: ts.Node,
  ) {
    super(message);
  }
}

/** The machine lacks something the compiler needs (libLLVM, …): exit code 2, not 1. */
export class EnvironmentError extends Error {}
