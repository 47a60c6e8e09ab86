/**
 * Renders diagnostics for people (tsc's pretty style: location, code,
 * message, a code frame with the span underlined, then hints) and for tools
 * (JSON, one stable shape). Rendering never depends on terminal width.
 */
import type { Diagnostic, Location, SourceTexts } from "./diagnostic";

export interface FormatOptions {
  readonly color?: boolean;
  /** Shown instead of absolute paths; default: the current directory. */
  readonly cwd?: string;
}

const ansi = {
  red: "\x1b[91m",
  yellow: "\x1b[93m",
  cyan: "\x1b[96m",
  grey: "\x1b[90m",
  inverse: "\x1b[7m",
  reset: "\x1b[0m",
};

export function formatDiagnostics(diagnostics: readonly Diagnostic[], sources: SourceTexts, opts: FormatOptions = {}): string {
  return diagnostics.map((d) => formatDiagnostic(d, sources, opts)).join("\n");
}

export function formatDiagnostic(d: Diagnostic, sources: SourceTexts, opts: FormatOptions = {}): string {
  const paint = (code: string, s: string) => (opts.color ? `${code}${s}${ansi.reset}` : s);
  const sevColor = d.severity === "error" ? ansi.red : ansi.yellow;
  const lines: string[] = [];
  const where = d.location ? `${paint(ansi.cyan, displayPath(d.location.file, opts.cwd))}:${paint(ansi.yellow, String(d.location.line))}:${paint(ansi.yellow, String(d.location.column))} - ` : "";
  lines.push(`${where}${paint(sevColor, d.severity)} ${paint(ansi.grey, d.code)}: ${d.message}`);
  if (d.location) {
    const frame = codeFrame(d.location, sources, paint, sevColor);
    if (frame) lines.push("", frame);
  }
  for (const r of d.related) {
    const at = r.location ? ` (${displayPath(r.location.file, opts.cwd)}:${r.location.line}:${r.location.column})` : "";
    lines.push(`  ${r.message}${at}`);
  }
  for (const h of d.hints) lines.push(`  ${paint(ansi.cyan, "hint")}: ${h}`);
  lines.push("");
  return lines.join("\n");
}

function codeFrame(loc: Location, sources: SourceTexts, paint: (c: string, s: string) => string, color: string): string | undefined {
  const text = sources.get(loc.file);
  if (text === undefined) return undefined;
  const lineStarts = computeLineStarts(text);
  const firstLine = loc.line - 1;
  const lastLine = lineOfOffset(lineStarts, loc.start + Math.max(loc.length - 1, 0));
  const gutter = String(lastLine + 1).length;
  const out: string[] = [];
  // Long spans show their first and last lines only, as tsc does.
  const shown = lastLine - firstLine > 3 ? [firstLine, firstLine + 1, -1, lastLine - 1, lastLine] : range(firstLine, lastLine);
  for (const i of shown) {
    if (i === -1) {
      out.push(`${paint(ansi.inverse, "...")}`);
      continue;
    }
    const lineStart = lineStarts[i]!;
    const lineEnd = i + 1 < lineStarts.length ? lineStarts[i + 1]! : text.length;
    const content = text.slice(lineStart, lineEnd).replace(/\r?\n$/, "").replace(/\t/g, " ");
    out.push(`${paint(ansi.inverse, String(i + 1).padStart(gutter))} ${content}`);
    const from = i === firstLine ? loc.start - lineStart : 0;
    const to = i === lastLine ? Math.max(loc.start + loc.length - lineStart, from + 1) : content.length;
    const underline = " ".repeat(from) + "~".repeat(Math.max(Math.min(to, content.length) - from, 1));
    out.push(`${paint(ansi.inverse, " ".repeat(gutter))} ${paint(color, underline)}`);
  }
  return out.join("\n");
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

export function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function lineOfOffset(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function displayPath(file: string, cwd = process.cwd()): string {
  if (file.startsWith(cwd + "/")) return file.slice(cwd.length + 1);
  return file;
}

/** The JSON shape for tools: stable field names, 1-based lines and columns. */
export interface JsonDiagnostic {
  code: string;
  severity: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
  hints: string[];
  related: { message: string; file?: string; line?: number; column?: number }[];
}

export function toJson(diagnostics: readonly Diagnostic[], sources: SourceTexts): JsonDiagnostic[] {
  return diagnostics.map((d) => {
    const out: JsonDiagnostic = { code: d.code, severity: d.severity, message: d.message, hints: [...d.hints], related: [] };
    if (d.location) {
      out.file = d.location.file;
      out.line = d.location.line;
      out.column = d.location.column;
      const text = sources.get(d.location.file);
      if (text !== undefined) {
        const starts = computeLineStarts(text);
        const endOffset = d.location.start + d.location.length;
        const endLine = lineOfOffset(starts, endOffset);
        out.endLine = endLine + 1;
        out.endColumn = endOffset - starts[endLine]! + 1;
      }
    }
    out.related = d.related.map((r) => ({ message: r.message, file: r.location?.file, line: r.location?.line, column: r.location?.column }));
    return out;
  });
}
