/**
 * Builds one program's IR from its handler: blocks, temporaries, locals and
 * the statements. Expressions are in expressions.ts. A statement that fails
 * to lower reports once and is abandoned (`Abort`), so one mistake gives one
 * diagnostic and the rest of the program is still checked.
 */
import ts from "typescript";
import { Codes, type DiagnosticKind } from "../diagnostics/codes";
import type { DiagnosticBag, ReportOptions } from "../diagnostics/diagnostic";
import type { Intrinsics } from "../dialect/intrinsics";
import { compareValues, ctxField, lowerCondition, lowerExpression, convertTo, type Value } from "./expressions";
import type { Layouts } from "./layout";
import { structShape, structValue } from "./structs";
import { bindMapSlot } from "./for-each";
import { iterateKernel, unrollFor, unrollWhile } from "./loops";
import { type Subprogram, type GlobalDecl, type MapDecl, type Block, type Const, type Instr, type Local, type Operand, type ProgramIR, type SectionName, type Temp, type Terminator, isJumpedTo } from "./ir";
import type { Refusal } from "./typing";
import { type ValueType, bool, metaPtr, packetEnd, packetPtr, u32, intTypeByName, typeName } from "./types";

export interface BuildOptions {
  /** BPF ISA version (`-mcpu vN`): decides e.g. whether signed division exists. */
  readonly cpu: 1 | 2 | 3 | 4;
}

export interface ModuleScope {
  readonly checker: ts.TypeChecker;
  readonly intrinsics: Intrinsics;
  readonly diagnostics: DiagnosticBag;
  readonly options: BuildOptions;
  /** Module-level constants, already folded. */
  readonly constants: Map<ts.Symbol, Value>;
  /**
   * Names whose declaration failed (already reported): a later use abandons
   * its statement silently instead of adding "not a value" to the first error.
   */
  readonly poisoned: Set<ts.Symbol>;
  /** The file's own functions, inlined where they are called. */
  readonly functions: Map<ts.Symbol, ts.FunctionDeclaration>;
  /** Those of them compiled as subprograms (`noinline(f)`, `globalFunction(f)`), called instead. */
  readonly subprograms: Map<ts.FunctionDeclaration, Subprogram>;
  /** Header struct layouts, computed once per interface. */
  readonly layouts: Layouts;
  /** The file's maps, by the symbol of their `const`. */
  readonly maps: Map<ts.Symbol, MapDecl>;
  /** Module-level variables and settings, by symbol. */
  readonly globals: Map<ts.Symbol, GlobalDecl>;
}

/** A function being inlined: where its `return` goes. */
export interface InlineFrame {
  readonly fn: ts.FunctionDeclaration;
  readonly exit: Block;
  /** Holds the result; absent for `void` functions. */
  readonly result?: Local;
}

export type Binding =
  | { readonly kind: "value"; readonly value: Value }
  | { readonly kind: "local"; readonly local: Local; readonly mutable: boolean }
  | { readonly kind: "global"; readonly global: GlobalDecl };

/** Thrown after a diagnostic has been reported, to abandon the current statement. */
export class Abort extends Error {}

export class FunctionBuilder {
  readonly blocks: Block[] = [];
  readonly locals: Local[] = [];
  readonly defs = new Map<number, Instr>();
  readonly bindings = new Map<ts.Symbol, Binding>();
  /**
   * `data`, `data_end` and `data_meta`, read once at entry: the verifier's
   * ranges belong to registers, so every packet pointer must derive from
   * the one register that the checks were made against.
   */
  readonly ctxPointers = new Map<string, Temp>();
  /**
   * The context's scalar fields, read once at entry: a read inside a loop
   * with a helper call makes LLVM keep `ctx + offset` in a register, which
   * the kernel refuses ("dereference of modified ctx ptr").
   */
  readonly ctxScalars = new Map<string, Temp>();
  /** Functions being inlined, innermost last; empty in the program's own body. */
  readonly inlineFrames: InlineFrame[] = [];
  /** Where `break` and `continue` go, innermost last. */
  readonly jumpTargets: { readonly break: Block; readonly continue?: Block }[] = [];
  /** Set while building a subprogram's body: its `return` returns from the subprogram. */
  subprogram: Subprogram | undefined;
  /** The program's section; some context fields exist in some sections only. Undefined for module constants. */
  section: SectionName | undefined;
  /** The block being filled; undefined after a return, where code is unreachable. */
  current: Block | undefined;
  /** A statement was abandoned: the control flow built is incomplete, so "missing return" would be a guess. */
  abandoned = false;
  private nextTemp = 0;

