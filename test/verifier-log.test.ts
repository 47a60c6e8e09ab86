/**
 * Rejection reports without a kernel: the verifier-log parser on logs
 * recorded from Linux 6.18 (levels 1 and 2, several paths, line 0), the
 * .BTF/.BTF.ext reader on an object tsxdp builds, and the TSX5100
 * rendering. The kernel itself producing these logs is tested in
 * run.test.ts.
 */
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { compile } from "../compiler/index";
import { explainRejection, formatRejection, parseVerifierLog, rejectionDiagnostic } from "../compiler/loader/index";
import { BtfError, lineForInsn, programLineInfo, readBtfLineInfo } from "../compiler/object/btf";
import { readElf } from "../compiler/object/elf";

/** drop_non_ipv4 with its EtherType load patched from offset 12 to 14, loaded at level 1 (Linux 6.18). */
const level1 = `0: R1=ctx() R10=fp0
; export const drop_non_ipv4 = xdp((ctx) => { @ drop_non_ipv4.ts:8
0: (b4) w0 = 1                        ; R0=1
1: (61) r2 = *(u32 *)(r1 +4)          ; R1=ctx() R2=pkt_end()
2: (61) r1 = *(u32 *)(r1 +0)          ; R1=pkt(r=0)
; if (data + 14 > data_end) return XdpAction.DROP; @ drop_non_ipv4.ts:10
3: (bf) r3 = r1                       ; R1=pkt(r=0) R3=pkt(r=0)
4: (07) r3 += 14                      ; R3=pkt(off=14,r=0)
5: (2d) if r3 > r2 goto pc+11         ; R2=pkt_end() R3=pkt(off=14,r=14)
; let proto = data.load<be16>(12); @ drop_non_ipv4.ts:12
6: (69) r3 = *(u16 *)(r1 +14)
invalid access to packet, off=14 size=2, R1(id=0,off=14,r=14)
R1 offset is outside of the packet
processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
`;

/** A C program (clang-14 -g) rejected on its second path, at level 2: the failing instruction has line 0. */
const level2 = `func#0 @0
Live regs before insn:
      0: .1........ (b7) r0 = 1
     14: .1........ (71) r0 = *(u8 *)(r1 +0)
     15: 0......... (95) exit
0: R1=ctx() R10=fp0
; int a(struct xdp_md *ctx) @ multi.c:3
0: (b7) r0 = 1                        ; R0=1
; if (data[12] == 8) { @ multi.c:8
7: (71) r4 = *(u8 *)(r1 +12)          ; R1=pkt(r=14) R4=scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))
8: (55) if r4 != 0x8 goto pc+4        ; R4=8
9: (b7) r3 = 19                       ; R3=19
; if (data + 20 > end) return XDP_DROP; @ multi.c:9
10: (bf) r4 = r1                      ; R1=pkt(r=14) R4=pkt(r=14)
12: (2d) if r4 > r2 goto pc+2         ; R2=pkt_end() R4=pkt(off=20,r=20)
;  @ multi.c:0
13: (0f) r1 += r3
mark_precise: frame0: last_idx 13 first_idx 12 subseq_idx -1 
14: R1=pkt(off=19,r=20) R3=19
14: (71) r0 = *(u8 *)(r1 +0)          ; R0=scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff)) R1=pkt(off=19,r=20)
; } @ multi.c:13
15: (95) exit

from 8 to 13: R0=1 R1=pkt(r=14) R2=pkt_end() R3=30 R10=fp0
13: R0=1 R1=pkt(r=14) R2=pkt_end() R3=30 R10=fp0
;  @ multi.c:0
13: (0f) r1 += r3
mark_precise: frame0: regs=r3 stack= before 6: (b7) r3 = 30
14: R1=pkt(off=30,r=14) R3=30
14: (71) r0 = *(u8 *)(r1 +0)
invalid access to packet, off=30 size=1, R1(id=0,off=30,r=14)
R1 offset is outside of the packet
processed 19 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
`;

let object: Uint8Array;
const source = path.resolve("examples/drop_non_ipv4.ts");

beforeAll(() => {
  const r = compile({ file: source });
  expect(r.ok).toBe(true);
  object = r.object!;
});

