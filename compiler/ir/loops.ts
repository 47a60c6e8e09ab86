/**
 * Loops, unrolled at compile time. The compiler proves that a loop ends by
 * running it: each iteration's condition is lowered with what is known at
 * that point, and the loop ends where the condition is false on every path,
 * at most 64 iterations in. Unrolled copies give the bounds analysis (and
 * the verifier) straight-line code, so a pointer walked through packet
 * options gets a proven range per step, as the kernel's own loop
 * simulation would.
 *
 * - `for (let i = A; <condition>; <update of i>)`: the counter is a constant
 *   in each copy (the body may not assign it).
 * - `while` and `do … while`: the variables the condition reads are run
 *   through the IR built so far; one that holds the same constant on every
 *   path (`let n: u32 = 4; … n--`) is that constant in the condition.
 *
 * A condition may also depend on run-time values (a length from the packet)
 * when a constant part ends the loop: `i < n && i < 16` is a run-time exit
 * in each of at most 16 copies. A counted `for` loop bounded only at run
 * time is not unrolled: it becomes a real loop over the kernel's open-coded
 * number iterator (iterateNumbers). Other loops bounded only at run time are
 * refused with the reason; bpfLoop is for those.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { Binding, FunctionBuilder } from "./builder";
import { arithmeticValues, castTo, compoundOps, convertTo, lowerCondition, lowerExpression, operand, type Value } from "./expressions";
import { type Block, type Instr, type Local, type Operand, reversePostOrder, successors } from "./ir";
import { constant, foldBinary, foldCompare, untyped } from "./typing";
import { iteratorWords, kfunc, kfuncs } from "../dialect/kfuncs";
import { kernelLayout } from "./kfuncs";
import { type IntType, type ValueType, bool, i32, mapValuePtr, stackPtr, u32, u64, wrap } from "./types";

/** Unrolled iterations at most: code size grows with each copy, and the verifier walks each one. */
export const maxIterations = 64;

const canonicalFor = `write it as \`for (let i = 0; i < N; i++) { … }\` with a constant N (at most ${maxIterations}), and \`break\` out early`;
const canonicalWhile = `count with a variable that starts at a constant and changes by a constant step, and bound it: \`while (i < N && …) { …; i++; }\` (N at most ${maxIterations})`;

type Refuse = (node: ts.Node, why: string, hint?: string) => Error;

interface Loop {
  readonly stmt: ts.IterationStatement;
  readonly condition: ts.Expression | undefined;
  /** False for `do … while`: the body runs once before the first test. */
  readonly testFirst: boolean;
  /** Where the condition's values come from, bound for its lowering; returns the names known only at run time. */
  readonly bindCondition: () => string[];
  readonly unbindCondition: () => void;
  /** After each iteration (a `for` loop's update). */
  readonly step?: () => void;
  readonly refuse: Refuse;
  readonly hint: string;
}

export function unrollFor(fb: FunctionBuilder, stmt: ts.ForStatement): void {
  const refuse: Refuse = (node, why, hint) => fb.fail(Codes.unsupportedLoop, node, `the compiler cannot prove that this loop ends: ${why}`, { hints: [hint ?? canonicalFor] });
  const init = stmt.initializer;
  if (!init || !ts.isVariableDeclarationList(init) || init.declarations.length !== 1 || !(init.flags & ts.NodeFlags.Let)) {
    throw refuse(init ?? stmt.getFirstToken() ?? stmt, "it needs one counter declared with `let` in it");
  }
  const decl = init.declarations[0]!;
  if (!ts.isIdentifier(decl.name) || !decl.initializer) throw refuse(decl, "its counter needs a name and a start value");
  const counter = fb.symbolOf(decl.name);
  if (!counter) throw refuse(decl.name, "its counter has no symbol");
  if (!stmt.condition) throw refuse(stmt.getFirstToken() ?? stmt, "it has no condition");
  if (!stmt.incrementor) throw refuse(stmt.getFirstToken() ?? stmt, "it never updates its counter");
  const assignment = findAssignment(fb, stmt.statement, counter);
  if (assignment) throw refuse(assignment, `the body changes the counter \`${decl.name.text}\``);

  const declared = decl.type ? fb.annotatedType(decl.type) : undefined;
  let value = lowerExpression(fb, decl.initializer, declared);
  if (declared) value = convertTo(fb, value, declared, decl.initializer);
  if (value.kind !== "untyped" && value.kind !== "const") throw refuse(decl.initializer, "its counter must start at a constant");
  const incrementor = stmt.incrementor;
  if (iterateNumbers(fb, stmt, counter, value, declared, refuse)) return;
  const bindCounter = () => fb.bindings.set(counter, { kind: "value", value });
  unroll(fb, {
    stmt,
    condition: stmt.condition,
    testFirst: true,
    bindCondition: () => {
      bindCounter();
      return runtimeNames(fb, stmt.condition!);
    },
    unbindCondition: () => {},
    step: () => {
      value = step(fb, incrementor, counter, value, refuse);
      bindCounter();
    },
    refuse,
    hint: canonicalFor,
  });
}