  constructor(readonly scope: ModuleScope) {
    this.current = this.newBlock();
  }

  get checker(): ts.TypeChecker {
    return this.scope.checker;
  }

  get intrinsics(): Intrinsics {
    return this.scope.intrinsics;
  }

  newBlock(): Block {
    const b: Block = { id: this.blocks.length, instrs: [] };
    this.blocks.push(b);
    return b;
  }

  temp(type: ValueType): Temp {
    return { kind: "temp", id: this.nextTemp++, type };
  }

  local(name: string, type: ValueType, node: ts.Node): Local {
    const l: Local = { id: this.locals.length, name, type, node };
    this.locals.push(l);
    return l;
  }

  /** Appends an instruction to the current block. In constant context (no block) this is an error. */
  emit<I extends Instr>(instr: I): I {
    if (!this.current) throw this.fail(Codes.unsupportedTopLevel, instr.node, "a module-level constant must be computable at compile time");
    this.current.instrs.push(instr);
    if ("dst" in instr && instr.dst) this.defs.set(instr.dst.id, instr);
    return instr;
  }

  terminate(term: Terminator): void {
    if (!this.current) return;
    this.current.term = term;
    this.current = undefined;
  }

  jump(target: Block, node: ts.Node): void {
    this.terminate({ op: "br", target, node });
  }

  fail(kind: DiagnosticKind, node: ts.Node, message: string, opts?: ReportOptions): Abort {
    this.scope.diagnostics.report(kind, node, message, opts);
    return new Abort(message);
  }

  refuse(refusal: Refusal, node: ts.Node): Abort {
    return this.fail(Codes[refusal.code], node, refusal.message, { hints: refusal.hint ? [refusal.hint] : [] });
  }

  symbolOf(node: ts.Node): ts.Symbol | undefined {
    // `{ len }`: the name is the property's; the value is the variable's.
    const shorthand = ts.isShorthandPropertyAssignment(node.parent) && node.parent.name === node;
    const sym = shorthand ? this.checker.getShorthandAssignmentValueSymbol(node.parent) : this.checker.getSymbolAtLocation(node);
    if (sym && sym.flags & ts.SymbolFlags.Alias) return this.checker.getAliasedSymbol(sym);
    return sym;
  }

  binding(node: ts.Identifier): Binding | undefined {
    const sym = this.symbolOf(node);
    if (!sym) return undefined;
    if (this.scope.poisoned.has(sym)) throw new Abort(`\`${node.text}\` failed to declare`);
    const own = this.bindings.get(sym);
    if (own) return own;
    const c = this.scope.constants.get(sym);
    if (c) return { kind: "value", value: c };
    const map = this.scope.maps.get(sym);
    if (map) return { kind: "value", value: { kind: "map", map } };
    const global = this.scope.globals.get(sym);
    return global ? { kind: "global", global } : undefined;
  }

  /** The dialect type an annotation names. */
  annotatedType(typeNode: ts.TypeNode, depth = 0): ValueType {
    const intType = this.intrinsics.intType(typeNode);
    if (intType) return intType;
    if (typeNode.kind === ts.SyntaxKind.BooleanKeyword) return bool;
    if (typeNode.kind === ts.SyntaxKind.NumberKeyword) {
      throw this.fail(Codes.untypedNumber, typeNode, "`number` has no width in BPF", { hints: ["use `u8`, `u16`, `u32`, `u64` or a signed `i…` type"] });
    }
    if (ts.isTypeReferenceNode(typeNode) && !typeNode.typeArguments) {
      const sym = this.symbolOf(typeNode.typeName);
      if (sym && this.intrinsics.isDialect(sym)) {
        const pointer = pointerTypes.get(sym.name);
        if (pointer) return pointer;
        // An action is what the kernel reads from r0: a u32 (enum xdp_action).
        if (sym.name === "XdpAction") return u32;
      }
      // A user's alias (`type Port = u16`) means what it aliases.
      const decl = sym?.declarations?.[0];
      if (decl && ts.isTypeAliasDeclaration(decl) && depth < 8) return this.annotatedType(decl.type, depth + 1);
    }
    if (ts.isParenthesizedTypeNode(typeNode)) return this.annotatedType(typeNode.type, depth + 1);
    throw this.fail(Codes.typeMismatch, typeNode, `\`${typeNode.getText()}\` is not a type a BPF value can have`, {
      hints: [`use one of ${[...intTypeByName.keys()].join(", ")}, boolean, PacketPointer, MetaPointer or PacketEnd`],
    });
  }

