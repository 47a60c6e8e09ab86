/**
 * Debug info, for BTF. The BPF backend turns it into `.BTF` (types, FUNC per
 * program) and `.BTF.ext` (func_info, line_info naming the .ts file). The
 * kernel rejects BTF it finds incomplete and libbpf then silently loads the
 * program without it, so the details here matter:
 * - module flags "Dwarf Version" and "Debug Info Version", full emission;
 * - the context parameter named, through a retained parameter variable
 *   (otherwise "Invalid arg#1" and no BTF);
 * - `struct xdp_md *` as the parameter's type, as the kernel declares it;
 * - a location on every instruction, the shared return at the closing brace.
 */
import path from "node:path";
import type ts from "typescript";
import { type KfuncSpec, type KfuncType, iteratorWords, kernelFields } from "../dialect/kfuncs";
import type { GlobalDecl, MapDecl, ModuleIR, ProgramIR, Subprogram } from "../ir/ir";
import { type IntType, type ValueType, u64 as u64Type } from "../ir/types";
import { type FieldType, type Layout, listHeadLayout, listNodeLayout, rbNodeLayout, rbRootLayout, sizeOfField } from "../ir/layout";
import type { MapAttribute } from "./generate";
import type { BtfTag } from "../object/btf-tags";
import {
  DIFlags,
  DWARFEmissionKind,
  DWARFSourceLanguage,
  DWARFTypeEncoding,
  DWTag,
  ModuleFlagBehavior,
  type LLVMBasicBlockRef,
  type LLVMBuilderRef,
  type LLVMC,
  type LLVMContextRef,
  type LLVMDIBuilderRef,
  type LLVMMetadataRef,
  type LLVMModuleRef,
  type LLVMValueRef,
} from "../llvm/llvm-c";

const producer = "tsxdp";
/** Compiles in this process so far (see `flavor`). */
let compiles = 0;

const graphStructs: ReadonlyMap<string, Layout> = new Map([listHeadLayout, listNodeLayout, rbRootLayout, rbNodeLayout].map((l) => [l.name, l]));

export class DebugInfo {
  private readonly di: LLVMDIBuilderRef;
  private readonly file: LLVMMetadataRef;
  private readonly cu: LLVMMetadataRef;
  private readonly intType: LLVMMetadataRef;
  private readonly ctxPtrType: LLVMMetadataRef;
  private scope: LLVMMetadataRef | undefined;
  private readonly integers = new Map<IntType, LLVMMetadataRef>();
  private readonly structs = new Map<Layout, LLVMMetadataRef>();
  /** Kernel types of kfunc prototypes, by their table entry's text. */
  private readonly kernelTypes = new Map<string, LLVMMetadataRef>();
  private readonly sourceFile: ts.SourceFile;
  /** Tags the C API cannot attach, added to .BTF after emission. */
  readonly btfTags: BtfTag[] = [];
  /** Kernel struct names as LLVM saw them, and the names .BTF must show. */
  readonly btfNames = new Map<string, string>();
  private readonly flavor: string;