/**
 * `for (let i = A; i < n; i++)` with `n` known only at run time and no
 * constant cap: the kernel's open-coded number iterator instead of copies,
 *
 *   bpf_iter_num_new(&it, A, n); while ((p = bpf_iter_num_next(&it))) { i = *p; … } bpf_iter_num_destroy(&it);
 *
 * a real loop, which the verifier follows until its states repeat. `n` is
 * read once, before the loop; the iterator counts in i32 and the kernel
 * refuses ranges over 1 << 23 (BPF_MAX_LOOPS): such a loop runs no
 * iteration. Returns false when the loop is not of this shape.
 */
function iterateNumbers(fb: FunctionBuilder, stmt: ts.ForStatement, counter: ts.Symbol, start: Value, declared: ValueType | undefined, refuse: Refuse): boolean {
  const cond = stmt.condition!;
  const update = stmt.incrementor!;
  const isCounter = (e: ts.Expression) => ts.isIdentifier(e) && fb.symbolOf(e) === counter;
  const steps =
    ((ts.isPostfixUnaryExpression(update) || ts.isPrefixUnaryExpression(update)) && update.operator === ts.SyntaxKind.PlusPlusToken && isCounter(update.operand)) ||
    (ts.isBinaryExpression(update) && update.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken && isCounter(update.left) && update.right.getText() === "1");
  if (!steps || !ts.isBinaryExpression(cond) || cond.operatorToken.kind !== ts.SyntaxKind.LessThanToken || !isCounter(cond.left)) return false;
  if (referencesSymbol(fb, cond.right, counter) || start.kind !== "untyped" && start.kind !== "const") return false;
  for (const sym of symbolsIn(fb, cond.right)) {
    const assigned = findAssignment(fb, stmt.statement, sym);
    if (assigned) return false;
  }
  // Lowered once, before the loop: emits nothing when the bound is a constant (then the loop is unrolled).
  const endValue = lowerExpression(fb, cond.right, declared);
  if (endValue.kind === "untyped" || endValue.kind === "const") return false;
  const end = operand(fb, endValue, cond.right);
  if (end.type.kind !== "int" || end.type.be) throw refuse(cond.right, "its bound is not an integer");
  const type = declared ?? end.type;
  if (type.kind !== "int" || type.bits > 32 || type.be) throw refuse(cond.right, "a loop bounded at run time counts in `u32` or `i32` (the kernel's iterator counts in i32)", canonicalIter);
  const leaving = findReturn(fb, stmt.statement);
  if (leaving) {
    throw fb.fail(Codes.unsupportedLoop, leaving, `a loop bounded at run time is left with \`break\`, not ${ts.isReturnStatement(leaving) ? "`return`" : "`bpf_throw`"}: the kernel's iterator must be destroyed after it`, {
      hints: [`set a variable and \`break\`, then ${ts.isReturnStatement(leaving) ? "return" : "call `bpf_throw`"} after the loop`],
    });
  }
  const startConst = convertTo(fb, start, type, stmt) as Operand;
  const it = fb.temp(stackPtr);
  fb.emit({ op: "stack_alloc", dst: it, size: 8, name: "iter", node: stmt });
  const status = fb.temp(i32);
  fb.emit({ op: "kfunc", dst: status, name: "bpf_iter_num_new", args: [it, castTo(fb, startConst, i32, stmt), castTo(fb, end, i32, cond.right)], node: stmt });
  const header = fb.newBlock();
  iteratorHeaders.add(header);
  const body = fb.newBlock();
  const exit = fb.newBlock();
  const preheader = fb.current!;
  fb.jump(header, stmt);
  fb.current = header;
  const next = fb.temp(stackPtr);
  fb.emit({ op: "kfunc", dst: next, name: "bpf_iter_num_next", args: [it], node: cond });
  const more = fb.temp(bool);
  fb.emit({ op: "cmp", dst: more, pred: "ne", a: next, b: constant(0n, u64), node: cond });
  fb.terminate({ op: "cond_br", cond: more, then: body, else: exit, node: cond });
  fb.current = body;
  const raw = fb.temp(i32);
  fb.emit({ op: "load", dst: raw, ptr: next, region: "stack", offset: 0, size: 4, node: cond });
  fb.bindings.set(counter, { kind: "value", value: castTo(fb, raw, type, cond) });
  fb.jumpTargets.push({ break: exit, continue: header });
  try {
    fb.statement(stmt.statement);
  } finally {
    fb.jumpTargets.pop();
  }
  fb.jump(header, stmt.statement);
  checkSettles(fb, header, preheader, cond);
  fb.current = exit;
  fb.emit({ op: "kfunc", name: "bpf_iter_num_destroy", args: [it], node: stmt });
  return true;
}

