/**
 * The LLVM C API, bound in-process with koffi, plus the few helpers that
 * make it safe to use from TypeScript.
 *
 * `llvm()` returns one object per loaded library whose properties are the C
 * functions under their C names (`L.LLVMBuildAdd(b, x, y, "")`) and the
 * helpers (`L.emitToMemory(…)`). Handles are opaque, branded per C handle
 * type so that a TypeRef cannot be passed where a ValueRef is expected; at
 * run time they are koffi's BigInt pointers, and NULL comes back as `null`.
 *
 * Invariants:
 * - Every `char *` that LLVM allocates is declared as an opaque
 *   `LLVMMessageRef`/`LLVMErrorMessageRef` (never as a JS string, which would
 *   leak it) and is decoded and freed by the helpers in this file, nowhere
 *   else. Callers that use the raw functions must hand such pointers to
 *   `takeMessage`/`takeErrorMessage`.
 * - Only calls that exist in every LLVM from 14 on are required; calls that
 *   appeared or disappeared in that range are `| undefined` and the helpers
 *   pick whichever the loaded library has. Builder calls are the typed `…2`
 *   forms, which work with LLVM 14's typed pointers and with opaque pointers.
 * - C `LLVMBool` parameters take 0 or 1: koffi refuses JS booleans for ints.
 * - `(const char *, size_t)` pairs take byte lengths (Buffer.byteLength).
 */
import koffi from "koffi";
import type { LibraryHandle } from "koffi";
import { findLLVM, openLibrary } from "./find-llvm";
import type { FoundLLVM } from "./find-llvm";

export { findLLVM, LLVMNotFoundError } from "./find-llvm";
export type { FoundLLVM, FindLLVMOptions } from "./find-llvm";

// ---------------------------------------------------------------------------
// Handles

declare const handleKind: unique symbol;
/** An opaque LLVM handle of C type K. The brand exists only for the type checker. */
export type Handle<K extends string> = { readonly [handleKind]: K };
/** Any LLVM handle. */
export type Ref = Handle<string>;

export type LLVMContextRef = Handle<"LLVMContextRef">;
export type LLVMModuleRef = Handle<"LLVMModuleRef">;
export type LLVMTypeRef = Handle<"LLVMTypeRef">;
export type LLVMValueRef = Handle<"LLVMValueRef">;
export type LLVMBasicBlockRef = Handle<"LLVMBasicBlockRef">;
export type LLVMBuilderRef = Handle<"LLVMBuilderRef">;
export type LLVMMetadataRef = Handle<"LLVMMetadataRef">;
export type LLVMDIBuilderRef = Handle<"LLVMDIBuilderRef">;
export type LLVMAttributeRef = Handle<"LLVMAttributeRef">;
export type LLVMTargetRef = Handle<"LLVMTargetRef">;
export type LLVMTargetMachineRef = Handle<"LLVMTargetMachineRef">;
export type LLVMTargetDataRef = Handle<"LLVMTargetDataRef">;
export type LLVMMemoryBufferRef = Handle<"LLVMMemoryBufferRef">;
export type LLVMPassBuilderOptionsRef = Handle<"LLVMPassBuilderOptionsRef">;
export type LLVMErrorRef = Handle<"LLVMErrorRef">;
/** A debug record (LLVM ≥ 19's replacement for llvm.dbg.* intrinsic calls). */
export type LLVMDbgRecordRef = Handle<"LLVMDbgRecordRef">;
/** A `char *` that LLVM allocated: free it with takeMessage (LLVMDisposeMessage). */
export type LLVMMessageRef = Handle<"LLVMMessage">;
/** A `char *` from LLVMGetErrorMessage: free it with LLVMDisposeErrorMessage. */
export type LLVMErrorMessageRef = Handle<"LLVMErrorMessage">;
/** A raw pointer into a memory buffer (LLVMGetBufferStart). */
export type LLVMBufferPointer = Handle<"const char *">;

/** C LLVMBool as a parameter. */
export type Bool = 0 | 1;
/** A C out-parameter: pass a one-element array, read element 0 after the call. */
export type Out<T> = [T | null];
/** A `const char *` that comes with an explicit byte length; NULL is allowed with length 0. */
type CStr = string | null;
/** 64-bit integers: koffi accepts both and returns a bigint only when a number would lose precision. */
type U64 = number | bigint;

// ---------------------------------------------------------------------------
// Enumerations (values from llvm-c; stable from LLVM 14 through 21)

/** The largest frame LLVM >= 18 is allowed to lay out, for the object stage to measure (BPF offsets are 16-bit). */
const MAX_MEASURED_STACK = 16384;

/**
 * The first LLVM whose BPF backend knows each ISA version (`-mcpu`). An
 * unknown -mcpu is not an error for LLVM (it warns on stderr and falls back
 * to generic), so the check has to happen on our side.
 */
export const BPF_CPU_SINCE: Readonly<Record<BpfCpu, number>> = { v1: 0, v2: 0, v3: 9, v4: 18 };

export const IntPredicate = { EQ: 32, NE: 33, UGT: 34, UGE: 35, ULT: 36, ULE: 37, SGT: 38, SGE: 39, SLT: 40, SLE: 41 } as const;
export type IntPredicate = (typeof IntPredicate)[keyof typeof IntPredicate];

export const Linkage = { External: 0, AvailableExternally: 1, LinkOnceAny: 2, LinkOnceODR: 3, WeakAny: 5, WeakODR: 6, Appending: 7, Internal: 8, Private: 9, ExternalWeak: 12, Common: 14 } as const;
export type Linkage = (typeof Linkage)[keyof typeof Linkage];

export const Visibility = { Default: 0, Hidden: 1, Protected: 2 } as const;
export type Visibility = (typeof Visibility)[keyof typeof Visibility];

export const UnnamedAddr = { None: 0, Local: 1, Global: 2 } as const;
export type UnnamedAddr = (typeof UnnamedAddr)[keyof typeof UnnamedAddr];

export const AtomicOrdering = { NotAtomic: 0, Unordered: 1, Monotonic: 2, Acquire: 4, Release: 5, AcquireRelease: 6, SequentiallyConsistent: 7 } as const;
export type AtomicOrdering = (typeof AtomicOrdering)[keyof typeof AtomicOrdering];

export const AtomicRMWBinOp = { Xchg: 0, Add: 1, Sub: 2, And: 3, Nand: 4, Or: 5, Xor: 6, Max: 7, Min: 8, UMax: 9, UMin: 10 } as const;
export type AtomicRMWBinOp = (typeof AtomicRMWBinOp)[keyof typeof AtomicRMWBinOp];

/** The kinds this compiler meets; the C enum has more (floats, vectors, …). */
export const TypeKind = { Void: 0, Label: 7, Integer: 8, Function: 9, Struct: 10, Array: 11, Pointer: 12, Vector: 13, Metadata: 14 } as const;

export const ModuleFlagBehavior = { Error: 0, Warning: 1, Require: 2, Override: 3, Append: 4, AppendUnique: 5 } as const;
export type ModuleFlagBehavior = (typeof ModuleFlagBehavior)[keyof typeof ModuleFlagBehavior];

export const VerifierFailureAction = { AbortProcess: 0, PrintMessage: 1, ReturnStatus: 2 } as const;
export type VerifierFailureAction = (typeof VerifierFailureAction)[keyof typeof VerifierFailureAction];

export const CodeGenOptLevel = { None: 0, Less: 1, Default: 2, Aggressive: 3 } as const;
export type CodeGenOptLevel = (typeof CodeGenOptLevel)[keyof typeof CodeGenOptLevel];
export const RelocMode = { Default: 0, Static: 1, PIC: 2 } as const;
export type RelocMode = (typeof RelocMode)[keyof typeof RelocMode];
export const CodeModel = { Default: 0, JITDefault: 1, Tiny: 2, Small: 3, Kernel: 4, Medium: 5, Large: 6 } as const;
export type CodeModel = (typeof CodeModel)[keyof typeof CodeModel];
export const CodeGenFileType = { Assembly: 0, Object: 1 } as const;
export type CodeGenFileType = (typeof CodeGenFileType)[keyof typeof CodeGenFileType];

/** LLVMAttributeIndex: 0 is the return value, 1..N the parameters. */
export const AttributeIndex = { Return: 0, Function: 0xffffffff } as const;

export const CallConv = { C: 0, Fast: 8 } as const;

/** Only the languages whose position in the C enum never moved. */
export const DWARFSourceLanguage = { C89: 0, C: 1, C99: 11, C11: 28 } as const;
export type DWARFSourceLanguage = (typeof DWARFSourceLanguage)[keyof typeof DWARFSourceLanguage];

export const DWARFEmissionKind = { None: 0, Full: 1, LineTablesOnly: 2 } as const;
export type DWARFEmissionKind = (typeof DWARFEmissionKind)[keyof typeof DWARFEmissionKind];

/** LLVMDIFlags bits used for BPF programs (the C enum has many more). */
export const DIFlags = { Zero: 0, Private: 1, Protected: 2, Public: 3, FwdDecl: 1 << 2, Artificial: 1 << 6, Prototyped: 1 << 8, BitField: 1 << 19, NoReturn: 1 << 20 } as const;

/** DW_ATE_* encodings for LLVMDIBuilderCreateBasicType. */
export const DWARFTypeEncoding = { address: 0x01, boolean: 0x02, float: 0x04, signed: 0x05, signed_char: 0x06, unsigned: 0x07, unsigned_char: 0x08 } as const;

/** DW_TAG_* values taken by LLVMDIBuilderCreateQualifiedType and friends. */
export const DWTag = { pointer_type: 0x0f, structure_type: 0x13, union_type: 0x17, typedef: 0x16, const_type: 0x26, volatile_type: 0x35, restrict_type: 0x37, enumeration_type: 0x04 } as const;

export const BPF_TRIPLE = "bpfel";
export type BpfCpu = "v1" | "v2" | "v3" | "v4";

// ---------------------------------------------------------------------------
// The C functions present in every LLVM from 14 on

export interface LLVMCFunctions {
  // context and module
  LLVMContextCreate(): LLVMContextRef;
  LLVMContextDispose(C: LLVMContextRef): void;
  LLVMModuleCreateWithNameInContext(ModuleID: string, C: LLVMContextRef): LLVMModuleRef;
  LLVMDisposeModule(M: LLVMModuleRef): void;
  LLVMGetModuleContext(M: LLVMModuleRef): LLVMContextRef;
  LLVMSetTarget(M: LLVMModuleRef, Triple: string): void;
  LLVMSetDataLayout(M: LLVMModuleRef, DataLayoutStr: string): void;
  LLVMSetModuleDataLayout(M: LLVMModuleRef, DL: LLVMTargetDataRef): void;
  LLVMSetSourceFileName(M: LLVMModuleRef, Name: CStr, Len: number): void;
  LLVMAddModuleFlag(M: LLVMModuleRef, Behavior: ModuleFlagBehavior, Key: CStr, KeyLen: number, Val: LLVMMetadataRef): void;
  LLVMAddNamedMetadataOperand(M: LLVMModuleRef, Name: string, Val: LLVMValueRef): void;
  LLVMSetModuleInlineAsm2(M: LLVMModuleRef, Asm: CStr, Len: number): void;
  LLVMGetInlineAsm(Ty: LLVMTypeRef, AsmString: string, AsmStringSize: number, Constraints: string, ConstraintsSize: number, HasSideEffects: Bool, IsAlignStack: Bool, Dialect: number, CanThrow: Bool): LLVMValueRef;
  LLVMPrintModuleToString(M: LLVMModuleRef): LLVMMessageRef;
  LLVMPrintValueToString(Val: LLVMValueRef): LLVMMessageRef;
  LLVMPrintTypeToString(Ty: LLVMTypeRef): LLVMMessageRef;
  LLVMVerifyModule(M: LLVMModuleRef, Action: VerifierFailureAction, OutMessage: Out<LLVMMessageRef>): number;
  LLVMVerifyFunction(Fn: LLVMValueRef, Action: VerifierFailureAction): number;
  LLVMDisposeMessage(Message: LLVMMessageRef | null): void;

