/**
 * Proves the whole in-process path with the binding alone: an XDP program
 * with full debug info, built through the LLVM C API, verified, optimised
 * at O2 and emitted as a BPF ELF object whose BTF is what libbpf needs.
 *
 * Runs once per installed LLVM (14 is required under CI=true, 15 when
 * present), side by side in this one process: the libraries are opened
 * RTLD_LOCAL, so their symbols do not clash.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findLLVM, LLVMNotFoundError, versionFromName } from "../compiler/llvm/find-llvm";
import type { FoundLLVM } from "../compiler/llvm/find-llvm";
import { AttributeIndex, DIFlags, DWARFEmissionKind, DWARFSourceLanguage, DWARFTypeEncoding, DWTag, IntPredicate, llvm, loadLLVM, ModuleFlagBehavior } from "../compiler/llvm/llvm-c";
import type { LLVMC, LLVMContextRef, LLVMMetadataRef, LLVMModuleRef, LLVMTargetMachineRef, LLVMValueRef } from "../compiler/llvm/llvm-c";

const CI = process.env.CI === "true";
const BPFTOOL = ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/usr/local/sbin/bpftool"].find((p) => fs.existsSync(p));

function locate(version: number): FoundLLVM | Error {
  try {
    // An explicit TSXDP_LIBLLVM would pin every version to one file; the
    // per-version runs must search the standard places.
    return findLLVM({ version, env: {} });
  } catch (e) {
    if (e instanceof LLVMNotFoundError) return e;
    throw e;
  }
}

const SOURCE = [
  "export function prog(ctx: XdpMd): number {", // 1
  "  const data = ctx.data;", // 2
  "  const dataEnd = ctx.data_end;", // 3
  "  if (data + 14 > dataEnd) return XDP_DROP;", // 4
  "  return XDP_PASS;", // 5
  "}", // 6
  "",
].join("\n");

const XDP_MD_FIELDS = ["data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index", "egress_ifindex"];

const len = (s: string) => Buffer.byteLength(s);

interface Built {
  ctx: LLVMContextRef;
  module: LLVMModuleRef;
  tm: LLVMTargetMachineRef;
  fn: LLVMValueRef;
  dispose(): void;
}

/** `int prog(struct xdp_md *ctx)` in section "xdp", as clang would build it from C. */
function buildXdpModule(L: LLVMC, sourceDir: string): Built {
  const ctx = L.LLVMContextCreate();
  const module = L.LLVMModuleCreateWithNameInContext("prog", ctx);
  const tm = L.createBpfTargetMachine("v3", 2);
  L.LLVMSetTarget(module, "bpfel");
  L.LLVMSetDataLayout(module, L.dataLayoutOf(tm));
  L.LLVMSetSourceFileName(module, "prog.ts", len("prog.ts"));

  const i8 = L.LLVMInt8TypeInContext(ctx);
  const i32 = L.LLVMInt32TypeInContext(ctx);
  const i64 = L.LLVMInt64TypeInContext(ctx);
  const bytePtr = L.LLVMPointerType(i8, 0);
  const xdpMd = L.LLVMStructCreateNamed(ctx, "struct.xdp_md");
  L.LLVMStructSetBody(xdpMd, XDP_MD_FIELDS.map(() => i32), XDP_MD_FIELDS.length, 0);
  const xdpMdPtr = L.LLVMPointerType(xdpMd, 0);
  const fnType = L.LLVMFunctionType(i32, [xdpMdPtr], 1, 0);

  const fn = L.LLVMAddFunction(module, "prog", fnType);
  L.LLVMSetSection(fn, "xdp");
  const nounwind = L.LLVMGetEnumAttributeKindForName("nounwind", len("nounwind"));
  expect(nounwind).toBeGreaterThan(0);
  L.LLVMAddAttributeAtIndex(fn, AttributeIndex.Function, L.LLVMCreateEnumAttribute(ctx, nounwind, 0));
  const ctxParam = L.LLVMGetParam(fn, 0);
  L.LLVMSetValueName2(ctxParam, "ctx", len("ctx"));

  const licenseType = L.LLVMArrayType(i8, 4);
  const license = L.LLVMAddGlobal(module, licenseType, "_license");
  L.LLVMSetInitializer(license, L.LLVMConstStringInContext(ctx, "GPL", 3, 0));
  L.LLVMSetSection(license, "license");
  L.LLVMSetAlignment(license, 1);

  // Debug info.
  const di = L.LLVMCreateDIBuilder(module);
  const file = L.LLVMDIBuilderCreateFile(di, "prog.ts", len("prog.ts"), sourceDir, len(sourceDir));
  L.LLVMDIBuilderCreateCompileUnit(di, DWARFSourceLanguage.C99, file, "tsxdp", len("tsxdp"), 1, "", 0, 0, "", 0, DWARFEmissionKind.Full, 0, 0, 0, "", 0, "", 0);
  const diInt = L.LLVMDIBuilderCreateBasicType(di, "int", 3, 32, DWARFTypeEncoding.signed, DIFlags.Zero);
  const diU32 = L.LLVMDIBuilderCreateBasicType(di, "unsigned int", len("unsigned int"), 32, DWARFTypeEncoding.unsigned, DIFlags.Zero);
  const diU32Typedef = L.LLVMDIBuilderCreateTypedef(di, diU32, "__u32", 5, file, 0, file, 0);
  // Members are scoped in the struct they belong to, which does not exist
  // yet: a replaceable placeholder stands in for it, as clang does.
  const placeholder = L.LLVMDIBuilderCreateReplaceableCompositeType(di, DWTag.structure_type, "xdp_md", 6, file, file, 1, 0, 192, 32, DIFlags.FwdDecl, "", 0);
  const members: LLVMMetadataRef[] = XDP_MD_FIELDS.map((name, i) => L.LLVMDIBuilderCreateMemberType(di, placeholder, name, len(name), file, 1, 32, 32, i * 32, DIFlags.Zero, diU32Typedef));
  const diXdpMd = L.LLVMDIBuilderCreateStructType(di, file, "xdp_md", 6, file, 1, 32 * XDP_MD_FIELDS.length, 32, DIFlags.Zero, null, members, members.length, 0, null, "", 0);
  L.LLVMMetadataReplaceAllUsesWith(placeholder, diXdpMd);
  const diXdpMdPtr = L.LLVMDIBuilderCreatePointerType(di, diXdpMd, 64, 64, 0, null, 0);
  const diFnType = L.LLVMDIBuilderCreateSubroutineType(di, file, [diInt, diXdpMdPtr], 2, DIFlags.Prototyped);
  const sp = L.LLVMDIBuilderCreateFunction(di, file, "prog", 4, "prog", 4, file, 1, diFnType, 0, 1, 1, DIFlags.Prototyped, 1);
  L.LLVMSetSubprogram(fn, sp);
  // Arg 1 and always-preserve: the BPF backend names BTF parameters only
  // from retained variables, and the kernel rejects a nameless ctx.
  const ctxVar = L.LLVMDIBuilderCreateParameterVariable(di, sp, "ctx", 3, 1, file, 1, diXdpMdPtr, 1, DIFlags.Zero);

  const diChar = L.LLVMDIBuilderCreateBasicType(di, "char", 4, 8, DWARFTypeEncoding.signed_char, DIFlags.Zero);
  const diLicenseType = L.LLVMDIBuilderCreateArrayType(di, 32, 8, diChar, [L.LLVMDIBuilderGetOrCreateSubrange(di, 0, 4)], 1);
  const emptyExpr = L.LLVMDIBuilderCreateExpression(di, null, 0);
  const licenseVar = L.LLVMDIBuilderCreateGlobalVariableExpression(di, file, "_license", 8, "_license", 8, file, 0, diLicenseType, 0, emptyExpr, null, 8);
  L.LLVMGlobalSetMetadata(license, L.LLVMGetMDKindIDInContext(ctx, "dbg", 3), licenseVar);

  // Body.
  const b = L.LLVMCreateBuilderInContext(ctx);
  const entry = L.LLVMAppendBasicBlockInContext(ctx, fn, "entry");
  const drop = L.LLVMAppendBasicBlockInContext(ctx, fn, "drop");
  const pass = L.LLVMAppendBasicBlockInContext(ctx, fn, "pass");
  const at = (line: number, col: number) => L.LLVMDIBuilderCreateDebugLocation(ctx, line, col, sp, null);
  L.LLVMPositionBuilderAtEnd(b, entry);
  L.LLVMSetCurrentDebugLocation2(b, at(1, 17));
  L.insertDbgValueAtEnd(di, ctxParam, ctxVar, emptyExpr, at(1, 17), entry);

  const loadField = (index: number, name: string, line: number) => {
    L.LLVMSetCurrentDebugLocation2(b, at(line, 20));
    const addr = L.LLVMBuildStructGEP2(b, xdpMd, ctxParam, index, `${name}.addr`);
    const raw = L.LLVMBuildLoad2(b, i32, addr, name);
    L.LLVMSetAlignment(raw, 4);
    const wide = L.LLVMBuildZExt(b, raw, i64, `${name}.zext`);
    return L.LLVMBuildIntToPtr(b, wide, bytePtr, `${name}.ptr`);
  };
  const data = loadField(0, "data", 2);
  const dataEnd = loadField(1, "data_end", 3);

  L.LLVMSetCurrentDebugLocation2(b, at(4, 7));
  const ethEnd = L.LLVMBuildGEP2(b, i8, data, [L.LLVMConstInt(i64, 14, 0)], 1, "eth_end");
  const short = L.LLVMBuildICmp(b, IntPredicate.UGT, ethEnd, dataEnd, "short");
  L.LLVMBuildCondBr(b, short, drop, pass);

  L.LLVMPositionBuilderAtEnd(b, drop);
  L.LLVMSetCurrentDebugLocation2(b, null);
  const retDrop = L.LLVMBuildRet(b, L.LLVMConstInt(i32, 1, 0));
  L.LLVMInstructionSetDebugLoc(retDrop, at(4, 28));
  L.LLVMPositionBuilderAtEnd(b, pass);
  L.LLVMSetCurrentDebugLocation2(b, at(5, 3));
  L.LLVMBuildRet(b, L.LLVMConstInt(i32, 2, 0));
  L.LLVMDisposeBuilder(b);

  const dwarfVersion = L.LLVMValueAsMetadata(L.LLVMConstInt(i32, 5, 0));
  const debugInfoVersion = L.LLVMValueAsMetadata(L.LLVMConstInt(i32, L.LLVMDebugMetadataVersion(), 0));
  L.LLVMAddModuleFlag(module, ModuleFlagBehavior.Warning, "Dwarf Version", len("Dwarf Version"), dwarfVersion);
  L.LLVMAddModuleFlag(module, ModuleFlagBehavior.Warning, "Debug Info Version", len("Debug Info Version"), debugInfoVersion);

  L.LLVMDIBuilderFinalize(di);
  L.LLVMDisposeDIBuilder(di);

  return {
    ctx,
    module,
    tm,
    fn,
    dispose() {
      L.LLVMDisposeModule(module);
      L.LLVMDisposeTargetMachine(tm);
      L.LLVMContextDispose(ctx);
    },
  };
}