  // ------------------------------------------------------------ statements

  statement(stmt: ts.Statement): void {
    if (!this.current) return; // unreachable: after a return on every path
    try {
      this.lowerStatement(stmt);
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      this.abandoned = true;
      // Keep lowering later statements in a fresh block to report their problems too.
      if (!this.current) this.current = this.newBlock();
    }
  }

  private lowerStatement(stmt: ts.Statement): void {
    if (ts.isBlock(stmt)) {
      for (const s of stmt.statements) this.statement(s);
    } else if (ts.isVariableStatement(stmt)) {
      for (const decl of stmt.declarationList.declarations) {
        try {
          this.variable(decl, (stmt.declarationList.flags & ts.NodeFlags.Const) !== 0);
        } catch (e) {
          if (e instanceof Abort) this.poison(decl.name);
          throw e;
        }
      }
    } else if (ts.isExpressionStatement(stmt)) {
      lowerExpression(this, stmt.expression, undefined, { discard: true });
    } else if (ts.isForStatement(stmt)) {
      unrollFor(this, stmt);
    } else if (ts.isWhileStatement(stmt) || ts.isDoStatement(stmt)) {
      unrollWhile(this, stmt);
    } else if (ts.isForOfStatement(stmt) && iterateKernel(this, stmt)) {
      // The kernel's open-coded iterators (tasks, memory areas, cgroups).
    } else if (ts.isForInStatement(stmt) || ts.isForOfStatement(stmt)) {
      throw this.fail(Codes.unsupportedLoop, stmt.getFirstToken() ?? stmt, "the compiler cannot prove that this loop ends", {
        hints: ["write it as `for (let i = 0; i < N; i++) { … }` with a constant N (at most 64), and `break` out early"],
      });
    } else if (ts.isSwitchStatement(stmt)) {
      this.switchStatement(stmt);
    } else if (ts.isBreakStatement(stmt) || ts.isContinueStatement(stmt)) {
      this.jumpStatement(stmt);
    } else if (ts.isIfStatement(stmt)) {
      this.ifStatement(stmt);
    } else if (ts.isReturnStatement(stmt)) {
      this.returnStatement(stmt);
    } else if (ts.isEmptyStatement(stmt)) {
      // nothing
    } else {
      throw this.fail(Codes.unsupportedSyntax, stmt.getFirstToken() ?? stmt, `this statement (${ts.SyntaxKind[stmt.kind]}) is not supported`);
    }
  }

  private variable(decl: ts.VariableDeclaration, isConst: boolean): void {
    if (ts.isObjectBindingPattern(decl.name)) return this.destructure(decl.name, decl);
    if (!ts.isIdentifier(decl.name)) throw this.fail(Codes.unsupportedSyntax, decl.name, "array destructuring is not supported");
    const sym = this.symbolOf(decl.name);
    if (!sym) throw this.fail(Codes.internal, decl.name, "no symbol for a declared name");
    const shape = decl.type && structShape(this, decl.type);
    if (shape) {
      if (!decl.initializer) {
        throw this.fail(Codes.uninitializedStruct, decl.name, `\`${decl.name.text}\` needs its value: a struct is never uninitialised`, {
          hints: [`write \`const ${decl.name.text}: ${decl.type!.getText()} = zeroed();\` or an object literal`],
        });
      }
      this.bindings.set(sym, { kind: "value", value: structValue(this, decl.initializer, shape, decl.name.text) });
      return;
    }
    const declared = decl.type ? this.annotatedType(decl.type) : undefined;

    if (!decl.initializer) {
      if (isConst || !declared) throw this.fail(Codes.untypedNumber, decl.name, `\`${decl.name.text}\` needs a type and a value`, { hints: [`write \`let ${decl.name.text}: u32 = 0;\``] });
      const local = this.local(decl.name.text, declared, decl);
      this.bindings.set(sym, { kind: "local", local, mutable: true });
      this.emit({ op: "local_set", local, value: zeroOf(declared, this, decl) , node: decl });
      return;
    }

    let value = lowerExpression(this, decl.initializer, declared);
    if (declared) value = convertTo(this, value, declared, decl.initializer);
    if (isConst && value.kind !== "ctx") {
      // A const is its value: no storage, so analyses and constant folding see through it.
      this.bindings.set(sym, { kind: "value", value });
      return;
    }
    if (value.kind === "ctx") {
      if (!isConst) throw this.fail(Codes.contextUse, decl.name, "the context can be aliased with `const` only");
      this.bindings.set(sym, { kind: "value", value });
      return;
    }
    if ((value.kind === "view" && value.region !== "stack") || value.kind === "map") {
      throw this.fail(Codes.typeMismatch, decl.name, "a header view or map value is bound with `const`", { hints: [`write \`const ${decl.name.text} = …\``] });
    }
    if (value.kind === "view") {
      // A local struct: its fields change, the name never does.
      this.bindings.set(sym, { kind: "value", value });
      return;
    }
    if (value.kind === "untyped") {
      throw this.fail(Codes.untypedNumber, decl.name, `\`${decl.name.text}\` needs a width: a \`let\` variable's type is not inferred from a number`, {
        hints: [`write \`let ${decl.name.text}: u32 = ${decl.initializer.getText()};\` (or u8, u16, u64, i32, …)`],
      });
    }
    const local = this.local(decl.name.text, value.type, decl);
    this.bindings.set(sym, { kind: "local", local, mutable: true });
    this.emit({ op: "local_set", local, value, node: decl });
  }

