/**
 * bpf_printk end to end: a template literal becomes a format in .rodata and
 * up to three 64-bit values (bpf_trace_printk), or up to twelve in an array
 * on the stack (bpf_trace_vprintk, as C's bpf_printk past three); the
 * kernel writes the line to the trace buffer, which the test reads back
 * (mounting tracefs when needed), and compares with a clang-14 twin's.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, skipKernel } from "./support/kernel";

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

  test.skipIf(!clang && !inCI)("twelve values go through bpf_trace_vprintk: the same line as the C twin's bpf_printk", () => {
    const marker = `v${process.pid}x${Date.now() % 100000}`;
    const names = "abcdefghijkl".split("");
    const source = [
      'import { xdp, XdpAction, bpf_printk, type u8 } from "tsxdp";',
      "export const trace = xdp((ctx) => {",
      "  const { data, data_end } = ctx;",
      "  if (data + 12 > data_end) return XdpAction.PASS;",
      `  bpf_printk(\`${marker}-ts ${names.map((n, k) => `${n}=\${data.load<u8>(${k})}`).join(" ")}\`);`,
      "  return XdpAction.PASS;",
      "});",
    ].join("\n");
    const r = compile({ source, fileName: "vtrace.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const c = [
      "#include <linux/bpf.h>",
      "#include <bpf/bpf_helpers.h>",
      'SEC("xdp") int trace(struct xdp_md *ctx)',
      "{",
      "\tunsigned char *data = (void *)(long)ctx->data;",
      "\tif ((void *)(data + 12) > (void *)(long)ctx->data_end) return XDP_PASS;",
      `\tbpf_printk("${marker}-c ${names.map((n) => `${n}=%llu`).join(" ")}", ${names.map((_, k) => `(__u64)data[${k}]`).join(", ")});`,
      "\treturn XDP_PASS;",
      "}",
      'char _license[] SEC("license") = "GPL";',
    ].join("\n");
    const frame = Uint8Array.from({ length: 20 }, (_, k) => 200 + k);
    for (const object of [r.object!, compileC(c)]) {
      const obj = loadObject(object);
      try {
        expect(obj.program("trace").testRun({ data: frame }).action).toBe("PASS");
      } finally {
        obj.close();
      }
    }
    const lines = fs.readFileSync(traceFile(), "utf8").split("\n");
    const text = (side: string) => lines.filter((l) => l.includes(`${marker}-${side} `)).at(-1)?.replace(/^.*?bpf_trace_printk: /, "").replace(`${marker}-${side}`, "");
    expect(text("ts")).toBe(` ${names.map((n, k) => `${n}=${200 + k}`).join(" ")}`);
    expect(text("ts")).toBe(text("c"));
  });
});