/** Section names of an ELF64 little-endian object, read from its section headers. */
function elfSections(obj: Uint8Array): string[] {
  const v = new DataView(obj.buffer, obj.byteOffset, obj.byteLength);
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: v.getUint32(at, true), offset: Number(v.getBigUint64(at + 0x18, true)), size: Number(v.getBigUint64(at + 0x20, true)) };
  };
  const strtab = header(shstrndx);
  const nameAt = (off: number) => {
    let end = strtab.offset + off;
    while (obj[end] !== 0) end++;
    return Buffer.from(obj.subarray(strtab.offset + off, end)).toString("latin1");
  };
  const names: string[] = [];
  for (let i = 0; i < shnum; i++) names.push(nameAt(header(i).name));
  return names;
}

function runAgainst(version: number, required: boolean): void {
  const found = locate(version);
  if (found instanceof Error) {
    if (required && CI) {
      it(`LLVM ${version} is installed (required on CI)`, () => {
        throw found;
      });
    } else {
      describe.skip(`LLVM ${version}: not installed (${found.message.split("\n")[0]})`, () => {
        it("builds an XDP object", () => {});
      });
    }
    return;
  }

  describe(`LLVM ${version} (${found.path})`, () => {
    const L = loadLLVM(found);
    const sourceDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-llvm-c-"));
    fs.writeFileSync(path.join(sourceDir, "prog.ts"), SOURCE);
    afterAll(() => fs.rmSync(sourceDir, { recursive: true, force: true }));

    it("loads the library it was asked for", () => {
      expect(L.version).toBe(version);
      expect(L.path).toBe(found.path);
      expect(L.LLVMDebugMetadataVersion()).toBe(3);
      // Present in 15 and 16 only.
      expect(L.LLVMContextSetOpaquePointers === undefined).toBe(version < 15 || version > 16);
      const ctx = L.LLVMContextCreate();
      expect(L.opaquePointers(ctx)).toBe(version >= 15);
      L.LLVMContextDispose(ctx);
    });

    it("builds, verifies, optimises and emits an XDP program with BTF", () => {
      const m = buildXdpModule(L, sourceDir);
      try {
        expect(L.verifyModule(m.module)).toBeNull();
        const ir = L.printModule(m.module);
        expect(ir).toContain('section "xdp"');
        expect(ir).toContain('@_license = global [4 x i8] c"GPL\\00", section "license"');
        expect(ir).toMatch(/!DILocalVariable\(name: "ctx", arg: 1/);
        expect(ir).toContain("emissionKind: FullDebug");

        L.runPasses(m.module, "default<O2>", m.tm);
        expect(L.verifyModule(m.module)).toBeNull();
        // The bounds check survives O2: the loads are used.
        expect(L.printModule(m.module)).toMatch(/load i32/);

        const obj = L.emitToMemory(m.tm, m.module, "object");
        expect(Array.from(obj.subarray(0, 4))).toEqual([0x7f, 0x45, 0x4c, 0x46]);
        expect(obj[4]).toBe(2); // ELFCLASS64
        expect(obj[5]).toBe(1); // little-endian
        expect(new DataView(obj.buffer, obj.byteOffset).getUint16(18, true)).toBe(247); // EM_BPF

        const sections = elfSections(obj);
        for (const s of ["xdp", "license", ".BTF", ".BTF.ext"]) expect(sections).toContain(s);
        expect(sections).not.toContain(".eh_frame");

        const asm = new TextDecoder().decode(L.emitToMemory(m.tm, m.module, "assembly"));
        expect(asm).toContain("exit");
        // line_info carries the source text, read from the DIFile's directory.
        expect(asm).toContain("const dataEnd = ctx.data_end;");

        if (BPFTOOL) {
          const objFile = path.join(sourceDir, "prog.o");
          fs.writeFileSync(objFile, obj);
          const btf = execFileSync(BPFTOOL, ["btf", "dump", "file", objFile], { encoding: "utf8" });
          expect(btf).toContain("FUNC 'prog'");
          expect(btf).toContain("STRUCT 'xdp_md'");
          expect(btf).toMatch(/'ctx' type_id=\d+/);
          expect(btf).toContain("'egress_ifindex'");
          expect(btf).toContain("DATASEC 'license'");
        }
      } finally {
        m.dispose();
      }
    });

    it.skipIf(!BPFTOOL)("bpftool is available to check BTF", () => {
      expect(BPFTOOL).toBeDefined();
    });

    it("round-trips the module through textual IR with its debug info", () => {
      const m = buildXdpModule(L, sourceDir);
      const ctx2 = L.LLVMContextCreate();
      try {
        const text = L.printModule(m.module);
        const parsed = L.parseIR(ctx2, text, "prog.ll");
        expect(L.verifyModule(parsed)).toBeNull();
        const prog = L.LLVMGetNamedFunction(parsed, "prog");
        expect(prog).not.toBeNull();
        expect(L.LLVMGetSubprogram(prog!)).not.toBeNull();
        expect(L.LLVMGetNamedFunction(parsed, "nope")).toBeNull();
        L.LLVMDisposeModule(parsed);
        expect(() => L.parseIR(ctx2, "define i32 @f( {", "bad.ll")).toThrow(/cannot parse LLVM IR bad\.ll: .+/);
      } finally {
        L.LLVMContextDispose(ctx2);
        m.dispose();
      }
    });

    it("reports errors with LLVM's own messages", () => {
      const ctx = L.LLVMContextCreate();
      const module = L.LLVMModuleCreateWithNameInContext("broken", ctx);
      const tm = L.createBpfTargetMachine("v2", 0);
      try {
        const i32 = L.LLVMInt32TypeInContext(ctx);
        const fn = L.LLVMAddFunction(module, "f", L.LLVMFunctionType(i32, null, 0, 0));
        L.LLVMAppendBasicBlockInContext(ctx, fn, "entry"); // no terminator
        expect(L.verifyModule(module)).toMatch(/terminator/i);
        expect(() => L.runPasses(module, "no-such-pass", tm)).toThrow(/no-such-pass/);
        if (version < 18) expect(() => L.createBpfTargetMachine("v4", 2)).toThrow(/cpu v4 needs LLVM 18 or newer/);
        else L.LLVMDisposeTargetMachine(L.createBpfTargetMachine("v4", 2));
        expect(() => L.intrinsic(module, "llvm.no.such.intrinsic", [])).toThrow(/unknown LLVM intrinsic/);
      } finally {
        L.LLVMDisposeModule(module);
        L.LLVMDisposeTargetMachine(tm);
        L.LLVMContextDispose(ctx);
      }
    });

    it("declares overloaded intrinsics and reads back names and constants", () => {
      const ctx = L.LLVMContextCreate();
      const module = L.LLVMModuleCreateWithNameInContext("m", ctx);
      try {
        const i32 = L.LLVMInt32TypeInContext(ctx);
        const i64 = L.LLVMInt64TypeInContext(ctx);
        const bswap = L.intrinsic(module, "llvm.bswap", [i32]);
        const nameLen: [number] = [0];
        expect(L.LLVMGetValueName2(bswap.fn, nameLen)).toBe("llvm.bswap.i32");
        expect(nameLen[0]).toBe("llvm.bswap.i32".length);
        expect(L.printType(bswap.type)).toBe("i32 (i32)");
        expect(L.LLVMConstIntGetSExtValue(L.LLVMConstInt(i32, -5, 1))).toBe(-5);
        expect(L.LLVMConstIntGetZExtValue(L.LLVMConstInt(i64, 0xffffffffffffffffn, 0))).toBe(0xffffffffffffffffn);
        expect(L.LLVMGetIntTypeWidth(i64)).toBe(64);
        expect(L.printValue(L.LLVMConstStringInContext(ctx, "GPL\0x", 5, 1))).toBe('[5 x i8] c"GPL\\00x"');
      } finally {
        L.LLVMDisposeModule(module);
        L.LLVMContextDispose(ctx);
      }
    });
  });
}

describe("find-llvm", () => {
  it("rejects an unusable TSXDP_LIBLLVM and says so", () => {
    let err: unknown;
    try {
      findLLVM({ env: { TSXDP_LIBLLVM: "/nonexistent/libLLVM-14.so.1" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LLVMNotFoundError);
    expect((err as Error).message).toMatch(/^TSXDP_LIBLLVM=\/nonexistent\/libLLVM-14\.so\.1 is not a usable libLLVM/);
  });

  it("explains what was tried and how to fix it when nothing fits", () => {
    let err: unknown;
    try {
      findLLVM({ version: 13, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LLVMNotFoundError);
    const msg = (err as LLVMNotFoundError).message;
    expect(msg).toContain("libLLVM-13.so.1");
    expect(msg).toContain("libllvm14");
    expect(msg).toContain("TSXDP_LIBLLVM");
    expect((err as LLVMNotFoundError).tried.length).toBe(6);
  });

  it("prefers TSXDP_LLVM_VERSION and reads versions from file names", () => {
    expect(versionFromName("/usr/lib/x86_64-linux-gnu/libLLVM-14.0.6.so.1")).toBe(14);
    expect(versionFromName("libLLVM.so.18.1")).toBe(18);
    expect(versionFromName("/usr/lib/llvm-17/lib/libLLVM.so")).toBe(17);
    const fourteen = locate(14);
    if (!(fourteen instanceof Error)) expect(findLLVM({ env: { TSXDP_LLVM_VERSION: "14" } }).version).toBe(14);
    const fifteen = locate(15);
    if (!(fifteen instanceof Error)) expect(findLLVM({ env: { TSXDP_LLVM_VERSION: "15" } }).version).toBe(15);
  });

  it("rejects a TSXDP_LLVM_VERSION that is not a number", () => {
    expect(() => findLLVM({ env: { TSXDP_LLVM_VERSION: "v14" } })).toThrow(/TSXDP_LLVM_VERSION=v14/);
  });

  it("loads the default library once", () => {
    if (locate(14) instanceof Error && locate(15) instanceof Error && !CI) return;
    const L = llvm();
    expect(llvm()).toBe(L);
    expect(L.version).toBeGreaterThanOrEqual(14);
    expect(loadLLVM({ path: L.path, version: L.version })).toBe(L);
  });

  it("accepts an explicit TSXDP_LIBLLVM", () => {
    const fourteen = locate(14);
    if (fourteen instanceof Error) {
      expect(CI).toBe(false);
      return;
    }
    expect(findLLVM({ env: { TSXDP_LIBLLVM: fourteen.path } })).toEqual(fourteen);
  });
});

runAgainst(14, true);
runAgainst(15, false);