/**
 * An open-coded iterator of the kernel as a loop, `for (const x of
 * bpf_iter_task(flags)) { … }`: made before the loop, destroyed after it,
 *
 *   bpf_iter_X_new(&it, …); while ((x = bpf_iter_X_next(&it))) { … } bpf_iter_X_destroy(&it);
 *
 * `x` an object of the kernel's (RCU-protected, not a reference), valid in
 * its iteration only, its CO-RE fields read in the body.
 */
interface KernelIterator {
  /** The call as written, for messages. */
  readonly form: string;
  /** What the call takes, for messages. */
  readonly takes: string;
  readonly arity: number;
  /** `_new`'s arguments after the iterator, from the call's. */
  readonly args: (fb: FunctionBuilder, call: ts.CallExpression) => Operand[];
  /** The kernel struct of the loop's variable: `next`'s, or for a css the cgroup its first field points to. */
  readonly element: string;
}

const kernelIterators: ReadonlyMap<string, KernelIterator> = new Map([
  [
    "bpf_iter_task",
    { form: "bpf_iter_task(BPF_TASK_ITER_ALL_PROCS)", takes: "the flags", arity: 1, element: "task_struct", args: (fb, call) => [constant(0n, u64), integerArgument(fb, call.arguments[0]!, u32)] },
  ],
  [
    "bpf_iter_task_vma",
    {
      form: "bpf_iter_task_vma(task, 0)",
      takes: "a task and the address to start from",
      arity: 2,
      element: "vm_area_struct",
      // KF_RCU: a task the program holds, or one a task loop is at ("must be referenced or trusted" otherwise).
      args: (fb, call) => [kernelObject(fb, call, call.arguments[0]!, "task_struct", ["bpf_iter_task_next"]), integerArgument(fb, call.arguments[1]!, u64)],
    },
  ],
  [
    "bpf_iter_css",
    {
      form: "bpf_iter_css(cgroup, BPF_CGROUP_ITER_DESCENDANTS_PRE)",
      takes: "a cgroup and the order",
      arity: 2,
      element: "cgroup",
      // KF_TRUSTED_ARGS: a cgroup the program holds. Its own css (`&cgrp->self`) is its first field, so the same pointer.
      args: (fb, call) => [kernelObject(fb, call, call.arguments[0]!, "cgroup", []), integerArgument(fb, call.arguments[1]!, u32)],
    },
  ],
]);

function integerArgument(fb: FunctionBuilder, e: ts.Expression, type: IntType): Operand {
  return convertTo(fb, lowerExpression(fb, e, type), type, e) as Operand;
}

/** A kernel object the iterator starts from: a reference a kfunc acquired (tested: analysis/references.ts), or the variable of a loop over `walked`. */
function kernelObject(fb: FunctionBuilder, call: ts.CallExpression, e: ts.Expression, struct: string, walked: readonly string[]): Operand {
  const v = lowerExpression(fb, e);
  const def = v.kind === "view" ? fb.defs.get(v.ptr.id) : undefined;
  const from = def?.op === "kfunc" ? kfunc(def.name) : undefined;
  const returns = from?.returns.kind === "ptr" && from.returns.to.kind === "struct" ? from.returns.to.name : undefined;
  if (v.kind === "view" && v.offset === 0 && returns === struct && (from!.acquires || walked.includes(from!.name))) return v.ptr;
  const makers = [...kfuncs.values()].filter((k) => k.call && k.acquires && k.returns.kind === "ptr" && k.returns.to.kind === "struct" && k.returns.to.name === struct).map((k) => `\`${k.name}\``);
  const loops = walked.map((w) => ` or the variable of a \`${w.replace(/_next$/, "")}\` loop`).join("");
  throw fb.fail(Codes.callArguments, e, `\`${call.expression.getText()}\` takes a \`${kernelLayout(struct).name}\` returned by ${makers.join(" or ")}${loops}`);
}