  // target data (layout queries)
  LLVMCreateTargetDataLayout(T: LLVMTargetMachineRef): LLVMTargetDataRef;
  LLVMCopyStringRepOfTargetData(TD: LLVMTargetDataRef): LLVMMessageRef;
  LLVMDisposeTargetData(TD: LLVMTargetDataRef): void;
  LLVMABISizeOfType(TD: LLVMTargetDataRef, Ty: LLVMTypeRef): U64;
  LLVMABIAlignmentOfType(TD: LLVMTargetDataRef, Ty: LLVMTypeRef): number;
  LLVMStoreSizeOfType(TD: LLVMTargetDataRef, Ty: LLVMTypeRef): U64;
  LLVMSizeOfTypeInBits(TD: LLVMTargetDataRef, Ty: LLVMTypeRef): U64;
  LLVMOffsetOfElement(TD: LLVMTargetDataRef, StructTy: LLVMTypeRef, Element: number): U64;

  // types
  LLVMInt1TypeInContext(C: LLVMContextRef): LLVMTypeRef;
  LLVMInt8TypeInContext(C: LLVMContextRef): LLVMTypeRef;
  LLVMInt16TypeInContext(C: LLVMContextRef): LLVMTypeRef;
  LLVMInt32TypeInContext(C: LLVMContextRef): LLVMTypeRef;
  LLVMInt64TypeInContext(C: LLVMContextRef): LLVMTypeRef;
  LLVMIntTypeInContext(C: LLVMContextRef, NumBits: number): LLVMTypeRef;
  LLVMVoidTypeInContext(C: LLVMContextRef): LLVMTypeRef;
  LLVMPointerType(ElementType: LLVMTypeRef, AddressSpace: number): LLVMTypeRef;
  LLVMArrayType(ElementType: LLVMTypeRef, ElementCount: number): LLVMTypeRef;
  LLVMStructTypeInContext(C: LLVMContextRef, ElementTypes: readonly LLVMTypeRef[] | null, ElementCount: number, Packed: Bool): LLVMTypeRef;
  LLVMStructCreateNamed(C: LLVMContextRef, Name: string): LLVMTypeRef;
  LLVMStructSetBody(StructTy: LLVMTypeRef, ElementTypes: readonly LLVMTypeRef[] | null, ElementCount: number, Packed: Bool): void;
  LLVMGetTypeByName2(C: LLVMContextRef, Name: string): LLVMTypeRef | null;
  LLVMCountStructElementTypes(StructTy: LLVMTypeRef): number;
  LLVMStructGetTypeAtIndex(StructTy: LLVMTypeRef, i: number): LLVMTypeRef;
  LLVMFunctionType(ReturnType: LLVMTypeRef, ParamTypes: readonly LLVMTypeRef[] | null, ParamCount: number, IsVarArg: Bool): LLVMTypeRef;
  LLVMGetReturnType(FunctionTy: LLVMTypeRef): LLVMTypeRef;
  LLVMCountParamTypes(FunctionTy: LLVMTypeRef): number;
  LLVMTypeOf(Val: LLVMValueRef): LLVMTypeRef;
  LLVMGetTypeKind(Ty: LLVMTypeRef): number;
  LLVMGetIntTypeWidth(IntegerTy: LLVMTypeRef): number;
  LLVMGetElementType(Ty: LLVMTypeRef): LLVMTypeRef;
  LLVMGetArrayLength(ArrayTy: LLVMTypeRef): number;
  LLVMGetTypeContext(Ty: LLVMTypeRef): LLVMContextRef;
  LLVMGlobalGetValueType(Global: LLVMValueRef): LLVMTypeRef;
  LLVMGetAllocatedType(Alloca: LLVMValueRef): LLVMTypeRef;

  // constants
  LLVMConstInt(IntTy: LLVMTypeRef, N: U64, SignExtend: Bool): LLVMValueRef;
  LLVMConstNull(Ty: LLVMTypeRef): LLVMValueRef;
  LLVMConstAllOnes(Ty: LLVMTypeRef): LLVMValueRef;
  LLVMConstPointerNull(Ty: LLVMTypeRef): LLVMValueRef;
  LLVMConstStringInContext(C: LLVMContextRef, Str: CStr, Length: number, DontNullTerminate: Bool): LLVMValueRef;
  LLVMConstArray(ElementTy: LLVMTypeRef, ConstantVals: readonly LLVMValueRef[] | null, Length: number): LLVMValueRef;
  LLVMConstStructInContext(C: LLVMContextRef, ConstantVals: readonly LLVMValueRef[] | null, Count: number, Packed: Bool): LLVMValueRef;
  LLVMConstNamedStruct(StructTy: LLVMTypeRef, ConstantVals: readonly LLVMValueRef[] | null, Count: number): LLVMValueRef;
  LLVMConstIntGetZExtValue(ConstantVal: LLVMValueRef): U64;
  LLVMConstIntGetSExtValue(ConstantVal: LLVMValueRef): U64;
  LLVMConstIntToPtr(ConstantVal: LLVMValueRef, ToType: LLVMTypeRef): LLVMValueRef;
  LLVMIsConstant(Val: LLVMValueRef): number;
  LLVMIsAConstantInt(Val: LLVMValueRef): LLVMValueRef | null;
  LLVMGetUndef(Ty: LLVMTypeRef): LLVMValueRef;
  LLVMGetPoison(Ty: LLVMTypeRef): LLVMValueRef;

