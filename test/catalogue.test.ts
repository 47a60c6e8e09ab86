/**
 * The diagnostics catalogue (docs/diagnostics.md) against the compiler:
 *
 * - every code in `Codes` has a `## TSXnnnn: <title>` section with the
 *   catalogue's title, or is listed under "Reserved codes"; a reserved code
 *   is one no code path reports, a live one always has a section;
 * - every example marked `<!-- wrong: TSXnnnn -->` reports that code and
 *   nothing else, every `<!-- fix -->` compiles without a diagnostic, so the
 *   examples cannot rot (`<!-- wrong: TSXnnnn via TSmmmm -->`: TypeScript
 *   reports that mistake first, as TSmmmm);
 * - every live code has a negative fixture that expects it, except the
 *   internal errors (never producible, documented as bugs), the codes only
 *   the loader reports (`<!-- runtime -->`) and those TypeScript always
 *   reports first (`via`).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Codes, type CompileResult, type CpuVersion, compile } from "../compiler/index";
import { codeString } from "../compiler/diagnostics/codes";

const docPath = path.resolve("docs/diagnostics.md");
const doc = fs.readFileSync(docPath, "utf8");
const compilerDir = path.resolve("compiler");
const negativeDir = path.resolve("test/fixtures/negative");

// ------------------------------------------------------------ the catalogue

interface Example {
  readonly kind: "wrong" | "fix" | "file";
  /** wrong: the code the example is about; file: the module's name. */
  readonly arg?: string;
  /** wrong: the code that is reported first instead (TypeScript's). */
  readonly via?: string;
  readonly source: string;
  /** 1-based line of the marker in docs/diagnostics.md, for messages. */
  readonly line: number;
}

interface Section {
  readonly code: string;
  readonly title: string;
  readonly line: number;
  readonly text: string;
  readonly examples: readonly Example[];
  readonly runtime: boolean;
  readonly internal: boolean;
}

const lineAt = (text: string, index: number, first = 1) => first + text.slice(0, index).split("\n").length - 1;

const markerPattern = /<!--\s*(wrong|fix|file)(?::\s*(.*?))?\s*-->\s*\n```ts\n([\s\S]*?)```/g;

function examplesIn(text: string, firstLine: number): Example[] {
  const out: Example[] = [];
  for (const m of text.matchAll(markerPattern)) {
    const kind = m[1] as Example["kind"];
    const line = lineAt(text, m.index, firstLine);
    const source = m[3]!;
    if (kind === "wrong") {
      const w = /^(TSX\d{4})(?:\s+via\s+(TS\d+))?$/.exec(m[2] ?? "");
      if (!w) throw new Error(`docs/diagnostics.md:${line}: a wrong marker is \`<!-- wrong: TSXnnnn [via TSmmmm] -->\`, got \`${m[0].split("\n")[0]}\``);
      out.push({ kind, arg: w[1], via: w[2], source, line });
    } else {
      out.push({ kind, arg: m[2], source, line });
    }
  }
  return out;
}

function parseSections(): Section[] {
  const headings = [...doc.matchAll(/^## (.*)$/gm)];
  const sections: Section[] = [];
  headings.forEach((h, i) => {
    const m = /^(TSX\d{4}): (.+)$/.exec(h[1]!);
    if (!m) return;
    const start = h.index + h[0].length;
    const end = headings[i + 1]?.index ?? doc.length;
    const text = doc.slice(start, end);
    const line = lineAt(doc, h.index);
    sections.push({
      code: m[1]!,
      title: m[2]!,
      line,
      text,
      examples: examplesIn(text, lineAt(doc, start)),
      runtime: /<!--\s*runtime\s*-->/.test(text),
      internal: /<!--\s*internal\s*-->/.test(text),
    });
  });
  return sections;
}

/** `- TSXnnnn: title …` items under `## Reserved codes`. */
function parseReserved(): Map<string, string> {
  const m = /^## Reserved codes$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(doc);
  const out = new Map<string, string>();
  if (!m) return out;
  let current: string | undefined;
  for (const l of m[1]!.split("\n")) {
    const item = /^- `?(TSX\d{4})`?: (.*)$/.exec(l);
    if (item) {
      current = item[1]!;
      out.set(current, item[2]!);
    } else if (current && /^\s+\S/.test(l)) {
      out.set(current, `${out.get(current)!} ${l.trim()}`);
    } else {
      current = undefined;
    }
  }
  return out;
}

const sections = parseSections();
const reserved = parseReserved();
const byCode = new Map(sections.map((s) => [s.code, s]));
const allCodes = Object.values(Codes).map((k) => ({ code: codeString(k.code), title: k.title }));
const internalCodes = ["TSX9001", "TSX9002"];

// ------------------------------------------------------------ the compiler's uses

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** Code (TSXnnnn) → the compiler files that report it: `Codes.name`, or a `code: "name"` that reaches `Codes[…]`. */
function liveCodes(): Map<string, string[]> {
  const names = new Map(Object.entries(Codes).map(([name, k]) => [name, codeString(k.code)]));
  const out = new Map<string, string[]>();
  for (const file of sourceFiles(compilerDir)) {
    if (file === path.join(compilerDir, "diagnostics", "codes.ts")) continue;
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/\bCodes\.(\w+)|\bcode:\s*"(\w+)"/g)) {
      const code = names.get(m[1] ?? m[2]!);
      if (!code) continue;
      const rel = path.relative(compilerDir, file);
      const files = out.get(code) ?? [];
      if (!files.includes(rel)) files.push(rel);
      out.set(code, files);
    }
  }
  return out;
}

