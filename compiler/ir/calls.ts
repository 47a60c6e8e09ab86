/**
 * Calls that are not memory accesses: the file's own functions (inlined),
 * conversions and byte swaps (folded for constants), helpers by kernel ID,
 * and bpf_printk. Each takes its arguments through the expression lowering
 * and the dialect's conversion rules.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import type { HelperSpec } from "../dialect/helpers";
import type { ByteSwapName } from "../dialect/intrinsics";
import { Abort, type FunctionBuilder } from "./builder";
import { argument, castTo, convertTo, lowerExpression, operand, type Value } from "./expressions";
import { type MapDecl, type Operand, type ProgramIR, type Subprogram, type Temp, isJumpedTo, reversePostOrder } from "./ir";
import { dataType, ringBufArgument } from "./dynptr-helpers";
import { dynptr } from "./kfuncs";
import { constant } from "./typing";
import { structShape, structValue, helperMemory } from "./structs";
import { type FieldType, type Layout, sameShape, shapeName } from "./layout";
import { type IntType, type ValueType, bool, byteSwap, int, stackPtr, typeName, u16, u32, u64, i64, isInt } from "./types";
import { toHost } from "./typing";

/** bpf_trace_vprintk's limit on values (MAX_BPF_FUNC_VARARGS); up to three go to bpf_trace_printk. */
const maxPrintkArgs = 12;

/** An integer to print, as a 64-bit argument of its signedness (i64 or u64), network order turned to host order. */
export function printedValue(fb: FunctionBuilder, expr: ts.Expression): Operand {
  let v = lowerExpression(fb, expr);
  if (v.kind === "untyped") v = constant(v.value, v.value < 0n ? i64 : u64);
  const o = operand(fb, v, expr);
  if (o.type.kind !== "int" && o.type.kind !== "bool") throw fb.fail(Codes.typeMismatch, expr, `a \`${typeName(o.type)}\` cannot be printed; print integers`);
  let host: Operand = o;
  if (o.type.kind === "int" && o.type.be) {
    const dst = fb.temp(int(o.type.bits, false));
    fb.emit({ op: "bswap", dst, src: o, node: expr });
    host = dst;
  }
  const signed = host.type.kind === "int" && host.type.signed;
  return castTo(fb, host, signed ? i64 : u64, expr);
}

/** `bpf_printk(\`text ${value}\`)`: the text becomes a printf format, each value a 64-bit argument. */
export function printk(fb: FunctionBuilder, e: ts.CallExpression): Value {
  const message = argument(fb, e, 0);
  const escape = (text: string) => text.replace(/%/g, "%%");
  let format: string;
  const args: Operand[] = [];
  if (ts.isStringLiteral(message) || ts.isNoSubstitutionTemplateLiteral(message)) {
    format = escape(message.text);
  } else if (ts.isTemplateExpression(message)) {
    format = escape(message.head.text);
    for (const span of message.templateSpans) {
      if (args.length === maxPrintkArgs) {
        throw fb.fail(Codes.callArguments, span.expression, `bpf_printk takes at most ${maxPrintkArgs} values (a limit of bpf_trace_vprintk)`, { hints: ["split the message into several calls"] });
      }
      const value = printedValue(fb, span.expression);
      args.push(value);
      format += (value.type.kind === "int" && value.type.signed ? "%lld" : "%llu") + escape(span.literal.text);
    }
  } else {
    throw fb.fail(Codes.unsupportedString, message, "bpf_printk takes a string or template literal written in place");
  }
  fb.emit({ op: "printk", format, args, node: e });
  return { kind: "const", value: 0n, type: bool };
}


/** Most nested calls inlined into one another; deeper is surely a mistake (or recursion through many). */
const maxInlineDepth = 16;

/**
 * A call of one of the file's functions, inlined: arguments are evaluated in
 * the caller, parameters become variables of the callee's body, `return`
 * jumps to the end of the copy. Inlined code is plain code for the analyses,
 * so a pointer passed in is checked exactly as if the body were written at
 * the call.
 */
