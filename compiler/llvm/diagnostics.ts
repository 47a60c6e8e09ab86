/**
 * LLVM's own diagnostics (the BPF backend's "stack limit exceeded", …),
 * captured per compilation. Without a handler, LLVM prints an error and
 * calls exit(1), which would kill the process embedding the compiler; with
 * this one the messages come back to the driver as data.
 */
import koffi from "koffi";
import { openLibrary } from "./find-llvm";
import type { LLVMC, LLVMContextRef } from "./llvm-c";

export interface LlvmDiagnostic {
  /** LLVMDiagnosticSeverity: 0 error, 1 warning, 2 remark, 3 note. */
  readonly severity: number;
  readonly message: string;
}

interface Binding {
  setHandler(ctx: LLVMContextRef, handler: unknown, opaque: unknown): void;
  handler: unknown;
}

const bindings = new Map<string, Binding>();
let sink: LlvmDiagnostic[] | undefined;

function bind(L: LLVMC): Binding {
  const cached = bindings.get(L.path);
  if (cached) return cached;
  const lib = openLibrary(L.path);
  const description = lib.func("LLVMGetDiagInfoDescription", "void *", ["void *"]);
  const severity = lib.func("LLVMGetDiagInfoSeverity", "int", ["void *"]);
  const dispose = lib.func("LLVMDisposeMessage", "void", ["void *"]);
  const proto = koffi.proto("void", ["void *", "void *"]);
  const setHandler = lib.func("LLVMContextSetDiagnosticHandler", "void", ["void *", koffi.pointer(proto), "void *"]);
  // Registered once per library and kept for the life of the process, as LLVM keeps the pointer.
  const handler = koffi.register((info: unknown) => {
    // Never let an exception escape into LLVM.
    try {
      const text = description(info);
      const message = text ? (koffi.decode(text, "char", -1) as string) : "";
      if (text) dispose(text);
      sink?.push({ severity: severity(info) as number, message });
    } catch {
      sink?.push({ severity: 0, message: "an LLVM diagnostic could not be read" });
    }
  }, koffi.pointer(proto));
  const b: Binding = { setHandler: (ctx, h, opaque) => setHandler(ctx, h, opaque), handler };
  bindings.set(L.path, b);
  return b;
}

/** Routes the context's diagnostics into a list for the duration of one compilation. */
export function captureDiagnostics(L: LLVMC, ctx: LLVMContextRef): LlvmDiagnostic[] {
  const b = bind(L);
  const list: LlvmDiagnostic[] = [];
  sink = list;
  b.setHandler(ctx, b.handler, null);
  return list;
}

export function stopCapture(): void {
  sink = undefined;
}