  constructor(
    private readonly L: LLVMC,
    private readonly context: LLVMContextRef,
    module: LLVMModuleRef,
    ir: ModuleIR,
    optimized: boolean,
  ) {
    this.sourceFile = ir.sourceFile;
    // LLVM's BPF backend keys CO-RE accesses ("struct:kind:offset$path") in a
    // process-wide map that outlives the module: a later compile with the same
    // key reuses a freed global and crashes. So each compile names its kernel
    // structs apart (a `___` flavor, which libbpf ignores when matching the
    // kernel's; of one length, so that .BTF comes out the same byte for byte)
    // and the object stage restores the names in .BTF.
    this.flavor = `___tsxdp${(compiles++).toString(16).padStart(8, "0")}`;
    const i32 = L.LLVMInt32TypeInContext(context);
    const flag = (key: string, value: number) =>
      L.LLVMAddModuleFlag(module, ModuleFlagBehavior.Warning, key, key.length, L.LLVMValueAsMetadata(L.LLVMConstInt(i32, value, 0)));
    flag("Dwarf Version", 5);
    flag("Debug Info Version", L.LLVMDebugMetadataVersion());

    this.di = L.LLVMCreateDIBuilder(module);
    const name = path.basename(ir.fileName);
    const dir = path.dirname(ir.fileName);
    // Newer LLVMs can carry the source text itself, so in-memory programs get
    // their line text in line_info; older ones read it from disk at emit time.
    this.file = L.LLVMDIBuilderCreateFileWithChecksum
      ? L.LLVMDIBuilderCreateFileWithChecksum(this.di, name, Buffer.byteLength(name), dir, Buffer.byteLength(dir), 0, null, 0, ir.sourceFile.text, Buffer.byteLength(ir.sourceFile.text))
      : L.LLVMDIBuilderCreateFile(this.di, name, Buffer.byteLength(name), dir, Buffer.byteLength(dir));
    this.cu = L.LLVMDIBuilderCreateCompileUnit(
      this.di,
      DWARFSourceLanguage.C11,
      this.file,
      producer,
      producer.length,
      optimized ? 1 : 0,
      "",
      0,
      0,
      "",
      0,
      DWARFEmissionKind.Full,
      0,
      0,
      0,
      "",
      0,
      "",
      0,
    );

    this.intType = L.LLVMDIBuilderCreateBasicType(this.di, "int", 3, 32, DWARFTypeEncoding.signed, 0);
    const uint = L.LLVMDIBuilderCreateBasicType(this.di, "unsigned int", 12, 32, DWARFTypeEncoding.unsigned, 0);
    const u32 = L.LLVMDIBuilderCreateTypedef(this.di, uint, "__u32", 5, this.file, 0, this.cu, 0);
    const fields = ["data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index", "egress_ifindex"];
    const members = fields.map((f, i) => L.LLVMDIBuilderCreateMemberType(this.di, this.cu, f, f.length, this.file, 0, 32, 32, i * 32, DIFlags.Zero, u32));
    const xdpMd = L.LLVMDIBuilderCreateStructType(this.di, this.cu, "xdp_md", 6, this.file, 0, 192, 32, DIFlags.Zero, null, members, members.length, 0, null, "", 0);
    this.ctxPtrType = L.LLVMDIBuilderCreatePointerType(this.di, xdpMd, 64, 0, 0, "", 0);
  }

  beginProgram(fn: LLVMValueRef, program: ProgramIR, ctxParam: LLVMValueRef, entry: LLVMBasicBlockRef): void {
    const { L, di } = this;
    const line = this.lineOf(program.node);
    const type = L.LLVMDIBuilderCreateSubroutineType(di, this.file, [this.intType, this.ctxPtrType], 2, DIFlags.Prototyped);
    const sp = L.LLVMDIBuilderCreateFunction(di, this.file, program.name, program.name.length, program.name, program.name.length, this.file, line, type, 0, 1, line, DIFlags.Prototyped, 1);
    L.LLVMSetSubprogram(fn, sp);
    this.scope = sp;
    const param = L.LLVMDIBuilderCreateParameterVariable(di, sp, program.ctxName, Buffer.byteLength(program.ctxName), 1, this.file, this.lineOf(program.handler), this.ctxPtrType, 1, 0);
    const loc = L.LLVMDIBuilderCreateDebugLocation(this.context, this.lineOf(program.handler), this.columnOf(program.handler), sp, null);
    const expr = L.LLVMDIBuilderCreateExpression(di, null, 0);
    L.insertDbgValueAtEnd(di, ctxParam, param, expr, loc, entry);
  }