export function inlineCall(fb: FunctionBuilder, fn: ts.FunctionDeclaration, e: ts.CallExpression): Value {
  const name = fn.name?.text ?? "function";
  const sub = fb.scope.subprograms.get(fn);
  if (sub) return subprogramCall(fb, sub, e);
  if (fb.inlineFrames.some((f) => f.fn === fn)) {
    throw fb.fail(Codes.recursion, e, `\`${name}\` calls itself${fb.inlineFrames.at(-1)?.fn === fn ? "" : " through other functions"}: BPF programs cannot recurse`, {
      hints: ["rewrite the recursion as a counted loop"],
      related: [{ message: `\`${name}\` is declared here`, location: locationOf(fn.name ?? fn) }],
    });
  }
  if (fb.inlineFrames.length >= maxInlineDepth) throw fb.fail(Codes.recursion, e, `calls nest more than ${maxInlineDepth} deep here`);
  if (!fb.current) throw fb.fail(Codes.unsupportedTopLevel, e, "a module-level constant must be computable at compile time");
  const params = fn.parameters.map((p, i) => {
    if (!ts.isIdentifier(p.name) || p.dotDotDotToken || p.initializer || p.questionToken) {
      throw fb.fail(Codes.unsupportedSyntax, p, "parameters are plain names with a type (no defaults, rest or optional parameters)");
    }
    if (!p.type) throw fb.fail(Codes.untypedNumber, p.name, `parameter \`${p.name.text}\` needs a type`);
    const argExpr = e.arguments[i];
    if (!argExpr) throw fb.fail(Codes.callArguments, e, `\`${name}\` takes ${fn.parameters.length} argument${fn.parameters.length === 1 ? "" : "s"}`);
    const sym = fb.symbolOf(p.name);
    if (!sym) throw fb.fail(Codes.internal, p.name, "no symbol for a parameter");
    if (isContextType(fb, p.type)) {
      const v = lowerExpression(fb, argExpr);
      if (v.kind !== "ctx") throw fb.fail(Codes.callArguments, argExpr, "pass the program's context here");
      return { sym, binding: { kind: "value", value: v } as const };
    }
    // A struct is passed as TypeScript passes objects: the callee sees (and may change) the caller's.
    const shape = structShape(fb, p.type);
    if (shape) return { sym, binding: { kind: "value", value: structValue(fb, argExpr, shape, p.name.text) } as const };
    const t = fb.annotatedType(p.type);
    const v = convertTo(fb, lowerExpression(fb, argExpr, t), t, argExpr) as Operand;
    return { sym, type: t, value: v, node: p as ts.Node, name: p.name.text };
  });
  const returnsValue = fn.type !== undefined && fn.type.kind !== ts.SyntaxKind.VoidKeyword;
  if (!fn.type) throw fb.fail(Codes.untypedNumber, fn.name ?? fn, `\`${name}\` needs its return type written (\`: u32\`, \`: void\`, …)`);
  const resultType = returnsValue ? fb.annotatedType(fn.type) : undefined;
  const exit = fb.newBlock();
  const result = resultType ? fb.local(`${name}.result`, resultType, fn) : undefined;

  const saved = params.map((p) => [p.sym, fb.bindings.get(p.sym)] as const);
  for (const p of params) {
    if ("binding" in p && p.binding) {
      fb.bindings.set(p.sym, p.binding);
      continue;
    }
    const local = fb.local(p.name, p.type, p.node);
    fb.emit({ op: "local_set", local, value: p.value, node: e });
    fb.bindings.set(p.sym, { kind: "local", local, mutable: true });
  }
  // `break` and `continue` in the body belong to the body's own loops, never to the caller's.
  const callerTargets = fb.jumpTargets.splice(0);
  const callerAbandoned = fb.abandoned;
  fb.abandoned = false;
  fb.inlineFrames.push({ fn, exit, result });
  try {
    for (const s of fn.body!.statements) fb.statement(s);
    // After an abandoned statement the flow is incomplete and the real error is already reported.
    if (fb.current && !fb.abandoned) {
      if (result) throw fb.fail(Codes.missingReturn, fn.body!.getLastToken() ?? fn, `\`${name}\` can reach its end without returning a value`);
      fb.jump(exit, fn.body!.getLastToken() ?? fn);
    }
  } finally {
    fb.abandoned ||= callerAbandoned;
    fb.inlineFrames.pop();
    fb.jumpTargets.push(...callerTargets);
    for (const [sym, b] of saved) {
      if (b) fb.bindings.set(sym, b);
      else fb.bindings.delete(sym);
    }
  }
  fb.current = isJumpedTo(fb.blocks, exit) ? exit : undefined;
  if (!result) return { kind: "const", value: 0n, type: bool };
  const dst = fb.temp(result.type);
  fb.emit({ op: "local_get", dst, local: result, node: e });
  return dst;
}

function isContextType(fb: FunctionBuilder, t: ts.TypeNode): boolean {
  return ts.isTypeReferenceNode(t) && fb.intrinsics.dialectSymbol(t.typeName)?.name === "XdpContext";
}


export function conversion(fb: FunctionBuilder, to: IntType, e: ts.CallExpression): Value {
  const argExpr = argument(fb, e, 0);
  const v = lowerExpression(fb, argExpr, to);
  if (v.kind === "untyped") return constant(v.value, to);
  const o = operand(fb, v, argExpr);
  if (o.type.kind === "bool") return castTo(fb, o, to, e);
  if (!isInt(o.type)) throw fb.fail(Codes.typeMismatch, argExpr, `a \`${typeName(o.type)}\` is not a number`);
  if (o.type.be) {
    throw fb.fail(Codes.byteOrderMix, argExpr, `\`${typeName(o.type)}\` is in network byte order`, { hints: [`convert with \`${toHost(o.type)}(…)\` first`] });
  }
  return castTo(fb, o, to, e);
}