  private poison(name: ts.BindingName): void {
    if (ts.isIdentifier(name)) {
      const sym = this.symbolOf(name);
      if (sym) this.scope.poisoned.add(sym);
    } else {
      for (const el of name.elements) if (!ts.isOmittedExpression(el)) this.poison(el.name);
    }
  }

  /** `const { data, data_end } = ctx;` */
  private destructure(pattern: ts.ObjectBindingPattern, decl: ts.VariableDeclaration): void {
    const init = decl.initializer && lowerExpression(this, decl.initializer);
    if (!init || init.kind !== "ctx") throw this.fail(Codes.unsupportedSyntax, pattern, "only the context can be destructured (`const { data, data_end } = ctx`)");
    for (const el of pattern.elements) {
      if (el.dotDotDotToken || el.initializer || !ts.isIdentifier(el.name)) throw this.fail(Codes.unsupportedSyntax, el, "only plain names can be taken from the context");
      const field = el.propertyName ? el.propertyName.getText() : el.name.text;
      const sym = this.symbolOf(el.name);
      if (!sym) throw this.fail(Codes.internal, el, "no symbol for a destructured name");
      this.bindings.set(sym, { kind: "value", value: ctxField(this, field, el) });
    }
  }

  private ifStatement(stmt: ts.IfStatement): void {
    const thenBlock = this.newBlock();
    const elseBlock = stmt.elseStatement ? this.newBlock() : undefined;
    const join = this.newBlock();
    lowerCondition(this, stmt.expression, thenBlock, elseBlock ?? join);
    this.current = thenBlock;
    this.statement(stmt.thenStatement);
    this.jump(join, stmt.thenStatement);
    if (elseBlock && stmt.elseStatement) {
      this.current = elseBlock;
      this.statement(stmt.elseStatement);
      this.jump(join, stmt.elseStatement);
    }
    // A join nobody jumps to means both branches returned.
    this.current = isJumpedTo(this.blocks, join) ? join : undefined;
  }

  /**
   * `switch` as a chain of comparisons, clause bodies in source order so that
   * an empty clause falls into the next one (TypeScript refuses other
   * fallthrough here: noFallthroughCasesInSwitch).
   */
  private switchStatement(stmt: ts.SwitchStatement): void {
    const subject = lowerExpression(this, stmt.expression);
    const clauses = stmt.caseBlock.clauses;
    const bodies = clauses.map(() => this.newBlock());
    const exit = this.newBlock();
    let defaultBody: Block | undefined;
    clauses.forEach((clause, i) => {
      if (ts.isDefaultClause(clause)) {
        defaultBody = bodies[i];
        return;
      }
      const next = this.newBlock();
      const cond = compareValues(this, "eq", subject, stmt.expression, lowerExpression(this, clause.expression), clause.expression, clause.expression);
      if (cond.kind === "const") this.jump(cond.value !== 0n ? bodies[i]! : next, clause);
      else this.terminate({ op: "cond_br", cond, then: bodies[i]!, else: next, node: clause });
      this.current = next;
    });
    this.jump(defaultBody ?? exit, stmt);
    this.jumpTargets.push({ break: exit, continue: this.jumpTargets.at(-1)?.continue });
    try {
      clauses.forEach((clause, i) => {
        this.current = bodies[i];
        for (const s of clause.statements) this.statement(s);
        this.jump(bodies[i + 1] ?? exit, clause);
      });
    } finally {
      this.jumpTargets.pop();
    }
    this.current = isJumpedTo(this.blocks, exit) ? exit : undefined;
  }

