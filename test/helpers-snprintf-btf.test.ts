/**
 * bpf_snprintf_btf, run in the kernel: test/helpers/snprintf-btf.ts and its
 * C twin show the frame's IPv4 and Ethernet headers as vmlinux's struct
 * iphdr and struct ethhdr (the type id a CO-RE relocation libbpf resolves,
 * as bpf_core_type_id_kernel), plain, compact and without names; both must
 * return the same lengths and text, and the text must hold the header's
 * fields as this test reads them from the frame.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { compileC, clang } from "./support/clang";
import { inCI, skipKernel } from "./support/kernel";
import * as P from "./support/packets";

describe.skipIf(skipKernel)("bpf_snprintf_btf against its C twin", () => {
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    const r = compile({ file: "test/helpers/snprintf-btf.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!));
    if (clang) objects.push(loadObject(compileC(fs.readFileSync("test/helpers/snprintf-btf.c", "utf8"))));
    else if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
  });
  afterAll(() => {
    for (const o of objects) o.close();
  });

  test("the headers shown as the kernel's structs, the same text from both, holding the frame's fields", () => {
    const ip = P.ipv4({ protocol: P.IPPROTO_UDP, src: [10, 1, 2, 3] }, P.udp(40000, 53, new Uint8Array(0)));
    const frame = Buffer.alloc(208);
    frame.set(P.ethernet({ proto: P.ETH_P_IP }, ip));
    const texts: string[] = [];
    for (const which of [0, 1, 2]) {
      frame[40] = which;
      const got = objects.map((obj) => {
        const out = Buffer.from(obj.program("show").testRun({ data: frame }).data);
        const n = Number(out.readBigInt64LE(40));
        const text = out.subarray(48, 208).toString("latin1").replace(/\0+$/, "");
        return { n, text };
      });
      for (const g of got) expect(g).toEqual(got[0]);
      // The length the whole text needs, as snprintf counts it (no NUL): more than the buffer holds when it was cut.
      if (got[0]!.text.length < 159) expect(got[0]!.n).toBe(got[0]!.text.length);
      else expect(got[0]!.n).toBeGreaterThan(159);
      texts.push(got[0]!.text);
    }
    // The fields as the kernel names and formats them, read from the frame here (a __be16 as the bytes sit in memory).
    const fields = [`.ihl = (__u8)0x5`, `.version = (__u8)0x4`, `.tot_len = (__be16)${frame.readUInt16LE(16)}`, `.ttl = (__u8)${frame[22]}`, `.protocol = (__u8)${P.IPPROTO_UDP}`];
    expect(texts[0]).toMatch(/^\(struct iphdr\)\{\n/);
    // The plain text is cut at the buffer's 160 bytes, after the TTL.
    for (const f of fields.slice(0, 4)) expect(texts[0]).toContain(f);
    expect(texts[0]).toHaveLength(159);
    // Compact: the same fields on one line.
    expect(texts[1]).toMatch(/^\(struct iphdr\)\{\.ihl/);
    for (const f of fields) expect(texts[1]).toContain(f);
    // Compact without names: values only.
    expect(texts[2]).toMatch(/^\{/);
    expect(texts[2]).not.toContain(".h_proto");
    expect(texts[2]).toContain(`${frame.readUInt16LE(12)}`);
  });
});
