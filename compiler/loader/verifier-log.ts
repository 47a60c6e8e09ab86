/**
 * Explains a kernel verifier rejection in terms of the TypeScript source:
 * the failing instruction, the source line it came from (file:line:column
 * and its text), the verifier's own message and the part of its log that
 * led there, rendered like tsxdp's diagnostics (TSX5100).
 *
 * Invariants:
 * - The failing instruction is the last one the log prints: the verifier
 *   stops at the first error and prints it right after that instruction
 *   (do_check() in kernel/bpf/verifier.c). Errors found before the walk
 *   (check_cfg(): "unreachable insn 7", "back-edge from insn …") name their
 *   instruction in the message instead.
 * - The source line is the one the kernel itself would print: with log
 *   level >= 1 the verifier precedes instructions with
 *   `; <line text> @ <file basename>:<line>` whenever the line changes
 *   (verbose_linfo()), so the last such annotation before the failing
 *   instruction is its line. The object's own .BTF.ext line info, when the
 *   object is at hand, gives the same record with the full path and the
 *   column; it is used only when it agrees with the log, and alone when the
 *   log has no annotations.
 * - Never throws on a strange log or object: what cannot be found is left
 *   out of the report.
 */
import fs from "node:fs";
import path from "node:path";
import { codeString, Codes } from "../diagnostics/codes";
import type { Diagnostic, Location } from "../diagnostics/diagnostic";
import { computeLineStarts, formatDiagnostic, type FormatOptions } from "../diagnostics/format";
import { type BtfLineInfo, lineForInsn, programLineInfo } from "../object/btf";
import { type ElfObject, readElf } from "../object/elf";

export interface RejectionReport {
  /** The program the kernel refused, when libbpf named it. */
  readonly program?: string;
  readonly errno: number;
  /** Source file of the failing instruction: a full path when the object's BTF was read, else the basename the kernel prints. */
  readonly file?: string;
  /** 1-based. */
  readonly line?: number;
  /** 1-based; only from the object's BTF (the kernel log has no columns). */
  readonly column?: number;
  /** The source line's text, when the object carries it or the file is readable. */
  readonly sourceLine?: string;
  /** True when the failing instruction has no line of its own (line 0: code the compiler generated) and the nearest earlier line is shown. */
  readonly approximate?: boolean;
  /** Index of the failing instruction in the program, as the verifier counts. */
  readonly insn?: number;
  /** The failing instruction as the verifier printed it, e.g. "(69) r3 = *(u16 *)(r1 +14)". */
  readonly instruction?: string;
  /** The verifier's error line, e.g. "invalid access to packet, off=14 size=2, R1(id=0,off=14,r=14)". */
  readonly message: string;
  /** Further lines the verifier printed about the same error. */
  readonly details: readonly string[];
  /** The last relevant lines of the verifier log, ending with the error. */
  readonly excerpt: readonly string[];
}

/** What a verifier log says, before any object is consulted. */
export interface VerifierLogFacts {
  readonly insn?: number;
  readonly instruction?: string;
  /** The line annotation covering the failing instruction (line 0: code the compiler generated). */
  readonly annotation?: Annotation;
  /** When `annotation` is line 0: the nearest earlier real line on the same verification path. */
  readonly nearest?: Annotation;
  readonly message?: string;
  readonly details: readonly string[];
  readonly excerpt: readonly string[];
}

export interface Annotation {
  readonly text: string;
  /** Absent in logs of kernels before 6.2, which printed the text only. */
  readonly file?: string;
  readonly line?: number;
}

const EXCERPT_LINES = 20;

