/**
 * Lowering: tsxdp IR → LLVM IR (through the C API) → optimised BPF object,
 * all in memory. The IR is shaped like clang's for the same C, because the
 * kernel verifier was tuned on clang's output: context fields read once
 * through `struct xdp_md`, packet pointers as `i8*` moved by GEPs, helpers
 * called through `inttoptr(id)`, one shared return block.
 *
 * Debug info is complete enough for the BPF backend to emit `.BTF` and
 * `.BTF.ext` (func_info and line_info) that the kernel accepts; see
 * debug-info.ts for the parts the kernel is strict about.
 */
import path from "node:path";
import type ts from "typescript";
import { type KfuncType, kfunc } from "../dialect/kfuncs";
import { EnvironmentError, InternalError } from "../diagnostics/diagnostic";
import { type KfuncName, type Subprogram, type SlotType, type StructLiteral, isLayout, slotSize, type Block, type GlobalDecl, type Instr, type MapDecl, type ModuleIR, type Operand, type Predicate, type ProgramIR, ctxFieldOffsets, reversePostOrder } from "../ir/ir";
import type { FieldType, Layout } from "../ir/layout";
import { type IntType, type ValueType, i64, u64 } from "../ir/types";
import { AtomicOrdering, AtomicRMWBinOp, BPF_CPU_SINCE, IntPredicate, LLVMNotFoundError, Linkage, llvm, type LLVMBasicBlockRef, type LLVMC, type LLVMValueRef } from "../llvm/llvm-c";
import { captureDiagnostics, stopCapture } from "../llvm/diagnostics";
import { DebugInfo } from "./debug-info";
import type { BtfTag } from "../object/btf-tags";
import { LlvmTypes } from "./llvm-types";

export type OptLevel = 0 | 1 | 2 | 3;
export type CpuVersion = "v1" | "v2" | "v3" | "v4";

export interface GenerateOptions {
  readonly optLevel: OptLevel;
  readonly cpu: CpuVersion;
  readonly emitLlvm: boolean;
  readonly emitAsm: boolean;
}

export interface Generated {
  readonly object: Uint8Array;
  /** BTF tags for addBtfTags to write into the object. */
  readonly btfTags: readonly BtfTag[];
  /** Names LLVM wrote into .BTF and the ones it must show, for restoreBtfNames. */
  readonly btfNames: ReadonlyMap<string, string>;
  readonly llvmIr?: string;
  readonly assembly?: string;
}

/** LLVM reported errors while optimising or emitting (the BPF backend's stack limit, …). */
export class LlvmError extends Error {
  constructor(readonly messages: readonly string[]) {
    super(messages.join("; "));
  }
}

export function loadLlvm(): LLVMC {
  try {
    return llvm();
  } catch (e) {
    if (e instanceof LLVMNotFoundError) throw new EnvironmentError(e.message);
    throw e;
  }
}

/** Which libLLVM the compiler uses (loading it if needed); throws EnvironmentError when there is none. */
export function llvmInUse(): { readonly version: number; readonly path: string } {
  const L = loadLlvm();
  return { version: L.version, path: L.path };
}

export function generateObject(module: ModuleIR, opts: GenerateOptions): Generated {
  const L = loadLlvm();
  const since = BPF_CPU_SINCE[opts.cpu];
  if (since !== undefined && L.version < since) {
    throw new EnvironmentError(
      `--mcpu ${opts.cpu} needs LLVM ${since} or newer, and the libLLVM in use (${L.path}) is LLVM ${L.version}: ` +
        `install a newer one (Debian 12: apt-get install libllvm19) and select it with TSXDP_LLVM_VERSION or TSXDP_LIBLLVM, or build for v3`,
    );
  }
  const context = L.LLVMContextCreate();
  const llvmDiagnostics = captureDiagnostics(L, context);
  const tm = L.createBpfTargetMachine(opts.cpu, opts.optLevel);
  const llmod = L.LLVMModuleCreateWithNameInContext(path.basename(module.fileName), context);
  const builder = L.LLVMCreateBuilderInContext(context);
  try {
    L.LLVMSetTarget(llmod, "bpfel");
    L.LLVMSetDataLayout(llmod, L.dataLayoutOf(tm));
    L.LLVMSetSourceFileName(llmod, module.fileName, Buffer.byteLength(module.fileName));
    const types = new LlvmTypes(L, context);
    const debug = new DebugInfo(L, context, llmod, module, opts.optLevel > 0);

    emitLicense(L, llmod, types, module.license);
    const maps = new Map(module.maps.map((m) => [m, emitMap(L, llmod, types, debug, m)] as const));
    for (const m of module.maps) if (m.className === "RingBuf" || m.className === "PerfEventArray") emitRecordType(L, llmod, types, debug, m);
    emitReferencedTypes(L, llmod, types, debug, module.maps);
    const globals = new Map(module.globals.map((g) => [g, emitGlobal(L, llmod, types, debug, g)] as const));
    const functions = new Map(module.subprograms.map((s) => [s, declareSubprogram(L, llmod, types, s)] as const));
    for (const program of module.programs) {
      new ProgramLowering(L, llmod, builder, types, debug, program, maps, globals, functions).lower();
      emitRunConfig(L, llmod, types, debug, program);
    }
    for (const s of module.subprograms) new ProgramLowering(L, llmod, builder, types, debug, s.ir!, maps, globals, functions).lower();
    debug.finalize();

    const problem = L.verifyModule(llmod);
    if (problem) throw new InternalError(`LLVM rejected the generated IR: ${problem}`);
    L.runPasses(llmod, `default<O${opts.optLevel}>`, tm);
    const llvmIr = opts.emitLlvm ? L.printModule(llmod) : undefined;
    const assembly = opts.emitAsm ? new TextDecoder().decode(L.emitToMemory(tm, llmod, "assembly")) : undefined;
    const object = L.emitToMemory(tm, llmod, "object");
    const errors = llvmDiagnostics.filter((d) => d.severity === 0);
    if (errors.length > 0) throw new LlvmError(errors.map((d) => d.message));
    return { object, btfTags: debug.btfTags, btfNames: debug.btfNames, llvmIr, assembly };
  } finally {
    stopCapture();
    L.LLVMDisposeBuilder(builder);
    L.LLVMDisposeModule(llmod);
    L.LLVMDisposeTargetMachine(tm);
    L.LLVMContextDispose(context);
  }
}

interface SubprogramFunction {
  readonly fn: LLVMValueRef;
  readonly type: ReturnType<LLVMC["LLVMFunctionType"]>;
}

/**
 * A subprogram's LLVM function in `.text`: internal linkage and noinline for
 * a static one (clang's `static __attribute__((noinline))`), external for a
 * global one. The BPF backend emits the call as a pc-relative BPF_CALL that
 * libbpf relocates, and BTF FUNC records with the linkage.
 */
function declareSubprogram(L: LLVMC, llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>, t: LlvmTypes, sub: Subprogram): SubprogramFunction {
  const params = sub.params.map((p) => (p.type.kind === "ctx" ? t.ctxPtr : t.of(p.type)));
  const type = L.LLVMFunctionType(sub.returns ? t.of(sub.returns) : L.LLVMVoidTypeInContext(t.context), params, params.length, 0);
  const fn = L.LLVMAddFunction(llmod, sub.name, type);
  L.LLVMSetSection(fn, ".text");
  L.LLVMSetLinkage(fn, sub.linkage === "global" ? Linkage.External : Linkage.Internal);
  t.addFunctionAttribute(fn, "nounwind");
  t.addFunctionAttribute(fn, "noinline");
  return { fn, type };
}

/** A helper called by its kernel ID, as clang calls `(void *)1`. */
function helper(L: LLVMC, t: LlvmTypes, id: number, fnType: ReturnType<LLVMC["LLVMFunctionType"]>): LLVMValueRef {
  return L.LLVMConstIntToPtr(t.constI64(BigInt(id)), L.LLVMPointerType(fnType, 0));
}

