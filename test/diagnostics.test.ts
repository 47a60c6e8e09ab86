/**
 * Diagnostics, table-driven from two corpora:
 *
 * - test/fixtures/negative: each program fails with one diagnostic, named by
 *   a `// expect: CODE [col N]` comment on the line before the offending
 *   line. The code, line (and column) must match, the rendering must show
 *   `file:line:column`, the code and a code frame, and nothing may be an
 *   internal error (TSX9001): the compiler never crashes on bad input.
 * - test/fixtures/positive: tricky but valid programs. They must compile
 *   without a single diagnostic AND load in the kernel, because the promise
 *   is "if it compiles, the verifier accepts it"; an analysis more generous
 *   than the kernel shows up here.
 *
 * Then the JSON shape, the bounds message, and a mutation test: seeded
 * random edits of every example and fixture must each give proper, located
 * diagnostics, never a throw or a TSX9001.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type CompileResult, type Diagnostic, compile, formatDiagnostics, toJson } from "../compiler/index";
import { loadObject } from "../compiler/loader/index";
import { inCI, skipKernel, skipReason } from "./support/kernel";

const fixtures = path.resolve("test/fixtures");
const negativeDir = path.join(fixtures, "negative");
const positiveDir = path.join(fixtures, "positive");
const examplesDir = path.resolve("examples");

/** The top-level programs of a directory (helpers the fixtures import live in subdirectories). */
function programsIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .sort();
}

interface Expectation {
  readonly code: string;
  /** 1-based line the diagnostic must be on: the one after the comment. */
  readonly line: number;
  readonly column?: number;
}

function expectationsOf(text: string): Expectation[] {
  const out: Expectation[] = [];
  text.split("\n").forEach((l, i) => {
    const m = /\/\/ expect: (TSX?\d+)(?: col (\d+))?\s*$/.exec(l);
    if (m) out.push({ code: m[1]!, line: i + 2, column: m[2] === undefined ? undefined : Number(m[2]) });
  });
  return out;
}

/** How formatDiagnostics shows a path (relative to the current directory when inside it). */
function displayed(file: string): string {
  const cwd = process.cwd();
  return file.startsWith(cwd + "/") ? file.slice(cwd.length + 1) : file;
}

function describeAll(r: CompileResult): string {
  return r.diagnostics.map((d) => `${d.code} ${d.location ? `${d.location.line}:${d.location.column}` : "(no location)"} ${d.message}`).join("\n");
}

/** Every diagnostic is a proper one: a code of ours or TypeScript's, a place, never an internal error. */
function expectWellFormed(r: CompileResult, context: string): void {
  const bad = r.diagnostics.filter((d: Diagnostic) => d.code === "TSX9001" || !/^TSX?\d+$/.test(d.code) || !d.location || d.location.line < 1 || d.location.column < 1);
  expect(bad, `${context}\n${describeAll(r)}`).toEqual([]);
  if (!r.ok) expect(r.diagnostics.some((d) => d.severity === "error"), `${context}: failed without an error`).toBe(true);
}

// ------------------------------------------------------------ negative corpus

const negatives = programsIn(negativeDir);

