/**
 * Helper IDs are kernel ABI: each one in the compiler's table is checked
 * against the installed UAPI header (linux/bpf.h, from linux-libc-dev),
 * whose __BPF_FUNC_MAPPER lists helpers in ID order (newer headers also
 * spell the ID out: `FN(name, id, ...)`).
 */
import fs from "node:fs";
import { describe, expect, test } from "vitest";
import { helpers } from "../compiler/dialect/helpers";
import { inCI } from "./support/kernel";

const header = "/usr/include/linux/bpf.h";

function uapiHelperIds(text: string): Map<string, number> {
  const start = text.indexOf("#define ___BPF_FUNC_MAPPER") >= 0 ? text.indexOf("#define ___BPF_FUNC_MAPPER") : text.indexOf("#define __BPF_FUNC_MAPPER");
  const end = text.indexOf("\n\n", start);
  const ids = new Map<string, number>();
  let position = 0;
  for (const m of text.slice(start, end).matchAll(/FN\((\w+)(?:,\s*(\d+))?/g)) {
    ids.set(`bpf_${m[1]}`, m[2] !== undefined ? Number(m[2]) : position);
    position++;
  }
  return ids;
}

describe.skipIf(!fs.existsSync(header) && !inCI)("helper IDs match the kernel's UAPI header", () => {
  const ids = fs.existsSync(header) ? uapiHelperIds(fs.readFileSync(header, "utf8")) : new Map<string, number>();
  test("the header lists the helpers", () => {
    expect(ids.get("bpf_unspec")).toBe(0);
    expect(ids.get("bpf_map_lookup_elem")).toBe(1);
  });
  test.each([...helpers.values()])("$name is helper $id", (h) => {
    expect(ids.get(h.name)).toBe(h.id);
  });
});