const live = liveCodes();

/** Codes named by `// expect:` lines of the negative fixtures. */
function fixtureCodes(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of fs.readdirSync(negativeDir).filter((n) => n.endsWith(".ts")).sort()) {
    for (const m of fs.readFileSync(path.join(negativeDir, f), "utf8").matchAll(/\/\/ expect: (TSX?\d+)/g)) {
      out.set(m[1]!, [...(out.get(m[1]!) ?? []), f]);
    }
  }
  return out;
}

// ------------------------------------------------------------ compiling the examples

/** Examples compile beside the modules the catalogue declares (`<!-- file: name.ts -->`). */
let exampleDir = "";

beforeAll(() => {
  exampleDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-catalogue-"));
  for (const s of sections) for (const e of s.examples) if (e.kind === "file") fs.writeFileSync(path.join(exampleDir, e.arg!), e.source);
});

afterAll(() => {
  if (exampleDir) fs.rmSync(exampleDir, { recursive: true, force: true });
});

function cpuOf(options: string | undefined): CpuVersion | undefined {
  if (options === undefined || options.trim() === "") return undefined;
  const m = /^--mcpu (v[1-4])$/.exec(options.trim());
  if (!m) throw new Error(`unknown fix options \`${options}\` (known: --mcpu vN)`);
  return m[1] as CpuVersion;
}

/** Codes that only code generation finds (LLVM's stack limit): their examples are compiled all the way. */
const codegenCodes = new Set(["TSX5008"]);

function compileExample(source: string, cpu?: CpuVersion, code?: string): CompileResult {
  return compile({ source, fileName: path.join(exampleDir, "example.ts"), checkOnly: !codegenCodes.has(code ?? ""), cpu });
}

function shown(r: CompileResult): string {
  return r.diagnostics.map((d) => `  ${d.code} ${d.location ? `${d.location.line}:${d.location.column}` : "-"} ${d.message}`).join("\n") || "  (none)";
}

// ------------------------------------------------------------ tests