describe("negative corpus", () => {
  it("is large enough to mean something", () => {
    expect(negatives.length).toBeGreaterThanOrEqual(40);
  });

  it.each(negatives)("%s", (name) => {
    const file = path.join(negativeDir, name);
    const text = fs.readFileSync(file, "utf8");
    const expected = expectationsOf(text);
    expect(expected, "a fixture names exactly one expected diagnostic").toHaveLength(1);
    const want = expected[0]!;

    const r = compile({ file });
    expect(r.ok, "a negative fixture must fail").toBe(false);
    expect(r.object).toBeUndefined();
    expectWellFormed(r, name);

    const hit = r.diagnostics.find((d) => d.code === want.code && d.location?.line === want.line && (want.column === undefined || d.location.column === want.column));
    expect(hit, `expected ${want.code} at ${want.line}${want.column ? `:${want.column}` : ""}, got:\n${describeAll(r)}`).toBeDefined();
    expect(hit!.location!.file).toBe(file);

    const shown = formatDiagnostics(r.diagnostics, r.sources);
    expect(shown).toContain(`${displayed(file)}:${hit!.location!.line}:${hit!.location!.column} - error ${want.code}: `);
    // The code frame: the offending line, prefixed by its number.
    const offending = text.split("\n")[want.line - 1]!;
    expect(shown).toMatch(new RegExp(`^\\s*${want.line} ${escapeRegExp(offending)}$`, "m"));
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ------------------------------------------------------------ positive corpus

const positives = programsIn(positiveDir);

describe("positive corpus", () => {
  it("is large enough to mean something", () => {
    expect(positives.length).toBeGreaterThanOrEqual(10);
  });

  it.each(positives)("%s compiles without a diagnostic", (name) => {
    const r = compile({ file: path.join(positiveDir, name) });
    expect(r.diagnostics, formatDiagnostics(r.diagnostics, r.sources)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.object).toBeInstanceOf(Uint8Array);
  });

  it("u64 literals keep every bit in the IR", () => {
    const r = compile({ file: path.join(positiveDir, "u64_constants.ts"), checkOnly: true, emitIr: true });
    expect(r.ir).toContain(`${0xffffffffffff0001n}:u64`);
  });
});

describe.skipIf(skipKernel)(`positive corpus in the kernel${skipReason ? ` (${inCI ? "cannot run" : "skipped"}: ${skipReason})` : ""}`, () => {
  it.each(positives)("%s loads: the verifier accepts what we accepted", (name) => {
    const r = compile({ file: path.join(positiveDir, name) });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const loaded = loadObject(r.object!);
    try {
      expect(loaded.programs.map((p) => p.name).sort()).toEqual(r.programs.map((p) => p.name).sort());
    } finally {
      loaded.close();
    }
  });

  it("u64 literals keep every bit (TypeScript's own value rounds above 2^53)", () => {
    const r = compile({ file: path.join(positiveDir, "u64_constants.ts") });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const loaded = loadObject(r.object!);
    try {
      const prog = loaded.program("prog");
      const frame = (first: number) => Uint8Array.from([first, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...new Array<number>(56).fill(0)]);
      // Little-endian u64 at 0: 0xffffffffffff0001 matches, 0xffffffffffff0000 (its double) does not.
      expect(prog.testRun({ data: frame(0x01) }).action).toBe("DROP");
      expect(prog.testRun({ data: frame(0x00) }).action).toBe("PASS");
    } finally {
      loaded.close();
    }
  });
});

// ------------------------------------------------------------ shapes and messages

describe("diagnostic shapes", () => {
  it("toJson gives the stable fields, with the span's end", () => {
    const file = path.join(negativeDir, "bounds_short_check.ts");
    const r = compile({ file });
    const json = toJson(r.diagnostics, r.sources);
    expect(json.length).toBeGreaterThan(0);
    for (const d of json) {
      expect(Object.keys(d).sort()).toEqual(["code", "column", "endColumn", "endLine", "file", "hints", "line", "message", "related", "severity"]);
      expect(typeof d.code).toBe("string");
      expect(d.severity).toBe("error");
      expect(Array.isArray(d.hints)).toBe(true);
      for (const rel of d.related) {
        expect(typeof rel.message).toBe("string");
        for (const k of Object.keys(rel)) expect(["message", "file", "line", "column"]).toContain(k);
      }
    }
    const d = json.find((j) => j.code === "TSX5001")!;
    expect(d).toMatchObject({ file, line: 8, column: 21, endLine: 8, endColumn: 21 + "data.load<u32>(12)".length });
    expect(d.related[0]).toMatchObject({ file, line: 6, column: 7 });
    // Plain data: survives a round trip through JSON text unchanged.
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it("a TypeScript error comes out in the same shape and stops the build", () => {
    const r = compile({ file: path.join(negativeDir, "ts_number_as_pointer.ts") });
    expect(r.ok).toBe(false);
    expect(r.programs).toEqual([]);
    const [d] = toJson(r.diagnostics, r.sources);
    expect(d).toMatchObject({ code: "TS2322", severity: "error", line: 6, column: 9, hints: [], related: [] });
    expect(d!.message).toContain("PacketPointer");
  });

  it("TSX5001 names the bytes needed, the bytes proven and a concrete check", () => {
    const source = [
      'import { xdp, XdpAction, type be32 } from "tsxdp";',
      "export const prog = xdp((ctx) => {",
      "  if (ctx.data + 14 > ctx.data_end) return XdpAction.DROP;",
      "  const daddr: be32 = ctx.data.load<be32>(30);",
      "  return daddr === 0 ? XdpAction.DROP : XdpAction.PASS;",
      "});",
    ].join("\n");
    const r = compile({ source, fileName: "bounds.ts", checkOnly: true });
    const d = r.diagnostics.find((x) => x.code === "TSX5001")!;
    expect(d, describeAll(r)).toBeDefined();
    expect(d.location).toMatchObject({ line: 4, column: 23 });
    expect(d.message).toContain("[30, 34)");
    expect(d.related.map((x) => x.message).join("\n")).toContain("[0, 14)");
    expect(d.related[0]!.location).toMatchObject({ line: 3, column: 7 });
    expect(d.hints.join("\n")).toContain("if (ctx.data + 34 > ctx.data_end) return XdpAction.DROP;");
    const shown = formatDiagnostics(r.diagnostics, r.sources);
    expect(shown).toContain("[30, 34)");
    expect(shown).toContain("[0, 14)");
  });

  it("a check on one path only says which path had it", () => {
    const r = compile({ file: path.join(negativeDir, "bounds_one_branch_only.ts"), checkOnly: true });
    const d = r.diagnostics.find((x) => x.code === "TSX5001")!;
    const related = d.related.map((x) => x.message).join("\n");
    expect(related).toContain("[0, 14) is proven on some paths only");
    expect(d.related.some((x) => x.location?.line === 7)).toBe(true);
  });
});

// ------------------------------------------------------------ mutations

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tokenPattern = /[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F_]+|\d[\d_]*|[^\sA-Za-z0-9_]/g;

/** One random edit: delete a line, duplicate one, swap two, or replace a token with another from the file. */
function mutate(text: string, random: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const lines = text.split("\n");
  const a = Math.floor(random() * lines.length);
  const b = Math.floor(random() * lines.length);
  switch (Math.floor(random() * 4)) {
    case 0:
      lines.splice(a, 1);
      return lines.join("\n");
    case 1:
      lines.splice(a, 0, lines[a]!);
      return lines.join("\n");
    case 2:
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join("\n");
    default: {
      const tokens = [...text.matchAll(tokenPattern)];
      const victim = pick(tokens);
      return text.slice(0, victim.index) + pick(tokens)[0] + text.slice(victim.index + victim[0].length);
    }
  }
}

/** Mutants per source: every example gets the full 200, each negative fixture a share (time budget ~20 s). */
const examplesMutants = 200;
const fixtureMutants = 40;

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

function mutants(file: string, count: number): string[] {
  const text = fs.readFileSync(file, "utf8");
  const random = prng(seedOf(path.basename(file)));
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    // Mostly one edit, sometimes two or three on top of each other.
    let m = text;
    const edits = random() < 0.7 ? 1 : 2 + Math.floor(random() * 2);
    for (let e = 0; e < edits; e++) m = mutate(m, random);
    out.push(m);
  }
  return out;
}

const mutationSources: [string, string, number][] = [
  ...programsIn(examplesDir).map((f): [string, string, number] => [`examples/${f}`, path.join(examplesDir, f), examplesMutants]),
  ...negatives.map((f): [string, string, number] => [`negative/${f}`, path.join(negativeDir, f), fixtureMutants]),
];

describe("mutated programs never crash the compiler", () => {
  it.each(mutationSources)("%s", (_label, file, count) => {
    // Beside the original, so relative imports still resolve.
    const fileName = path.join(path.dirname(file), `mutant-of-${path.basename(file)}`);
    for (const [i, source] of mutants(file, count).entries()) {
      let r: CompileResult;
      try {
        r = compile({ source, fileName, checkOnly: true });
      } catch (e) {
        throw new Error(`mutant ${i} of ${file} threw: ${String(e)}\n--- source ---\n${source}`);
      }
      expectWellFormed(r, `mutant ${i} of ${file}:\n--- source ---\n${source}\n--- diagnostics ---`);
    }
  });
});