/** `char _license[] SEC("license")`, where libbpf and the kernel look for it. */
function emitLicense(L: LLVMC, llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>, types: LlvmTypes, license: string): void {
  const bytes = Buffer.byteLength(license) + 1;
  const init = L.LLVMConstStringInContext(types.context, license, bytes - 1, 0);
  const g = L.LLVMAddGlobal(llmod, L.LLVMArrayType(types.i8, bytes), "_license");
  L.LLVMSetInitializer(g, init);
  L.LLVMSetSection(g, "license");
  L.LLVMSetAlignment(g, 1);
  L.LLVMSetLinkage(g, Linkage.External);
}

/**
 * A BTF-defined map: a zeroed global in `.maps` whose BTF type carries the
 * definition (libbpf reads `type`, `max_entries`, … from the BTF, not from
 * the bytes). One pointer-sized member per attribute, as clang's
 * `__uint()`/`__type()` macros make.
 */
function emitMap(L: LLVMC, llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>, t: LlvmTypes, debug: DebugInfo, map: MapDecl): LLVMValueRef {
  return emitBtfDefinition(L, llmod, t, debug, map.name, ".maps", map.node, mapAttributes(map));
}

/**
 * libxdp's XDP_RUN_CONFIG(prog): `_prog` in `.xdp_run_config`, a BTF struct
 * with `priority` and one member per action (1: the next program runs after
 * it), read by libxdp exactly like a map definition (xdp_helpers.h).
 */
function emitRunConfig(L: LLVMC, llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>, t: LlvmTypes, debug: DebugInfo, program: ProgramIR): void {
  const config = program.runConfig;
  if (!config) return;
  const actions = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"];
  const attributes: MapAttribute[] = [
    { name: "priority", count: config.priority },
    ...actions.map((name, value) => ({ name, count: config.chainCallActions.includes(BigInt(value)) ? 1 : 0 })),
  ];
  emitBtfDefinition(L, llmod, t, debug, `_${program.name}`, ".xdp_run_config", program.node, attributes);
}

/** A zeroed global of pointers whose BTF type carries the definition, as libbpf and libxdp read them. */
function emitBtfDefinition(
  L: LLVMC,
  llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>,
  t: LlvmTypes,
  debug: DebugInfo,
  name: string,
  section: string,
  node: ts.Node,
  attributes: readonly MapAttribute[],
): LLVMValueRef {
  // `values` (a map of maps' inner template) is a zero-length array: no bytes.
  const fields = attributes.filter((a) => !("inner" in a)).map(() => t.ptr);
  const type = L.LLVMStructTypeInContext(t.context, fields, fields.length, 0);
  const g = L.LLVMAddGlobal(llmod, type, name);
  L.LLVMSetInitializer(g, L.LLVMConstNull(type));
  L.LLVMSetSection(g, section);
  L.LLVMSetAlignment(g, 8);
  L.LLVMSetLinkage(g, Linkage.External);
  debug.btfDefinition(g, name, node, attributes);
  return g;
}

/**
 * A ring buffer's record type, for readers: BTF keeps only types something
 * refers to, and a map definition cannot name it (a RINGBUF has no value),
 * so a zeroed `<map>__record` of that type goes in `.tsxdp.types`, a section
 * libbpf skips; the loader's ring buffer reader decodes records through it.
 */
function emitRecordType(L: LLVMC, llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>, t: LlvmTypes, debug: DebugInfo, map: MapDecl): void {
  const name = `${map.name}__record`;
  const g = L.LLVMAddGlobal(llmod, L.LLVMArrayType(t.i8, slotSize(map.value)), name);
  L.LLVMSetInitializer(g, L.LLVMConstNull(L.LLVMArrayType(t.i8, slotSize(map.value))));
  L.LLVMSetSection(g, ".tsxdp.types");
  L.LLVMSetAlignment(g, 8);
  L.LLVMSetLinkage(g, Linkage.External);
  debug.recordVariable(g, name, map.node, map.value);
}

/**
 * Structs the kernel looks up in the program's BTF that no map or code may
 * name whole: what kptr fields point to (LLVM writes a struct only a pointer
 * member reaches as a FWD, which the kernel cannot take a kptr's type from),
 * what lists and trees hold (named only by their decl tag), and inner maps'
 * key and value structs (libbpf sizes the inner map from them). A zeroed
 * `<T>__type` of each in `.tsxdp.types` (as a record type) refers to it.
 */
function emitReferencedTypes(L: LLVMC, llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>, t: LlvmTypes, debug: DebugInfo, maps: readonly MapDecl[]): void {
  const targets = new Set<Layout>();
  const add = (target: Layout): void => {
    if (targets.has(target)) return;
    targets.add(target);
    // What an object holds in turn (a list's objects, a kptr's) is named only from it.
    visit({ kind: "struct", layout: target });
  };
  const visit = (t: FieldType): void => {
    if (t.kind === "array") visit(t.element);
    else if (t.kind === "struct" && t.layout.kptr) add(t.layout.kptr.target);
    else if (t.kind === "struct" && t.layout.graph) add(t.layout.graph.of);
    else if (t.kind === "struct") for (const f of t.layout.fields.values()) visit(f.type);
  };
  for (const m of maps) {
    if (isLayout(m.value)) visit({ kind: "struct", layout: m.value });
    // An inner map's key and value structs are reached only through the template's pointers: LLVM would write FWDs.
    if (m.inner && isLayout(m.inner.key)) targets.add(m.inner.key);
    if (m.inner && isLayout(m.inner.value)) {
      targets.add(m.inner.value);
      visit({ kind: "struct", layout: m.inner.value });
    }
  }
  for (const target of targets) {
    const name = `${target.name}__type`;
    const g = L.LLVMAddGlobal(llmod, L.LLVMArrayType(t.i8, target.size), name);
    L.LLVMSetInitializer(g, L.LLVMConstNull(L.LLVMArrayType(t.i8, target.size)));
    L.LLVMSetSection(g, ".tsxdp.types");
    L.LLVMSetAlignment(g, 8);
    L.LLVMSetLinkage(g, Linkage.External);
    debug.recordVariable(g, name, maps[0]!.node, target);
  }
}

/** A module-level variable in `.rodata`, `.data` or `.bss`, with the BTF libbpf uses to find it by name. */
function emitGlobal(L: LLVMC, llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>, t: LlvmTypes, debug: DebugInfo, global: GlobalDecl): LLVMValueRef {
  const type = t.of(global.type);
  const g = L.LLVMAddGlobal(llmod, type, global.name);
  L.LLVMSetInitializer(g, t.constInt(global.type, global.initial));
  L.LLVMSetSection(g, global.section);
  L.LLVMSetAlignment(g, global.type.bits / 8);
  L.LLVMSetLinkage(g, Linkage.External);
  if (global.section === ".rodata") L.LLVMSetGlobalConstant(g, 1);
  debug.globalVariable(g, global);
  return g;
}

export type MapAttribute =
  | { readonly name: string; readonly count: number }
  | { readonly name: "key" | "value"; readonly type: SlotType }
  | { readonly name: "values"; readonly inner: readonly MapAttribute[] };

const keylessMaps = new Set(["Queue", "Stack", "BloomFilter"]);

/** bpf_trace_printk's values after the format; more go to bpf_trace_vprintk. */
const maxTracePrintkArgs = 3;

function mapAttributes(map: MapDecl): MapAttribute[] {
  const out: MapAttribute[] = [{ name: "type", count: map.type }, { name: "max_entries", count: map.maxEntries }];
  // A ring buffer has no key or value (ringbuf_map_alloc refuses sizes); queues, stacks and bloom filters have no key.
  // A PROG_ARRAY takes no BTF key or value (map_check_no_btf): sizes only, as C declares it.
  // So does a PERF_EVENT_ARRAY, whose map value is a perf event's fd, not the record type.
  const sizesOnly = map.className === "ProgArray" || map.className === "PerfEventArray";
  if (sizesOnly) out.push({ name: "key_size", count: 4 }, { name: "value_size", count: 4 });
  else if (map.className !== "RingBuf" && !keylessMaps.has(map.className)) out.push({ name: "key", type: map.key });
  if (map.className !== "RingBuf" && !sizesOnly && !map.inner) out.push({ name: "value", type: map.value });
  if (map.extra) out.push({ name: "map_extra", count: map.extra });
  if (map.flags) out.push({ name: "map_flags", count: map.flags });
  // LIBBPF_PIN_BY_NAME
  if (map.pinned) out.push({ name: "pinning", count: 1 });
  // A map of maps: `__array(values, struct inner)`, a zero-length array of pointers to the inner
  // definition, last as C's flexible array must be; libbpf sets value_size 4 from it.
  if (map.inner) out.push({ name: "values", inner: mapAttributes(map.inner) });
  return out;
}