/** `for (const x of bpf_iter_…(…))`: the kernel's iterator of that name. Returns false when the loop is over something else. */
export function iterateKernel(fb: FunctionBuilder, stmt: ts.ForOfStatement): boolean {
  const call = stmt.expression;
  const name = ts.isCallExpression(call) ? fb.intrinsics.dialectSymbol(call.expression)?.name : undefined;
  const iterator = name ? kernelIterators.get(name) : undefined;
  if (!name || !iterator || !ts.isCallExpression(call)) return false;
  const decl = ts.isVariableDeclarationList(stmt.initializer) ? stmt.initializer.declarations[0] : undefined;
  if (!decl || !ts.isIdentifier(decl.name) || !(stmt.initializer.flags & ts.NodeFlags.Const)) {
    throw fb.fail(Codes.unsupportedLoop, stmt.initializer, `each iteration's value is a new \`const\`: \`for (const x of ${iterator.form})\``);
  }
  if (call.arguments.length !== iterator.arity) throw fb.fail(Codes.callArguments, call, `\`${name}\` takes ${iterator.takes}: \`${iterator.form}\``);
  const leaving = findReturn(fb, stmt.statement);
  if (leaving) {
    throw fb.fail(Codes.unsupportedLoop, leaving, `a loop over \`${name}\` is left with \`break\`, not ${ts.isReturnStatement(leaving) ? "`return`" : "`bpf_throw`"}: the kernel's iterator must be destroyed after it`, {
      hints: [`set a variable and \`break\`, then ${ts.isReturnStatement(leaving) ? "return" : "call `bpf_throw`"} after the loop`],
    });
  }
  const args = iterator.args(fb, call);
  const it = fb.temp(stackPtr);
  fb.emit({ op: "stack_alloc", dst: it, size: Number(iteratorWords[name]!) * 8, name: "iter", node: stmt });
  const status = fb.temp(i32);
  fb.emit({ op: "kfunc", dst: status, name: `${name}_new`, args: [it, ...args], node: call });
  const header = fb.newBlock();
  iteratorHeaders.add(header);
  const body = fb.newBlock();
  const exit = fb.newBlock();
  const preheader = fb.current!;
  fb.jump(header, stmt);
  fb.current = header;
  const next = fb.temp(mapValuePtr);
  fb.emit({ op: "kfunc", dst: next, name: `${name}_next`, args: [it], node: call });
  const more = fb.temp(bool);
  fb.emit({ op: "cmp", dst: more, pred: "ne", a: next, b: constant(0n, u64), node: call });
  fb.terminate({ op: "cond_br", cond: more, then: body, else: exit, node: call });
  fb.current = body;
  let element = next;
  const returned = kfunc(`${name}_next`).returns;
  if (returned.kind === "ptr" && returned.to.kind === "struct" && returned.to.name !== iterator.element) {
    // A css: its cgroup, read through CO-RE (`pos->cgroup`); the verifier lets the program read through it.
    element = fb.temp(mapValuePtr);
    fb.emit({ op: "load", dst: element, ptr: next, region: "map", offset: 0, size: 8, core: kernelLayout(returned.to.name), node: call });
  }
  const layout = kernelLayout(iterator.element);
  const sym = fb.symbolOf(decl.name)!;
  fb.bindings.set(sym, { kind: "value", value: { kind: "view", region: "map", ptr: element, offset: 0, shape: { kind: "struct", layout }, nullable: false, readOnly: layout.name } });
  fb.jumpTargets.push({ break: exit, continue: header });
  try {
    fb.statement(stmt.statement);
  } finally {
    fb.jumpTargets.pop();
  }
  fb.jump(header, stmt.statement);
  checkSettles(fb, header, preheader, call);
  fb.current = exit;
  fb.emit({ op: "kfunc", name: `${name}_destroy`, args: [it], node: stmt });
  return true;
}

/** The constants a value may be on the paths to a point, and whether some path gives a run-time value. */
interface Possible {
  readonly consts: ReadonlySet<bigint>;
  readonly top: boolean;
}

