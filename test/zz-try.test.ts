import { test } from "vitest";
import fs from "node:fs";
import { compile, formatDiagnostics } from "../compiler/index";
test("try", () => {
  for (const f of fs.readdirSync("examples").filter((f) => f.endsWith(".ts"))) {
    const r = compile({ file: `examples/${f}`, emitIr: false, emitAsm: false });
    console.log(f, r.ok, r.object?.length, formatDiagnostics(r.diagnostics, r.sources));
    if (r.object) fs.writeFileSync(`/tmp/${f.replace(".ts", ".o")}`, r.object);
  }
});