  // globals and functions
  LLVMAddFunction(M: LLVMModuleRef, Name: string, FunctionTy: LLVMTypeRef): LLVMValueRef;
  LLVMDeleteFunction(Fn: LLVMValueRef): void;
  LLVMAddGlobal(M: LLVMModuleRef, Ty: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMGetNamedFunction(M: LLVMModuleRef, Name: string): LLVMValueRef | null;
  LLVMGetNamedGlobal(M: LLVMModuleRef, Name: string): LLVMValueRef | null;
  LLVMGetGlobalParent(Global: LLVMValueRef): LLVMModuleRef;
  LLVMIsDeclaration(Global: LLVMValueRef): number;
  LLVMSetInitializer(GlobalVar: LLVMValueRef, ConstantVal: LLVMValueRef): void;
  LLVMGetInitializer(GlobalVar: LLVMValueRef): LLVMValueRef | null;
  LLVMSetSection(Global: LLVMValueRef, Section: string): void;
  LLVMSetLinkage(Global: LLVMValueRef, Linkage: Linkage): void;
  LLVMGetLinkage(Global: LLVMValueRef): number;
  LLVMSetVisibility(Global: LLVMValueRef, Viz: Visibility): void;
  LLVMSetUnnamedAddress(Global: LLVMValueRef, UnnamedAddr: UnnamedAddr): void;
  LLVMSetAlignment(V: LLVMValueRef, Bytes: number): void;
  LLVMGetAlignment(V: LLVMValueRef): number;
  LLVMSetGlobalConstant(GlobalVar: LLVMValueRef, IsConstant: Bool): void;
  LLVMSetFunctionCallConv(Fn: LLVMValueRef, CC: number): void;
  LLVMCountParams(Fn: LLVMValueRef): number;
  LLVMGetParam(Fn: LLVMValueRef, Index: number): LLVMValueRef;
  LLVMSetValueName2(Val: LLVMValueRef, Name: CStr, NameLen: number): void;
  LLVMGetValueName2(Val: LLVMValueRef, Length: Out<number>): string;

  // attributes
  LLVMGetEnumAttributeKindForName(Name: CStr, SLen: number): number;
  LLVMCreateEnumAttribute(C: LLVMContextRef, KindID: number, Val: U64): LLVMAttributeRef;
  LLVMCreateTypeAttribute(C: LLVMContextRef, KindID: number, type_ref: LLVMTypeRef): LLVMAttributeRef;
  LLVMCreateStringAttribute(C: LLVMContextRef, K: CStr, KLength: number, V: CStr, VLength: number): LLVMAttributeRef;
  LLVMAddAttributeAtIndex(F: LLVMValueRef, Idx: number, A: LLVMAttributeRef): void;
  LLVMAddCallSiteAttribute(C: LLVMValueRef, Idx: number, A: LLVMAttributeRef): void;

  // basic blocks and instructions
  LLVMAppendBasicBlockInContext(C: LLVMContextRef, Fn: LLVMValueRef, Name: string): LLVMBasicBlockRef;
  LLVMCreateBasicBlockInContext(C: LLVMContextRef, Name: string): LLVMBasicBlockRef;
  LLVMAppendExistingBasicBlock(Fn: LLVMValueRef, BB: LLVMBasicBlockRef): void;
  LLVMDeleteBasicBlock(BB: LLVMBasicBlockRef): void;
  LLVMGetBasicBlockParent(BB: LLVMBasicBlockRef): LLVMValueRef;
  LLVMGetBasicBlockTerminator(BB: LLVMBasicBlockRef): LLVMValueRef | null;
  LLVMGetEntryBasicBlock(Fn: LLVMValueRef): LLVMBasicBlockRef;
  LLVMGetFirstBasicBlock(Fn: LLVMValueRef): LLVMBasicBlockRef | null;
  LLVMGetNextBasicBlock(BB: LLVMBasicBlockRef): LLVMBasicBlockRef | null;
  LLVMBasicBlockAsValue(BB: LLVMBasicBlockRef): LLVMValueRef;
  LLVMValueAsBasicBlock(Val: LLVMValueRef): LLVMBasicBlockRef;
  LLVMGetFirstInstruction(BB: LLVMBasicBlockRef): LLVMValueRef | null;
  LLVMGetLastInstruction(BB: LLVMBasicBlockRef): LLVMValueRef | null;
  LLVMGetNextInstruction(Inst: LLVMValueRef): LLVMValueRef | null;
  LLVMGetInstructionParent(Inst: LLVMValueRef): LLVMBasicBlockRef | null;
  LLVMInstructionEraseFromParent(Inst: LLVMValueRef): void;

  // builder: position and control flow
  LLVMCreateBuilderInContext(C: LLVMContextRef): LLVMBuilderRef;
  LLVMDisposeBuilder(Builder: LLVMBuilderRef): void;
  LLVMPositionBuilderAtEnd(Builder: LLVMBuilderRef, Block: LLVMBasicBlockRef): void;
  LLVMPositionBuilderBefore(Builder: LLVMBuilderRef, Instr: LLVMValueRef): void;
  LLVMGetInsertBlock(Builder: LLVMBuilderRef): LLVMBasicBlockRef | null;
  LLVMBuildRet(B: LLVMBuilderRef, V: LLVMValueRef): LLVMValueRef;
  LLVMBuildRetVoid(B: LLVMBuilderRef): LLVMValueRef;
  LLVMBuildBr(B: LLVMBuilderRef, Dest: LLVMBasicBlockRef): LLVMValueRef;
  LLVMBuildCondBr(B: LLVMBuilderRef, If: LLVMValueRef, Then: LLVMBasicBlockRef, Else: LLVMBasicBlockRef): LLVMValueRef;
  LLVMBuildSwitch(B: LLVMBuilderRef, V: LLVMValueRef, Else: LLVMBasicBlockRef, NumCases: number): LLVMValueRef;
  LLVMAddCase(Switch: LLVMValueRef, OnVal: LLVMValueRef, Dest: LLVMBasicBlockRef): void;
  LLVMBuildUnreachable(B: LLVMBuilderRef): LLVMValueRef;

  // builder: arithmetic and comparison
  LLVMBuildAdd(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildSub(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildMul(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildNUWAdd(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildNSWAdd(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildUDiv(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildSDiv(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildURem(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildSRem(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildAnd(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildOr(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildXor(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildShl(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildLShr(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildAShr(B: LLVMBuilderRef, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildNeg(B: LLVMBuilderRef, V: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildNot(B: LLVMBuilderRef, V: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildICmp(B: LLVMBuilderRef, Op: IntPredicate, LHS: LLVMValueRef, RHS: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildSelect(B: LLVMBuilderRef, If: LLVMValueRef, Then: LLVMValueRef, Else: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildPhi(B: LLVMBuilderRef, Ty: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMAddIncoming(PhiNode: LLVMValueRef, IncomingValues: readonly LLVMValueRef[], IncomingBlocks: readonly LLVMBasicBlockRef[], Count: number): void;

  // builder: memory
  LLVMBuildAlloca(B: LLVMBuilderRef, Ty: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildLoad2(B: LLVMBuilderRef, Ty: LLVMTypeRef, PointerVal: LLVMValueRef, Name: string): LLVMValueRef;
  LLVMBuildStore(B: LLVMBuilderRef, Val: LLVMValueRef, Ptr: LLVMValueRef): LLVMValueRef;
  LLVMBuildGEP2(B: LLVMBuilderRef, Ty: LLVMTypeRef, Pointer: LLVMValueRef, Indices: readonly LLVMValueRef[], NumIndices: number, Name: string): LLVMValueRef;
  LLVMBuildInBoundsGEP2(B: LLVMBuilderRef, Ty: LLVMTypeRef, Pointer: LLVMValueRef, Indices: readonly LLVMValueRef[], NumIndices: number, Name: string): LLVMValueRef;
  LLVMBuildStructGEP2(B: LLVMBuilderRef, Ty: LLVMTypeRef, Pointer: LLVMValueRef, Idx: number, Name: string): LLVMValueRef;
  LLVMBuildExtractValue(B: LLVMBuilderRef, AggVal: LLVMValueRef, Index: number, Name: string): LLVMValueRef;
  LLVMBuildInsertValue(B: LLVMBuilderRef, AggVal: LLVMValueRef, EltVal: LLVMValueRef, Index: number, Name: string): LLVMValueRef;
  LLVMBuildMemSet(B: LLVMBuilderRef, Ptr: LLVMValueRef, Val: LLVMValueRef, Len: LLVMValueRef, Align: number): LLVMValueRef;
  LLVMBuildMemCpy(B: LLVMBuilderRef, Dst: LLVMValueRef, DstAlign: number, Src: LLVMValueRef, SrcAlign: number, Size: LLVMValueRef): LLVMValueRef;
  LLVMSetVolatile(MemoryAccessInst: LLVMValueRef, IsVolatile: Bool): void;
  LLVMSetOrdering(MemoryAccessInst: LLVMValueRef, Ordering: AtomicOrdering): void;
  LLVMBuildAtomicRMW(B: LLVMBuilderRef, op: AtomicRMWBinOp, PTR: LLVMValueRef, Val: LLVMValueRef, ordering: AtomicOrdering, singleThread: Bool): LLVMValueRef;
  LLVMBuildAtomicCmpXchg(B: LLVMBuilderRef, Ptr: LLVMValueRef, Cmp: LLVMValueRef, New: LLVMValueRef, SuccessOrdering: AtomicOrdering, FailureOrdering: AtomicOrdering, SingleThread: Bool): LLVMValueRef;
  LLVMBuildFence(B: LLVMBuilderRef, ordering: AtomicOrdering, singleThread: Bool, Name: string): LLVMValueRef;

  // builder: casts and calls
  LLVMBuildTrunc(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildZExt(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildSExt(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildIntCast2(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, IsSigned: Bool, Name: string): LLVMValueRef;
  LLVMBuildIntToPtr(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildPtrToInt(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildBitCast(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildPointerCast(B: LLVMBuilderRef, Val: LLVMValueRef, DestTy: LLVMTypeRef, Name: string): LLVMValueRef;
  LLVMBuildCall2(B: LLVMBuilderRef, FnTy: LLVMTypeRef, Fn: LLVMValueRef, Args: readonly LLVMValueRef[] | null, NumArgs: number, Name: string): LLVMValueRef;

  // metadata
  LLVMGetMDKindIDInContext(C: LLVMContextRef, Name: CStr, SLen: number): number;
  LLVMMDStringInContext2(C: LLVMContextRef, Str: CStr, SLen: number): LLVMMetadataRef;
  LLVMMDNodeInContext2(C: LLVMContextRef, MDs: readonly (LLVMMetadataRef | null)[] | null, Count: number): LLVMMetadataRef;
  LLVMValueAsMetadata(Val: LLVMValueRef): LLVMMetadataRef;
  LLVMMetadataAsValue(C: LLVMContextRef, MD: LLVMMetadataRef): LLVMValueRef;
  LLVMGlobalSetMetadata(Global: LLVMValueRef, Kind: number, MD: LLVMMetadataRef): void;
  LLVMSetMetadata(Val: LLVMValueRef, KindID: number, Node: LLVMValueRef): void;

  // debug info: builder, compile unit, scopes, locations
  LLVMDebugMetadataVersion(): number;
  LLVMCreateDIBuilder(M: LLVMModuleRef): LLVMDIBuilderRef;
  LLVMDisposeDIBuilder(Builder: LLVMDIBuilderRef): void;
  LLVMDIBuilderFinalize(Builder: LLVMDIBuilderRef): void;
  LLVMDIBuilderFinalizeSubprogram(Builder: LLVMDIBuilderRef, Subprogram: LLVMMetadataRef): void;
  LLVMDIBuilderCreateCompileUnit(Builder: LLVMDIBuilderRef, Lang: DWARFSourceLanguage, FileRef: LLVMMetadataRef, Producer: CStr, ProducerLen: number, isOptimized: Bool, Flags: CStr, FlagsLen: number, RuntimeVer: number, SplitName: CStr, SplitNameLen: number, Kind: DWARFEmissionKind, DWOId: number, SplitDebugInlining: Bool, DebugInfoForProfiling: Bool, SysRoot: CStr, SysRootLen: number, SDK: CStr, SDKLen: number): LLVMMetadataRef;
  LLVMDIBuilderCreateFile(Builder: LLVMDIBuilderRef, Filename: CStr, FilenameLen: number, Directory: CStr, DirectoryLen: number): LLVMMetadataRef;
  LLVMDIBuilderCreateFunction(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef, Name: CStr, NameLen: number, LinkageName: CStr, LinkageNameLen: number, File: LLVMMetadataRef, LineNo: number, Ty: LLVMMetadataRef, IsLocalToUnit: Bool, IsDefinition: Bool, ScopeLine: number, Flags: number, IsOptimized: Bool): LLVMMetadataRef;
  LLVMDIBuilderCreateLexicalBlock(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef, File: LLVMMetadataRef, Line: number, Column: number): LLVMMetadataRef;
  LLVMDIBuilderCreateDebugLocation(Ctx: LLVMContextRef, Line: number, Column: number, Scope: LLVMMetadataRef, InlinedAt: LLVMMetadataRef | null): LLVMMetadataRef;
  LLVMSetSubprogram(Func: LLVMValueRef, SP: LLVMMetadataRef): void;
  LLVMGetSubprogram(Func: LLVMValueRef): LLVMMetadataRef | null;
  LLVMSetCurrentDebugLocation2(Builder: LLVMBuilderRef, Loc: LLVMMetadataRef | null): void;
  LLVMGetCurrentDebugLocation2(Builder: LLVMBuilderRef): LLVMMetadataRef | null;
  LLVMInstructionSetDebugLoc(Inst: LLVMValueRef, Loc: LLVMMetadataRef | null): void;
  LLVMInstructionGetDebugLoc(Inst: LLVMValueRef): LLVMMetadataRef | null;

  // debug info: types
  LLVMDIBuilderCreateSubroutineType(Builder: LLVMDIBuilderRef, File: LLVMMetadataRef | null, ParameterTypes: readonly (LLVMMetadataRef | null)[] | null, NumParameterTypes: number, Flags: number): LLVMMetadataRef;
  LLVMDIBuilderCreateBasicType(Builder: LLVMDIBuilderRef, Name: CStr, NameLen: number, SizeInBits: U64, Encoding: number, Flags: number): LLVMMetadataRef;
  LLVMDIBuilderCreateUnspecifiedType(Builder: LLVMDIBuilderRef, Name: CStr, NameLen: number): LLVMMetadataRef;
  LLVMDIBuilderCreatePointerType(Builder: LLVMDIBuilderRef, PointeeTy: LLVMMetadataRef | null, SizeInBits: U64, AlignInBits: number, AddressSpace: number, Name: CStr, NameLen: number): LLVMMetadataRef;
  LLVMDIBuilderCreateStructType(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef | null, Name: CStr, NameLen: number, File: LLVMMetadataRef | null, LineNumber: number, SizeInBits: U64, AlignInBits: number, Flags: number, DerivedFrom: LLVMMetadataRef | null, Elements: readonly LLVMMetadataRef[] | null, NumElements: number, RunTimeLang: number, VTableHolder: LLVMMetadataRef | null, UniqueId: CStr, UniqueIdLen: number): LLVMMetadataRef;
  LLVMDIBuilderCreateUnionType(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef | null, Name: CStr, NameLen: number, File: LLVMMetadataRef | null, LineNumber: number, SizeInBits: U64, AlignInBits: number, Flags: number, Elements: readonly LLVMMetadataRef[] | null, NumElements: number, RunTimeLang: number, UniqueId: CStr, UniqueIdLen: number): LLVMMetadataRef;
  LLVMDIBuilderCreateMemberType(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef | null, Name: CStr, NameLen: number, File: LLVMMetadataRef | null, LineNo: number, SizeInBits: U64, AlignInBits: number, OffsetInBits: U64, Flags: number, Ty: LLVMMetadataRef): LLVMMetadataRef;
  LLVMDIBuilderCreateTypedef(Builder: LLVMDIBuilderRef, Type: LLVMMetadataRef, Name: CStr, NameLen: number, File: LLVMMetadataRef | null, LineNo: number, Scope: LLVMMetadataRef | null, AlignInBits: number): LLVMMetadataRef;
  LLVMDIBuilderCreateQualifiedType(Builder: LLVMDIBuilderRef, Tag: number, Type: LLVMMetadataRef): LLVMMetadataRef;
  LLVMDIBuilderCreateArrayType(Builder: LLVMDIBuilderRef, Size: U64, AlignInBits: number, Ty: LLVMMetadataRef, Subscripts: readonly LLVMMetadataRef[] | null, NumSubscripts: number): LLVMMetadataRef;
  LLVMDIBuilderGetOrCreateSubrange(Builder: LLVMDIBuilderRef, LowerBound: U64, Count: U64): LLVMMetadataRef;
  LLVMDIBuilderGetOrCreateArray(Builder: LLVMDIBuilderRef, Data: readonly LLVMMetadataRef[] | null, NumElements: number): LLVMMetadataRef;
  LLVMDIBuilderGetOrCreateTypeArray(Builder: LLVMDIBuilderRef, Data: readonly (LLVMMetadataRef | null)[] | null, NumElements: number): LLVMMetadataRef;
  LLVMDIBuilderCreateEnumerator(Builder: LLVMDIBuilderRef, Name: CStr, NameLen: number, Value: U64, IsUnsigned: Bool): LLVMMetadataRef;
  LLVMDIBuilderCreateEnumerationType(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef | null, Name: CStr, NameLen: number, File: LLVMMetadataRef | null, LineNumber: number, SizeInBits: U64, AlignInBits: number, Elements: readonly LLVMMetadataRef[] | null, NumElements: number, ClassTy: LLVMMetadataRef | null): LLVMMetadataRef;
  LLVMDIBuilderCreateReplaceableCompositeType(Builder: LLVMDIBuilderRef, Tag: number, Name: CStr, NameLen: number, Scope: LLVMMetadataRef | null, File: LLVMMetadataRef | null, Line: number, RuntimeLang: number, SizeInBits: U64, AlignInBits: number, Flags: number, UniqueIdentifier: CStr, UniqueIdentifierLen: number): LLVMMetadataRef;
  LLVMMetadataReplaceAllUsesWith(TempTargetMetadata: LLVMMetadataRef, Replacement: LLVMMetadataRef): void;

  // debug info: variables and expressions
  LLVMDIBuilderCreateParameterVariable(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef, Name: CStr, NameLen: number, ArgNo: number, File: LLVMMetadataRef, LineNo: number, Ty: LLVMMetadataRef, AlwaysPreserve: Bool, Flags: number): LLVMMetadataRef;
  LLVMDIBuilderCreateAutoVariable(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef, Name: CStr, NameLen: number, File: LLVMMetadataRef, LineNo: number, Ty: LLVMMetadataRef, AlwaysPreserve: Bool, Flags: number, AlignInBits: number): LLVMMetadataRef;
  LLVMDIBuilderCreateExpression(Builder: LLVMDIBuilderRef, Addr: readonly U64[] | null, Length: number): LLVMMetadataRef;
  LLVMDIBuilderCreateConstantValueExpression(Builder: LLVMDIBuilderRef, Value: U64): LLVMMetadataRef;
  LLVMDIBuilderCreateGlobalVariableExpression(Builder: LLVMDIBuilderRef, Scope: LLVMMetadataRef, Name: CStr, NameLen: number, Linkage: CStr, LinkLen: number, File: LLVMMetadataRef, LineNo: number, Ty: LLVMMetadataRef, LocalToUnit: Bool, Expr: LLVMMetadataRef, Decl: LLVMMetadataRef | null, AlignInBits: number): LLVMMetadataRef;

  // target, code generation, memory buffers
  LLVMParseCommandLineOptions(argc: number, argv: readonly string[], Overview: string | null): void;
  LLVMInitializeBPFTargetInfo(): void;
  LLVMInitializeBPFTarget(): void;
  LLVMInitializeBPFTargetMC(): void;
  LLVMInitializeBPFAsmPrinter(): void;
  LLVMInitializeBPFAsmParser(): void;
  LLVMGetTargetFromTriple(Triple: string, T: Out<LLVMTargetRef>, ErrorMessage: Out<LLVMMessageRef>): number;
  LLVMCreateTargetMachine(T: LLVMTargetRef, Triple: string, CPU: string, Features: string, Level: CodeGenOptLevel, Reloc: RelocMode, CodeModel: CodeModel): LLVMTargetMachineRef;
  LLVMDisposeTargetMachine(T: LLVMTargetMachineRef): void;
  LLVMTargetMachineEmitToMemoryBuffer(T: LLVMTargetMachineRef, M: LLVMModuleRef, codegen: CodeGenFileType, ErrorMessage: Out<LLVMMessageRef>, OutMemBuf: Out<LLVMMemoryBufferRef>): number;
  LLVMCreateMemoryBufferWithMemoryRangeCopy(InputData: CStr, InputDataLength: number, BufferName: string): LLVMMemoryBufferRef;
  LLVMGetBufferStart(MemBuf: LLVMMemoryBufferRef): LLVMBufferPointer | null;
  LLVMGetBufferSize(MemBuf: LLVMMemoryBufferRef): number;
  LLVMDisposeMemoryBuffer(MemBuf: LLVMMemoryBufferRef): void;
  LLVMParseIRInContext(ContextRef: LLVMContextRef, MemBuf: LLVMMemoryBufferRef, OutM: Out<LLVMModuleRef>, OutMessage: Out<LLVMMessageRef>): number;

  // passes and errors
  LLVMCreatePassBuilderOptions(): LLVMPassBuilderOptionsRef;
  LLVMPassBuilderOptionsSetVerifyEach(Options: LLVMPassBuilderOptionsRef, VerifyEach: Bool): void;
  LLVMDisposePassBuilderOptions(Options: LLVMPassBuilderOptionsRef): void;
  LLVMRunPasses(M: LLVMModuleRef, Passes: string, TM: LLVMTargetMachineRef | null, Options: LLVMPassBuilderOptionsRef): LLVMErrorRef | null;
  LLVMGetErrorMessage(Err: LLVMErrorRef): LLVMErrorMessageRef;
  LLVMDisposeErrorMessage(ErrMsg: LLVMErrorMessageRef): void;
  LLVMConsumeError(Err: LLVMErrorRef): void;

  // intrinsics
  LLVMLookupIntrinsicID(Name: CStr, NameLen: number): number;
  LLVMGetIntrinsicDeclaration(Mod: LLVMModuleRef, ID: number, ParamTypes: readonly LLVMTypeRef[] | null, ParamCount: number): LLVMValueRef;
  LLVMIntrinsicGetType(Ctx: LLVMContextRef, ID: number, ParamTypes: readonly LLVMTypeRef[] | null, ParamCount: number): LLVMTypeRef;
}

// ---------------------------------------------------------------------------
// C functions that only some versions in 14..21 have

export interface LLVMCOptionalFunctions {
  /** LLVM ≥ 16. */
  LLVMGetVersion: ((Major: Out<number>, Minor: Out<number>, Patch: Out<number>) => void) | undefined;
  /** LLVM 15 and 16 only: typed pointers were still selectable per context. */
  LLVMContextSetOpaquePointers: ((C: LLVMContextRef, OpaquePointers: Bool) => void) | undefined;
  /** LLVM ≥ 15. */
  LLVMPointerTypeInContext: ((C: LLVMContextRef, AddressSpace: number) => LLVMTypeRef) | undefined;
  /** LLVM ≥ 15. */
  LLVMPointerTypeIsOpaque: ((Ty: LLVMTypeRef) => number) | undefined;
  /** LLVM ≤ 18: inserts an llvm.dbg.declare call. */
  LLVMDIBuilderInsertDeclareAtEnd: ((Builder: LLVMDIBuilderRef, Storage: LLVMValueRef, VarInfo: LLVMMetadataRef, Expr: LLVMMetadataRef, DebugLoc: LLVMMetadataRef, Block: LLVMBasicBlockRef) => LLVMValueRef) | undefined;
  /** LLVM ≤ 18: inserts an llvm.dbg.value call. */
  LLVMDIBuilderInsertDbgValueAtEnd: ((Builder: LLVMDIBuilderRef, Val: LLVMValueRef, VarInfo: LLVMMetadataRef, Expr: LLVMMetadataRef, DebugLoc: LLVMMetadataRef, Block: LLVMBasicBlockRef) => LLVMValueRef) | undefined;
  /** LLVM ≥ 19: inserts a #dbg_declare record. */
  LLVMDIBuilderInsertDeclareRecordAtEnd: ((Builder: LLVMDIBuilderRef, Storage: LLVMValueRef, VarInfo: LLVMMetadataRef, Expr: LLVMMetadataRef, DebugLoc: LLVMMetadataRef, Block: LLVMBasicBlockRef) => LLVMDbgRecordRef) | undefined;
  /** LLVM ≥ 19: inserts a #dbg_value record. */
  LLVMDIBuilderInsertDbgValueRecordAtEnd: ((Builder: LLVMDIBuilderRef, Val: LLVMValueRef, VarInfo: LLVMMetadataRef, Expr: LLVMMetadataRef, DebugLoc: LLVMMetadataRef, Block: LLVMBasicBlockRef) => LLVMDbgRecordRef) | undefined;
  /** LLVM 19 and 20: which debug-info representation a module uses. */
  LLVMIsNewDbgInfoFormat: ((M: LLVMModuleRef) => number) | undefined;
  LLVMSetIsNewDbgInfoFormat: ((M: LLVMModuleRef, UseNewFormat: Bool) => void) | undefined;
  /** LLVM ≥ 22: the only C entry point that can embed source text (Source) in a DIFile. */
  LLVMDIBuilderCreateFileWithChecksum: ((Builder: LLVMDIBuilderRef, Filename: CStr, FilenameLen: number, Directory: CStr, DirectoryLen: number, ChecksumKind: number, Checksum: CStr, ChecksumLen: number, Source: CStr, SourceLen: number) => LLVMMetadataRef) | undefined;
}

// ---------------------------------------------------------------------------
// Helpers: the only places that free LLVM-allocated strings and buffers

export interface LLVMHelpers {
  /** The loaded library file and its major version. */
  readonly path: string;
  readonly version: number;
  /** Decodes a `char *` that LLVM allocated, then frees it. NULL gives "". */
  takeMessage(message: LLVMMessageRef | null): string;
  /** Reads an LLVMErrorRef's message and frees both the error and the message. */
  takeErrorMessage(err: LLVMErrorRef): string;
  printModule(module: LLVMModuleRef): string;
  printValue(value: LLVMValueRef): string;
  printType(type: LLVMTypeRef): string;
  /** null when the module is valid, else LLVM's description of what is wrong. */
  verifyModule(module: LLVMModuleRef): string | null;
  /** Runs a new-pass-manager pipeline such as "default<O2>"; throws with LLVM's message. */
  runPasses(module: LLVMModuleRef, passes: string, tm: LLVMTargetMachineRef | null, options?: { verifyEach?: boolean }): void;
  /** Code-generates the module; the bytes are copied out of LLVM's buffer, which is freed. */
  emitToMemory(tm: LLVMTargetMachineRef, module: LLVMModuleRef, kind: "object" | "assembly"): Uint8Array;
  /** Registers the BPF target (once per library). */
  initializeBpfTarget(): void;
  /** A target machine for triple "bpfel"; throws when this LLVM does not know `cpu`. Dispose with LLVMDisposeTargetMachine. */
  createBpfTargetMachine(cpu: BpfCpu, opt: 0 | 1 | 2 | 3): LLVMTargetMachineRef;
  /** The data layout string of a target machine (for LLVMSetDataLayout). */
  dataLayoutOf(tm: LLVMTargetMachineRef): string;
  /** Declares an intrinsic (overloaded on `paramTypes`) in `module`. */
  intrinsic(module: LLVMModuleRef, name: string, paramTypes: readonly LLVMTypeRef[]): { fn: LLVMValueRef; type: LLVMTypeRef };
  /** Whether pointers in `ctx` are opaque (`ptr`) rather than typed (`i8*`). */
  opaquePointers(ctx: LLVMContextRef): boolean;
  /** dbg.declare at the end of `block`, as an intrinsic call (≤ 18) or a debug record (≥ 19). */
  insertDeclareAtEnd(di: LLVMDIBuilderRef, storage: LLVMValueRef, variable: LLVMMetadataRef, expr: LLVMMetadataRef, loc: LLVMMetadataRef, block: LLVMBasicBlockRef): Ref;
  /** dbg.value at the end of `block`, as an intrinsic call (≤ 18) or a debug record (≥ 19). */
  insertDbgValueAtEnd(di: LLVMDIBuilderRef, value: LLVMValueRef, variable: LLVMMetadataRef, expr: LLVMMetadataRef, loc: LLVMMetadataRef, block: LLVMBasicBlockRef): Ref;
  /** Parses textual IR into a new module of `ctx`; throws with LLVM's message. */
  parseIR(ctx: LLVMContextRef, text: string, name?: string): LLVMModuleRef;
}

export interface LLVMC extends LLVMCFunctions, LLVMCOptionalFunctions, LLVMHelpers {}

// ---------------------------------------------------------------------------
// koffi declarations. Each entry is the C prototype without its name (the key
// is the name), written with the llvm-c type names registered just below.

const REQUIRED = {
  // context and module
  LLVMContextCreate: "LLVMContextRef(void)",
  LLVMContextDispose: "void(LLVMContextRef C)",
  LLVMModuleCreateWithNameInContext: "LLVMModuleRef(const char *ModuleID, LLVMContextRef C)",
  LLVMDisposeModule: "void(LLVMModuleRef M)",
  LLVMGetModuleContext: "LLVMContextRef(LLVMModuleRef M)",
  LLVMSetTarget: "void(LLVMModuleRef M, const char *Triple)",
  LLVMSetDataLayout: "void(LLVMModuleRef M, const char *DataLayoutStr)",
  LLVMSetModuleDataLayout: "void(LLVMModuleRef M, LLVMTargetDataRef DL)",
  LLVMSetSourceFileName: "void(LLVMModuleRef M, const char *Name, size_t Len)",
  LLVMAddModuleFlag: "void(LLVMModuleRef M, int Behavior, const char *Key, size_t KeyLen, LLVMMetadataRef Val)",
  LLVMAddNamedMetadataOperand: "void(LLVMModuleRef M, const char *Name, LLVMValueRef Val)",
  LLVMSetModuleInlineAsm2: "void(LLVMModuleRef M, const char *Asm, size_t Len)",
  LLVMGetInlineAsm: "LLVMValueRef(LLVMTypeRef Ty, const char *AsmString, size_t AsmStringSize, const char *Constraints, size_t ConstraintsSize, LLVMBool HasSideEffects, LLVMBool IsAlignStack, int Dialect, LLVMBool CanThrow)",
  LLVMPrintModuleToString: "LLVMMessageRef(LLVMModuleRef M)",
  LLVMPrintValueToString: "LLVMMessageRef(LLVMValueRef Val)",
  LLVMPrintTypeToString: "LLVMMessageRef(LLVMTypeRef Ty)",
  LLVMVerifyModule: "LLVMBool(LLVMModuleRef M, int Action, _Out_ LLVMMessageRef *OutMessage)",
  LLVMVerifyFunction: "LLVMBool(LLVMValueRef Fn, int Action)",
  LLVMDisposeMessage: "void(LLVMMessageRef Message)",

  // target data
  LLVMCreateTargetDataLayout: "LLVMTargetDataRef(LLVMTargetMachineRef T)",
  LLVMCopyStringRepOfTargetData: "LLVMMessageRef(LLVMTargetDataRef TD)",
  LLVMDisposeTargetData: "void(LLVMTargetDataRef TD)",
  LLVMABISizeOfType: "unsigned long long(LLVMTargetDataRef TD, LLVMTypeRef Ty)",
  LLVMABIAlignmentOfType: "unsigned int(LLVMTargetDataRef TD, LLVMTypeRef Ty)",
  LLVMStoreSizeOfType: "unsigned long long(LLVMTargetDataRef TD, LLVMTypeRef Ty)",
  LLVMSizeOfTypeInBits: "unsigned long long(LLVMTargetDataRef TD, LLVMTypeRef Ty)",
  LLVMOffsetOfElement: "unsigned long long(LLVMTargetDataRef TD, LLVMTypeRef StructTy, unsigned int Element)",

  // types
  LLVMInt1TypeInContext: "LLVMTypeRef(LLVMContextRef C)",
  LLVMInt8TypeInContext: "LLVMTypeRef(LLVMContextRef C)",
  LLVMInt16TypeInContext: "LLVMTypeRef(LLVMContextRef C)",
  LLVMInt32TypeInContext: "LLVMTypeRef(LLVMContextRef C)",
  LLVMInt64TypeInContext: "LLVMTypeRef(LLVMContextRef C)",
  LLVMIntTypeInContext: "LLVMTypeRef(LLVMContextRef C, unsigned int NumBits)",
  LLVMVoidTypeInContext: "LLVMTypeRef(LLVMContextRef C)",
  LLVMPointerType: "LLVMTypeRef(LLVMTypeRef ElementType, unsigned int AddressSpace)",
  LLVMArrayType: "LLVMTypeRef(LLVMTypeRef ElementType, unsigned int ElementCount)",
  LLVMStructTypeInContext: "LLVMTypeRef(LLVMContextRef C, LLVMTypeRef *ElementTypes, unsigned int ElementCount, LLVMBool Packed)",
  LLVMStructCreateNamed: "LLVMTypeRef(LLVMContextRef C, const char *Name)",
  LLVMStructSetBody: "void(LLVMTypeRef StructTy, LLVMTypeRef *ElementTypes, unsigned int ElementCount, LLVMBool Packed)",
  LLVMGetTypeByName2: "LLVMTypeRef(LLVMContextRef C, const char *Name)",
  LLVMCountStructElementTypes: "unsigned int(LLVMTypeRef StructTy)",
  LLVMStructGetTypeAtIndex: "LLVMTypeRef(LLVMTypeRef StructTy, unsigned int i)",
  LLVMFunctionType: "LLVMTypeRef(LLVMTypeRef ReturnType, LLVMTypeRef *ParamTypes, unsigned int ParamCount, LLVMBool IsVarArg)",
  LLVMGetReturnType: "LLVMTypeRef(LLVMTypeRef FunctionTy)",
  LLVMCountParamTypes: "unsigned int(LLVMTypeRef FunctionTy)",
  LLVMTypeOf: "LLVMTypeRef(LLVMValueRef Val)",
  LLVMGetTypeKind: "int(LLVMTypeRef Ty)",
  LLVMGetIntTypeWidth: "unsigned int(LLVMTypeRef IntegerTy)",
  LLVMGetElementType: "LLVMTypeRef(LLVMTypeRef Ty)",
  LLVMGetArrayLength: "unsigned int(LLVMTypeRef ArrayTy)",
  LLVMGetTypeContext: "LLVMContextRef(LLVMTypeRef Ty)",
  LLVMGlobalGetValueType: "LLVMTypeRef(LLVMValueRef Global)",
  LLVMGetAllocatedType: "LLVMTypeRef(LLVMValueRef Alloca)",

  // constants
  LLVMConstInt: "LLVMValueRef(LLVMTypeRef IntTy, unsigned long long N, LLVMBool SignExtend)",
  LLVMConstNull: "LLVMValueRef(LLVMTypeRef Ty)",
  LLVMConstAllOnes: "LLVMValueRef(LLVMTypeRef Ty)",
  LLVMConstPointerNull: "LLVMValueRef(LLVMTypeRef Ty)",
  LLVMConstStringInContext: "LLVMValueRef(LLVMContextRef C, const char *Str, unsigned int Length, LLVMBool DontNullTerminate)",
  LLVMConstArray: "LLVMValueRef(LLVMTypeRef ElementTy, LLVMValueRef *ConstantVals, unsigned int Length)",
  LLVMConstStructInContext: "LLVMValueRef(LLVMContextRef C, LLVMValueRef *ConstantVals, unsigned int Count, LLVMBool Packed)",
  LLVMConstNamedStruct: "LLVMValueRef(LLVMTypeRef StructTy, LLVMValueRef *ConstantVals, unsigned int Count)",
  LLVMConstIntGetZExtValue: "unsigned long long(LLVMValueRef ConstantVal)",
  LLVMConstIntGetSExtValue: "long long(LLVMValueRef ConstantVal)",
  LLVMConstIntToPtr: "LLVMValueRef(LLVMValueRef ConstantVal, LLVMTypeRef ToType)",
  LLVMIsConstant: "LLVMBool(LLVMValueRef Val)",
  LLVMIsAConstantInt: "LLVMValueRef(LLVMValueRef Val)",
  LLVMGetUndef: "LLVMValueRef(LLVMTypeRef Ty)",
  LLVMGetPoison: "LLVMValueRef(LLVMTypeRef Ty)",

  // globals and functions
  LLVMAddFunction: "LLVMValueRef(LLVMModuleRef M, const char *Name, LLVMTypeRef FunctionTy)",
  LLVMDeleteFunction: "void(LLVMValueRef Fn)",
  LLVMAddGlobal: "LLVMValueRef(LLVMModuleRef M, LLVMTypeRef Ty, const char *Name)",
  LLVMGetNamedFunction: "LLVMValueRef(LLVMModuleRef M, const char *Name)",
  LLVMGetNamedGlobal: "LLVMValueRef(LLVMModuleRef M, const char *Name)",
  LLVMGetGlobalParent: "LLVMModuleRef(LLVMValueRef Global)",
  LLVMIsDeclaration: "LLVMBool(LLVMValueRef Global)",
  LLVMSetInitializer: "void(LLVMValueRef GlobalVar, LLVMValueRef ConstantVal)",
  LLVMGetInitializer: "LLVMValueRef(LLVMValueRef GlobalVar)",
  LLVMSetSection: "void(LLVMValueRef Global, const char *Section)",
  LLVMSetLinkage: "void(LLVMValueRef Global, int Linkage)",
  LLVMGetLinkage: "int(LLVMValueRef Global)",
  LLVMSetVisibility: "void(LLVMValueRef Global, int Viz)",
  LLVMSetUnnamedAddress: "void(LLVMValueRef Global, int UnnamedAddr)",
  LLVMSetAlignment: "void(LLVMValueRef V, unsigned int Bytes)",
  LLVMGetAlignment: "unsigned int(LLVMValueRef V)",
  LLVMSetGlobalConstant: "void(LLVMValueRef GlobalVar, LLVMBool IsConstant)",
  LLVMSetFunctionCallConv: "void(LLVMValueRef Fn, unsigned int CC)",
  LLVMCountParams: "unsigned int(LLVMValueRef Fn)",
  LLVMGetParam: "LLVMValueRef(LLVMValueRef Fn, unsigned int Index)",
  LLVMSetValueName2: "void(LLVMValueRef Val, const char *Name, size_t NameLen)",
  // The name is owned by the value, so decoding it as a JS string leaks nothing.
  LLVMGetValueName2: "const char *(LLVMValueRef Val, _Out_ size_t *Length)",

  // attributes
  LLVMGetEnumAttributeKindForName: "unsigned int(const char *Name, size_t SLen)",
  LLVMCreateEnumAttribute: "LLVMAttributeRef(LLVMContextRef C, unsigned int KindID, uint64_t Val)",
  LLVMCreateTypeAttribute: "LLVMAttributeRef(LLVMContextRef C, unsigned int KindID, LLVMTypeRef type_ref)",
  LLVMCreateStringAttribute: "LLVMAttributeRef(LLVMContextRef C, const char *K, unsigned int KLength, const char *V, unsigned int VLength)",
  LLVMAddAttributeAtIndex: "void(LLVMValueRef F, unsigned int Idx, LLVMAttributeRef A)",
  LLVMAddCallSiteAttribute: "void(LLVMValueRef C, unsigned int Idx, LLVMAttributeRef A)",

  // basic blocks and instructions
  LLVMAppendBasicBlockInContext: "LLVMBasicBlockRef(LLVMContextRef C, LLVMValueRef Fn, const char *Name)",
  LLVMCreateBasicBlockInContext: "LLVMBasicBlockRef(LLVMContextRef C, const char *Name)",
  LLVMAppendExistingBasicBlock: "void(LLVMValueRef Fn, LLVMBasicBlockRef BB)",
  LLVMDeleteBasicBlock: "void(LLVMBasicBlockRef BB)",
  LLVMGetBasicBlockParent: "LLVMValueRef(LLVMBasicBlockRef BB)",
  LLVMGetBasicBlockTerminator: "LLVMValueRef(LLVMBasicBlockRef BB)",
  LLVMGetEntryBasicBlock: "LLVMBasicBlockRef(LLVMValueRef Fn)",
  LLVMGetFirstBasicBlock: "LLVMBasicBlockRef(LLVMValueRef Fn)",
  LLVMGetNextBasicBlock: "LLVMBasicBlockRef(LLVMBasicBlockRef BB)",
  LLVMBasicBlockAsValue: "LLVMValueRef(LLVMBasicBlockRef BB)",
  LLVMValueAsBasicBlock: "LLVMBasicBlockRef(LLVMValueRef Val)",
  LLVMGetFirstInstruction: "LLVMValueRef(LLVMBasicBlockRef BB)",
  LLVMGetLastInstruction: "LLVMValueRef(LLVMBasicBlockRef BB)",
  LLVMGetNextInstruction: "LLVMValueRef(LLVMValueRef Inst)",
  LLVMGetInstructionParent: "LLVMBasicBlockRef(LLVMValueRef Inst)",
  LLVMInstructionEraseFromParent: "void(LLVMValueRef Inst)",

  // builder: position and control flow
  LLVMCreateBuilderInContext: "LLVMBuilderRef(LLVMContextRef C)",
  LLVMDisposeBuilder: "void(LLVMBuilderRef Builder)",
  LLVMPositionBuilderAtEnd: "void(LLVMBuilderRef Builder, LLVMBasicBlockRef Block)",
  LLVMPositionBuilderBefore: "void(LLVMBuilderRef Builder, LLVMValueRef Instr)",
  LLVMGetInsertBlock: "LLVMBasicBlockRef(LLVMBuilderRef Builder)",
  LLVMBuildRet: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef V)",
  LLVMBuildRetVoid: "LLVMValueRef(LLVMBuilderRef B)",
  LLVMBuildBr: "LLVMValueRef(LLVMBuilderRef B, LLVMBasicBlockRef Dest)",
  LLVMBuildCondBr: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef If, LLVMBasicBlockRef Then, LLVMBasicBlockRef Else)",
  LLVMBuildSwitch: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef V, LLVMBasicBlockRef Else, unsigned int NumCases)",
  LLVMAddCase: "void(LLVMValueRef Switch, LLVMValueRef OnVal, LLVMBasicBlockRef Dest)",
  LLVMBuildUnreachable: "LLVMValueRef(LLVMBuilderRef B)",

  // builder: arithmetic and comparison
  LLVMBuildAdd: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildSub: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildMul: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildNUWAdd: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildNSWAdd: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildUDiv: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildSDiv: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildURem: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildSRem: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildAnd: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildOr: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildXor: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildShl: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildLShr: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildAShr: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildNeg: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef V, const char *Name)",
  LLVMBuildNot: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef V, const char *Name)",
  LLVMBuildICmp: "LLVMValueRef(LLVMBuilderRef B, int Op, LLVMValueRef LHS, LLVMValueRef RHS, const char *Name)",
  LLVMBuildSelect: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef If, LLVMValueRef Then, LLVMValueRef Else, const char *Name)",
  LLVMBuildPhi: "LLVMValueRef(LLVMBuilderRef B, LLVMTypeRef Ty, const char *Name)",
  LLVMAddIncoming: "void(LLVMValueRef PhiNode, LLVMValueRef *IncomingValues, LLVMBasicBlockRef *IncomingBlocks, unsigned int Count)",

  // builder: memory
  LLVMBuildAlloca: "LLVMValueRef(LLVMBuilderRef B, LLVMTypeRef Ty, const char *Name)",
  LLVMBuildLoad2: "LLVMValueRef(LLVMBuilderRef B, LLVMTypeRef Ty, LLVMValueRef PointerVal, const char *Name)",
  LLVMBuildStore: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMValueRef Ptr)",
  LLVMBuildGEP2: "LLVMValueRef(LLVMBuilderRef B, LLVMTypeRef Ty, LLVMValueRef Pointer, LLVMValueRef *Indices, unsigned int NumIndices, const char *Name)",
  LLVMBuildInBoundsGEP2: "LLVMValueRef(LLVMBuilderRef B, LLVMTypeRef Ty, LLVMValueRef Pointer, LLVMValueRef *Indices, unsigned int NumIndices, const char *Name)",
  LLVMBuildStructGEP2: "LLVMValueRef(LLVMBuilderRef B, LLVMTypeRef Ty, LLVMValueRef Pointer, unsigned int Idx, const char *Name)",
  LLVMBuildExtractValue: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef AggVal, unsigned int Index, const char *Name)",
  LLVMBuildInsertValue: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef AggVal, LLVMValueRef EltVal, unsigned int Index, const char *Name)",
  LLVMBuildMemSet: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Ptr, LLVMValueRef Val, LLVMValueRef Len, unsigned int Align)",
  LLVMBuildMemCpy: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Dst, unsigned int DstAlign, LLVMValueRef Src, unsigned int SrcAlign, LLVMValueRef Size)",
  LLVMSetVolatile: "void(LLVMValueRef MemoryAccessInst, LLVMBool IsVolatile)",
  LLVMSetOrdering: "void(LLVMValueRef MemoryAccessInst, int Ordering)",
  LLVMBuildAtomicRMW: "LLVMValueRef(LLVMBuilderRef B, int op, LLVMValueRef PTR, LLVMValueRef Val, int ordering, LLVMBool singleThread)",
  LLVMBuildAtomicCmpXchg: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Ptr, LLVMValueRef Cmp, LLVMValueRef New, int SuccessOrdering, int FailureOrdering, LLVMBool SingleThread)",
  LLVMBuildFence: "LLVMValueRef(LLVMBuilderRef B, int ordering, LLVMBool singleThread, const char *Name)",

  // builder: casts and calls
  LLVMBuildTrunc: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, const char *Name)",
  LLVMBuildZExt: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, const char *Name)",
  LLVMBuildSExt: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, const char *Name)",
  LLVMBuildIntCast2: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, LLVMBool IsSigned, const char *Name)",
  LLVMBuildIntToPtr: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, const char *Name)",
  LLVMBuildPtrToInt: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, const char *Name)",
  LLVMBuildBitCast: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, const char *Name)",
  LLVMBuildPointerCast: "LLVMValueRef(LLVMBuilderRef B, LLVMValueRef Val, LLVMTypeRef DestTy, const char *Name)",
  LLVMBuildCall2: "LLVMValueRef(LLVMBuilderRef B, LLVMTypeRef FnTy, LLVMValueRef Fn, LLVMValueRef *Args, unsigned int NumArgs, const char *Name)",

  // metadata
  LLVMGetMDKindIDInContext: "unsigned int(LLVMContextRef C, const char *Name, unsigned int SLen)",
  LLVMMDStringInContext2: "LLVMMetadataRef(LLVMContextRef C, const char *Str, size_t SLen)",
  LLVMMDNodeInContext2: "LLVMMetadataRef(LLVMContextRef C, LLVMMetadataRef *MDs, size_t Count)",
  LLVMValueAsMetadata: "LLVMMetadataRef(LLVMValueRef Val)",
  LLVMMetadataAsValue: "LLVMValueRef(LLVMContextRef C, LLVMMetadataRef MD)",
  LLVMGlobalSetMetadata: "void(LLVMValueRef Global, unsigned int Kind, LLVMMetadataRef MD)",
  LLVMSetMetadata: "void(LLVMValueRef Val, unsigned int KindID, LLVMValueRef Node)",

  // debug info: builder, compile unit, scopes, locations
  LLVMDebugMetadataVersion: "unsigned int(void)",
  LLVMCreateDIBuilder: "LLVMDIBuilderRef(LLVMModuleRef M)",
  LLVMDisposeDIBuilder: "void(LLVMDIBuilderRef Builder)",
  LLVMDIBuilderFinalize: "void(LLVMDIBuilderRef Builder)",
  LLVMDIBuilderFinalizeSubprogram: "void(LLVMDIBuilderRef Builder, LLVMMetadataRef Subprogram)",
  LLVMDIBuilderCreateCompileUnit:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, int Lang, LLVMMetadataRef FileRef, const char *Producer, size_t ProducerLen, LLVMBool isOptimized, const char *Flags, size_t FlagsLen, unsigned int RuntimeVer, const char *SplitName, size_t SplitNameLen, int Kind, unsigned int DWOId, LLVMBool SplitDebugInlining, LLVMBool DebugInfoForProfiling, const char *SysRoot, size_t SysRootLen, const char *SDK, size_t SDKLen)",
  LLVMDIBuilderCreateFile: "LLVMMetadataRef(LLVMDIBuilderRef Builder, const char *Filename, size_t FilenameLen, const char *Directory, size_t DirectoryLen)",
  LLVMDIBuilderCreateFunction:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, const char *LinkageName, size_t LinkageNameLen, LLVMMetadataRef File, unsigned int LineNo, LLVMMetadataRef Ty, LLVMBool IsLocalToUnit, LLVMBool IsDefinition, unsigned int ScopeLine, int Flags, LLVMBool IsOptimized)",
  LLVMDIBuilderCreateLexicalBlock: "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, LLVMMetadataRef File, unsigned int Line, unsigned int Column)",
  LLVMDIBuilderCreateDebugLocation: "LLVMMetadataRef(LLVMContextRef Ctx, unsigned int Line, unsigned int Column, LLVMMetadataRef Scope, LLVMMetadataRef InlinedAt)",
  LLVMSetSubprogram: "void(LLVMValueRef Func, LLVMMetadataRef SP)",
  LLVMGetSubprogram: "LLVMMetadataRef(LLVMValueRef Func)",
  LLVMSetCurrentDebugLocation2: "void(LLVMBuilderRef Builder, LLVMMetadataRef Loc)",
  LLVMGetCurrentDebugLocation2: "LLVMMetadataRef(LLVMBuilderRef Builder)",
  LLVMInstructionSetDebugLoc: "void(LLVMValueRef Inst, LLVMMetadataRef Loc)",
  LLVMInstructionGetDebugLoc: "LLVMMetadataRef(LLVMValueRef Inst)",

  // debug info: types
  LLVMDIBuilderCreateSubroutineType: "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef File, LLVMMetadataRef *ParameterTypes, unsigned int NumParameterTypes, int Flags)",
  LLVMDIBuilderCreateBasicType: "LLVMMetadataRef(LLVMDIBuilderRef Builder, const char *Name, size_t NameLen, uint64_t SizeInBits, unsigned int Encoding, int Flags)",
  LLVMDIBuilderCreateUnspecifiedType: "LLVMMetadataRef(LLVMDIBuilderRef Builder, const char *Name, size_t NameLen)",
  LLVMDIBuilderCreatePointerType: "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef PointeeTy, uint64_t SizeInBits, uint32_t AlignInBits, unsigned int AddressSpace, const char *Name, size_t NameLen)",
  LLVMDIBuilderCreateStructType:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, LLVMMetadataRef File, unsigned int LineNumber, uint64_t SizeInBits, uint32_t AlignInBits, int Flags, LLVMMetadataRef DerivedFrom, LLVMMetadataRef *Elements, unsigned int NumElements, unsigned int RunTimeLang, LLVMMetadataRef VTableHolder, const char *UniqueId, size_t UniqueIdLen)",
  LLVMDIBuilderCreateUnionType:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, LLVMMetadataRef File, unsigned int LineNumber, uint64_t SizeInBits, uint32_t AlignInBits, int Flags, LLVMMetadataRef *Elements, unsigned int NumElements, unsigned int RunTimeLang, const char *UniqueId, size_t UniqueIdLen)",
  LLVMDIBuilderCreateMemberType:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, LLVMMetadataRef File, unsigned int LineNo, uint64_t SizeInBits, uint32_t AlignInBits, uint64_t OffsetInBits, int Flags, LLVMMetadataRef Ty)",
  LLVMDIBuilderCreateTypedef: "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Type, const char *Name, size_t NameLen, LLVMMetadataRef File, unsigned int LineNo, LLVMMetadataRef Scope, uint32_t AlignInBits)",
  LLVMDIBuilderCreateQualifiedType: "LLVMMetadataRef(LLVMDIBuilderRef Builder, unsigned int Tag, LLVMMetadataRef Type)",
  LLVMDIBuilderCreateArrayType: "LLVMMetadataRef(LLVMDIBuilderRef Builder, uint64_t Size, uint32_t AlignInBits, LLVMMetadataRef Ty, LLVMMetadataRef *Subscripts, unsigned int NumSubscripts)",
  LLVMDIBuilderGetOrCreateSubrange: "LLVMMetadataRef(LLVMDIBuilderRef Builder, int64_t LowerBound, int64_t Count)",
  LLVMDIBuilderGetOrCreateArray: "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef *Data, size_t NumElements)",
  LLVMDIBuilderGetOrCreateTypeArray: "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef *Data, size_t NumElements)",
  LLVMDIBuilderCreateEnumerator: "LLVMMetadataRef(LLVMDIBuilderRef Builder, const char *Name, size_t NameLen, int64_t Value, LLVMBool IsUnsigned)",
  LLVMDIBuilderCreateEnumerationType:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, LLVMMetadataRef File, unsigned int LineNumber, uint64_t SizeInBits, uint32_t AlignInBits, LLVMMetadataRef *Elements, unsigned int NumElements, LLVMMetadataRef ClassTy)",
  LLVMDIBuilderCreateReplaceableCompositeType:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, unsigned int Tag, const char *Name, size_t NameLen, LLVMMetadataRef Scope, LLVMMetadataRef File, unsigned int Line, unsigned int RuntimeLang, uint64_t SizeInBits, uint32_t AlignInBits, int Flags, const char *UniqueIdentifier, size_t UniqueIdentifierLen)",
  LLVMMetadataReplaceAllUsesWith: "void(LLVMMetadataRef TempTargetMetadata, LLVMMetadataRef Replacement)",

  // debug info: variables and expressions
  LLVMDIBuilderCreateParameterVariable:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, unsigned int ArgNo, LLVMMetadataRef File, unsigned int LineNo, LLVMMetadataRef Ty, LLVMBool AlwaysPreserve, int Flags)",
  LLVMDIBuilderCreateAutoVariable:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, LLVMMetadataRef File, unsigned int LineNo, LLVMMetadataRef Ty, LLVMBool AlwaysPreserve, int Flags, uint32_t AlignInBits)",
  LLVMDIBuilderCreateExpression: "LLVMMetadataRef(LLVMDIBuilderRef Builder, uint64_t *Addr, size_t Length)",
  LLVMDIBuilderCreateConstantValueExpression: "LLVMMetadataRef(LLVMDIBuilderRef Builder, uint64_t Value)",
  LLVMDIBuilderCreateGlobalVariableExpression:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, LLVMMetadataRef Scope, const char *Name, size_t NameLen, const char *Linkage, size_t LinkLen, LLVMMetadataRef File, unsigned int LineNo, LLVMMetadataRef Ty, LLVMBool LocalToUnit, LLVMMetadataRef Expr, LLVMMetadataRef Decl, uint32_t AlignInBits)",

  // target, code generation, memory buffers
  LLVMParseCommandLineOptions: "void(int argc, const char **argv, const char *Overview)",
  LLVMInitializeBPFTargetInfo: "void(void)",
  LLVMInitializeBPFTarget: "void(void)",
  LLVMInitializeBPFTargetMC: "void(void)",
  LLVMInitializeBPFAsmPrinter: "void(void)",
  LLVMInitializeBPFAsmParser: "void(void)",
  LLVMGetTargetFromTriple: "LLVMBool(const char *Triple, _Out_ LLVMTargetRef *T, _Out_ LLVMMessageRef *ErrorMessage)",
  LLVMCreateTargetMachine: "LLVMTargetMachineRef(LLVMTargetRef T, const char *Triple, const char *CPU, const char *Features, int Level, int Reloc, int CodeModel)",
  LLVMDisposeTargetMachine: "void(LLVMTargetMachineRef T)",
  LLVMTargetMachineEmitToMemoryBuffer: "LLVMBool(LLVMTargetMachineRef T, LLVMModuleRef M, int codegen, _Out_ LLVMMessageRef *ErrorMessage, _Out_ LLVMMemoryBufferRef *OutMemBuf)",
  LLVMCreateMemoryBufferWithMemoryRangeCopy: "LLVMMemoryBufferRef(const char *InputData, size_t InputDataLength, const char *BufferName)",
  LLVMGetBufferStart: "LLVMBufferPointer(LLVMMemoryBufferRef MemBuf)",
  LLVMGetBufferSize: "size_t(LLVMMemoryBufferRef MemBuf)",
  LLVMDisposeMemoryBuffer: "void(LLVMMemoryBufferRef MemBuf)",
  LLVMParseIRInContext: "LLVMBool(LLVMContextRef ContextRef, LLVMMemoryBufferRef MemBuf, _Out_ LLVMModuleRef *OutM, _Out_ LLVMMessageRef *OutMessage)",

  // passes and errors
  LLVMCreatePassBuilderOptions: "LLVMPassBuilderOptionsRef(void)",
  LLVMPassBuilderOptionsSetVerifyEach: "void(LLVMPassBuilderOptionsRef Options, LLVMBool VerifyEach)",
  LLVMDisposePassBuilderOptions: "void(LLVMPassBuilderOptionsRef Options)",
  LLVMRunPasses: "LLVMErrorRef(LLVMModuleRef M, const char *Passes, LLVMTargetMachineRef TM, LLVMPassBuilderOptionsRef Options)",
  LLVMGetErrorMessage: "LLVMErrorMessageRef(LLVMErrorRef Err)",
  LLVMDisposeErrorMessage: "void(LLVMErrorMessageRef ErrMsg)",
  LLVMConsumeError: "void(LLVMErrorRef Err)",

  // intrinsics
  LLVMLookupIntrinsicID: "unsigned int(const char *Name, size_t NameLen)",
  LLVMGetIntrinsicDeclaration: "LLVMValueRef(LLVMModuleRef Mod, unsigned int ID, LLVMTypeRef *ParamTypes, size_t ParamCount)",
  LLVMIntrinsicGetType: "LLVMTypeRef(LLVMContextRef Ctx, unsigned int ID, LLVMTypeRef *ParamTypes, size_t ParamCount)",
} as const satisfies { readonly [K in keyof LLVMCFunctions]: string };