const anything: Possible = { consts: new Set(), top: true };
/** More constants than this for one variable: it keeps changing. */
const maxPossible = 16;

/**
 * The verifier follows a real loop until its states repeat, widening only
 * values it does not need exactly. A variable that goes through a new
 * constant on every iteration (`c += 1`) never repeats: the kernel walks on
 * until it gives up ("BPF program is too large"). So the constants each
 * variable may hold at the loop's head are run to a fixed point here, and
 * a variable whose set keeps growing is refused. Values from the packet or
 * from the iteration number are run-time values, which the kernel widens.
 */
function checkSettles(fb: FunctionBuilder, header: Block, preheader: Block, at: ts.Node): void {
  const order = reversePostOrder(fb.blocks[0]!);
  const latches = order.filter((b) => b !== preheader && successors(b).includes(header));
  const assigned = new Set<Local>();
  for (const b of order) if (b.id > header.id) for (const i of b.instrs) if (i.op === "local_set") assigned.add(i.local);
  const sets = new Map<Local, Possible>();
  const start = new PossibleRunner(fb, header, new Map());
  for (const l of assigned) {
    const v = start.before(l, preheader, preheader.instrs.length);
    if (!v.top) sets.set(l, v);
  }
  for (let step = 0; step <= maxPossible; step++) {
    const runner = new PossibleRunner(fb, header, sets);
    let grew: Local | undefined;
    for (const [l, was] of [...sets]) {
      const consts = new Set(was.consts);
      let top = was.top;
      for (const latch of latches) {
        const v = runner.before(l, latch, latch.instrs.length);
        for (const c of v.consts) consts.add(c);
        top ||= v.top;
      }
      if (consts.size > was.consts.size) grew ??= l;
      sets.set(l, { consts, top });
      if (consts.size > maxPossible) break;
    }
    if (!grew) return;
    if (sets.get(grew)!.consts.size > maxPossible || step === maxPossible) {
      throw fb.fail(Codes.unsupportedLoop, at, `\`${grew.name}\` takes a new constant on every iteration of this loop bounded at run time: the verifier follows each one and gives up (BPF program is too large)`, {
        hints: [`bound the loop by a constant so that it is unrolled (\`i < n && i < 16\`), or compute \`${grew.name}\` from the iteration number or the packet`],
      });
    }
  }
}

/** ConstantRunner's walk for sets of constants, with the loop head's sets given. */
class PossibleRunner {
  private readonly where = new Map<Instr, { block: Block; index: number }>();
  private readonly preds = new Map<Block, Block[]>();
  private readonly memo = new Map<string, Possible>();

  constructor(
    private readonly fb: FunctionBuilder,
    private readonly header: Block,
    private readonly atHeader: ReadonlyMap<Local, Possible>,
  ) {
    for (const b of reversePostOrder(fb.blocks[0]!)) {
      b.instrs.forEach((instr, index) => this.where.set(instr, { block: b, index }));
      for (const s of successors(b)) this.preds.set(s, [...(this.preds.get(s) ?? []), b]);
    }
  }

  before(local: Local, block: Block, index: number): Possible {
    for (let i = index - 1; i >= 0; i--) {
      const instr = block.instrs[i]!;
      if (instr.op === "local_set" && instr.local === local) return this.operand(instr.value);
    }
    if (block === this.header) return this.atHeader.get(local) ?? anything;
    if (iteratorHeaders.has(block)) return anything;
    const key = `${local.id}:${block.id}`;
    const known = this.memo.get(key);
    if (known) return known;
    this.memo.set(key, anything);
    const preds = this.preds.get(block) ?? [];
    let out: Possible = preds.length === 0 ? anything : { consts: new Set(), top: false };
    for (const p of preds) out = union(out, this.before(local, p, p.instrs.length));
    this.memo.set(key, out);
    return out;
  }