const swaps: Record<ByteSwapName, { from: IntType; to: IntType }> = {
  htons: { from: u16, to: int(16, false, true) },
  ntohs: { from: int(16, false, true), to: u16 },
  htonl: { from: u32, to: int(32, false, true) },
  ntohl: { from: int(32, false, true), to: u32 },
  htonll: { from: u64, to: int(64, false, true) },
  ntohll: { from: int(64, false, true), to: u64 },
  bswap16: { from: u16, to: u16 },
  bswap32: { from: u32, to: u32 },
  bswap64: { from: u64, to: u64 },
};

export function byteSwapCall(fb: FunctionBuilder, name: ByteSwapName, e: ts.CallExpression): Value {
  const { from, to } = swaps[name];
  const argExpr = argument(fb, e, 0);
  const v = convertTo(fb, lowerExpression(fb, argExpr, from), from, argExpr);
  if (v.kind === "const") return constant(byteSwap(v.value, from.bits), to);
  const dst = fb.temp(to);
  fb.emit({ op: "bswap", dst, src: v as Operand, node: e });
  return dst;
}

/**
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), inline: 32-bit sums of the
 * 16-bit words folded twice. Ones'-complement sums do not care about byte
 * order, so the words are used as they sit in the packet (network order in,
 * network order out).
 */
export function checksumReplace(fb: FunctionBuilder, bits: 16 | 32, e: ts.CallExpression): Value {
  if (e.arguments.length !== 3) throw fb.fail(Codes.callArguments, e, "a checksum update takes the checksum, the old value and the new value");
  const be16 = int(16, false, true);
  const field = int(bits, false, true);
  const arg = (i: number, t: IntType) => convertTo(fb, lowerExpression(fb, e.arguments[i]!, t), t, e.arguments[i]!) as Operand;
  const check = arg(0, be16);
  const from = arg(1, field);
  const to = arg(2, field);
  const op = (kind: "add" | "and" | "xor" | "lshr", a: Operand, b: Operand): Operand => {
    if (a.kind === "const" && b.kind === "const") {
      const v = kind === "add" ? a.value + b.value : kind === "and" ? a.value & b.value : kind === "xor" ? a.value ^ b.value : a.value >> b.value;
      return constant(v, u32);
    }
    const dst = fb.temp(u32);
    fb.emit({ op: "binary", dst, kind, a, b, node: e });
    return dst;
  };
  const widen = (v: Operand): Operand => {
    if (v.kind === "const") return constant(v.value, u32);
    // Same width: a relabel of the raw bits, as castTo does.
    if (v.type.kind === "int" && v.type.bits === 32) return { ...v, type: u32 } as Operand;
    const dst = fb.temp(u32);
    fb.emit({ op: "cast", dst, src: v, node: e });
    return dst;
  };
  const mask = constant(0xffffn, u32);
  const words = (v: Operand): Operand[] => {
    const w = widen(v);
    return bits === 16 ? [w] : [op("and", w, mask), op("lshr", w, constant(16n, u32))];
  };
  let sum = op("xor", widen(check), mask);
  for (const w of words(from)) sum = op("add", sum, op("xor", w, mask));
  for (const w of words(to)) sum = op("add", sum, w);
  for (let i = 0; i < 2; i++) sum = op("add", op("and", sum, mask), op("lshr", sum, constant(16n, u32)));
  const result = op("and", op("xor", sum, mask), mask);
  if (result.kind === "const") return constant(result.value, be16);
  const dst = fb.temp(be16);
  fb.emit({ op: "cast", dst, src: result, node: e });
  return dst;
}