/**
 * A load's or store's alignment. Stack accesses are checked for alignment by
 * the verifier, so a field of a packed local struct at an odd offset gets what
 * its offset allows (the backend splits the access); elsewhere the natural one.
 */
function accessAlign(i: { readonly region: string; readonly offset: number; readonly size: number }): number {
  if (i.region !== "stack") return i.size;
  let a = 1;
  while (a < i.size && i.offset % (a * 2) === 0) a *= 2;
  return a;
}

const predicates: Readonly<Record<Predicate, number>> = {
  eq: IntPredicate.EQ,
  ne: IntPredicate.NE,
  ult: IntPredicate.ULT,
  ule: IntPredicate.ULE,
  ugt: IntPredicate.UGT,
  uge: IntPredicate.UGE,
  slt: IntPredicate.SLT,
  sle: IntPredicate.SLE,
  sgt: IntPredicate.SGT,
  sge: IntPredicate.SGE,
};

class ProgramLowering {
  private readonly values = new Map<number, LLVMValueRef>();
  private readonly blocks = new Map<Block, LLVMBasicBlockRef>();
  private readonly locals = new Map<number, LLVMValueRef>();
  private fn!: LLVMValueRef;
  private ctxParam!: LLVMValueRef;
  private retval!: LLVMValueRef;
  private exit!: LLVMBasicBlockRef;
  private formats = 0;
  /** Socket field reads so far, each followed by its own empty asm (see "load"). */
  private socketReads = 0;
  /** Stack slots for map keys and values, made in the entry block (the helpers take pointers). */
  private readonly slots = new Map<Instr, { key: LLVMValueRef; value?: LLVMValueRef }>();
  /** Allocas of local structs, made in the entry block. */
  private readonly stack = new Map<Instr, LLVMValueRef>();

  constructor(
    private readonly L: LLVMC,
    private readonly llmod: ReturnType<LLVMC["LLVMModuleCreateWithNameInContext"]>,
    private readonly b: ReturnType<LLVMC["LLVMCreateBuilderInContext"]>,
    private readonly t: LlvmTypes,
    private readonly debug: DebugInfo,
    private readonly program: ProgramIR,
    private readonly maps: ReadonlyMap<MapDecl, LLVMValueRef>,
    private readonly globals: ReadonlyMap<GlobalDecl, LLVMValueRef>,
    private readonly functions: ReadonlyMap<Subprogram, SubprogramFunction> = new Map(),
  ) {}

  lower(): void {
    const { L, t, program } = this;
    const sub = program.subprogram;
    const entry = sub ? this.beginSubprogram(sub) : this.beginProgram();
    L.LLVMPositionBuilderAtEnd(this.b, entry);
    this.debug.at(this.b, program.handler);
    this.retval = L.LLVMBuildAlloca(this.b, sub?.returns ? t.of(sub.returns) : t.i32, "retval");
    for (const local of program.locals) this.locals.set(local.id, L.LLVMBuildAlloca(this.b, t.of(local.type), local.name));
    for (const block of program.blocks) {
      for (const i of block.instrs) {
        if (i.op === "stack_alloc") {
          // One alloca per declaration: the copies a loop unrolls (or a function inlined twice) make
          // never live at once, as a struct cannot outlive its block, so they share it as C's would.
          const shared = [...this.stack.entries()].find(([other]) => other.op === "stack_alloc" && other.node === i.node && other.size === i.size)?.[1];
          // Local structs: 8-aligned, so the builder's naturally aligned field offsets are aligned stack accesses.
          const a = shared ?? L.LLVMBuildAlloca(this.b, L.LLVMArrayType(t.i8, i.size), i.name);
          L.LLVMSetAlignment(a, 8);
          this.stack.set(i, a);
          continue;
        }
        if (i.op === "snprintf_btf") {
          // struct btf_ptr { void *ptr; __u32 type_id; __u32 flags; }, on the stack as C builds it.
          const a = L.LLVMBuildAlloca(this.b, L.LLVMArrayType(t.i64, 2), "btf_ptr");
          L.LLVMSetAlignment(a, 8);
          this.slots.set(i, { key: a });
          continue;
        }
        if ((i.op === "printk" && i.args.length > maxTracePrintkArgs) || (i.op === "snprintf" && i.args.length > 0)) {
          // bpf_trace_vprintk's values: an array of u64 on the stack, allocated here in the entry block.
          const a = L.LLVMBuildAlloca(this.b, L.LLVMArrayType(t.i64, i.args.length), "printk_args");
          L.LLVMSetAlignment(a, 8);
          this.slots.set(i, { key: a });
          continue;
        }
        if (i.op !== "map_lookup" && i.op !== "map_update" && i.op !== "map_delete" && i.op !== "ringbuf_output" && i.op !== "perf_event_output" && i.op !== "map_push" && i.op !== "map_peek") continue;
        const slot = (type: SlotType, name: string) => {
          const a = L.LLVMBuildAlloca(this.b, isLayout(type) ? L.LLVMArrayType(t.i8, type.size) : t.of(type), name);
          L.LLVMSetAlignment(a, 8);
          return a;
        };
        // A ring buffer's record goes where a key would: the helper's one pointer argument.
        if (i.op === "ringbuf_output" || i.op === "perf_event_output") this.slots.set(i, { key: slot(i.map.value, "record") });
        else if (i.op === "map_push" || i.op === "map_peek") {
          if (i.value) this.slots.set(i, { key: slot(i.map.value, "value") });
        }
        else this.slots.set(i, { key: slot(i.map.key, "key"), value: i.op === "map_update" ? slot(i.map.value, "value") : undefined });
      }
    }

    const order = reversePostOrder(program.entry);
    for (const block of order) this.blocks.set(block, L.LLVMAppendBasicBlockInContext(t.context, this.fn, `b${block.id}`));
    this.exit = L.LLVMAppendBasicBlockInContext(t.context, this.fn, "return");
    L.LLVMBuildBr(this.b, this.blocks.get(program.entry)!);

    for (const block of order) {
      L.LLVMPositionBuilderAtEnd(this.b, this.blocks.get(block)!);
      for (const instr of block.instrs) {
        this.debug.at(this.b, instr.node);
        this.instr(instr);
      }
      this.terminator(block);
    }

    // One return, located at the closing brace, as clang does: a merged
    // return would otherwise get line 0 in the line info.
    L.LLVMPositionBuilderAtEnd(this.b, this.exit);
    this.debug.atEnd(this.b, program.handler.body ?? program.handler);
    if (sub && !sub.returns) L.LLVMBuildRetVoid(this.b);
    else L.LLVMBuildRet(this.b, L.LLVMBuildLoad2(this.b, sub?.returns ? t.of(sub.returns) : t.i32, this.retval, "ret"));
  }

  private beginProgram(): LLVMBasicBlockRef {
    const { L, t, program } = this;
    const fnType = L.LLVMFunctionType(t.i32, [t.ctxPtr], 1, 0);
    this.fn = L.LLVMAddFunction(this.llmod, program.name, fnType);
    L.LLVMSetSection(this.fn, program.section);
    L.LLVMSetLinkage(this.fn, Linkage.External);
    t.addFunctionAttribute(this.fn, "nounwind");
    this.ctxParam = L.LLVMGetParam(this.fn, 0);
    L.LLVMSetValueName2(this.ctxParam, program.ctxName, Buffer.byteLength(program.ctxName));
    const entry = L.LLVMAppendBasicBlockInContext(t.context, this.fn, "entry");
    this.debug.beginProgram(this.fn, program, this.ctxParam, entry);
    return entry;
  }