  private operand(o: Operand): Possible {
    if (o.kind === "const") return { consts: new Set([o.value]), top: false };
    const def = this.fb.defs.get(o.id);
    const at = def && this.where.get(def);
    if (!def || !at) return anything;
    const pairs = (a: Possible, b: Possible, f: (x: bigint, y: bigint) => bigint): Possible => {
      const consts = new Set<bigint>();
      for (const x of a.consts) for (const y of b.consts) if (consts.size <= maxPossible) consts.add(f(x, y));
      return { consts, top: a.top || b.top };
    };
    switch (def.op) {
      case "local_get":
        return this.before(def.local, at.block, at.index);
      case "binary": {
        const t = def.dst.type;
        if (t.kind !== "int") return anything;
        return pairs(this.operand(def.a), this.operand(def.b), (x, y) => foldBinary(def.kind, x, y, t));
      }
      case "cast": {
        const v = this.operand(def.src);
        const from = def.src.type;
        const t = def.dst.type;
        if (t.kind !== "int") return anything;
        return { consts: new Set([...v.consts].map((x) => wrap(from.kind === "int" && from.signed ? BigInt.asIntN(from.bits, x) : x, t))), top: v.top };
      }
      default:
        return anything;
    }
  }
}

function union(a: Possible, b: Possible): Possible {
  return { consts: new Set([...a.consts, ...b.consts]), top: a.top || b.top };
}

const canonicalIter = "write `for (let i: u32 = 0; i < n; i++) { … }`";

/**
 * Headers of real loops: their back edge is made only after the body is
 * built, so while it is, the IR shows one way in. No value is known there.
 */
const iteratorHeaders = new WeakSet<Block>();

function referencesSymbol(fb: FunctionBuilder, e: ts.Node, sym: ts.Symbol): boolean {
  return symbolsIn(fb, e).includes(sym);
}

function symbolsIn(fb: FunctionBuilder, e: ts.Node): ts.Symbol[] {
  const out: ts.Symbol[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n)) {
      const sym = fb.symbolOf(n);
      if (sym) out.push(sym);
    }
    ts.forEachChild(n, visit);
  };
  visit(e);
  return out;
}

/** A `return`, or a `bpf_throw` (which leaves the program holding the iterator: "bpf_throw would lead to reference leak"). */
function findReturn(fb: FunctionBuilder, body: ts.Node): ts.Node | undefined {
  let found: ts.Node | undefined;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isReturnStatement(n) || (ts.isCallExpression(n) && fb.intrinsics.dialectSymbol(n.expression)?.name === "bpf_throw")) found = n;
    else ts.forEachChild(n, visit);
  };
  visit(body);
  return found;
}

/** `while (cond) body` and `do body while (cond)`. */
export function unrollWhile(fb: FunctionBuilder, stmt: ts.WhileStatement | ts.DoStatement): void {
  const refuse: Refuse = (node, why, hint) => fb.fail(Codes.unsupportedLoop, node, `the compiler cannot prove that this loop ends: ${why}`, { hints: [hint ?? canonicalWhile] });
  const variables = conditionLocals(fb, stmt.expression);
  for (const v of variables) {
    const assignment = findAssignment(fb, stmt.expression, v.symbol);
    if (assignment) throw refuse(assignment, `its condition changes \`${v.local.name}\``, `update \`${v.local.name}\` in the body and only test it in the condition`);
  }
  const saved = new Map<ts.Symbol, Binding>();
  unroll(fb, {
    stmt,
    condition: stmt.expression,
    testFirst: ts.isWhileStatement(stmt),
    bindCondition: () => {
      const runner = new ConstantRunner(fb);
      const unknown: string[] = [];
      for (const v of variables) {
        const known = fb.current ? runner.before(v.local, fb.current, fb.current.instrs.length) : undefined;
        if (known === undefined || (v.local.type.kind !== "int" && v.local.type.kind !== "bool")) {
          unknown.push(v.local.name);
          continue;
        }
        saved.set(v.symbol, fb.bindings.get(v.symbol)!);
        fb.bindings.set(v.symbol, { kind: "value", value: { kind: "const", value: known, type: v.local.type } });
      }
      return [...new Set([...unknown, ...runtimeNames(fb, stmt.expression)])];
    },
    unbindCondition: () => {
      for (const [sym, b] of saved) fb.bindings.set(sym, b);
      saved.clear();
    },
    refuse,
    hint: canonicalWhile,
  });
}