  private jumpStatement(stmt: ts.BreakStatement | ts.ContinueStatement): void {
    if (stmt.label) throw this.fail(Codes.unsupportedSyntax, stmt.label, "labelled jumps are not supported");
    const targets = this.jumpTargets.at(-1);
    const target = ts.isBreakStatement(stmt) ? targets?.break : targets?.continue;
    if (!target) throw this.fail(Codes.unsupportedSyntax, stmt, `\`${stmt.getFirstToken()?.getText()}\` outside a loop`);
    this.jump(target, stmt);
  }

  private returnStatement(stmt: ts.ReturnStatement): void {
    const frame = this.inlineFrames.at(-1);
    const sub = this.subprogram;
    if (!frame && sub) {
      if (!sub.returns) {
        if (stmt.expression) lowerExpression(this, stmt.expression, undefined, { discard: true });
        this.terminate({ op: "ret", value: { kind: "const", value: 0n, type: u32 }, node: stmt });
        return;
      }
      if (!stmt.expression) throw this.fail(Codes.missingReturn, stmt, `\`${sub.name}\` must return a value`);
      const value = convertTo(this, lowerExpression(this, stmt.expression, sub.returns), sub.returns, stmt.expression);
      if (value.kind !== "temp" && value.kind !== "const") throw this.fail(Codes.typeMismatch, stmt.expression, `\`${sub.name}\` returns a number`);
      this.terminate({ op: "ret", value, node: stmt });
      return;
    }
    if (frame) {
      if (frame.result) {
        if (!stmt.expression) throw this.fail(Codes.missingReturn, stmt, `\`${frame.fn.name?.text}\` must return a value`);
        const value = convertTo(this, lowerExpression(this, stmt.expression, frame.result.type), frame.result.type, stmt.expression);
        this.emit({ op: "local_set", local: frame.result, value: value as Operand, node: stmt });
      } else if (stmt.expression) {
        lowerExpression(this, stmt.expression, undefined, { discard: true });
      }
      this.jump(frame.exit, stmt);
      return;
    }
    if (!stmt.expression) throw this.fail(Codes.missingReturn, stmt, "a program must return an action", { hints: ["e.g. `return XdpAction.PASS;`"] });
    const value = convertTo(this, lowerExpression(this, stmt.expression, u32), u32, stmt.expression);
    if (value.kind === "ctx" || value.kind === "untyped" || value.kind === "view" || value.kind === "map") throw this.fail(Codes.typeMismatch, stmt.expression, "a program returns an action");
    this.terminate({ op: "ret", value, node: stmt });
  }
}

const pointerTypes = new Map<string, ValueType>([
  ["PacketPointer", packetPtr],
  ["MetaPointer", metaPtr],
  ["PacketEnd", packetEnd],
]);


function zeroOf(t: ValueType, fb: FunctionBuilder, node: ts.Node): Operand {
  if (t.kind === "int" || t.kind === "bool") return { kind: "const", value: 0n, type: t } satisfies Const;
  throw fb.fail(Codes.untypedNumber, node, `a \`${typeName(t)}\` variable needs an initial value`);
}

/** Unused reads vanish in LLVM; `egress_ifindex` is read only where the kernel allows it. */
function readCtxScalars(fb: FunctionBuilder, node: ts.Node): void {
  for (const field of ["ingress_ifindex", "rx_queue_index", "egress_ifindex"] as const) {
    if (field === "egress_ifindex" && !fb.section?.endsWith("/devmap")) continue;
    const dst = fb.temp(u32);
    fb.emit({ op: "ctx", dst, field, node });
    fb.ctxScalars.set(field, dst);
  }
}