const OPTIONAL = {
  LLVMGetVersion: "void(_Out_ unsigned int *Major, _Out_ unsigned int *Minor, _Out_ unsigned int *Patch)",
  LLVMContextSetOpaquePointers: "void(LLVMContextRef C, LLVMBool OpaquePointers)",
  LLVMPointerTypeInContext: "LLVMTypeRef(LLVMContextRef C, unsigned int AddressSpace)",
  LLVMPointerTypeIsOpaque: "LLVMBool(LLVMTypeRef Ty)",
  LLVMDIBuilderInsertDeclareAtEnd: "LLVMValueRef(LLVMDIBuilderRef Builder, LLVMValueRef Storage, LLVMMetadataRef VarInfo, LLVMMetadataRef Expr, LLVMMetadataRef DebugLoc, LLVMBasicBlockRef Block)",
  LLVMDIBuilderInsertDbgValueAtEnd: "LLVMValueRef(LLVMDIBuilderRef Builder, LLVMValueRef Val, LLVMMetadataRef VarInfo, LLVMMetadataRef Expr, LLVMMetadataRef DebugLoc, LLVMBasicBlockRef Block)",
  LLVMDIBuilderInsertDeclareRecordAtEnd: "LLVMDbgRecordRef(LLVMDIBuilderRef Builder, LLVMValueRef Storage, LLVMMetadataRef VarInfo, LLVMMetadataRef Expr, LLVMMetadataRef DebugLoc, LLVMBasicBlockRef Block)",
  LLVMDIBuilderInsertDbgValueRecordAtEnd: "LLVMDbgRecordRef(LLVMDIBuilderRef Builder, LLVMValueRef Val, LLVMMetadataRef VarInfo, LLVMMetadataRef Expr, LLVMMetadataRef DebugLoc, LLVMBasicBlockRef Block)",
  LLVMIsNewDbgInfoFormat: "LLVMBool(LLVMModuleRef M)",
  LLVMSetIsNewDbgInfoFormat: "void(LLVMModuleRef M, LLVMBool UseNewFormat)",
  LLVMDIBuilderCreateFileWithChecksum:
    "LLVMMetadataRef(LLVMDIBuilderRef Builder, const char *Filename, size_t FilenameLen, const char *Directory, size_t DirectoryLen, int ChecksumKind, const char *Checksum, size_t ChecksumLen, const char *Source, size_t SourceLen)",
} as const satisfies { readonly [K in keyof LLVMCOptionalFunctions]: string };