  /**
   * A kfunc's declaration (IsDefinition 0): BTF FUNC with extern linkage in
   * DATASEC `.ksyms`, its prototype from the kfunc table as the kernel
   * declares it (libbpf compares kinds: int with int, struct with struct).
   */
  externFunction(fn: LLVMValueRef, spec: KfuncSpec): void {
    const { L, di } = this;
    const types = [spec.returns, ...spec.params.map((p) => p.type)].map((t) => (t.kind === "void" ? null : this.kernelType(t)));
    const type = L.LLVMDIBuilderCreateSubroutineType(di, this.file, types, types.length, DIFlags.Prototyped);
    const name = spec.name;
    const sp = L.LLVMDIBuilderCreateFunction(di, this.file, name, name.length, name, name.length, this.file, 0, type, 0, 0, 0, DIFlags.Prototyped, 1);
    // A declaration's retained nodes stay temporary unless finalized here (finalize() does definitions only).
    L.LLVMDIBuilderFinalizeSubprogram(di, sp);
    L.LLVMSetSubprogram(fn, sp);
  }

  /**
   * A kernel type of a kfunc prototype. Structs other than the iterator's are
   * opaque (no members): libbpf matches them by kind, and the program reaches
   * their fields through its own layouts.
   */
  private kernelType(t: KfuncType): LLVMMetadataRef | null {
    const { L, di } = this;
    const key = JSON.stringify(t);
    const cached = this.kernelTypes.get(key);
    if (cached) return cached;
    let out: LLVMMetadataRef | null;
    switch (t.kind) {
      case "void":
        out = null;
        break;
      case "bool":
        out = L.LLVMDIBuilderCreateBasicType(di, "_Bool", 5, 8, DWARFTypeEncoding.boolean, 0);
        break;
      case "int":
        out = t.type.bits === 32 && t.type.signed ? this.intType : this.integerType(t.type);
        break;
      case "ptr": {
        const to = this.kernelType(t.to);
        out = L.LLVMDIBuilderCreatePointerType(di, to && t.const ? L.LLVMDIBuilderCreateQualifiedType(di, DWTag.const_type, to) : to, 64, 0, 0, "", 0);
        break;
      }
      case "struct": {
        // The list and tree structs are the program's own too (in map values and objects): one
        // struct of each in BTF, or the kernel finds the empty one by name and refuses the BTF.
        const graph = graphStructs.get(t.name);
        if (graph) {
          out = this.slotType(graph);
          break;
        }
        const members: LLVMMetadataRef[] = [];
        let size = 0n;
        // Iterator state: `__u64 __opaque[n]`, as the kernel's uapi declares it.
        const words = iteratorWords[t.name] ?? 0n;
        if (words) {
          const u64 = this.integerType(u64Type);
          const opaque = L.LLVMDIBuilderCreateArrayType(di, 64n * words, 64, u64, [L.LLVMDIBuilderGetOrCreateSubrange(di, 0n, words)], 1);
          members.push(L.LLVMDIBuilderCreateMemberType(di, this.cu, "__opaque", 8, this.file, 0, 64n * words, 64, 0n, DIFlags.Zero, opaque));
          size = 64n * words;
        }
        // The fields read through CO-RE: BTF names them for libbpf's relocations.
        for (const field of kernelFields.get(t.name) ?? []) {
          const bits = BigInt(field.type.bits);
          const type = field.pointsTo ? this.kernelType({ kind: "ptr", to: { kind: "struct", name: field.pointsTo } })! : this.integerType(field.type);
          members.push(L.LLVMDIBuilderCreateMemberType(di, this.cu, field.name, field.name.length, this.file, 0, bits, field.type.bits, BigInt(field.offset * 8), DIFlags.Zero, type));
          size = size > BigInt(field.offset * 8) + bits ? size : BigInt(field.offset * 8) + bits;
        }
        // Padded to the struct's 8-byte alignment, as clang sizes it.
        size = ((size + 63n) / 64n) * 64n;
        const name = t.name + this.flavor;
        this.btfNames.set(name, t.name);
        out = L.LLVMDIBuilderCreateStructType(di, this.cu, name, name.length, this.file, 0, size, 64, DIFlags.Zero, null, members, members.length, 0, null, "", 0);
        break;
      }
      case "union":
        out = L.LLVMDIBuilderCreateUnionType(di, this.cu, t.name, t.name.length, this.file, 0, 0n, 64, DIFlags.Zero, [], 0, 0, "", 0);
        break;
      case "enum":
        out = L.LLVMDIBuilderCreateEnumerationType(di, this.cu, t.name, t.name.length, this.file, 0, 32n, 32, [], 0, this.intType);
        break;
      case "func": {
        // A callback's type, as libbpf compares it: FUNC_PROTO with the kernel's parameter kinds.
        const types = [t.returns, ...t.params].map((x) => (x.kind === "void" ? null : this.kernelType(x)));
        out = L.LLVMDIBuilderCreateSubroutineType(di, this.file, types, types.length, DIFlags.Prototyped);
        break;
      }
    }
    if (out) this.kernelTypes.set(key, out);
    return out;
  }