export function helperCall(fb: FunctionBuilder, helper: HelperSpec, e: ts.CallExpression): Value {
  // Sizes of memory arguments are not written: they follow from the memory passed.
  const written = helper.params.filter((p) => (p.kind !== "size" || p.written) && p.kind !== "sizeOfType").length;
  if (e.arguments.length !== written) {
    throw fb.fail(Codes.callArguments, e, `\`${helper.name}\` takes ${written} argument${written === 1 ? "" : "s"}`);
  }
  let next = 0;
  let lastSize = 0;
  let lastRead: { ptr: Temp; offset: number; size: number; length?: Operand } | undefined;
  const packetReads: { ptr: Temp; offset: number; size: number; length?: Operand }[] = [];
  let map: MapDecl | undefined;
  let data: FieldType | undefined;
  const args = helper.params.map((p) => {
    if (p.kind === "size" && !p.written) return constant(BigInt(lastSize), p.type);
    if (p.kind === "sizeOfType") {
      const d = dataType(fb, helper, e);
      data = d.shape;
      return constant(BigInt(d.size), p.type);
    }
    const argExpr = e.arguments[next++]!;
    if (p.kind === "size") return writtenSize(fb, helper, p, argExpr, lastSize, lastRead);
    if (p.kind === "dynptr") return dynptr(fb, helper, argExpr, p.uninit === true);
    if (p.kind === "ringbuf") {
      map = ringBufArgument(fb, helper, argExpr);
      return constant(0n, u64);
    }
    if (p.kind === "mem") {
      const m = helperMemory(fb, helper.name, p, argExpr);
      lastSize = m.size;
      lastRead = m.packet ? { ...m.packet, size: m.size } : undefined;
      if (lastRead) packetReads.push(lastRead);
      return m.ptr;
    }
    if (p.kind === "sock") return socketArgument(fb, helper, argExpr);
    if (p.kind === "task") return taskArgument(fb, helper, argExpr);
    const v = lowerExpression(fb, argExpr, p.kind === "int" ? p.type : undefined);
    if (p.kind === "ctx") {
      if (v.kind !== "ctx") throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` takes the program's context here`);
      const dst = fb.temp({ kind: "ctx" });
      fb.emit({ op: "ctx_ptr", dst, node: argExpr });
      return dst;
    }
    if (p.kind !== "int") throw fb.fail(Codes.internal, argExpr, `\`${helper.name}\` is lowered in ir/kptrs.ts`);
    return convertTo(fb, v, p.type, argExpr) as Operand;
  });
  const dst = fb.temp(helper.returns);
  fb.emit({ op: "call", dst, helper, args, ...(packetReads.length > 0 ? { packetReads } : {}), ...(map ? { map } : {}), node: e });
  // The packet moved: `ctx.data` and friends must be read again from here on.
  if (helper.changesPacket) fb.ctxPointers.clear();
  if (helper.acquires) return { kind: "view", region: "map", ptr: dst, offset: 0, shape: { kind: "struct", layout: socketLayout(fb, e) }, nullable: true, readOnly: "socket" };
  // bpf_dynptr_data: the dynptr's memory (PTR_TO_MEM of T's size), or NULL; read and written like a tested map value.
  if (data) return { kind: "view", region: "map", ptr: dst, offset: 0, shape: data, nullable: true };
  return dst;
}

/**
 * A size the user passes for the memory before it (bpf_tcp_raw_gen_syncookie's th_len): a constant
 * in the helper's range, which the packet must hold past the pointer, or, over a header in the
 * packet, a value the bounds analysis bounds (the verifier proves the memory up to its umax).
 */
function writtenSize(
  fb: FunctionBuilder,
  helper: HelperSpec,
  p: Extract<HelperSpec["params"][number], { kind: "size" }>,
  argExpr: ts.Expression,
  memSize: number,
  read: { size: number; length?: Operand } | undefined,
): Operand {
  const { min, max } = p.written!;
  const v = convertTo(fb, lowerExpression(fb, argExpr, p.type), p.type, argExpr) as Operand;
  if (v.kind === "const") {
    if (v.value < BigInt(min) || v.value > BigInt(max)) {
      throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` takes a length from ${min} to ${max} here; the kernel returns -EINVAL for ${v.value}`);
    }
    if (!read && v.value > BigInt(memSize)) {
      throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` would read ${v.value} bytes of a local of ${memSize}: the kernel refuses reading past it`, {
        hints: ["pass the header in the packet, whose bytes the bounds check proves"],
      });
    }
    if (read) read.size = Number(v.value);
    return v;
  }
  if (!read) {
    throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` reads a local here: its length must be a constant, at most ${memSize}`, {
      hints: ["pass the header in the packet to give a length known only at run time"],
    });
  }
  read.length = v;
  return v;
}

/**
 * The task bpf_get_current_task_btf returned: the call written in place, or a
 * const initialised with it (the register holds the verifier's typed pointer;
 * anything computed from it would not be).
 */
function taskArgument(fb: FunctionBuilder, helper: HelperSpec, argExpr: ts.Expression): Operand {
  const expr = ts.isParenthesizedExpression(argExpr) ? argExpr.expression : argExpr;
  const isTaskCall = (e: ts.Expression | undefined) => e !== undefined && ts.isCallExpression(e) && fb.intrinsics.dialectSymbol(e.expression)?.name === "bpf_get_current_task_btf";
  let ok = isTaskCall(expr);
  if (!ok && ts.isIdentifier(expr)) {
    const decl = fb.symbolOf(expr)?.valueDeclaration;
    ok = decl !== undefined && ts.isVariableDeclaration(decl) && ts.isVariableDeclarationList(decl.parent) && (decl.parent.flags & ts.NodeFlags.Const) !== 0 && isTaskCall(decl.initializer);
  }
  if (!ok) throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` takes the task \`bpf_get_current_task_btf()\` returns: the call, or a const holding it`);
  return convertTo(fb, lowerExpression(fb, expr, u64), u64, expr) as Operand;
}

/** A socket a lookup returned (tested or not: analysis/references.ts follows that, and its release). */
function socketArgument(fb: FunctionBuilder, helper: HelperSpec, argExpr: ts.Expression): Temp {
  const v = lowerExpression(fb, argExpr);
  const def = v.kind === "view" ? fb.defs.get(v.ptr.id) : undefined;
  if (v.kind !== "view" || v.offset !== 0 || def?.op !== "call" || !def.helper.acquires) {
    throw fb.fail(Codes.callArguments, argExpr, `\`${helper.name}\` takes a socket found by \`bpf_sk_lookup_tcp\`, \`bpf_sk_lookup_udp\` or \`bpf_skc_lookup_tcp\``);
  }
  return v.ptr;
}