// Compile-time check that every prototype string has as many parameters as
// its TypeScript signature: a wrong count would not fail at run time, it
// would pass garbage to LLVM.
type Commas<S extends string, N extends 0[] = []> = S extends `${string},${infer Rest}` ? Commas<Rest, [...N, 0]> : N;
type ArgCount<P extends string> = P extends `${string}(void)` ? 0 : [...Commas<P>, 0]["length"];
type ArityMismatch<T extends Record<string, string>, I> = {
  [K in keyof T & keyof I]: NonNullable<I[K]> extends (...args: infer A) => unknown ? (A["length"] extends ArgCount<T[K]> ? never : K) : K;
}[keyof T & keyof I];
type Mismatched = ArityMismatch<typeof REQUIRED, LLVMCFunctions> | ArityMismatch<typeof OPTIONAL, LLVMCOptionalFunctions>;
const arityOk: [Mismatched] extends [never] ? true : { wrongParameterCount: Mismatched } = true;
void arityOk;

const HANDLE_TYPES = [
  "LLVMContextRef",
  "LLVMModuleRef",
  "LLVMTypeRef",
  "LLVMValueRef",
  "LLVMBasicBlockRef",
  "LLVMBuilderRef",
  "LLVMMetadataRef",
  "LLVMDIBuilderRef",
  "LLVMAttributeRef",
  "LLVMTargetRef",
  "LLVMTargetMachineRef",
  "LLVMTargetDataRef",
  "LLVMMemoryBufferRef",
  "LLVMPassBuilderOptionsRef",
  "LLVMErrorRef",
  "LLVMDbgRecordRef",
  // LLVM-allocated strings are pointers, not koffi strings, so they can be freed.
  "LLVMMessageRef",
  "LLVMErrorMessageRef",
  "LLVMBufferPointer",
];