  /**
   * A subprogram's FUNC: its own signature (BTF FUNC_PROTO with named
   * parameters, which the kernel reads to verify a global function), static
   * or global linkage from IsLocalToUnit.
   */
  beginSubprogram(fn: LLVMValueRef, sub: Subprogram, params: readonly LLVMValueRef[], entry: LLVMBasicBlockRef): void {
    const { L, di } = this;
    const line = this.lineOf(sub.node);
    const typeOf = (t: ValueType): LLVMMetadataRef => {
      if (t.kind === "int") return this.integerType(t);
      if (t.kind === "bool") return L.LLVMDIBuilderCreateBasicType(di, "_Bool", 5, 8, DWARFTypeEncoding.boolean, 0);
      if (t.kind === "ctx") return this.ctxPtrType;
      return L.LLVMDIBuilderCreatePointerType(di, null, 64, 0, 0, "", 0);
    };
    const paramTypes = sub.params.map((p) => typeOf(p.type));
    const type = L.LLVMDIBuilderCreateSubroutineType(di, this.file, [sub.returns ? typeOf(sub.returns) : null, ...paramTypes], paramTypes.length + 1, DIFlags.Prototyped);
    const isStatic = sub.linkage === "static" ? 1 : 0;
    const sp = L.LLVMDIBuilderCreateFunction(di, this.file, sub.name, Buffer.byteLength(sub.name), sub.name, Buffer.byteLength(sub.name), this.file, line, type, isStatic, 1, line, DIFlags.Prototyped, 1);
    L.LLVMSetSubprogram(fn, sp);
    this.scope = sp;
    sub.params.forEach((p, i) => {
      const pl = this.lineOf(p.node);
      const variable = L.LLVMDIBuilderCreateParameterVariable(di, sp, p.name, Buffer.byteLength(p.name), i + 1, this.file, pl, paramTypes[i]!, 1, 0);
      const loc = L.LLVMDIBuilderCreateDebugLocation(this.context, pl, this.columnOf(p.node), sp, null);
      L.insertDbgValueAtEnd(di, params[i]!, variable, L.LLVMDIBuilderCreateExpression(di, null, 0), loc, entry);
    });
  }

  /**
   * A map's BTF: a struct of pointers, where `int (*type)[N]` says N (a
   * subrange of count N) and `K *key` names the key type; attached to the
   * global as its dbg (without it libbpf finds no DATASEC '.maps').
   */
  btfDefinition(global: LLVMValueRef, name: string, node: ts.Node, attributes: readonly MapAttribute[]): void {
    const { L, di } = this;
    const line = this.lineOf(node);
    const struct = this.definitionStruct(attributes, line);
    const expr = L.LLVMDIBuilderCreateExpression(di, null, 0);
    const gve = L.LLVMDIBuilderCreateGlobalVariableExpression(di, this.cu, name, name.length, name, name.length, this.file, line, struct, 0, expr, null, 64);
    L.LLVMGlobalSetMetadata(global, L.LLVMGetMDKindIDInContext(this.context, "dbg", 3), gve);
  }