/**
 * The struct a socket is read through: the one the helper's declaration
 * returns (`BpfSock | null`), or, for an `Omit<BpfSock, …>`, that struct with
 * the fields the kernel does not let a program read taken out (the others
 * keep their offsets).
 */
function socketLayout(fb: FunctionBuilder, e: ts.CallExpression): Layout {
  const decl = fb.intrinsics.dialectSymbol(e.expression)?.declarations?.[0];
  const returned = decl && ts.isFunctionDeclaration(decl) && decl.type && ts.isUnionTypeNode(decl.type) ? decl.type.types.find(ts.isTypeReferenceNode) : undefined;
  let node: ts.TypeNode | undefined = returned;
  let hidden = new Set<string>();
  const alias = returned && fb.intrinsics.dialectSymbol(returned.typeName)?.declarations?.[0];
  if (alias && ts.isTypeAliasDeclaration(alias) && ts.isTypeReferenceNode(alias.type) && alias.type.typeArguments?.length === 2) {
    const [struct, omitted] = alias.type.typeArguments as unknown as [ts.TypeNode, ts.TypeNode];
    node = struct;
    const names = ts.isUnionTypeNode(omitted) ? omitted.types : [omitted];
    hidden = new Set(names.flatMap((n) => (ts.isLiteralTypeNode(n) && ts.isStringLiteral(n.literal) ? [n.literal.text] : [])));
  }
  const shape = node && structShape(fb, node);
  if (shape?.kind !== "struct") throw fb.fail(Codes.internal, e, "the socket struct of a lookup helper is not declared");
  if (hidden.size === 0) return shape.layout;
  const name = alias && ts.isTypeAliasDeclaration(alias) ? alias.name.text : shape.layout.name;
  return { ...shape.layout, name, fields: new Map([...shape.layout.fields].filter(([n]) => !hidden.has(n))) };
}


/** The licenses the kernel counts as GPL (include/linux/license.h: license_is_gpl_compatible). */
const gplCompatible = new Set(["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"]);

/**
 * GPL-only helpers (gpl_only in their proto; bpf_printk's bpf_trace_printk
 * and bpf_snprintf too) in a file whose license the kernel does not count as GPL: it refuses
 * the load ("cannot call GPL-restricted function from non-GPL compatible program"). Every
 * kfunc likewise ("cannot call kernel function from non-GPL compatible program"), those
 * of loops bounded at run time and of kernel iterators included.
 */
export function checkGplHelpers(irs: readonly ProgramIR[], license: string, diagnostics: DiagnosticBag): void {
  if (gplCompatible.has(license)) return;
  const reported = new Set<ts.Node>();
  for (const ir of irs) {
    for (const b of ir.blocks) {
      for (const i of b.instrs) {
        if (i.op === "kfunc") {
          // A loop's iterator is one error, at its bpf_iter_*_new; bpf_obj_new is written without its _impl.
          const loop = i.name.startsWith("bpf_iter_");
          if ((loop && !i.name.endsWith("_new")) || reported.has(i.node)) continue;
          reported.add(i.node);
          diagnostics.report(Codes.gplHelper, i.node, `${loop ? `this loop runs on the kernel's \`${i.name.replace(/_new$/, "")}\` iterator, kernel functions (kfuncs)` : `\`${i.name.replace(/_impl$/, "")}\` is a kernel function (kfunc)`}: the kernel lets only GPL-compatible programs call kfuncs, and this one is licensed "${license}"`, {
            hints: ['choose a GPL-compatible license, e.g. `license("Dual MIT/GPL");`' + (loop ? ", or bound the loop by a constant" : "")],
          });
          continue;
        }
        const name = i.op === "call" && i.helper.gplOnly ? i.helper.name : i.op === "printk" ? "bpf_printk" : i.op === "snprintf" ? "bpf_snprintf" : undefined;
        if (!name) continue;
        diagnostics.report(Codes.gplHelper, i.node, `\`${name}\` is GPL-only: the kernel refuses it in a program licensed "${license}"`, {
          hints: ['choose a GPL-compatible license, e.g. `license("Dual MIT/GPL");`, or do without the helper'],
        });
      }
    }
  }
}

/** BPF's calling convention: arguments in r1–r5. */
const maxSubprogramParams = 5;

/**
 * `noinline(f)` / `globalFunction(f)`: the signature of `f` as a subprogram,
 * or undefined after reporting why it cannot be one. A global function is
 * verified from its BTF alone, so it takes the context and integers and
 * returns an integer (btf_prepare_func_args); a static one may also take
 * packet pointers, which keep their proven range across the call.
 */