/** `N: (op) …`: an instruction; `N: R1=…` (no opcode) is a state dump. Indented lines are the level-2 liveness table. */
const INSN = /^(\d+): (\([0-9a-f]{2}\).*?)(?:\s+;\s.*)?$/;
/** verbose_linfo(): `; text @ file:line` since Linux 6.2 (greedy text: a line may contain " @ " itself); `; text` before. */
const LINFO_AT = /^; ?(.*) @ (\S+):(\d+)$/;
const LINFO_OLD = /^;(?: (.*))?$/;
/** Statistics the verifier prints after the verdict (print_verification_stats()). */
const STATS = /^(processed \d+ insns|verification time|stack depth|max_states_per_insn)/;
/** A new verification path (do_check() after pop_stack()). */
const PATH_START = /^from \d+ to \d+/;
/** Precision backtracking, the liveness table, function headers: context, not the error. */
const NOISE = /^(mark_precise:|func#\d+ @|Live regs|\s)/;

function annotationOf(l: string): Annotation | undefined {
  const at = LINFO_AT.exec(l);
  if (at) return { text: at[1]!.trim(), file: at[2]!, line: Number(at[3]) };
  const old = LINFO_OLD.exec(l);
  return old ? { text: (old[1] ?? "").trim() } : undefined;
}

export function parseVerifierLog(log: string): VerifierLogFacts {
  const lines = log.split("\n").map((l) => l.replace(/\r$/, ""));
  let end = lines.length;
  while (end > 0 && (lines[end - 1]!.trim() === "" || STATS.test(lines[end - 1]!))) end--;

  let insnAt = -1;
  let insn: number | undefined;
  let instruction: string | undefined;
  for (let i = end - 1; i >= 0; i--) {
    const m = INSN.exec(lines[i]!);
    if (m) {
      insnAt = i;
      insn = Number(m[1]);
      instruction = m[2]!.trim();
      break;
    }
  }

  const after = lines.slice(insnAt + 1, end).filter((l) => l.trim() !== "" && !NOISE.test(l) && !PATH_START.test(l) && annotationOf(l) === undefined);
  let message: string | undefined = after[0]?.trim();
  const details = after.slice(1).map((l) => l.trim());
  if (insn === undefined && message !== undefined) {
    // Rejected before the walk: check_cfg() and friends name the instruction.
    const named = /\binsn (\d+)\b/.exec(after.join("\n"));
    if (named) insn = Number(named[1]);
  }
  if (message === undefined && insnAt >= 0) message = "the verifier stopped here without a message";

  // The kernel prints an annotation whenever the line changes, so the last
  // one before the instruction is its line, whatever path printed it.
  let annotation: Annotation | undefined;
  let nearest: Annotation | undefined;
  let i = insnAt - 1;
  for (; i >= 0 && annotation === undefined; i--) annotation = annotationOf(lines[i]!);
  if (annotation?.line === 0) {
    for (; i >= 0 && !PATH_START.test(lines[i]!); i--) {
      const a = annotationOf(lines[i]!);
      if (a?.line !== undefined && a.line > 0) {
        nearest = a;
        break;
      }
    }
  }

  const excerpt = lines
    .slice(0, end)
    .filter((l) => l.trim() !== "" && !NOISE.test(l))
    .slice(-EXCERPT_LINES);

  return {
    ...(insn !== undefined ? { insn } : {}),
    ...(instruction !== undefined ? { instruction } : {}),
    ...(annotation !== undefined ? { annotation } : {}),
    ...(nearest !== undefined ? { nearest } : {}),
    ...(message !== undefined ? { message } : {}),
    details,
    excerpt,
  };
}

/** The fields of a LoadError this module needs (so it can be used without one). */
export interface RejectedLoad {
  readonly verifierLog: string;
  readonly errno: number;
  readonly program?: string | undefined;
}

/**
 * A report for a load the kernel refused, or undefined when the failure did
 * not come from the verifier (an unreadable object, a libbpf error).
 * `object` (the ELF bytes or a parsed ElfObject) adds the full path, the
 * column and the line text from its BTF line info.
 */
export function explainRejection(load: RejectedLoad, object?: Uint8Array | ElfObject): RejectionReport | undefined {
  if (load.verifierLog.trim() === "") return undefined;
  const facts = parseVerifierLog(load.verifierLog);
  if (facts.message === undefined) return undefined;

  let records: BtfLineInfo[] | undefined;
  if (object !== undefined && load.program !== undefined) {
    try {
      records = programLineInfo(object instanceof Uint8Array ? readElf(object) : object, load.program);
    } catch {
      records = undefined; // a damaged object still gets the log's own account
    }
  }
  const insn = facts.insn;
  const exact = records && insn !== undefined ? lineForInsn(records, insn) : undefined;

  let where: { file?: string; line?: number; column?: number; text?: string; approximate?: boolean } = {};
  const a = facts.annotation;
  if (a?.line !== undefined && a.line > 0) {
    where = { file: a.file!, line: a.line, text: a.text };
    // The log prints basenames only; the BTF record of the same line has the path and the column.
    const same = (r: BtfLineInfo) => r.line === a.line && path.basename(r.file) === a.file;
    const match = exact && same(exact) ? exact : records?.find(same);
    if (match) where = { file: match.file, line: match.line, text: match.text || a.text, ...(match === exact && match.column > 0 ? { column: match.column } : {}) };
  } else if (exact !== undefined && (a === undefined || a.line === 0 || a.line === undefined)) {
    // Line 0, or no annotations at all: the object's line info, as find_linfo()
    // would pick it, stepping back over compiler-generated records.
    const real = exact.line > 0 ? exact : [...records!].reverse().find((r) => r.insnOff <= insn! && r.line > 0);
    if (real) where = { file: real.file, line: real.line, text: real.text, approximate: real !== exact, ...(real === exact && real.column > 0 ? { column: real.column } : {}) };
  } else if (a?.line === 0 && facts.nearest) {
    where = { file: facts.nearest.file!, line: facts.nearest.line!, text: facts.nearest.text, approximate: true };
  } else if (a !== undefined) {
    where = { ...(a.file !== undefined ? { file: a.file } : {}), text: a.text };
  }
  let sourceLine = where.text;
  if (!sourceLine && where.file !== undefined && where.line !== undefined) sourceLine = readLine(where.file, where.line);

  return {
    ...(load.program !== undefined ? { program: load.program } : {}),
    errno: load.errno,
    ...(where.file !== undefined ? { file: where.file } : {}),
    ...(where.line !== undefined ? { line: where.line } : {}),
    ...(where.column !== undefined ? { column: where.column } : {}),
    ...(sourceLine ? { sourceLine } : {}),
    ...(where.approximate ? { approximate: true } : {}),
    ...(insn !== undefined ? { insn } : {}),
    ...(facts.instruction !== undefined ? { instruction: facts.instruction } : {}),
    message: facts.message,
    details: facts.details,
    excerpt: facts.excerpt,
  };
}

/**
 * The report as a TSX5100 diagnostic, with the source texts its code frame
 * needs: the file itself when readable, otherwise the line text the object
 * carries, placed at its line number.
 */
export function rejectionDiagnostic(report: RejectionReport): { diagnostic: Diagnostic; sources: Map<string, string> } {
  const sources = new Map<string, string>();
  let location: Location | undefined;
  if (report.file !== undefined && report.line !== undefined && report.line > 0) {
    let text = readText(report.file);
    if (text === undefined || computeLineStarts(text).length < report.line) {
      text = report.sourceLine !== undefined ? "\n".repeat(report.line - 1) + report.sourceLine : undefined;
    }
    if (text !== undefined) {
      const starts = computeLineStarts(text);
      const lineStart = starts[report.line - 1]!;
      const lineText = text.slice(lineStart, starts[report.line] ?? text.length).replace(/\r?\n$/, "");
      // Without a column (the kernel log has none) the frame marks the statement from its first character.
      const column = report.column ?? lineText.search(/\S/) + 1;
      const from = Math.min(Math.max(column - 1, 0), lineText.length);
      const to = lineText.replace(/[\s;]+$/, "").length;
      location = { file: report.file, line: report.line, column: from + 1, start: lineStart + from, length: Math.max(to - from, 1) };
      sources.set(report.file, text);
    } else {
      location = { file: report.file, line: report.line, column: report.column ?? 1, start: 0, length: 0 };
    }
  }
  const related: { message: string }[] = report.details.map((d) => ({ message: d }));
  if (report.insn !== undefined) related.push({ message: `failing instruction ${report.insn}${report.instruction ? `: ${report.instruction}` : ""}` });
  if (report.approximate) related.push({ message: "that instruction has no source line of its own (line 0): the nearest line before it is shown" });
  const hints: string[] = [];
  if (report.file?.endsWith(".ts")) {
    hints.push("tsxdp's analysis accepted this code; if the object came unmodified from `tsxdp build`, please report this as a bug");
  }
  const who = report.program !== undefined ? `program '${report.program}'` : "the program";
  return {
    diagnostic: {
      code: codeString(Codes.kernelRejected.code),
      severity: "error",
      message: `the kernel verifier rejected ${who}: ${report.message}`,
      ...(location !== undefined ? { location } : {}),
      hints,
      related,
    },
    sources,
  };
}

/** The report for people: the diagnostic with its code frame, then the end of the verifier log. */
export function formatRejection(report: RejectionReport, opts: FormatOptions = {}): string {
  const { diagnostic, sources } = rejectionDiagnostic(report);
  const head = formatDiagnostic(diagnostic, sources, opts);
  if (report.excerpt.length === 0) return head;
  return `${head}  verifier log (last ${report.excerpt.length} lines):\n${report.excerpt.map((l) => `    ${l}`).join("\n")}\n`;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function readLine(file: string, line: number): string | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  const l = text.split("\n")[line - 1];
  return l === undefined ? undefined : l.replace(/\r$/, "");
}
