/**
 * The layout tsxdp computes for a struct the dialect declares (`BpfFibLookup`,
 * `BpfSockTuple`, …), for tests that check it against the kernel's UAPI struct.
 */
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { expect } from "vitest";
import { DiagnosticBag } from "../../compiler/diagnostics/diagnostic";
import { Intrinsics } from "../../compiler/dialect/intrinsics";
import { parseProgram } from "../../compiler/frontend/program";
import { type Layout, Layouts } from "../../compiler/ir/layout";

export function dialectLayout(name: string): Layout {
  const diagnostics = new DiagnosticBag();
  const source = `import { xdp, XdpAction, type ${name} } from "tsxdp";\nexport type Probe = ${name};\nexport const prog = xdp(() => XdpAction.PASS);\n`;
  const fe = parseProgram({ source, fileName: path.join(os.tmpdir(), "dialect-layout.ts") }, diagnostics);
  expect(diagnostics.all).toEqual([]);
  const probe = fe!.sourceFile.statements.find((n): n is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(n))!;
  return new Layouts(fe!.checker, new Intrinsics(fe!.checker, fe!.dialectFile)).ofTypeNode(probe.type);
}

/** Offset and size of a field by its path (`dst.ipv4`). */
export function member(l: Layout, dotted: string): { offset: number; size: number } {
  let offset = 0;
  let layout = l;
  let size = 0;
  for (const name of dotted.split(".")) {
    const f = layout.fields.get(name);
    if (!f) throw new Error(`no field ${dotted}`);
    offset += f.offset;
    size = f.size;
    if (f.type.kind === "struct") layout = f.type.layout;
  }
  return { offset, size };
}