function unroll(fb: FunctionBuilder, loop: Loop): void {
  const { stmt, refuse } = loop;
  const exit = fb.newBlock();
  const runtime = new Set<string>();
  for (let k = 0; fb.current; k++) {
    // Blocks of this iteration, for foldKnownBranches: the one it starts in and all made since.
    const first = fb.current.id;
    if (loop.condition && (loop.testFirst || k > 0)) {
      const body = fb.newBlock();
      try {
        for (const name of loop.bindCondition()) runtime.add(name);
        lowerCondition(fb, loop.condition, body, exit);
      } finally {
        loop.unbindCondition();
      }
      fb.current = isReachable(fb, body) ? body : undefined;
      if (!fb.current) break;
    }
    if (k >= maxIterations) {
      const at = loop.condition ?? stmt.getFirstToken() ?? stmt;
      if (runtime.size > 0) {
        const names = [...runtime].map((n) => `\`${n}\``).join(", ");
        throw refuse(at, `its condition depends on values known only at run time (${names}), and no constant part of it ends the loop within ${maxIterations} iterations`, `${loop.hint}; a run-time test may sit beside the constant bound`);
      }
      throw refuse(at, `it runs more than ${maxIterations} times`);
    }
    const next = fb.newBlock();
    fb.jumpTargets.push({ break: exit, continue: next });
    try {
      fb.statement(loop.stmt.statement);
    } finally {
      fb.jumpTargets.pop();
    }
    fb.jump(next, loop.stmt.statement);
    foldKnownBranches(fb, first);
    // Every path left the loop (break or return): the later iterations are dead code.
    fb.current = isReachable(fb, next) ? next : undefined;
    if (fb.current && loop.step) loop.step();
  }
  fb.jump(exit, stmt);
  fb.current = isReachable(fb, exit) ? exit : undefined;
}

/**
 * Whether control can reach `block` from the entry. A jump from dead code
 * (the right side of `false && …`) does not count.
 */
function isReachable(fb: FunctionBuilder, block: Block): boolean {
  return reversePostOrder(fb.blocks[0]!).includes(block);
}

/**
 * Branches of this iteration's body whose condition the IR makes a constant
 * (`if (i >= 16) break;` with `i` counted from a constant) become jumps, so
 * the iteration that must leave the loop does, and no analysis walks a path
 * that cannot run.
 */
function foldKnownBranches(fb: FunctionBuilder, first: number): void {
  for (let changed = true; changed; ) {
    changed = false;
    const runner = new ConstantRunner(fb);
    for (const block of reversePostOrder(fb.blocks[0]!)) {
      const term = block.term;
      if (block.id < first || term?.op !== "cond_br" || term.cond.kind !== "temp") continue;
      const known = runner.value(term.cond);
      if (known === undefined) continue;
      block.term = { op: "br", target: known !== 0n ? term.then : term.else, node: term.node };
      changed = true;
      break;
    }
  }
}

/** The counter's next value, folded: `i++`, `i--`, `i += c`, `i = i * 2`, … */
function step(fb: FunctionBuilder, update: ts.Expression, counter: ts.Symbol, value: Value, refuse: Refuse): Value {
  const isCounter = (e: ts.Expression) => ts.isIdentifier(e) && fb.symbolOf(e) === counter;
  let next: Value | undefined;
  if ((ts.isPostfixUnaryExpression(update) || ts.isPrefixUnaryExpression(update)) && isCounter(update.operand)) {
    if (update.operator === ts.SyntaxKind.PlusPlusToken) next = arithmeticValues(fb, ts.SyntaxKind.PlusToken, value, untyped(1n), update);
    if (update.operator === ts.SyntaxKind.MinusMinusToken) next = arithmeticValues(fb, ts.SyntaxKind.MinusToken, value, untyped(1n), update);
  } else if (ts.isBinaryExpression(update) && isCounter(update.left)) {
    const op = update.operatorToken.kind;
    if (op === ts.SyntaxKind.EqualsToken) next = lowerExpression(fb, update.right);
    else if (compoundOps.has(op)) next = arithmeticValues(fb, compoundOps.get(op)!, value, lowerExpression(fb, update.right), update);
  }
  if (!next) throw refuse(update, "its update is not a constant step of the counter");
  if (next.kind !== "untyped" && next.kind !== "const") throw refuse(update, "its counter's step depends on values known only at run time");
  return value.kind === "const" ? convertTo(fb, next, value.type, update) : next;
}

/** The first place in `body` that assigns the counter, if any. */
function findAssignment(fb: FunctionBuilder, body: ts.Node, counter: ts.Symbol): ts.Node | undefined {
  let found: ts.Node | undefined;
  const isCounter = (e: ts.Expression) => ts.isIdentifier(e) && fb.symbolOf(e) === counter;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && n.operatorToken.kind <= ts.SyntaxKind.LastAssignment && isCounter(n.left)) found = n;
    else if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && isCounter(n.operand)) found = n;
    else ts.forEachChild(n, visit);
  };
  visit(body);
  return found;
}