export function declareSubprogram(fb: FunctionBuilder, fn: ts.FunctionDeclaration, linkage: "static" | "global"): Subprogram | undefined {
  const name = fn.name!.text;
  const d = fb.scope.diagnostics;
  const wrapper = linkage === "global" ? "globalFunction" : "noinline";
  if (fn.parameters.length > maxSubprogramParams) {
    d.report(Codes.subprogram, fn.parameters[maxSubprogramParams]!, `\`${name}\` takes ${fn.parameters.length} parameters; a BPF function takes at most ${maxSubprogramParams} (r1–r5)`, {
      hints: ["pass fewer values, or leave the function inlined (drop the `" + wrapper + "(…)`)"],
    });
    return undefined;
  }
  const params: Subprogram["params"][number][] = [];
  for (const p of fn.parameters) {
    if (!ts.isIdentifier(p.name) || p.dotDotDotToken || p.initializer || p.questionToken || !p.type) {
      d.report(Codes.unsupportedSyntax, p, "parameters are plain names with a type (no defaults, rest or optional parameters)");
      return undefined;
    }
    let type: ValueType;
    if (isContextType(fb, p.type)) type = { kind: "ctx" };
    else if (structParam(fb, p.type)) {
      d.report(Codes.subprogram, p.type, `\`${name}\` takes a struct: a BPF-to-BPF function takes integers, booleans, packet pointers and the context`, {
        hints: [`pass the fields it needs, or leave \`${name}\` inlined (drop the \`${wrapper}(…)\`), where structs are shared with the caller`],
      });
      return undefined;
    } else {
      try {
        type = fb.annotatedType(p.type);
      } catch (e) {
        if (e instanceof Abort) return undefined;
        throw e;
      }
    }
    if (linkage === "global" && type.kind !== "ctx" && type.kind !== "int") {
      d.report(Codes.subprogram, p.type, `a global function takes the context and integers only: the kernel verifies it without its callers, so a \`${p.type.getText()}\` argument would be unchecked`, {
        hints: [`pass the context and read \`ctx.data\`/\`ctx.data_end\` inside, or use \`noinline(${name})\` for a static function that keeps its callers' checks`],
      });
      return undefined;
    }
    params.push({ name: p.name.text, type, node: p });
  }
  if (!fn.type) {
    d.report(Codes.untypedNumber, fn.name!, `\`${name}\` needs its return type written (\`: u32\`, \`: void\`, …)`);
    return undefined;
  }
  let returns: Subprogram["returns"];
  if (fn.type.kind !== ts.SyntaxKind.VoidKeyword) {
    let t: ValueType;
    try {
      t = fb.annotatedType(fn.type);
    } catch (e) {
      if (e instanceof Abort) return undefined;
      throw e;
    }
    if (t.kind !== "int" && t.kind !== "bool") {
      d.report(Codes.subprogram, fn.type, "a BPF function returns a number: the verifier does not let a pointer leave it", { hints: ["return an offset or a length, and move the pointer in the caller"] });
      return undefined;
    }
    returns = t;
  }
  if (linkage === "global" && (!returns || returns.kind !== "int")) {
    d.report(Codes.subprogram, fn.type, "a global function returns an integer (the kernel refuses others)", { hints: ["return a `u32` or `i32`"] });
    return undefined;
  }
  return { name, linkage, params, returns, node: fn, changesPacket: movesPacket(fb, fn, new Set()) };
}

/** Whether `fn`, or a function it calls, calls a helper that moves the packet. */
function movesPacket(fb: FunctionBuilder, fn: ts.FunctionDeclaration, seen: Set<ts.FunctionDeclaration>): boolean {
  if (seen.has(fn)) return false;
  seen.add(fn);
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isCallExpression(n)) {
      const r = fb.intrinsics.resolve(n.expression);
      if (r?.kind === "helper" && r.helper.changesPacket) found = true;
      const sym = fb.symbolOf(n.expression);
      const callee = sym && fb.scope.functions.get(sym);
      if (callee && movesPacket(fb, callee, seen)) found = true;
    }
    ts.forEachChild(n, visit);
  };
  if (fn.body) visit(fn.body);
  return found;
}

/** Whether a parameter's annotation names a struct or array (a layout error counts as not). */
function structParam(fb: FunctionBuilder, t: ts.TypeNode): boolean {
  try {
    return structShape(fb, t) !== undefined;
  } catch (e) {
    if (e instanceof Abort) return false;
    throw e;
  }
}