  /**
   * The struct of a definition's attributes. A map of maps' `values` is
   * `struct inner *values[]` (`__array(values, struct inner)`): a zero-length
   * array of pointers to the inner map's own definition struct, taking no bytes.
   */
  private definitionStruct(attributes: readonly MapAttribute[], line: number): LLVMMetadataRef {
    const { L, di } = this;
    const int = this.intType;
    let size = 0;
    const members = attributes.map((a) => {
      if ("inner" in a) {
        const ptr = L.LLVMDIBuilderCreatePointerType(di, this.definitionStruct(a.inner, line), 64, 0, 0, "", 0);
        const array = L.LLVMDIBuilderCreateArrayType(di, 0n, 64, ptr, [L.LLVMDIBuilderGetOrCreateSubrange(di, 0n, 0n)], 1);
        return L.LLVMDIBuilderCreateMemberType(di, this.cu, a.name, a.name.length, this.file, 0, 0, 64, size, DIFlags.Zero, array);
      }
      const pointee =
        "count" in a
          ? L.LLVMDIBuilderCreateArrayType(di, BigInt(a.count) * 32n, 32, int, [L.LLVMDIBuilderGetOrCreateSubrange(di, 0n, BigInt(a.count))], 1)
          : this.slotType(a.type);
      const ptr = L.LLVMDIBuilderCreatePointerType(di, pointee, 64, 0, 0, "", 0);
      const member = L.LLVMDIBuilderCreateMemberType(di, this.cu, a.name, a.name.length, this.file, 0, 64, 64, size, DIFlags.Zero, ptr);
      size += 64;
      return member;
    });
    return L.LLVMDIBuilderCreateStructType(di, this.cu, "", 0, this.file, line, size, 64, DIFlags.Zero, null, members, members.length, 0, null, "", 0);
  }

  /** A module-level variable's BTF VAR, in the DATASEC of its section; settings are `const volatile`. */
  globalVariable(global: LLVMValueRef, decl: GlobalDecl): void {
    const { L, di } = this;
    let type = this.integerType(decl.type);
    if (decl.section === ".rodata") {
      type = L.LLVMDIBuilderCreateQualifiedType(di, DWTag.volatile_type, type);
      type = L.LLVMDIBuilderCreateQualifiedType(di, DWTag.const_type, type);
    }
    const line = this.lineOf(decl.node);
    const expr = L.LLVMDIBuilderCreateExpression(di, null, 0);
    const gve = L.LLVMDIBuilderCreateGlobalVariableExpression(di, this.cu, decl.name, decl.name.length, decl.name, decl.name.length, this.file, line, type, 0, expr, null, decl.type.bits);
    L.LLVMGlobalSetMetadata(global, L.LLVMGetMDKindIDInContext(this.context, "dbg", 3), gve);
  }

  /** A ring buffer's record variable (`<map>__record`), typed as the records are. */
  recordVariable(global: LLVMValueRef, name: string, node: ts.Node, type: IntType | Layout): void {
    const { L, di } = this;
    const expr = L.LLVMDIBuilderCreateExpression(di, null, 0);
    const gve = L.LLVMDIBuilderCreateGlobalVariableExpression(di, this.cu, name, name.length, name, name.length, this.file, this.lineOf(node), this.slotType(type), 0, expr, null, 64);
    L.LLVMGlobalSetMetadata(global, L.LLVMGetMDKindIDInContext(this.context, "dbg", 3), gve);
  }

  /** A kernel struct as the program declares it (the fields it reads), named by the CO-RE relocations of those reads. */
  kernelStruct(name: string): LLVMMetadataRef {
    return this.kernelType({ kind: "struct", name })!;
  }

  /** A struct of the program as BTF shows it, for the CO-RE relocations that name it (bpf_obj_new's local type id). */
  structType(t: Layout): LLVMMetadataRef {
    return this.slotType(t);
  }