describe("parseVerifierLog", () => {
  test("the failing instruction, its line annotation, the message and the details", () => {
    const facts = parseVerifierLog(level1);
    expect(facts.insn).toBe(6);
    expect(facts.instruction).toBe("(69) r3 = *(u16 *)(r1 +14)");
    expect(facts.annotation).toEqual({ text: "let proto = data.load<be16>(12);", file: "drop_non_ipv4.ts", line: 12 });
    expect(facts.message).toBe("invalid access to packet, off=14 size=2, R1(id=0,off=14,r=14)");
    expect(facts.details).toEqual(["R1 offset is outside of the packet"]);
    expect(facts.excerpt.at(-1)).toBe("R1 offset is outside of the packet");
    expect(facts.excerpt.some((l) => l.startsWith("processed"))).toBe(false);
  });

  test("level 2, several paths: the last instruction, not the liveness table or a state dump", () => {
    const facts = parseVerifierLog(level2);
    expect(facts.insn).toBe(14);
    expect(facts.instruction).toBe("(71) r0 = *(u8 *)(r1 +0)");
    expect(facts.annotation).toEqual({ text: "", file: "multi.c", line: 0 });
    // Line 0 (compiler-made code): the nearest real line on the same path, never one from an earlier path.
    expect(facts.nearest).toBeUndefined();
    expect(facts.message).toBe("invalid access to packet, off=30 size=1, R1(id=0,off=30,r=14)");
    expect(facts.excerpt.length).toBeLessThanOrEqual(20);
    expect(facts.excerpt.some((l) => l.startsWith("mark_precise") || l.startsWith(" "))).toBe(false);
  });

  test("errors found before the walk name their instruction in the message", () => {
    const facts = parseVerifierLog("unreachable insn 5\n");
    expect(facts).toMatchObject({ insn: 5, message: "unreachable insn 5" });
    expect(facts.annotation).toBeUndefined();
  });

  test("kernels before 6.2 print the line text without file:line", () => {
    const facts = parseVerifierLog("; let x = data.load<u8>(20);\n3: (71) r2 = *(u8 *)(r1 +20)\ninvalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)\n");
    expect(facts.annotation).toEqual({ text: "let x = data.load<u8>(20);" });
    expect(facts.insn).toBe(3);
  });

  test("a source line containing ' @ ' keeps its text", () => {
    const facts = parseVerifierLog("; const a = b @ c; @ x.ts:4\n0: (b7) r0 = 1\nR0 !read_ok\n");
    expect(facts.annotation).toEqual({ text: "const a = b @ c;", file: "x.ts", line: 4 });
  });

  test("no verifier output: no message", () => {
    expect(parseVerifierLog("").message).toBeUndefined();
    expect(explainRejection({ verifierLog: "", errno: 22 })).toBeUndefined();
  });
});

describe(".BTF and .BTF.ext", () => {
  test("line info of a program, in instructions from its start, with path, column and text", () => {
    const records = programLineInfo(readElf(object), "drop_non_ipv4")!;
    expect(records.length).toBeGreaterThan(3);
    const load = lineForInsn(records, 6)!;
    expect(load).toMatchObject({ file: source, line: 12, column: 15, text: "  let proto = data.load<be16>(12);" });
    expect(records.every((r, i) => i === 0 || r.insnOff >= records[i - 1]!.insnOff)).toBe(true);
    expect(programLineInfo(readElf(object), "no_such_program")).toBeUndefined();
  });

  test("malformed sections are errors, not garbage", () => {
    const elf = readElf(object);
    const btf = elf.contents(elf.section(".BTF")!);
    const ext = elf.contents(elf.section(".BTF.ext")!);
    expect(() => readBtfLineInfo(btf.subarray(0, 10), ext)).toThrow(BtfError);
    expect(() => readBtfLineInfo(btf, ext.subarray(0, ext.length - 8))).toThrow(BtfError);
    const wrongMagic = Uint8Array.from(btf);
    wrongMagic[0] = 0;
    expect(() => readBtfLineInfo(wrongMagic, ext)).toThrow(/magic/);
  });
});

describe("explainRejection and formatRejection", () => {
  test("the log's line, completed from the object's BTF: full path and column", () => {
    const report = explainRejection({ verifierLog: level1, errno: 13, program: "drop_non_ipv4" }, object)!;
    expect(report).toMatchObject({
      program: "drop_non_ipv4",
      file: source,
      line: 12,
      column: 15,
      sourceLine: "  let proto = data.load<be16>(12);",
      insn: 6,
      message: "invalid access to packet, off=14 size=2, R1(id=0,off=14,r=14)",
    });
  });

  test("without the object: the basename and the text the kernel printed", () => {
    const report = explainRejection({ verifierLog: level1, errno: 13, program: "drop_non_ipv4" })!;
    expect(report).toMatchObject({ file: "drop_non_ipv4.ts", line: 12, sourceLine: "let proto = data.load<be16>(12);" });
    expect(report.column).toBeUndefined();
  });

  test("a log without line annotations: the object's line info, as find_linfo() picks it", () => {
    const bare = level1
      .split("\n")
      .filter((l) => !l.startsWith(";"))
      .join("\n");
    const report = explainRejection({ verifierLog: bare, errno: 13, program: "drop_non_ipv4" }, object)!;
    expect(report).toMatchObject({ file: source, line: 12, column: 15 });
  });

  test("rendered like a diagnostic: location, TSX5100, code frame from the file, then the log", () => {
    const report = explainRejection({ verifierLog: level1, errno: 13, program: "drop_non_ipv4" }, object)!;
    const text = formatRejection(report, { cwd: path.resolve(".") });
    expect(text).toContain("examples/drop_non_ipv4.ts:12:15 - error TSX5100: the kernel verifier rejected program 'drop_non_ipv4': invalid access to packet, off=14 size=2");
    expect(text).toMatch(/^12 {3}let proto = data\.load<be16>\(12\);\n {2}\s{15}~+$/m);
    expect(text).toContain("failing instruction 6: (69) r3 = *(u16 *)(r1 +14)");
    expect(text).toContain("verifier log (last 13 lines):\n    0: R1=ctx() R10=fp0");
    const { diagnostic } = rejectionDiagnostic(report);
    expect(diagnostic.code).toBe("TSX5100");
  });

  test("an unreadable source file still gets a frame from the line text the object carries", () => {
    const report = { ...explainRejection({ verifierLog: level1, errno: 13, program: "drop_non_ipv4" }, object)!, file: "/nonexistent/drop_non_ipv4.ts" };
    const text = formatRejection(report);
    expect(text).toContain("/nonexistent/drop_non_ipv4.ts:12:15 - error TSX5100");
    expect(text).toContain("12   let proto = data.load<be16>(12);");
  });
});
