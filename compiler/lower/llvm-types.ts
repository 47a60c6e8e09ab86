/**
 * The LLVM types of one context and the mapping from dialect types to them.
 * Pointers are `i8*` (or `ptr` on LLVMs with opaque pointers); the same
 * calls work for both.
 */
import { InternalError } from "../diagnostics/diagnostic";
import type { ValueType } from "../ir/types";
import { AttributeIndex, type LLVMBuilderRef, type LLVMC, type LLVMContextRef, type LLVMTypeRef, type LLVMValueRef } from "../llvm/llvm-c";

export class LlvmTypes {
  readonly i1: LLVMTypeRef;
  readonly i8: LLVMTypeRef;
  readonly i16: LLVMTypeRef;
  readonly i32: LLVMTypeRef;
  readonly i64: LLVMTypeRef;
  readonly ptr: LLVMTypeRef;
  /** `struct xdp_md`: six u32 fields (include/uapi/linux/bpf.h). */
  readonly xdpMd: LLVMTypeRef;
  readonly ctxPtr: LLVMTypeRef;

  constructor(
    private readonly L: LLVMC,
    readonly context: LLVMContextRef,
  ) {
    this.i1 = L.LLVMInt1TypeInContext(context);
    this.i8 = L.LLVMInt8TypeInContext(context);
    this.i16 = L.LLVMInt16TypeInContext(context);
    this.i32 = L.LLVMInt32TypeInContext(context);
    this.i64 = L.LLVMInt64TypeInContext(context);
    this.ptr = L.LLVMPointerType(this.i8, 0);
    this.xdpMd = L.LLVMStructCreateNamed(context, "struct.xdp_md");
    L.LLVMStructSetBody(this.xdpMd, [this.i32, this.i32, this.i32, this.i32, this.i32, this.i32], 6, 0);
    this.ctxPtr = L.LLVMPointerType(this.xdpMd, 0);
  }

  of(t: ValueType): LLVMTypeRef {
    switch (t.kind) {
      case "int":
        return t.bits === 8 ? this.i8 : t.bits === 16 ? this.i16 : t.bits === 32 ? this.i32 : this.i64;
      case "bool":
        return this.i1;
      case "ptr":
      case "pkt_end":
      case "ctx":
        return this.ptr;
    }
  }

  constInt(t: ValueType, value: bigint): LLVMValueRef {
    if (t.kind !== "int" && t.kind !== "bool") throw new InternalError(`a ${t.kind} constant cannot exist`);
    const bits = t.kind === "bool" ? 1 : t.bits;
    return this.L.LLVMConstInt(this.of(t), BigInt.asUintN(bits, value), 0);
  }

  constI64(value: bigint): LLVMValueRef {
    return this.L.LLVMConstInt(this.i64, BigInt.asUintN(64, value), 0);
  }

  /** A return value widened or narrowed to the program's `int`. */
  castToI32(b: LLVMBuilderRef, v: LLVMValueRef, from: ValueType): LLVMValueRef {
    if (from.kind === "bool") return this.L.LLVMBuildZExt(b, v, this.i32, "");
    if (from.kind !== "int") throw new InternalError("a program returned a pointer");
    if (from.bits === 32) return v;
    return from.bits > 32 ? this.L.LLVMBuildTrunc(b, v, this.i32, "") : this.L.LLVMBuildZExt(b, v, this.i32, "");
  }

  addFunctionAttribute(fn: LLVMValueRef, name: string): void {
    const kind = this.L.LLVMGetEnumAttributeKindForName(name, name.length);
    this.L.LLVMAddAttributeAtIndex(fn, AttributeIndex.Function, this.L.LLVMCreateEnumAttribute(this.context, kind, 0n));
  }
}
