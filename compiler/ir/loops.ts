/**
 * Loops, unrolled at compile time. A loop the compiler accepts has the
 * canonical shape `for (let i = A; <condition on i>; <update of i>)` with
 * constants throughout and a counter the body never assigns: the bound is
 * then proven by running the counter through the condition here, and each
 * iteration is lowered with `i` as a constant. Unrolled copies give the
 * bounds analysis (and the verifier) straight-line code, so a pointer
 * walked through packet options gets a proven range per step, as the
 * kernel's own loop simulation would.
 * Loops whose bound is known only at run time wait for bpf_loop and
 * open-coded iterators.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { arithmeticValues, compoundOps, convertTo, lowerExpression, type Value } from "./expressions";
import { isJumpedTo } from "./ir";
import { untyped } from "./typing";

/** Unrolled iterations at most: code size grows with each copy, and the verifier walks each one. */
export const maxIterations = 64;

const canonical = "write it as `for (let i = 0; i < N; i++) { … }` with a constant N (at most 64), and `break` out early";

export function unrollFor(fb: FunctionBuilder, stmt: ts.ForStatement): void {
  const refuse = (node: ts.Node, why: string) => fb.fail(Codes.unsupportedLoop, node, `the compiler cannot prove that this loop ends: ${why}`, { hints: [canonical] });
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

  const exit = fb.newBlock();
  for (let k = 0; fb.current; k++) {
    fb.bindings.set(counter, { kind: "value", value });
    const cond = lowerExpression(fb, stmt.condition);
    if (cond.kind !== "const" && cond.kind !== "untyped") throw refuse(stmt.condition, "its condition depends on values known only at run time");
    if (cond.value === 0n) break;
    if (k >= maxIterations) throw refuse(stmt.condition, `it runs more than ${maxIterations} times`);
    const next = fb.newBlock();
    fb.jumpTargets.push({ break: exit, continue: next });
    try {
      fb.statement(stmt.statement);
    } finally {
      fb.jumpTargets.pop();
    }
    fb.jump(next, stmt.statement);
    // Every path left the loop (break or return): the later iterations are dead code.
    fb.current = isJumpedTo(fb.blocks, next) ? next : undefined;
    if (fb.current) value = step(fb, stmt.incrementor, counter, value, refuse);
  }
  fb.jump(exit, stmt);
  fb.current = isJumpedTo(fb.blocks, exit) ? exit : undefined;
}

/** The counter's next value, folded: `i++`, `i--`, `i += c`, `i = i * 2`, … */
function step(fb: FunctionBuilder, update: ts.Expression, counter: ts.Symbol, value: Value, refuse: (n: ts.Node, why: string) => Error): Value {
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
