/**
 * bpf_printk end to end: a template literal becomes a format in .rodata and
 * up to three 64-bit values; the kernel writes the line to the trace
 * buffer, which the test reads back (mounting tracefs when needed).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { loadObject } from "../compiler/loader/index";
import { skipKernel } from "./support/kernel";

function traceFile(): string {
  const dir = "/sys/kernel/tracing";
  if (!fs.existsSync(`${dir}/trace`)) execFileSync("mount", ["-t", "tracefs", "tracefs", dir]);
  return `${dir}/trace`;
}

describe.skipIf(skipKernel)("bpf_printk", () => {
  test("writes the formatted line, values in host order, signed and unsigned, % escaped", () => {
    const marker = `m${process.pid}x${Date.now() % 100000}`;
    const source = [
      'import { xdp, XdpAction, bpf_printk, type be16, type i32 } from "tsxdp";',
      "export const trace = xdp((ctx) => {",
      "  const { data, data_end } = ctx;",
      "  if (data + 14 > data_end) return XdpAction.PASS;",
      "  const delta: i32 = -5;",
      `  bpf_printk(\`${marker} 100% proto=\${data.load<be16>(12)} q=\${ctx.rx_queue_index} d=\${delta}\`);`,
      "  return XdpAction.PASS;",
      "});",
    ].join("\n");
    const r = compile({ source, fileName: "trace.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const obj = loadObject(r.object!);
    try {
      const frame = new Uint8Array(20);
      frame[12] = 0x86;
      frame[13] = 0xdd;
      expect(obj.program("trace").testRun({ data: frame }).action).toBe("PASS");
    } finally {
      obj.close();
    }
    const lines = fs.readFileSync(traceFile(), "utf8").split("\n").filter((l) => l.includes(marker));
    expect(lines.at(-1)).toMatch(new RegExp(`bpf_trace_printk: ${marker} 100% proto=34525 q=0 d=-5$`));
  });
});