/** The `let` variables a condition reads. */
function conditionLocals(fb: FunctionBuilder, cond: ts.Expression): { symbol: ts.Symbol; local: Local }[] {
  const out = new Map<ts.Symbol, Local>();
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n)) {
      const sym = fb.symbolOf(n);
      const b = sym && !fb.scope.poisoned.has(sym) ? fb.bindings.get(sym) : undefined;
      if (sym && b?.kind === "local") out.set(sym, b.local);
      return;
    }
    ts.forEachChild(n, visit);
  };
  visit(cond);
  return [...out].map(([symbol, local]) => ({ symbol, local }));
}

/** Names in a condition that stand for run-time values: context fields, globals, reads, calls. */
function runtimeNames(fb: FunctionBuilder, cond: ts.Expression): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) || ts.isPropertyAccessExpression(n)) {
      out.push(n.getText());
      return;
    }
    if (ts.isIdentifier(n)) {
      const sym = fb.symbolOf(n);
      const b = sym ? fb.bindings.get(sym) : undefined;
      if (b?.kind === "global" || b?.kind === "local" || (b?.kind === "value" && b.value.kind !== "const" && b.value.kind !== "untyped")) out.push(n.text);
      else if (!b && sym && fb.scope.globals.has(sym)) out.push(n.text);
      return;
    }
    ts.forEachChild(n, visit);
  };
  visit(cond);
  return out;
}

/**
 * Runs the IR built so far for one value: what a local holds at a point,
 * when every path from the entry gives it the same constant. The IR has no
 * back edges (loops are unrolled), so a walk back through predecessors ends.
 */
class ConstantRunner {
  private readonly where = new Map<Instr, { block: Block; index: number }>();
  private readonly preds = new Map<Block, Block[]>();
  private readonly memo = new Map<string, bigint | undefined>();

  constructor(private readonly fb: FunctionBuilder) {
    const live = reversePostOrder(fb.blocks[0]!);
    for (const b of live) {
      b.instrs.forEach((instr, index) => this.where.set(instr, { block: b, index }));
      for (const s of successors(b)) this.preds.set(s, [...(this.preds.get(s) ?? []), b]);
    }
  }

  /** The value of `local` before instruction `index` of `block`. */
  before(local: Local, block: Block, index: number): bigint | undefined {
    for (let i = index - 1; i >= 0; i--) {
      const instr = block.instrs[i]!;
      if (instr.op === "local_set" && instr.local === local) return this.operand(instr.value);
    }
    if (iteratorHeaders.has(block)) return undefined;
    const key = `${local.id}:${block.id}`;
    if (this.memo.has(key)) return this.memo.get(key);
    this.memo.set(key, undefined);
    const preds = this.preds.get(block) ?? [];
    let value: bigint | undefined;
    for (const [i, p] of preds.entries()) {
      const v = this.before(local, p, p.instrs.length);
      if (v === undefined || (i > 0 && v !== value)) {
        value = undefined;
        break;
      }
      value = v;
    }
    this.memo.set(key, value);
    return value;
  }

  /** An operand's value, when it is the same constant on every path. */
  value(o: Operand): bigint | undefined {
    return this.operand(o);
  }

  private operand(o: Operand): bigint | undefined {
    if (o.kind === "const") return o.value;
    const def = this.fb.defs.get(o.id);
    const at = def && this.where.get(def);
    if (!def || !at) return undefined;
    switch (def.op) {
      case "local_get":
        return this.before(def.local, at.block, at.index);
      case "binary": {
        const a = this.operand(def.a);
        const b = this.operand(def.b);
        return a === undefined || b === undefined || def.dst.type.kind !== "int" ? undefined : foldBinary(def.kind, a, b, def.dst.type);
      }
      case "cmp": {
        const a = this.operand(def.a);
        const b = this.operand(def.b);
        const t = def.a.type.kind === "int" ? def.a.type : undefined;
        return a === undefined || b === undefined ? undefined : foldCompare(def.pred, a, b, t) ? 1n : 0n;
      }
      case "cast": {
        const v = this.operand(def.src);
        const from = def.src.type;
        if (v === undefined || def.dst.type.kind !== "int") return undefined;
        return wrap(from.kind === "int" && from.signed ? BigInt.asIntN(from.bits, v) : v, def.dst.type);
      }
      default:
        return undefined;
    }
  }
}