  /**
   * A kfunc, as clang declares `extern … __ksym`: an external function in
   * `.ksyms` whose BTF (FUNC, extern linkage) libbpf matches against the
   * kernel's to patch the call.
   */
  private kfunc(name: KfuncName): { fn: LLVMValueRef; type: ReturnType<LLVMC["LLVMFunctionType"]> } {
    const { L, t } = this;
    const spec = kfunc(name);
    const llvmType = (k: KfuncType) => (k.kind === "void" ? L.LLVMVoidTypeInContext(t.context) : k.kind === "int" ? t.of(k.type) : k.kind === "bool" ? t.i8 : k.kind === "enum" ? t.i32 : t.ptr);
    const params = spec.params.map((p) => llvmType(p.type));
    const type = L.LLVMFunctionType(llvmType(spec.returns), params, params.length, 0);
    const existing = L.LLVMGetNamedFunction(this.llmod, name);
    if (existing) return { fn: existing, type };
    const fn = L.LLVMAddFunction(this.llmod, name, type);
    L.LLVMSetLinkage(fn, Linkage.External);
    L.LLVMSetSection(fn, ".ksyms");
    this.debug.externFunction(fn, spec);
    return { fn, type };
  }

  /**
   * `__builtin_btf_type_id(*(T *)0, BPF_TYPE_ID_LOCAL)` as clang emits it: llvm.bpf.btf.type.id
   * (a sequence number, flag 0) tagged with the struct's DIType; the BPF backend makes it a
   * CO-RE relocation (BPF_CORE_TYPE_ID_LOCAL) that libbpf resolves to the id in the program's BTF.
   */
  private localTypeId(layout: Layout, seq: number): LLVMValueRef {
    const { L, b, t } = this;
    const { fn, type } = L.intrinsic(this.llmod, "llvm.bpf.btf.type.id", []);
    const call = L.LLVMBuildCall2(b, type, fn, [L.LLVMConstInt(t.i32, BigInt(seq), 0), t.constI64(0n)], 2, "");
    const kind = L.LLVMGetMDKindIDInContext(t.context, "llvm.preserve.access.index", "llvm.preserve.access.index".length);
    L.LLVMSetMetadata(call, kind, L.LLVMMetadataAsValue(t.context, this.debug.structType(layout)));
    return call;
  }

  /** `bpf_core_type_id_kernel(struct name)` as clang emits it: llvm.bpf.btf.type.id with flag 1 (BPF_TYPE_ID_TARGET), libbpf's CO-RE relocation against vmlinux. */
  private kernelTypeId(name: string, seq: number): LLVMValueRef {
    const { L, b, t } = this;
    const { fn, type } = L.intrinsic(this.llmod, "llvm.bpf.btf.type.id", []);
    const call = L.LLVMBuildCall2(b, type, fn, [L.LLVMConstInt(t.i32, BigInt(seq), 0), t.constI64(1n)], 2, "");
    const kind = L.LLVMGetMDKindIDInContext(t.context, "llvm.preserve.access.index", "llvm.preserve.access.index".length);
    L.LLVMSetMetadata(call, kind, L.LLVMMetadataAsValue(t.context, this.debug.kernelStruct(name)));
    return L.LLVMGetIntTypeWidth(L.LLVMTypeOf(call)) === 32 ? call : L.LLVMBuildTrunc(b, call, t.i32, "");
  }

  /**
   * The address of a kernel struct's field as clang takes it under
   * `preserve_access_index`: llvm.preserve.struct.access.index on the struct
   * (LLVM's type of the fields the program knows, as `elementtype`) tagged
   * with its DIType; the BPF backend makes the offset a CO-RE relocation
   * (BPF_CORE_FIELD_BYTE_OFFSET) that libbpf fixes against vmlinux BTF.
   */
  private kernelField(base: LLVMValueRef, layout: Layout, offset: number, type: ReturnType<LlvmTypes["of"]>): LLVMValueRef {
    const { L, b, t } = this;
    const fields = [...layout.fields.values()].sort((x, y) => x.offset - y.offset);
    const index = fields.findIndex((f) => f.offset === offset);
    if (index < 0) throw new InternalError(`no field of ${layout.kernel} at ${offset}`);
    const struct = L.LLVMStructTypeInContext(t.context, fields.map((f) => t.of((f.type as { type: IntType }).type)), fields.length, 0);
    const opaque = L.opaquePointers(t.context);
    const structPtr = opaque ? t.ptr : L.LLVMPointerType(struct, 0);
    const fieldPtr = opaque ? t.ptr : L.LLVMPointerType(type, 0);
    const { fn, type: fnType } = L.intrinsic(this.llmod, "llvm.preserve.struct.access.index", [fieldPtr, structPtr]);
    const at = L.LLVMConstInt(t.i32, BigInt(index), 0);
    const call = L.LLVMBuildCall2(b, fnType, fn, [L.LLVMBuildBitCast(b, base, structPtr, ""), at, at], 3, "");
    const elementType = L.LLVMGetEnumAttributeKindForName("elementtype", "elementtype".length);
    L.LLVMAddCallSiteAttribute(call, 1, L.LLVMCreateTypeAttribute(t.context, elementType, struct));
    const kind = L.LLVMGetMDKindIDInContext(t.context, "llvm.preserve.access.index", "llvm.preserve.access.index".length);
    L.LLVMSetMetadata(call, kind, L.LLVMMetadataAsValue(t.context, this.debug.kernelStruct(layout.kernel!)));
    return call;
  }

  /** A subprogram's function, declared before any body so that calls find it. */
  private beginSubprogram(sub: Subprogram): LLVMBasicBlockRef {
    const { L, t } = this;
    this.fn = this.functions.get(sub)!.fn;
    const params = sub.params.map((p, i) => {
      const v = L.LLVMGetParam(this.fn, i);
      L.LLVMSetValueName2(v, p.name, Buffer.byteLength(p.name));
      if (p.type.kind === "ctx") this.ctxParam = v;
      return v;
    });
    const entry = L.LLVMAppendBasicBlockInContext(t.context, this.fn, "entry");
    this.debug.beginSubprogram(this.fn, sub, params, entry);
    return entry;
  }

  private operand(o: Operand): LLVMValueRef {
    if (o.kind === "const") return this.t.constInt(o.type, o.value);
    const v = this.values.get(o.id);
    if (!v) throw new InternalError(`temp t${o.id} used before its definition`);
    return v;
  }

  private define(id: number, v: LLVMValueRef): void {
    this.values.set(id, v);
  }