/** A call of a subprogram: arguments converted as for an inlined call, then one BPF-to-BPF call. */
function subprogramCall(fb: FunctionBuilder, sub: Subprogram, e: ts.CallExpression): Value {
  if (!fb.current) throw fb.fail(Codes.unsupportedTopLevel, e, "a module-level constant must be computable at compile time");
  if (e.arguments.length !== sub.params.length) throw fb.fail(Codes.callArguments, e, `\`${sub.name}\` takes ${sub.params.length} argument${sub.params.length === 1 ? "" : "s"}`);
  const args = sub.params.map((p, i): Operand => {
    const argExpr = e.arguments[i]!;
    if (p.type.kind === "ctx") {
      const v = lowerExpression(fb, argExpr);
      if (v.kind !== "ctx") throw fb.fail(Codes.callArguments, argExpr, "pass the program's context here");
      const dst = fb.temp({ kind: "ctx" });
      fb.emit({ op: "ctx_ptr", dst, node: argExpr });
      return dst;
    }
    return convertTo(fb, lowerExpression(fb, argExpr, p.type), p.type, argExpr) as Operand;
  });
  const dst = sub.returns ? fb.temp(sub.returns) : undefined;
  fb.emit({ op: "subcall", dst, callee: sub, args, node: e });
  // As after bpf_xdp_adjust_head: the packet moved inside, `ctx.data` must be read again.
  if (sub.changesPacket) fb.ctxPointers.clear();
  return dst ?? { kind: "const", value: 0n, type: bool };
}

/** Recursion through subprograms: the kernel refuses a call graph with a cycle. */
export function checkSubprogramCycles(subprograms: readonly Subprogram[], diagnostics: DiagnosticBag): void {
  const done = new Set<Subprogram>();
  const visit = (s: Subprogram, path: Subprogram[]): void => {
    if (done.has(s) || !s.ir) return;
    for (const b of s.ir.blocks) {
      for (const i of b.instrs) {
        // A bpf_loop callback runs on top of its caller's frame: a cycle through one is recursion too.
        const callee = i.op === "subcall" ? i.callee : i.op === "bpf_loop" || i.op === "for_each_map" ? i.callback : undefined;
        if (!callee) continue;
        const at = path.indexOf(callee);
        if (callee === s || at >= 0) {
          diagnostics.report(Codes.recursion, i.node, `\`${callee.name}\` calls itself${callee === s ? "" : " through other functions"}: BPF programs cannot recurse`, {
            hints: ["rewrite the recursion as a counted loop"],
            related: [{ message: `\`${callee.name}\` is declared here`, location: locationOf(callee.node.name ?? callee.node) }],
          });
          continue;
        }
        visit(callee, [...path, s]);
      }
    }
    done.add(s);
  };
  for (const s of subprograms) visit(s, []);
}

/** The kernel's limit on bpf_loop's count (BPF_MAX_LOOPS); above it the helper returns -E2BIG. */
const maxLoops = 1n << 23n;

/**
 * `bpfLoop(count, callback, state?)`: bpf_loop (181). The callback, one of
 * the file's functions, becomes a static subprogram called by the kernel
 * with the index and a pointer to the caller's `state` struct on the stack
 * (PTR_TO_STACK, as the helper requires), so its fields carry results back.
 */
export function bpfLoopCall(fb: FunctionBuilder, e: ts.CallExpression): Value {
  if (e.arguments.length < 2 || e.arguments.length > 4) throw fb.fail(Codes.callArguments, e, "`bpfLoop` takes a count, a callback and, optionally, the callback's state");
  const [countExpr, callbackExpr, stateExpr, flagsExpr] = e.arguments as unknown as [ts.Expression, ts.Expression, ts.Expression | undefined, ts.Expression | undefined];
  const count = convertTo(fb, lowerExpression(fb, countExpr, u32), u32, countExpr) as Operand;
  if (count.kind === "const" && count.value > maxLoops) {
    throw fb.fail(Codes.callArguments, countExpr, `bpf_loop runs at most ${maxLoops} iterations (the kernel returns -E2BIG above)`);
  }
  const sym = ts.isIdentifier(callbackExpr) ? fb.symbolOf(callbackExpr) : undefined;
  const fn = sym && fb.scope.functions.get(sym);
  if (!fn) throw fb.fail(Codes.loopCallback, callbackExpr, "the callback is one of the file's functions, named here", { hints: ["declare `function step(index: u32, state: State): i64 { … }` at the top level and pass `step`"] });
  const callback = callbackSubprogram(fb, fn, callbackExpr);
  const shape = callback.params[1]?.shape;
  let state: Temp | undefined;
  if (shape) {
    if (!stateExpr) throw fb.fail(Codes.callArguments, e, `\`${callback.name}\` takes a state: pass the struct it works on`);
    const v = lowerExpression(fb, stateExpr);
    if (v.kind !== "view" || v.region !== "stack" || v.offset !== 0 || !sameShape(v.shape, shape)) {
      throw fb.fail(Codes.callArguments, stateExpr, `the state is a local \`${shapeName(shape)}\` (the kernel passes the callback a pointer to the caller's stack)`, {
        hints: [`declare it with \`const state: ${shapeName(shape)} = zeroed();\` and pass \`state\``],
      });
    }
    state = v.ptr;
  } else if (stateExpr) {
    throw fb.fail(Codes.callArguments, stateExpr, `\`${callback.name}\` takes no state`);
  }
  if (flagsExpr) {
    const flags = lowerExpression(fb, flagsExpr);
    if ((flags.kind !== "untyped" && flags.kind !== "const") || flags.value !== 0n) throw fb.fail(Codes.callArguments, flagsExpr, "bpf_loop's flags are 0");
  }
  const dst = fb.temp(i64);
  fb.emit({ op: "bpf_loop", dst, count, callback, state, node: e });
  return dst;
}