let typesRegistered = false;
/** koffi's type names are process-wide; register ours once. */
function registerTypes(): void {
  if (typesRegistered) return;
  const alias = (name: string, type: string) => {
    try {
      koffi.type(name);
    } catch {
      koffi.alias(name, type);
    }
  };
  for (const name of HANDLE_TYPES) alias(name, "void *");
  alias("LLVMBool", "int");
  typesRegistered = true;
}

function declare(lib: LibraryHandle, name: string, proto: string): (...args: unknown[]) => unknown {
  const open = proto.indexOf("(");
  return lib.func(`${proto.slice(0, open)} ${name}${proto.slice(open)}`);
}

// ---------------------------------------------------------------------------
// Loading

const instances = new Map<string, LLVMC>();
let defaultInstance: LLVMC | undefined;

/**
 * The LLVM C API of the library that findLLVM() picks (TSXDP_LIBLLVM,
 * TSXDP_LLVM_VERSION, then the newest installed), loaded once per process.
 */
export function llvm(): LLVMC {
  defaultInstance ??= loadLLVM(findLLVM());
  return defaultInstance;
}

/** The LLVM C API of one specific library (cached per path); tests use it to run several versions side by side. */
export function loadLLVM(found: FoundLLVM): LLVMC {
  const cached = instances.get(found.path);
  if (cached) return cached;
  registerTypes();
  const lib = openLibrary(found.path);

  const fns: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const [name, proto] of Object.entries(REQUIRED)) {
    try {
      fns[name] = declare(lib, name, proto);
    } catch (e) {
      if (e instanceof Error && /Cannot find function/.test(e.message)) missing.push(name);
      else throw e;
    }
  }
  if (missing.length > 0) {
    throw new Error(`${found.path} (LLVM ${found.version}) lacks LLVM C API functions tsxdp needs: ${missing.join(", ")}`);
  }
  for (const [name, proto] of Object.entries(OPTIONAL)) {
    try {
      fns[name] = declare(lib, name, proto);
    } catch {
      fns[name] = undefined;
    }
  }

  const L = Object.assign(fns, { path: found.path, version: found.version }) as unknown as LLVMC;
  Object.assign(L, makeHelpers(L));
  instances.set(found.path, L);
  return L;
}