  /** A map key or value type: an integer, or a header struct with its members, as BTF shows them. */
  private slotType(t: IntType | Layout): LLVMMetadataRef {
    if (!("fields" in t)) return this.integerType(t);
    // Every ListHead<T, …> is the one struct bpf_list_head (its decl tag is on the field holding it).
    if (t.graph) t = t.graph.kind === "list" ? listHeadLayout : rbRootLayout;
    const cached = this.structs.get(t);
    if (cached) return cached;
    const { L, di } = this;
    const fieldType = (f: FieldType): LLVMMetadataRef => {
      if (f.kind === "scalar") return this.integerType(f.type);
      // A kptr field: `struct T *`, its pointee tagged "kptr" or "percpu_kptr" below, as clang writes `struct T __kptr *`.
      if (f.kind === "struct" && f.layout.kptr) return L.LLVMDIBuilderCreatePointerType(di, this.slotType(f.layout.kptr.target), 64, 0, 0, "", 0);
      if (f.kind === "struct") return this.slotType(f.layout);
      const element = fieldType(f.element);
      return L.LLVMDIBuilderCreateArrayType(di, BigInt(sizeOfField(f) * 8), 8, element, [L.LLVMDIBuilderGetOrCreateSubrange(di, 0n, BigInt(f.count))], 1);
    };
    const members = [...t.fields.values()].map((f) =>
      L.LLVMDIBuilderCreateMemberType(di, this.cu, f.name, f.name.length, this.file, 0, BigInt(f.size * 8), 8, BigInt(f.offset * 8), DIFlags.Zero, fieldType(f.type)),
    );
    const out = L.LLVMDIBuilderCreateStructType(di, this.cu, t.name, Buffer.byteLength(t.name), this.file, 0, BigInt(t.size * 8), t.align * 8, DIFlags.Zero, null, members, members.length, 0, null, "", 0);
    this.structs.set(t, out);
    for (const f of t.fields.values()) for (const tag of f.declTags ?? []) this.btfTags.push({ on: "member", struct: t.name, member: f.name, tag });
    for (const f of t.fields.values()) {
      if (f.type.kind === "struct" && f.type.layout.kptr) this.btfTags.push({ on: "pointee", struct: t.name, member: f.name, tag: f.type.layout.kptr.percpu ? "percpu_kptr" : "kptr" });
    }
    return out;
  }

  /** `__u32`, `__s64`, … as the kernel's headers name them (BTF shows these names). */
  private integerType(t: IntType): LLVMMetadataRef {
    const cached = this.integers.get(t);
    if (cached) return cached;
    const base = { 8: "char", 16: "short", 32: "int", 64: "long long" }[t.bits];
    const name = `${t.signed ? "" : "unsigned "}${base}`;
    const basic = this.L.LLVMDIBuilderCreateBasicType(this.di, name, name.length, BigInt(t.bits), t.signed ? DWARFTypeEncoding.signed : DWARFTypeEncoding.unsigned, 0);
    const typedefName = `${t.signed ? "__s" : t.be ? "__be" : "__u"}${t.bits}`;
    const out = this.L.LLVMDIBuilderCreateTypedef(this.di, basic, typedefName, typedefName.length, this.file, 0, this.cu, 0);
    this.integers.set(t, out);
    return out;
  }

  /** Locates the instructions built next at `node`'s first token. */
  at(b: LLVMBuilderRef, node: ts.Node): void {
    const pos = node.getStart(this.sourceFile);
    this.setLocation(b, pos);
  }

  /** Locates the instructions built next at `node`'s last token (a closing brace). */
  atEnd(b: LLVMBuilderRef, node: ts.Node): void {
    const last = node.getLastToken(this.sourceFile) ?? node;
    this.setLocation(b, last.getStart(this.sourceFile));
  }

  finalize(): void {
    this.L.LLVMDIBuilderFinalize(this.di);
    this.L.LLVMDisposeDIBuilder(this.di);
  }

  private setLocation(b: LLVMBuilderRef, pos: number): void {
    if (!this.scope) return;
    const { line, character } = this.sourceFile.getLineAndCharacterOfPosition(pos);
    this.L.LLVMSetCurrentDebugLocation2(b, this.L.LLVMDIBuilderCreateDebugLocation(this.context, line + 1, character + 1, this.scope, null));
  }

  private lineOf(node: ts.Node): number {
    return this.sourceFile.getLineAndCharacterOfPosition(node.getStart(this.sourceFile)).line + 1;
  }

  private columnOf(node: ts.Node): number {
    return this.sourceFile.getLineAndCharacterOfPosition(node.getStart(this.sourceFile)).character + 1;
  }
}