/** A function used as a bpf_loop callback, as a static subprogram: `(index: u32, state?: S)`, returning an integer. */
function callbackSubprogram(fb: FunctionBuilder, fn: ts.FunctionDeclaration, at: ts.Node): Subprogram {
  const name = fn.name!.text;
  const existing = fb.scope.subprograms.get(fn);
  if (existing?.callback) return existing;
  if (existing) throw fb.fail(Codes.loopCallback, at, `\`${name}\` is marked \`${existing.linkage === "global" ? "globalFunction" : "noinline"}\`; a bpf_loop callback is called by the kernel only`);
  const shapeHint = "write `function step(index: u32, state: State): i64`, State being a struct the caller owns";
  if (fn.parameters.length < 1 || fn.parameters.length > 2) throw fb.fail(Codes.loopCallback, fn.name!, `a bpf_loop callback takes the index and, optionally, a state: \`${name}\` takes ${fn.parameters.length}`, { hints: [shapeHint] });
  const params: Subprogram["params"][number][] = [];
  for (const [i, p] of fn.parameters.entries()) {
    if (!ts.isIdentifier(p.name) || p.dotDotDotToken || p.initializer || p.questionToken || !p.type) throw fb.fail(Codes.unsupportedSyntax, p, "parameters are plain names with a type (no defaults, rest or optional parameters)");
    if (i === 0) {
      const t = fb.annotatedType(p.type);
      if (t.kind !== "int" || t.bits !== 32 || t.signed || t.be) throw fb.fail(Codes.loopCallback, p.type, "the index a bpf_loop callback gets is a `u32`", { hints: [shapeHint] });
      params.push({ name: p.name.text, type: t, node: p });
      continue;
    }
    const shape = structShape(fb, p.type);
    if (!shape) throw fb.fail(Codes.loopCallback, p.type, "a bpf_loop callback's state is a struct on its caller's stack", { hints: [shapeHint] });
    params.push({ name: p.name.text, type: stackPtr, node: p, shape });
  }
  if (!fn.type) throw fb.fail(Codes.untypedNumber, fn.name!, `\`${name}\` needs its return type written (\`: i64\`)`);
  const returns = fb.annotatedType(fn.type);
  if (returns.kind !== "int") throw fb.fail(Codes.loopCallback, fn.type, "a bpf_loop callback returns an integer, 0 to go on or 1 to stop", { hints: [shapeHint] });
  const sub: Subprogram = { name, linkage: "static", params, returns, node: fn, changesPacket: false, callback: true };
  fb.scope.subprograms.set(fn, sub);
  return sub;
}

/**
 * The kernel checks a callback's return value: R0 must be in [0, 1] where it
 * returns (check_return_code / prepare_func_exit). Each `return` gives a
 * constant 0 or 1, so that holds on every path.
 */
export function checkCallbackReturns(sub: Subprogram, diagnostics: DiagnosticBag): void {
  const ir = sub.ir;
  if (!sub.callback || !ir) return;
  const blocks = reversePostOrder(ir.entry);
  const seen = new Set<number>();
  // 0 or 1 on every path: a constant, a boolean, or a variable only ever set to such values (`c ? 1 : 0`).
  const zeroOrOne = (o: Operand): boolean => {
    if (o.kind === "const") return o.value === 0n || o.value === 1n;
    if (o.type.kind === "bool") return true;
    const def = ir.defs.get(o.id);
    if (def?.op === "cast") return def.src.type.kind === "bool";
    if (def?.op === "binary" && def.kind === "and") return (def.a.kind === "const" && def.a.value === 1n) || (def.b.kind === "const" && def.b.value === 1n);
    if (def?.op !== "local_get") return false;
    if (seen.has(def.local.id)) return true;
    seen.add(def.local.id);
    return blocks.every((b) => b.instrs.every((i) => i.op !== "local_set" || i.local !== def.local || zeroOrOne(i.value)));
  };
  for (const b of blocks) {
    const t = b.term;
    if (t?.op !== "ret") continue;
    // An async callback's range is [0, 0] (set_timer_callback_state).
    if (sub.timer) {
      if (t.value.kind === "const" && t.value.value === 0n) continue;
      diagnostics.report(Codes.loopCallback, ts.isReturnStatement(t.node) && t.node.expression ? t.node.expression : t.node, "a timer callback returns 0: the verifier refuses any other value", { hints: ["end it with `return 0;`"] });
      continue;
    }
    if (zeroOrOne(t.value)) continue;
    diagnostics.report(Codes.loopCallback, ts.isReturnStatement(t.node) && t.node.expression ? t.node.expression : t.node, (sub.forEachOf ? "a forEach" : "a bpf_loop") + " callback returns 0 (go on) or 1 (stop): the verifier refuses any other value, and one known only at run time", {
      hints: ["return the constants: `if (done) return 1; … return 0;`"],
    });
  }
}