describe("the catalogue's structure", () => {
  it("has sections", () => {
    expect(sections.length).toBeGreaterThan(20);
  });

  it("documents every code, by its catalogue title, or lists it as reserved", () => {
    const missing = allCodes.filter((c) => !byCode.has(c.code) && !reserved.has(c.code)).map((c) => `${c.code}: ${c.title}`);
    expect(missing, "codes with neither a `## TSXnnnn: title` section nor a reserved entry").toEqual([]);
    for (const c of allCodes) {
      const s = byCode.get(c.code);
      if (s) expect(s.title, `docs/diagnostics.md:${s.line}: the heading's title must be codes.ts's`).toBe(c.title);
      else expect(reserved.get(c.code)!.startsWith(c.title.replace(/\.$/, "")), `reserved ${c.code} must start with its title "${c.title}"`).toBe(true);
    }
  });

  it("documents nothing that is not a code, each code once, in order", () => {
    const known = new Set(allCodes.map((c) => c.code));
    expect(sections.map((s) => s.code).filter((c) => !known.has(c))).toEqual([]);
    expect([...reserved.keys()].filter((c) => !known.has(c))).toEqual([]);
    expect(sections.filter((s) => reserved.has(s.code)).map((s) => s.code), "a code is documented or reserved, not both").toEqual([]);
    const order = sections.map((s) => Number(s.code.slice(3)));
    expect(new Set(order).size, "one section per code").toBe(order.length);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it("reserves exactly the codes nothing reports", () => {
    expect([...reserved.keys()].filter((c) => live.has(c)), "reported by the compiler, so it needs a section").toEqual([]);
    expect(allCodes.filter((c) => live.has(c.code) && !byCode.has(c.code)).map((c) => c.code)).toEqual([]);
  });

  it("gives each section a wrong example and a fix, unless it is runtime or internal", () => {
    for (const s of sections) {
      const where = `docs/diagnostics.md:${s.line} (${s.code})`;
      if (s.runtime || s.internal) {
        expect(s.examples.filter((e) => e.kind !== "file"), `${where}: a runtime or internal section has no compile examples`).toEqual([]);
        continue;
      }
      expect(s.examples.some((e) => e.kind === "wrong"), `${where}: no <!-- wrong: ${s.code} --> example`).toBe(true);
      expect(s.examples.some((e) => e.kind === "fix"), `${where}: no <!-- fix --> example`).toBe(true);
      for (const e of s.examples) if (e.kind === "wrong") expect(e.arg, `docs/diagnostics.md:${e.line}: a wrong example in the ${s.code} section`).toBe(s.code);
    }
  });

  it("has no marker without its ```ts block", () => {
    const markers = [...doc.matchAll(/<!--\s*(wrong|fix|file)\b/g)].length;
    const parsed = sections.reduce((n, s) => n + s.examples.length, 0);
    expect(parsed, "every <!-- wrong/fix/file --> marker must be followed directly by a ```ts block inside a TSX section").toBe(markers);
  });
});

const wrongExamples = sections.flatMap((s) => s.examples.filter((e) => e.kind === "wrong").map((e): [string, Example] => [`${s.code} (docs/diagnostics.md:${e.line})`, e]));
const fixExamples = sections.flatMap((s) => s.examples.filter((e) => e.kind === "fix").map((e): [string, Example] => [`${s.code} (docs/diagnostics.md:${e.line})`, e]));

describe("wrong examples report their code", () => {
  it.each(wrongExamples)("%s", (_label, e) => {
    const r = compileExample(e.source, undefined, e.arg);
    const want = e.via ?? e.arg!;
    expect(r.ok, `the example compiles:\n${e.source}`).toBe(false);
    expect(
      r.diagnostics.map((d) => d.code),
      `expected only ${want}${e.via ? ` (TypeScript's, for ${e.arg})` : ""}, got:\n${shown(r)}`,
    ).toEqual(r.diagnostics.map(() => want));
    expect(r.diagnostics.length).toBeGreaterThan(0);
    for (const d of r.diagnostics) expect(d.location, `${d.code} has no location`).toBeDefined();
  });
});

describe("fixes compile without a diagnostic", () => {
  it.each(fixExamples)("%s", (_label, e) => {
    const r = compileExample(e.source, cpuOf(e.arg));
    expect(r.diagnostics, `${shown(r)}\n--- source ---\n${e.source}`).toEqual([]);
    expect(r.ok).toBe(true);
  });
});

describe("the corpus and the catalogue agree", () => {
  const expected = fixtureCodes();

  it("every live code has a negative fixture that expects it, or a documented reason not to", () => {
    const lacking: string[] = [];
    for (const [code, files] of live) {
      if (internalCodes.includes(code)) continue;
      const s = byCode.get(code);
      if (s?.runtime) continue;
      if (s?.examples.some((e) => e.kind === "wrong" && e.via)) continue;
      if (!expected.has(code)) lacking.push(`${code} (reported in ${files.join(", ")})`);
    }
    expect(lacking, "add a fixture under test/fixtures/negative with `// expect: CODE` before the offending line").toEqual([]);
  });

  it("runtime codes are reported only by the loader or the CLI, never by compile()", () => {
    for (const s of sections.filter((x) => x.runtime)) {
      const files = live.get(s.code) ?? [];
      expect(files.length, `${s.code} is documented as runtime but nothing reports it (list it as reserved instead)`).toBeGreaterThan(0);
      expect(files.filter((f) => !f.startsWith(`loader${path.sep}`) && !f.startsWith(`cli${path.sep}`)), `${s.code} is documented as runtime`).toEqual([]);
    }
  });

  it("a `via` code is one TypeScript reports first: no fixture expects it", () => {
    for (const s of sections) {
      if (!s.examples.some((e) => e.kind === "wrong" && e.via)) continue;
      expect(expected.get(s.code), `${s.code} has a fixture now: give its section a direct <!-- wrong: ${s.code} --> example`).toBeUndefined();
    }
  });

  it("internal errors are never expected from a program, and are documented as bugs", () => {
    for (const code of internalCodes) {
      expect(expected.get(code), `${code} must never be producible`).toBeUndefined();
      const s = byCode.get(code);
      const text = s ? s.text : reserved.get(code);
      expect(text, `${code} is documented`).toBeDefined();
      expect(text!.replace(/\s+/g, " ").toLowerCase(), `${code} is documented as a bug`).toContain("if you see this, it is a bug");
      if (s) expect(s.internal, `${code}'s section is marked <!-- internal -->`).toBe(true);
    }
  });
});
