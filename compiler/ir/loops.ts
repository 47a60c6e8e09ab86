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
 * in each of at most 16 copies. Loops bounded only at run time are refused
 * with the reason; bpf_loop and open-coded iterators are for those.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { Binding, FunctionBuilder } from "./builder";
import { arithmeticValues, compoundOps, convertTo, lowerCondition, lowerExpression, type Value } from "./expressions";
import { type Block, type Instr, type Local, type Operand, reversePostOrder, successors } from "./ir";
import { foldBinary, foldCompare, untyped } from "./typing";
import { wrap } from "./types";

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