export function buildProgram(scope: ModuleScope, name: string, section: SectionName, node: ts.Node, handler: ts.ArrowFunction | ts.FunctionExpression): ProgramIR | undefined {
  const fb = new FunctionBuilder(scope);
  fb.section = section;
  const entry = fb.current!;
  let ctxName = "ctx";
  if (handler.parameters.length > 1) {
    scope.diagnostics.report(Codes.programShape, handler.parameters[1]!, "a program takes one parameter, the context");
    return undefined;
  }
  const param = handler.parameters[0];
  if (param) {
    if (!ts.isIdentifier(param.name)) {
      scope.diagnostics.report(Codes.programShape, param.name, "name the context parameter (e.g. `ctx`) and destructure it in the body");
      return undefined;
    }
    ctxName = param.name.text;
    const sym = fb.symbolOf(param.name);
    if (sym) fb.bindings.set(sym, { kind: "value", value: { kind: "ctx" } });
    for (const field of ["data", "data_end", "data_meta"] as const) {
      const dst = fb.temp(field === "data" ? packetPtr : field === "data_end" ? packetEnd : metaPtr);
      fb.emit({ op: "ctx", dst, field, node: param });
      fb.ctxPointers.set(field, dst);
    }
    readCtxScalars(fb, param);
  }
  const body = handler.body;
  if (ts.isBlock(body)) {
    for (const s of body.statements) fb.statement(s);
    // After an abandoned statement the flow is incomplete and the real error is already reported.
    if (fb.current && !fb.abandoned) {
      const close = body.getLastToken() ?? body;
      scope.diagnostics.report(Codes.missingReturn, close, `program \`${name}\` can reach its end without returning an action`, { hints: ["end every path with `return XdpAction.…;`"] });
    }
  } else {
    try {
      const value = convertTo(fb, lowerExpression(fb, body, u32), u32, body);
      if (value.kind === "temp" || value.kind === "const") fb.terminate({ op: "ret", value, node: body });
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
    }
  }
  return { name, section, node, handler, ctxName, entry, blocks: fb.blocks, locals: fb.locals, defs: fb.defs };
}

/**
 * The body of a function compiled as a subprogram: parameters arrive as
 * `param` values (r1–r5) and become variables, the context's pointers are
 * read from a context parameter as a program reads them, `return` returns.
 */
export function buildSubprogram(scope: ModuleScope, sub: Subprogram): ProgramIR | undefined {
  const fb = new FunctionBuilder(scope);
  fb.section = "xdp";
  fb.subprogram = sub;
  const entry = fb.current!;
  let ctxName = "ctx";
  const fn = sub.node;
  sub.params.forEach((p, index) => {
    // The map a for_each callback visits is passed but not declared: nothing to bind.
    if (p.hidden) return;
    const decl = p.node as ts.ParameterDeclaration;
    const sym = fb.symbolOf(decl.name);
    if (!sym) return;
    const dst = fb.temp(p.type);
    fb.emit({ op: "param", dst, index, node: decl });
    if (p.type.kind === "ctx") {
      ctxName = p.name;
      fb.bindings.set(sym, { kind: "value", value: { kind: "ctx" } });
      for (const field of ["data", "data_end", "data_meta"] as const) {
        const ptr = fb.temp(field === "data" ? packetPtr : field === "data_end" ? packetEnd : metaPtr);
        fb.emit({ op: "ctx", dst: ptr, field, node: decl });
        fb.ctxPointers.set(field, ptr);
      }
      readCtxScalars(fb, decl);
      return;
    }
    if (p.slot) {
      bindMapSlot(fb, sym, p.slot, dst, p.shape!, decl, p.at);
      return;
    }
    if (p.shape) {
      // A callback's state: the caller's struct, through the pointer the kernel passes.
      fb.bindings.set(sym, { kind: "value", value: { kind: "view", region: "stack", ptr: dst, offset: 0, shape: p.shape, nullable: false } });
      return;
    }
    const local = fb.local(p.name, p.type, decl);
    fb.emit({ op: "local_set", local, value: dst, node: decl });
    fb.bindings.set(sym, { kind: "local", local, mutable: true });
  });
  for (const s of fn.body!.statements) fb.statement(s);
  if (fb.current && !fb.abandoned) {
    const close = fn.body!.getLastToken() ?? fn;
    if (sub.returns) scope.diagnostics.report(Codes.missingReturn, close, `\`${sub.name}\` can reach its end without returning a value`);
    else fb.terminate({ op: "ret", value: { kind: "const", value: 0n, type: u32 }, node: close });
  }
  return { name: sub.name, section: "xdp", node: fn, handler: fn, ctxName, entry, blocks: fb.blocks, locals: fb.locals, defs: fb.defs, subprogram: sub };
}