// ---------------------------------------------------------------------------
// Helpers

type HelperFns = Omit<LLVMHelpers, "path" | "version">;

function makeHelpers(L: LLVMC): HelperFns {
  let bpfInitialised = false;

  const decode = (p: unknown): string => koffi.decode(p, "char", -1) as string;

  const takeMessage = (message: LLVMMessageRef | null): string => {
    if (message === null) return "";
    try {
      return decode(message);
    } finally {
      L.LLVMDisposeMessage(message);
    }
  };

  const takeErrorMessage = (err: LLVMErrorRef): string => {
    // LLVMGetErrorMessage consumes the error; only the message is left to free.
    const msg = L.LLVMGetErrorMessage(err);
    try {
      return decode(msg);
    } finally {
      L.LLVMDisposeErrorMessage(msg);
    }
  };

  const initializeBpfTarget = (): void => {
    if (bpfInitialised) return;
    L.LLVMInitializeBPFTargetInfo();
    L.LLVMInitializeBPFTarget();
    L.LLVMInitializeBPFTargetMC();
    L.LLVMInitializeBPFAsmPrinter();
    // Inline asm is parsed when the object is written (the empty asm after a socket's field reads).
    L.LLVMInitializeBPFAsmParser();
    // LLVM >= 18 can lay out frames past the kernel's 512 bytes when asked: the
    // object stage then measures the real frame and reports it with its size,
    // where LLVM alone only says "exceeded". Older LLVMs ignore the option.
    if (L.version >= 18) L.LLVMParseCommandLineOptions(2, ["tsxdp", `-bpf-stack-size=${MAX_MEASURED_STACK}`], null);
    bpfInitialised = true;
  };

  const helpers: HelperFns = {
    takeMessage,
    takeErrorMessage,

    printModule: (module) => takeMessage(L.LLVMPrintModuleToString(module)),
    printValue: (value) => takeMessage(L.LLVMPrintValueToString(value)),
    printType: (type) => takeMessage(L.LLVMPrintTypeToString(type)),

    verifyModule(module) {
      const out: Out<LLVMMessageRef> = [null];
      const broken = L.LLVMVerifyModule(module, VerifierFailureAction.ReturnStatus, out);
      // The message is allocated even when the module is valid.
      const text = takeMessage(out[0]);
      return broken ? text || "module is invalid" : null;
    },

    runPasses(module, passes, tm, options = {}) {
      const opts = L.LLVMCreatePassBuilderOptions();
      try {
        if (options.verifyEach) L.LLVMPassBuilderOptionsSetVerifyEach(opts, 1);
        const err = L.LLVMRunPasses(module, passes, tm, opts);
        if (err !== null) throw new Error(`LLVM passes "${passes}" failed: ${takeErrorMessage(err)}`);
      } finally {
        L.LLVMDisposePassBuilderOptions(opts);
      }
    },

    emitToMemory(tm, module, kind) {
      const err: Out<LLVMMessageRef> = [null];
      const buf: Out<LLVMMemoryBufferRef> = [null];
      const fileType = kind === "object" ? CodeGenFileType.Object : CodeGenFileType.Assembly;
      const failed = L.LLVMTargetMachineEmitToMemoryBuffer(tm, module, fileType, err, buf);
      const message = takeMessage(err[0]);
      const mem = buf[0];
      if (failed || mem === null) {
        if (mem !== null) L.LLVMDisposeMemoryBuffer(mem);
        throw new Error(`LLVM code generation failed: ${message || "no message"}`);
      }
      try {
        const size = L.LLVMGetBufferSize(mem);
        const start = L.LLVMGetBufferStart(mem);
        if (size === 0 || start === null) return new Uint8Array(0);
        // A copy: the view dies with the buffer.
        return new Uint8Array(koffi.view(start, size)).slice();
      } finally {
        L.LLVMDisposeMemoryBuffer(mem);
      }
    },

    initializeBpfTarget,

    createBpfTargetMachine(cpu, opt) {
      const since = BPF_CPU_SINCE[cpu];
      if (since === undefined) throw new Error(`unknown BPF cpu "${String(cpu)}" (expected v1, v2, v3 or v4)`);
      if (L.version < since) {
        throw new Error(`BPF cpu ${cpu} needs LLVM ${since} or newer; the loaded libLLVM (${L.path}) is LLVM ${L.version}`);
      }
      initializeBpfTarget();
      const target: Out<LLVMTargetRef> = [null];
      const err: Out<LLVMMessageRef> = [null];
      const failed = L.LLVMGetTargetFromTriple(BPF_TRIPLE, target, err);
      const message = takeMessage(err[0]);
      const t = target[0];
      if (failed || t === null) throw new Error(`LLVM has no target for ${BPF_TRIPLE}: ${message}`);
      return L.LLVMCreateTargetMachine(t, BPF_TRIPLE, cpu, "", opt, RelocMode.Default, CodeModel.Default);
    },

    dataLayoutOf(tm) {
      const td = L.LLVMCreateTargetDataLayout(tm);
      try {
        return takeMessage(L.LLVMCopyStringRepOfTargetData(td));
      } finally {
        L.LLVMDisposeTargetData(td);
      }
    },

    intrinsic(module, name, paramTypes) {
      const id = L.LLVMLookupIntrinsicID(name, Buffer.byteLength(name));
      if (id === 0) throw new Error(`unknown LLVM intrinsic ${name}`);
      const ctx = L.LLVMGetModuleContext(module);
      const fn = L.LLVMGetIntrinsicDeclaration(module, id, paramTypes, paramTypes.length);
      const type = L.LLVMIntrinsicGetType(ctx, id, paramTypes, paramTypes.length);
      return { fn, type };
    },

    opaquePointers(ctx) {
      // LLVM 14 has no query; its contexts are typed unless -opaque-pointers was passed, which tsxdp never does.
      if (!L.LLVMPointerTypeIsOpaque) return false;
      return L.LLVMPointerTypeIsOpaque(L.LLVMPointerType(L.LLVMInt8TypeInContext(ctx), 0)) !== 0;
    },

    insertDeclareAtEnd(di, storage, variable, expr, loc, block) {
      if (L.LLVMDIBuilderInsertDeclareRecordAtEnd) {
        useNewDebugFormat(block);
        return L.LLVMDIBuilderInsertDeclareRecordAtEnd(di, storage, variable, expr, loc, block);
      }
      if (L.LLVMDIBuilderInsertDeclareAtEnd) return L.LLVMDIBuilderInsertDeclareAtEnd(di, storage, variable, expr, loc, block);
      throw new Error(`LLVM ${L.version} has neither LLVMDIBuilderInsertDeclareAtEnd nor LLVMDIBuilderInsertDeclareRecordAtEnd`);
    },

    insertDbgValueAtEnd(di, value, variable, expr, loc, block) {
      if (L.LLVMDIBuilderInsertDbgValueRecordAtEnd) {
        useNewDebugFormat(block);
        return L.LLVMDIBuilderInsertDbgValueRecordAtEnd(di, value, variable, expr, loc, block);
      }
      if (L.LLVMDIBuilderInsertDbgValueAtEnd) return L.LLVMDIBuilderInsertDbgValueAtEnd(di, value, variable, expr, loc, block);
      throw new Error(`LLVM ${L.version} has neither LLVMDIBuilderInsertDbgValueAtEnd nor LLVMDIBuilderInsertDbgValueRecordAtEnd`);
    },

    parseIR(ctx, text, name = "input.ll") {
      // LLVMParseIRInContext takes ownership of the buffer, success or not.
      const buf = L.LLVMCreateMemoryBufferWithMemoryRangeCopy(text, Buffer.byteLength(text), name);
      const mod: Out<LLVMModuleRef> = [null];
      const err: Out<LLVMMessageRef> = [null];
      const failed = L.LLVMParseIRInContext(ctx, buf, mod, err);
      const message = takeMessage(err[0]);
      const m = mod[0];
      if (failed || m === null) throw new Error(`cannot parse LLVM IR ${name}: ${message}`);
      return m;
    },
  };

  // Record-inserting calls assert on a module still in the intrinsic format
  // (LLVM 19 and 20 can hold either); later LLVMs have only records.
  function useNewDebugFormat(block: LLVMBasicBlockRef): void {
    if (!L.LLVMIsNewDbgInfoFormat || !L.LLVMSetIsNewDbgInfoFormat) return;
    const module = L.LLVMGetGlobalParent(L.LLVMGetBasicBlockParent(block));
    if (!L.LLVMIsNewDbgInfoFormat(module)) L.LLVMSetIsNewDbgInfoFormat(module, 1);
  }

  return helpers;
}