  private instr(i: Instr): void {
    const { L, b, t } = this;
    switch (i.op) {
      case "ctx": {
        const field = L.LLVMBuildStructGEP2(b, t.xdpMd, this.ctxParam, ctxFieldOffsets[i.field] / 4, i.field);
        const raw = L.LLVMBuildLoad2(b, t.i32, field, "");
        L.LLVMSetAlignment(raw, 4);
        if (i.dst.type.kind === "int") return this.define(i.dst.id, raw);
        const wide = L.LLVMBuildZExt(b, raw, t.i64, "");
        return this.define(i.dst.id, L.LLVMBuildIntToPtr(b, wide, t.ptr, i.field));
      }
      case "ctx_ptr":
        return this.define(i.dst.id, L.LLVMBuildBitCast(b, this.ctxParam, t.ptr, ""));
      case "param":
        return this.define(i.dst.id, L.LLVMGetParam(this.fn, i.index));
      case "kfunc": {
        const callee = this.kfunc(i.name);
        // A constant where the kernel takes a pointer is an absent buffer: NULL.
        const params = kfunc(i.name).params;
        // A pointer the program holds as an integer (bpf_task_pt_regs's) is passed as the pointer it is.
        const args = i.args.map((a, k) =>
          a.kind === "const" && params[k]!.type.kind === "ptr" ? L.LLVMConstPointerNull(t.ptr) : a.type.kind === "int" && params[k]!.type.kind === "ptr" ? L.LLVMBuildIntToPtr(b, this.operand(a), t.ptr, "") : this.operand(a),
        );
        if (i.typeId && kfunc(i.name).call?.[0]?.kind === "typeId") args[0] = this.localTypeId(i.typeId, i.dst!.id);
        if (i.kernelType) args[1] = this.kernelTypeId(i.kernelType, i.dst!.id);
        if (i.map) args[kfunc(i.name).call!.findIndex((a) => a.kind === "map")] = L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, "");
        // The callback's address: a ld_imm64 of the function that libbpf relocates (BPF_PSEUDO_FUNC), as for bpf_loop.
        if (i.callback) args[kfunc(i.name).call!.findIndex((a) => a.kind === "callback")] = L.LLVMBuildBitCast(b, this.functions.get(i.callback)!.fn, t.ptr, "");
        const call = L.LLVMBuildCall2(b, callee.type, callee.fn, args, args.length, "");
        if (i.dst) this.define(i.dst.id, call);
        return;
      }
      case "bpf_loop": {
        // bpf_loop (181): long (u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags); the
        // callback's address becomes a ld_imm64 of the function that libbpf relocates (BPF_PSEUDO_FUNC).
        const fnType = L.LLVMFunctionType(t.i64, [t.i32, t.ptr, t.ptr, t.i64], 4, 0);
        const callback = L.LLVMBuildBitCast(b, this.functions.get(i.callback)!.fn, t.ptr, "");
        const state = i.state ? L.LLVMBuildBitCast(b, this.operand(i.state), t.ptr, "") : L.LLVMConstPointerNull(t.ptr);
        const args = [this.operand(i.count), callback, state, t.constI64(0n)];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 181, fnType), args, 4, ""));
      }
      case "timer": {
        // bpf_timer_init (169), set_callback (170), start (171), cancel (172), all on a struct bpf_timer *.
        const timer = L.LLVMBuildGEP2(b, t.i8, this.operand(i.ptr), [t.constI64(BigInt(i.offset))], 1, "");
        const rest =
          i.kind === "init"
            ? [L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, ""), this.operand(i.args[0]!)]
            : i.kind === "set_callback"
              ? [L.LLVMBuildBitCast(b, this.functions.get(i.callback!)!.fn, t.ptr, "")]
              : i.args.map((a) => this.operand(a));
        const id = { init: 169n, set_callback: 170n, start: 171n, cancel: 172n }[i.kind];
        const params = [t.ptr, ...(i.kind === "init" ? [t.ptr, t.i64] : i.kind === "set_callback" ? [t.ptr] : i.kind === "start" ? [t.i64, t.i64] : [])];
        const fnType = L.LLVMFunctionType(t.i64, params, params.length, 0);
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, Number(id), fnType), [timer, ...rest], params.length, ""));
      }
      case "snprintf_btf": {
        // bpf_snprintf_btf (149): long (char *str, u32 str_size, struct btf_ptr *ptr, u32 btf_ptr_size, u64 flags).
        // The type id is vmlinux's, as bpf_core_type_id_kernel() takes it: llvm.bpf.btf.type.id with
        // flag 1 (BPF_TYPE_ID_TARGET) on a struct of that name, a CO-RE relocation libbpf resolves.
        const btfPtr = this.slots.get(i)!.key;
        const words = L.LLVMBuildBitCast(b, btfPtr, L.LLVMPointerType(t.i64, 0), "");
        L.LLVMSetAlignment(L.LLVMBuildStore(b, L.LLVMBuildPtrToInt(b, this.operand(i.value), t.i64, ""), words), 8);
        const { fn, type } = L.intrinsic(this.llmod, "llvm.bpf.btf.type.id", []);
        const id = L.LLVMBuildCall2(b, type, fn, [L.LLVMConstInt(t.i32, BigInt(i.dst.id), 0), t.constI64(1n)], 2, "");
        const kind = L.LLVMGetMDKindIDInContext(t.context, "llvm.preserve.access.index", "llvm.preserve.access.index".length);
        L.LLVMSetMetadata(id, kind, L.LLVMMetadataAsValue(t.context, this.debug.kernelStruct(i.typeName)));
        // type_id in the low half of the second word, flags (unused, 0) in the high half.
        const second = L.LLVMBuildGEP2(b, t.i64, words, [t.constI64(1n)], 1, "");
        const id64 = L.LLVMGetIntTypeWidth(L.LLVMTypeOf(id)) === 64 ? id : L.LLVMBuildZExt(b, id, t.i64, "");
        L.LLVMSetAlignment(L.LLVMBuildStore(b, L.LLVMBuildAnd(b, id64, t.constI64(0xffffffffn), ""), second), 8);
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.i32, t.ptr, t.i32, t.i64], 5, 0);
        const args = [this.operand(i.out), L.LLVMConstInt(t.i32, BigInt(i.size), 0), L.LLVMBuildBitCast(b, btfPtr, t.ptr, ""), L.LLVMConstInt(t.i32, 16n, 0), this.operand(i.flags)];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 149, fnType), args, 5, ""));
      }
      case "snprintf": {
        // bpf_snprintf (165): long (char *str, u32 str_size, const char *fmt, u64 *data, u32 data_len);
        // fmt in .rodata as bpf_strncmp's string, the values an array allocated in the entry block.
        const bytes = Buffer.from(i.format + "\0", "utf8");
        const fmt = L.LLVMAddGlobal(this.llmod, L.LLVMArrayType(t.i8, bytes.length), `__tsxdp_fmt_${this.program.name}_${this.formats++}`);
        L.LLVMSetInitializer(fmt, L.LLVMConstStringInContext(t.context, i.format, bytes.length - 1, 0));
        L.LLVMSetGlobalConstant(fmt, 1);
        L.LLVMSetLinkage(fmt, Linkage.Private);
        L.LLVMSetSection(fmt, ".rodata");
        L.LLVMSetAlignment(fmt, 1);
        const values = this.slots.get(i)?.key;
        i.args.forEach((a, k) => {
          const p = L.LLVMBuildGEP2(b, t.i64, L.LLVMBuildBitCast(b, values!, L.LLVMPointerType(t.i64, 0), ""), [t.constI64(BigInt(k))], 1, "");
          L.LLVMSetAlignment(L.LLVMBuildStore(b, this.operand(a), p), 8);
        });
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.i32, t.ptr, t.ptr, t.i32], 5, 0);
        const data = values ? L.LLVMBuildBitCast(b, values, t.ptr, "") : L.LLVMConstPointerNull(t.ptr);
        const args = [this.operand(i.out), L.LLVMConstInt(t.i32, BigInt(i.size), 0), L.LLVMBuildBitCast(b, fmt, t.ptr, ""), data, L.LLVMConstInt(t.i32, BigInt(8 * i.args.length), 0)];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 165, fnType), args, 5, ""));
      }
      case "strncmp": {
        // bpf_strncmp (182): long (const char *s1, u32 s1_sz, const char *s2); s2 must be in a
        // frozen read-only map (ARG_PTR_TO_CONST_STR): a constant in .rodata, as printk's format.
        const bytes = Buffer.from(i.text + "\0", "utf8");
        const s2 = L.LLVMAddGlobal(this.llmod, L.LLVMArrayType(t.i8, bytes.length), `__tsxdp_str_${this.program.name}_${this.formats++}`);
        L.LLVMSetInitializer(s2, L.LLVMConstStringInContext(t.context, i.text, bytes.length - 1, 0));
        L.LLVMSetGlobalConstant(s2, 1);
        L.LLVMSetLinkage(s2, Linkage.Private);
        L.LLVMSetSection(s2, ".rodata");
        L.LLVMSetAlignment(s2, 1);
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.i32, t.ptr], 3, 0);
        const args = [this.operand(i.s1), L.LLVMConstInt(t.i32, BigInt(i.size), 0), L.LLVMBuildBitCast(b, s2, t.ptr, "")];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 182, fnType), args, 3, ""));
      }
      case "spin_lock": {
        // bpf_spin_lock (93) / bpf_spin_unlock (94): long (struct bpf_spin_lock *lock).
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr], 1, 0);
        const lock = L.LLVMBuildGEP2(b, t.i8, this.operand(i.ptr), [t.constI64(BigInt(i.offset))], 1, "");
        L.LLVMBuildCall2(b, fnType, helper(L, t, i.unlock ? 94 : 93, fnType), [lock], 1, "");
        return;
      }
      case "for_each_map": {
        // bpf_for_each_map_elem (164): long (void *map, void *callback_fn, void *callback_ctx, u64 flags).
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.ptr, t.ptr, t.i64], 4, 0);
        const mapPtr = L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, "");
        const callback = L.LLVMBuildBitCast(b, this.functions.get(i.callback)!.fn, t.ptr, "");
        const state = i.state ? L.LLVMBuildBitCast(b, this.operand(i.state), t.ptr, "") : L.LLVMConstPointerNull(t.ptr);
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 164, fnType), [mapPtr, callback, state, t.constI64(0n)], 4, ""));
      }
      case "subcall": {
        const callee = this.functions.get(i.callee)!;
        // The context goes as `struct xdp_md *`, as the callee declares it.
        const args = i.args.map((a, k) => (i.callee.params[k]!.type.kind === "ctx" ? L.LLVMBuildBitCast(b, this.operand(a), t.ctxPtr, "") : this.operand(a)));
        const call = L.LLVMBuildCall2(b, callee.type, callee.fn, args, args.length, "");
        if (i.dst) this.define(i.dst.id, call);
        return;
      }
      case "stack_alloc":
        return this.define(i.dst.id, L.LLVMBuildBitCast(b, this.stack.get(i)!, t.ptr, ""));
      case "binary":
        return this.define(i.dst.id, this.binary(i.kind, this.operand(i.a), this.operand(i.b)));
      case "cmp": {
        // A pointer tested against 0 (a map lookup's null test) compares with a null pointer.
        const asPointer = (o: Operand, other: Operand) => (o.kind === "const" && other.kind === "temp" && other.type.kind === "ptr" ? L.LLVMConstPointerNull(t.ptr) : this.operand(o));
        return this.define(i.dst.id, L.LLVMBuildICmp(b, predicates[i.pred] as never, asPointer(i.a, i.b), asPointer(i.b, i.a), ""));
      }
      case "map_lookup":
      case "map_update":
      case "map_delete": {
        const slot = this.slots.get(i)!;
        const keyPtr = this.passSlot(slot.key, i.key);
        // An inner map: the pointer a map of maps' lookup returned.
        const mapPtr = i.via ? this.operand(i.via) : L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, "");
        if (i.op === "map_lookup" && i.cpu) {
          // bpf_map_lookup_percpu_elem (195): void *(map, key, u32 cpu)
          const fnType = L.LLVMFunctionType(t.ptr, [t.ptr, t.ptr, t.i32], 3, 0);
          return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 195, fnType), [mapPtr, keyPtr, this.operand(i.cpu)], 3, ""));
        }
        if (i.op === "map_lookup") {
          // bpf_map_lookup_elem (1): void *(map, key)
          const fnType = L.LLVMFunctionType(t.ptr, [t.ptr, t.ptr], 2, 0);
          return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 1, fnType), [mapPtr, keyPtr], 2, ""));
        }
        if (i.op === "map_delete") {
          // bpf_map_delete_elem (3): long (map, key)
          const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.ptr], 2, 0);
          return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 3, fnType), [mapPtr, keyPtr], 2, ""));
        }
        // bpf_map_update_elem (2): long (map, key, value, flags)
        const valuePtr = this.passSlot(slot.value!, i.value!);
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.ptr, t.ptr, t.i64], 4, 0);
        const args = [mapPtr, keyPtr, valuePtr, this.operand(i.flags!)];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 2, fnType), args, 4, ""));
      }
      case "map_redirect": {
        // bpf_redirect_map (51): long (map, u64 key, u64 flags); the key by value, not by pointer.
        const mapPtr = L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, "");
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.i64, t.i64], 3, 0);
        const key = this.cast(this.operand(i.key), i.key.type, u64);
        const result = L.LLVMBuildCall2(b, fnType, helper(L, t, 51, fnType), [mapPtr, key, this.operand(i.flags)], 3, "");
        return this.define(i.dst.id, this.cast(result, i64, i.dst.type as IntType));
      }
      case "map_push":
      case "map_pop":
      case "map_peek": {
        // bpf_map_push_elem (87): long (map, value, u64 flags); bpf_map_pop_elem (88), bpf_map_peek_elem (89): long (map, value)
        const mapPtr = L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, "");
        let valuePtr: LLVMValueRef;
        if (i.value) {
          const slot = this.slots.get(i)!.key;
          this.storeSlot(slot, i.value);
          valuePtr = L.LLVMBuildBitCast(b, slot, t.ptr, "");
        } else {
          valuePtr = this.operand(i.out!);
        }
        const push = i.op === "map_push";
        const params = push ? [t.ptr, t.ptr, t.i64] : [t.ptr, t.ptr];
        const fnType = L.LLVMFunctionType(t.i64, params, params.length, 0);
        const args = push ? [mapPtr, valuePtr, this.operand(i.flags!)] : [mapPtr, valuePtr];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, push ? 87 : i.op === "map_pop" ? 88 : 89, fnType), args, args.length, ""));
      }
      case "tail_call": {
        // bpf_tail_call (12): long (ctx, prog_array, u32 index); returns only when the entry is empty.
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.ptr, t.i32], 3, 0);
        const args = [L.LLVMBuildBitCast(b, this.ctxParam, t.ptr, ""), L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, ""), this.operand(i.index)];
        L.LLVMBuildCall2(b, fnType, helper(L, t, 12, fnType), args, 3, "");
        return;
      }
      case "ringbuf_output": {
        // bpf_ringbuf_output (130): long (ringbuf, data, u64 size, u64 flags)
        const slot = this.slots.get(i)!.key;
        this.storeSlot(slot, i.value);
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.ptr, t.i64, t.i64], 4, 0);
        const args = [L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, ""), L.LLVMBuildBitCast(b, slot, t.ptr, ""), t.constI64(BigInt(slotSize(i.map.value))), this.operand(i.flags)];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 130, fnType), args, 4, ""));
      }
      case "perf_event_output": {
        // bpf_perf_event_output (25): long (ctx, map, u64 flags, data, u64 size)
        const slot = this.slots.get(i)!.key;
        this.storeSlot(slot, i.value);
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.ptr, t.i64, t.ptr, t.i64], 5, 0);
        const args = [this.operand(i.ctx), L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, ""), this.operand(i.flags), L.LLVMBuildBitCast(b, slot, t.ptr, ""), t.constI64(BigInt(slotSize(i.map.value)))];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 25, fnType), args, 5, ""));
      }
      case "ringbuf_reserve": {
        // bpf_ringbuf_reserve (131): void *(ringbuf, u64 size, u64 flags); the size must be a constant.
        const fnType = L.LLVMFunctionType(t.ptr, [t.ptr, t.i64, t.i64], 3, 0);
        const args = [L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, ""), t.constI64(BigInt(slotSize(i.map.value))), t.constI64(0n)];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 131, fnType), args, 3, ""));
      }
      case "ringbuf_query": {
        // bpf_ringbuf_query (134): u64 (ringbuf, u64 flags)
        const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.i64], 2, 0);
        const args = [L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, ""), this.operand(i.flags)];
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, helper(L, t, 134, fnType), args, 2, ""));
      }
      case "ringbuf_submit":
      case "ringbuf_discard": {
        // bpf_ringbuf_submit (132) / bpf_ringbuf_discard (133): void (data, u64 flags)
        const fnType = L.LLVMFunctionType(L.LLVMVoidTypeInContext(t.context), [t.ptr, t.i64], 2, 0);
        L.LLVMBuildCall2(b, fnType, helper(L, t, i.op === "ringbuf_submit" ? 132 : 133, fnType), [this.operand(i.record), this.operand(i.flags)], 2, "");
        return;
      }
      case "global_load": {
        const v = L.LLVMBuildLoad2(b, t.of(i.global.type), this.globals.get(i.global)!, i.global.name);
        L.LLVMSetAlignment(v, i.global.type.bits / 8);
        // A setting's value is the loader's, not the initializer's: never fold it (C's `const volatile`).
        if (i.global.section === ".rodata") L.LLVMSetVolatile(v, 1);
        return this.define(i.dst.id, v);
      }
      case "global_store": {
        const s = L.LLVMBuildStore(b, this.operand(i.value), this.globals.get(i.global)!);
        L.LLVMSetAlignment(s, i.global.type.bits / 8);
        return;
      }
      case "atomic": {
        const value = this.operand(i.value);
        let p = this.operand(i.ptr);
        if (i.offset !== 0) p = L.LLVMBuildGEP2(b, t.i8, p, [t.constI64(BigInt(i.offset))], 1, "");
        p = L.LLVMBuildBitCast(b, p, L.LLVMPointerType(L.LLVMTypeOf(value), 0), "");
        const seq = AtomicOrdering.SequentiallyConsistent;
        let old: LLVMValueRef;
        if (i.kind === "cmpxchg") {
          old = L.LLVMBuildExtractValue(b, L.LLVMBuildAtomicCmpXchg(b, p, this.operand(i.expected!), value, seq, seq, 0), 0, "");
        } else {
          const rmw = { add: AtomicRMWBinOp.Add, and: AtomicRMWBinOp.And, or: AtomicRMWBinOp.Or, xor: AtomicRMWBinOp.Xor, xchg: AtomicRMWBinOp.Xchg }[i.kind];
          old = L.LLVMBuildAtomicRMW(b, rmw, p, value, seq, 0);
        }
        if (i.dst) this.define(i.dst.id, old);
        return;
      }
      case "cast":
        return this.define(i.dst.id, this.cast(this.operand(i.src), i.src.type, i.dst.type as IntType));
      case "bswap": {
        const type = t.of(i.dst.type);
        const { fn, type: fnType } = L.intrinsic(this.llmod, "llvm.bswap", [type]);
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, fn, [this.operand(i.src)], 1, ""));
      }
      case "ptr_add": {
        const moved = L.LLVMBuildGEP2(b, t.i8, this.operand(i.base), [this.operand(i.offset)], 1, "");
        if (i.offset.kind === "const") return this.define(i.dst.id, moved);
        // A pointer moved by a variable is a new base for the verifier (a new register id);
        // the analysis proves ranges per base. An opaque passthrough stops LLVM from
        // re-associating later constant offsets into the variable, which would give the
        // checks and the accesses different bases.
        const { fn, type } = L.intrinsic(this.llmod, "llvm.bpf.passthrough", [t.ptr, t.ptr]);
        const seq = L.LLVMConstInt(t.i32, BigInt(i.dst.id), 0);
        return this.define(i.dst.id, L.LLVMBuildCall2(b, type, fn, [seq, moved], 2, ""));
      }
      case "load": {
        const type = t.of(i.dst.type);
        let p = this.operand(i.ptr);
        if (i.core) p = this.kernelField(p, i.core, i.offset, type);
        else if (i.offset !== 0) p = L.LLVMBuildGEP2(b, t.i8, p, [t.constI64(BigInt(i.offset))], 1, "");
        p = L.LLVMBuildBitCast(b, p, L.LLVMPointerType(type, 0), "");
        const v = L.LLVMBuildLoad2(b, type, p, "");
        // Natural alignment, like clang's header-struct fields: the BPF backend would split an align-1 load into bytes.
        L.LLVMSetAlignment(v, accessAlign(i));
        const from = this.program.defs.get(i.ptr.id);
        // (Sockets only: bpf_kptr_xchg's object is the program's struct, read as any other.)
        if (from?.op === "call" && from.helper.acquires && !from.kptr) {
          // The kernel rewrites a socket's field reads per instruction and refuses one instruction
          // reading through two pointer types (sock and sock_common), which LLVM's sinking and
          // tail merging make of like reads in two branches (clang's too). An empty asm with a
          // unique immediate (`asm volatile("" :: "i"(n))`: no code, and an operand LLVM may not
          // merge) ends every such read's tail differently; its text is empty so that the BPF
          // backend gives it no line_info record, which would share the next instruction's offset.
          const asmType = L.LLVMFunctionType(L.LLVMVoidTypeInContext(t.context), [t.i32], 1, 0);
          const asm = L.LLVMGetInlineAsm(asmType, "", 0, "i", 1, 1, 0, 0, 0);
          L.LLVMBuildCall2(b, asmType, asm, [L.LLVMConstInt(t.i32, BigInt(++this.socketReads), 0)], 1, "");
        }
        return this.define(i.dst.id, v);
      }
      case "store": {
        const value = this.operand(i.value);
        const type = L.LLVMTypeOf(value);
        let p = this.operand(i.ptr);
        if (i.core) p = this.kernelField(p, i.core, i.offset, type);
        else if (i.offset !== 0) p = L.LLVMBuildGEP2(b, t.i8, p, [t.constI64(BigInt(i.offset))], 1, "");
        p = L.LLVMBuildBitCast(b, p, L.LLVMPointerType(type, 0), "");
        L.LLVMSetAlignment(L.LLVMBuildStore(b, value, p), accessAlign(i));
        return;
      }
      case "call": {
        // A task (PTR_TO_BTF_ID) is carried as the 64-bit register it is.
        const params = i.helper.params.map((p) => (p.kind === "int" || p.kind === "size" || p.kind === "sizeOfType" ? t.of(p.type) : p.kind === "task" ? t.i64 : t.ptr));
        const fnType = L.LLVMFunctionType(t.of(i.helper.returns), params, params.length, 0);
        const callee = L.LLVMConstIntToPtr(t.constI64(BigInt(i.helper.id)), L.LLVMPointerType(fnType, 0));
        // A constant where memory or an object is expected is NULL (bpf_csum_diff's absent buffer, bpf_kptr_xchg's empty field).
        const args = i.args.map((a, k) => (["mem", "object"].includes(i.helper.params[k]!.kind) && a.kind === "const" ? L.LLVMConstPointerNull(t.ptr) : this.operand(a)));
        // A ring buffer passed as &map, which libbpf relocates (bpf_ringbuf_reserve_dynptr).
        if (i.map) args[i.helper.params.findIndex((p) => p.kind === "ringbuf")] = L.LLVMBuildBitCast(b, this.maps.get(i.map)!, t.ptr, "");
        return this.define(i.dst.id, L.LLVMBuildCall2(b, fnType, callee, args, args.length, ""));
      }
      case "printk": {
        // A constant format in .rodata, as clang's bpf_printk does; libbpf makes it a read-only map.
        const bytes = Buffer.byteLength(i.format) + 1;
        const fmt = L.LLVMAddGlobal(this.llmod, L.LLVMArrayType(t.i8, bytes), `__tsxdp_fmt_${this.program.name}_${this.formats++}`);
        L.LLVMSetInitializer(fmt, L.LLVMConstStringInContext(t.context, i.format, bytes - 1, 0));
        L.LLVMSetGlobalConstant(fmt, 1);
        L.LLVMSetLinkage(fmt, Linkage.Private);
        L.LLVMSetSection(fmt, ".rodata");
        L.LLVMSetAlignment(fmt, 1);
        const fmtArgs = [L.LLVMBuildBitCast(b, fmt, t.ptr, ""), L.LLVMConstInt(t.i32, BigInt(bytes), 0)];
        const values = this.slots.get(i)?.key;
        if (values) {
          // bpf_trace_vprintk (177): long (fmt, u32 fmt_size, const u64 *data, u32 data_len), as C's bpf_printk does past three values.
          i.args.forEach((a, k) => {
            const p = L.LLVMBuildGEP2(b, t.i64, L.LLVMBuildBitCast(b, values, L.LLVMPointerType(t.i64, 0), ""), [t.constI64(BigInt(k))], 1, "");
            L.LLVMSetAlignment(L.LLVMBuildStore(b, this.operand(a), p), 8);
          });
          const fnType = L.LLVMFunctionType(t.i64, [t.ptr, t.i32, t.ptr, t.i32], 4, 0);
          const args = [...fmtArgs, L.LLVMBuildBitCast(b, values, t.ptr, ""), L.LLVMConstInt(t.i32, BigInt(8 * i.args.length), 0)];
          L.LLVMBuildCall2(b, fnType, helper(L, t, 177, fnType), args, 4, "");
          return;
        }
        const params = [t.ptr, t.i32, ...i.args.map(() => t.i64)];
        const fnType = L.LLVMFunctionType(t.i64, params, params.length, 0);
        const callee = L.LLVMConstIntToPtr(t.constI64(6n), L.LLVMPointerType(fnType, 0));
        const args = [...fmtArgs, ...i.args.map((a) => this.operand(a))];
        L.LLVMBuildCall2(b, fnType, callee, args, args.length, "");
        return;
      }
      case "local_get":
        return this.define(i.dst.id, L.LLVMBuildLoad2(b, t.of(i.local.type), this.locals.get(i.local.id)!, ""));
      case "local_set":
        L.LLVMBuildStore(b, this.operand(i.value), this.locals.get(i.local.id)!);
        return;
    }
  }

  /** The pointer a map helper gets for a key or value: a local struct's own memory, or the slot written. */
  private passSlot(slot: LLVMValueRef, v: Operand | StructLiteral): LLVMValueRef {
    const { L, b, t } = this;
    if (v.kind === "struct" && v.source) return L.LLVMBuildBitCast(b, this.operand(v.source), t.ptr, "");
    this.storeSlot(slot, v);
    return L.LLVMBuildBitCast(b, slot, t.ptr, "");
  }

  /**
   * A map key or value into its stack slot. A struct is zeroed first, padding
   * included: the kernel hashes and compares every byte of a key.
   */
  private storeSlot(slot: LLVMValueRef, v: Operand | StructLiteral): void {
    const { L, b, t } = this;
    if (v.kind !== "struct") {
      L.LLVMBuildStore(b, this.operand(v), slot);
      return;
    }
    if (v.source) {
      // A local struct's bytes, padding included, copied as they are.
      for (let k = 0; k < v.layout.size; k++) {
        const from = L.LLVMBuildGEP2(b, t.i8, this.operand(v.source), [t.constI64(BigInt(k))], 1, "");
        const to = L.LLVMBuildGEP2(b, t.i8, L.LLVMBuildBitCast(b, slot, t.ptr, ""), [t.constI64(BigInt(k))], 1, "");
        L.LLVMBuildStore(b, L.LLVMBuildLoad2(b, t.i8, from, ""), to);
      }
      return;
    }
    const at = (offset: number, type: ReturnType<LLVMC["LLVMInt8TypeInContext"]>) => {
      const p = L.LLVMBuildGEP2(b, t.i8, L.LLVMBuildBitCast(b, slot, t.ptr, ""), [t.constI64(BigInt(offset))], 1, "");
      return L.LLVMBuildBitCast(b, p, L.LLVMPointerType(type, 0), "");
    };
    let offset = 0;
    for (const [size, type] of [
      [8, t.i64],
      [4, t.i32],
      [2, t.i16],
      [1, t.i8],
    ] as const) {
      for (; offset + size <= v.layout.size; offset += size) L.LLVMSetAlignment(L.LLVMBuildStore(b, L.LLVMConstInt(type, 0n, 0), at(offset, type)), size);
    }
    for (const s of v.stores) {
      const value = this.operand(s.value);
      const store = L.LLVMBuildStore(b, value, at(s.offset, L.LLVMTypeOf(value)));
      L.LLVMSetAlignment(store, 1);
    }
  }

  private binary(kind: string, a: LLVMValueRef, c: LLVMValueRef): LLVMValueRef {
    const { L, b } = this;
    switch (kind) {
      case "add":
        return L.LLVMBuildAdd(b, a, c, "");
      case "sub":
        return L.LLVMBuildSub(b, a, c, "");
      case "mul":
        return L.LLVMBuildMul(b, a, c, "");
      case "udiv":
      case "sdiv":
      case "urem":
      case "srem":
        return this.division(kind, a, c);
      case "and":
        return L.LLVMBuildAnd(b, a, c, "");
      case "or":
        return L.LLVMBuildOr(b, a, c, "");
      case "xor":
        return L.LLVMBuildXor(b, a, c, "");
      // BPF masks a shift amount to the width (ISA: & 63, & 31), and so does the
      // dialect for every width; LLVM calls a too-wide shift poison.
      case "shl":
        return L.LLVMBuildShl(b, a, this.shiftAmount(a, c), "");
      case "lshr":
        return L.LLVMBuildLShr(b, a, this.shiftAmount(a, c), "");
      case "ashr":
        return L.LLVMBuildAShr(b, a, this.shiftAmount(a, c), "");
      default:
        throw new InternalError(`unknown binary operation ${kind}`);
    }
  }

  private shiftAmount(a: LLVMValueRef, c: LLVMValueRef): LLVMValueRef {
    const { L, b } = this;
    const ty = L.LLVMTypeOf(a);
    return L.LLVMBuildAnd(b, c, L.LLVMConstInt(ty, BigInt(L.LLVMGetIntTypeWidth(ty) - 1), 0), "");
  }

  /**
   * Division with BPF's defined results where LLVM's are undefined: x / 0 is
   * 0, x % 0 is x, and signed x / -1 is -x (wrapping), x % -1 is 0. LLVM
   * may assume a divisor is never 0 (or a signed division never overflows)
   * and delete a later `b === 0` test; the selects keep every case defined
   * and fold away when LLVM knows the divisor.
   */
  private division(kind: string, a: LLVMValueRef, d: LLVMValueRef): LLVMValueRef {
    const { L, b } = this;
    const ty = L.LLVMTypeOf(a);
    const zero = L.LLVMConstInt(ty, 0n, 0);
    const one = L.LLVMConstInt(ty, 1n, 0);
    const isZero = L.LLVMBuildICmp(b, IntPredicate.EQ, d, zero, "");
    if (kind === "udiv" || kind === "urem") {
      const safe = L.LLVMBuildSelect(b, isZero, one, d, "");
      const r = kind === "udiv" ? L.LLVMBuildUDiv(b, a, safe, "") : L.LLVMBuildURem(b, a, safe, "");
      return L.LLVMBuildSelect(b, isZero, kind === "udiv" ? zero : a, r, "");
    }
    const isMinusOne = L.LLVMBuildICmp(b, IntPredicate.EQ, d, L.LLVMConstAllOnes(ty), "");
    const special = L.LLVMBuildOr(b, isZero, isMinusOne, "");
    const safe = L.LLVMBuildSelect(b, special, one, d, "");
    if (kind === "sdiv") {
      const q = L.LLVMBuildSDiv(b, a, safe, "");
      return L.LLVMBuildSelect(b, isZero, zero, L.LLVMBuildSelect(b, isMinusOne, L.LLVMBuildNeg(b, a, ""), q, ""), "");
    }
    const r = L.LLVMBuildSRem(b, a, safe, "");
    return L.LLVMBuildSelect(b, isZero, a, L.LLVMBuildSelect(b, isMinusOne, zero, r, ""), "");
  }

  private cast(v: LLVMValueRef, from: ValueType, to: IntType): LLVMValueRef {
    const { L, b, t } = this;
    const target = t.of(to);
    if (from.kind === "bool") return L.LLVMBuildZExt(b, v, target, "");
    if (from.kind !== "int") throw new InternalError(`cannot convert ${from.kind} to an integer`);
    if (from.bits === to.bits) return v;
    if (from.bits > to.bits) return L.LLVMBuildTrunc(b, v, target, "");
    return from.signed ? L.LLVMBuildSExt(b, v, target, "") : L.LLVMBuildZExt(b, v, target, "");
  }

  private terminator(block: Block): void {
    const { L, b } = this;
    const term = block.term;
    if (!term) throw new InternalError(`block b${block.id} has no terminator`);
    this.debug.at(b, term.node);
    switch (term.op) {
      case "br":
        L.LLVMBuildBr(b, this.blocks.get(term.target)!);
        return;
      case "cond_br":
        L.LLVMBuildCondBr(b, this.operand(term.cond), this.blocks.get(term.then)!, this.blocks.get(term.else)!);
        return;
      case "ret":
        if (this.program.subprogram) {
          if (this.program.subprogram.returns) L.LLVMBuildStore(b, this.operand(term.value), this.retval);
        } else L.LLVMBuildStore(b, this.t.castToI32(b, this.operand(term.value), term.value.type), this.retval);
        L.LLVMBuildBr(b, this.exit);
        return;
    }
  }
}

