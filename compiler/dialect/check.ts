/**
 * Dialect checks: refuses, with a specific code and a way out, the
 * TypeScript that has no BPF meaning (strings, closures, classes, `any`,
 * exceptions, floating point, …). It only looks at syntax and types; what
 * the code does is the IR builder's and the analyses' business. After this
 * stage, the IR builder may assume it sees only constructs it can lower.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { DiagnosticBag } from "../diagnostics/diagnostic";
import type { Intrinsics } from "./intrinsics";

export function checkDialect(sourceFile: ts.SourceFile, intrinsics: Intrinsics, diagnostics: DiagnosticBag): void {
  const visit = (node: ts.Node): void => {
    if (checkNode(node, intrinsics, diagnostics) === "skip") return;
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
}

/** The function passed to `xdp(…)` and its variants. */
export function isProgramHandler(node: ts.Node, intrinsics: Intrinsics): boolean {
  if (!ts.isArrowFunction(node) && !ts.isFunctionExpression(node)) return false;
  const call = node.parent;
  return ts.isCallExpression(call) && call.arguments[0] === node && intrinsics.section(call.expression) !== undefined;
}

function checkNode(node: ts.Node, intrinsics: Intrinsics, d: DiagnosticBag): "skip" | void {
  switch (node.kind) {
    case ts.SyntaxKind.ImportDeclaration: {
      const spec = (node as ts.ImportDeclaration).moduleSpecifier;
      if (!ts.isStringLiteral(spec) || (spec.text !== "tsxdp" && spec.text !== "tsxdp/net")) {
        d.report(Codes.unsupportedImport, spec, `only the dialect can be imported ("tsxdp" and "tsxdp/net"); a program is one self-contained file for now`);
      }
      return "skip";
    }
    case ts.SyntaxKind.StringLiteral:
    case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
    case ts.SyntaxKind.TemplateExpression:
    case ts.SyntaxKind.TaggedTemplateExpression:
      if (isLicenseArgument(node, intrinsics)) return;
      // `ListHead<T, "node">`: the name of T's node field, a type only.
      if (isGraphNodeName(node, intrinsics)) return;
      // A trace message: the template's text becomes the format, its values the arguments.
      if (isPrintkArgument(node, intrinsics) && node.kind !== ts.SyntaxKind.TaggedTemplateExpression) return;
      // bpf_strncmp's second string and bpf_snprintf's format: constants in .rodata.
      if (isStrncmpText(node, intrinsics) && node.kind !== ts.SyntaxKind.TemplateExpression && node.kind !== ts.SyntaxKind.TaggedTemplateExpression) return;
      d.report(Codes.unsupportedString, node, "strings have no representation in an XDP program", {
        hints: ["compare bytes or integers read from the packet instead"],
      });
      return "skip";
    case ts.SyntaxKind.ArrowFunction:
    case ts.SyntaxKind.FunctionExpression:
      if (isProgramHandler(node, intrinsics)) return;
      d.report(Codes.unsupportedClosure, node, "functions can only be passed to `xdp(…)`; other function values and closures are not supported", {
        hints: ["write the logic inline in the program body"],
      });
      return "skip";
    case ts.SyntaxKind.FunctionDeclaration: {
      // A bodiless `declare function` only names something: calling it is what gets refused (TSX1015).
      const fn = node as ts.FunctionDeclaration;
      if (!fn.body) return "skip";
      // Module-level functions are inlined where they are called; nested ones would be closures.
      if (ts.isSourceFile(fn.parent)) {
        if (fn.asteriskToken || fn.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)) {
          d.report(Codes.unsupportedClosure, fn.name ?? fn, "a function cannot be async or a generator");
          return "skip";
        }
        return;
      }
      d.report(Codes.unsupportedClosure, fn.name ?? node, "functions inside functions are closures, which are not supported", {
        hints: ["declare the function at the top level of the file"],
      });
      return "skip";
    }
    case ts.SyntaxKind.AnyKeyword:
    case ts.SyntaxKind.UnknownKeyword:
      d.report(Codes.unsupportedAny, node, `\`${node.getText()}\` has no size or representation in BPF`, {
        hints: ["use a fixed-width type such as `u32`, `u16` or `be16`"],
      });
      return "skip";
    case ts.SyntaxKind.ClassDeclaration:
    case ts.SyntaxKind.ClassExpression:
      d.report(Codes.unsupportedClass, (node as ts.ClassLikeDeclaration).name ?? node, "classes are not supported: BPF has no objects or methods", {
        hints: ["use integers, packet reads at offsets, and top-level functions"],
      });
      return "skip";
    case ts.SyntaxKind.ThrowStatement:
    case ts.SyntaxKind.TryStatement:
      d.report(Codes.unsupportedException, firstToken(node), "exceptions are not supported: BPF programs cannot unwind", {
        hints: ["return `XdpAction.ABORTED` (or DROP) to signal an error"],
      });
      return "skip";
    case ts.SyntaxKind.NumericLiteral:
      if (!/^(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9_]+)$/.test(node.getText())) {
        d.report(Codes.unsupportedFloat, node, `\`${node.getText()}\` is not an integer: BPF has no floating point`, {
          hints: ["use integer arithmetic, e.g. scale by 1000 instead of using fractions"],
        });
      }
      return;
    case ts.SyntaxKind.BigIntLiteral:
      d.report(Codes.unsupportedLiteral, node, "bigint literals are not supported", { hints: ["write the number without `n`; u64 constants are exact"] });
      return;
    case ts.SyntaxKind.ObjectLiteralExpression:
      if (isMapOptions(node, intrinsics) || isRunConfig(node, intrinsics) || isMapKeyOrValue(node, intrinsics) || isStructLiteral(node)) return;
      d.report(Codes.unsupportedLiteral, node, "an object literal is a struct value, and needs its struct type here", {
        hints: ["declare the struct as an interface and give the variable its type: `const key: FlowKey = { … }`"],
      });
      return "skip";
    case ts.SyntaxKind.ArrayLiteralExpression:
      if (isRunConfig(node, intrinsics) || isStructLiteral(node)) return;
      d.report(Codes.unsupportedLiteral, node, "an array literal is a FixedArray value, and needs its type here", {
        hints: ["give the variable its type: `const buf: FixedArray<u8, 4> = [1, 2, 3, 4]`, or use separate integer variables"],
      });
      return "skip";
    case ts.SyntaxKind.VariableDeclarationList: {
      const flags = (node as ts.VariableDeclarationList).flags;
      if (!(flags & (ts.NodeFlags.Let | ts.NodeFlags.Const | ts.NodeFlags.Using | ts.NodeFlags.AwaitUsing))) {
        d.report(Codes.unsupportedVar, firstToken(node), "`var` is not supported", { hints: ["use `let` or `const`"] });
      }
      return;
    }
    case ts.SyntaxKind.NullKeyword:
      // An absent buffer of a helper or kfunc that allows one (bpf_csum_diff, bpf_dynptr_slice), bpf_kptr_xchg's empty field.
      if (ts.isCallExpression(node.parent) && node.parent.arguments.includes(node as ts.Expression) && ["helper", "kfunc", "kptr"].includes(intrinsics.resolve(node.parent.expression)?.kind ?? "")) return;
      d.report(Codes.unsupportedNullish, node, `\`${node.getText()}\` is not a value in an XDP program`);
      return "skip";
    case ts.SyntaxKind.UndefinedKeyword:
      d.report(Codes.unsupportedNullish, node, `\`${node.getText()}\` is not a value in an XDP program`);
      return "skip";
    case ts.SyntaxKind.Identifier:
      if ((node as ts.Identifier).text === "undefined" && ts.isExpression(node) && !ts.isPropertyAccessExpression(node.parent)) {
        d.report(Codes.unsupportedNullish, node, "`undefined` is not a value in an XDP program");
      }
      return;
    case ts.SyntaxKind.AsExpression:
    case ts.SyntaxKind.TypeAssertionExpression:
    case ts.SyntaxKind.SatisfiesExpression:
      if (node.kind === ts.SyntaxKind.SatisfiesExpression) return;
      d.report(Codes.unsupportedOperator, node, "type assertions change nothing at run time and are not supported", {
        hints: ["convert with `u32(x)`, `u16(x)`, … or byte order with `ntohs(x)`/`htons(x)`"],
      });
      return "skip";
    case ts.SyntaxKind.NonNullExpression:
      d.report(Codes.unsupportedOperator, node, "the non-null assertion `!` is not supported");
      return "skip";
    case ts.SyntaxKind.NewExpression:
      // Maps are the only objects: declared once, at the top level.
      if (intrinsics.mapClass((node as ts.NewExpression).expression) && isTopLevelConst(node)) return;
      d.report(Codes.unsupportedOperator, node, "`new` only declares maps, at the top level: `const m = new HashMap<u32, u64>({ maxEntries: 1024 });`");
      return "skip";
    case ts.SyntaxKind.DeleteExpression:
    case ts.SyntaxKind.TypeOfExpression:
    case ts.SyntaxKind.VoidExpression:
    case ts.SyntaxKind.AwaitExpression:
    case ts.SyntaxKind.YieldExpression:
    case ts.SyntaxKind.SpreadElement:
    case ts.SyntaxKind.RegularExpressionLiteral:
      d.report(Codes.unsupportedOperator, node, `${describe(node)} is not supported in an XDP program`);
      return "skip";
    case ts.SyntaxKind.BinaryExpression: {
      const op = (node as ts.BinaryExpression).operatorToken.kind;
      if (unsupportedBinary.has(op)) {
        d.report(Codes.unsupportedOperator, (node as ts.BinaryExpression).operatorToken, `operator \`${ts.tokenToString(op)}\` is not supported`, {
          hints: unsupportedBinary.get(op) ? [unsupportedBinary.get(op)!] : [],
        });
      }
      return;
    }
    case ts.SyntaxKind.PropertyAccessExpression:
      if ((node as ts.PropertyAccessExpression).questionDotToken) {
        d.report(Codes.unsupportedOperator, node, "optional chaining `?.` is not supported");
        return "skip";
      }
      return;
    case ts.SyntaxKind.CallExpression:
      if ((node as ts.CallExpression).questionDotToken) {
        d.report(Codes.unsupportedOperator, node, "optional calls `?.()` are not supported");
        return "skip";
      }
      return;
    case ts.SyntaxKind.LabeledStatement:
    case ts.SyntaxKind.WithStatement:
    case ts.SyntaxKind.DebuggerStatement:
    case ts.SyntaxKind.EnumDeclaration:
    case ts.SyntaxKind.ModuleDeclaration:
      d.report(Codes.unsupportedSyntax, firstToken(node), `${describe(node)} is not supported`);
      return "skip";
    default:
      return;
  }
}

const unsupportedBinary = new Map<ts.SyntaxKind, string | undefined>([
  [ts.SyntaxKind.AsteriskAsteriskToken, "multiply explicitly, or shift for powers of two"],
  [ts.SyntaxKind.AsteriskAsteriskEqualsToken, undefined],
  [ts.SyntaxKind.InKeyword, undefined],
  [ts.SyntaxKind.InstanceOfKeyword, undefined],
  [ts.SyntaxKind.QuestionQuestionToken, undefined],
  [ts.SyntaxKind.QuestionQuestionEqualsToken, undefined],
  [ts.SyntaxKind.CommaToken, "write separate statements"],
  [ts.SyntaxKind.AmpersandAmpersandEqualsToken, undefined],
  [ts.SyntaxKind.BarBarEqualsToken, undefined],
]);

/** `xdp(handler, { priority, chainCallActions: [...] })`: the run configuration and its action list. */
function isRunConfig(node: ts.Node, intrinsics: Intrinsics): boolean {
  let n = node;
  if (ts.isArrayLiteralExpression(n) && ts.isPropertyAssignment(n.parent)) n = n.parent.parent;
  const call = n.parent;
  return ts.isObjectLiteralExpression(n) && ts.isCallExpression(call) && call.arguments[1] === n && intrinsics.section(call.expression) !== undefined;
}

/** A struct key or value written in place: `flows.lookup({ saddr, dport })`, nested literals included. */
function isMapKeyOrValue(node: ts.Node, intrinsics: Intrinsics): boolean {
  let n = node;
  while (ts.isObjectLiteralExpression(n) && ts.isPropertyAssignment(n.parent) && ts.isObjectLiteralExpression(n.parent.parent)) n = n.parent.parent;
  const call = n.parent;
  if (!ts.isCallExpression(call) || !call.arguments.includes(n as ts.Expression) || !ts.isPropertyAccessExpression(call.expression)) return false;
  return ["lookup", "update", "delete"].includes(call.expression.name.text) && intrinsics.isMap(call.expression.expression);
}

/**
 * A struct or FixedArray value written in place, where its type is known:
 * a typed declaration's value, a call's argument, or a field or element of
 * such a literal. Whether the type really is a struct is the builder's to say.
 */
function isStructLiteral(node: ts.Node): boolean {
  let n = node;
  for (;;) {
    const p = n.parent;
    if ((ts.isPropertyAssignment(p) && p.initializer === n && ts.isObjectLiteralExpression(p.parent)) || ts.isArrayLiteralExpression(p) || ts.isParenthesizedExpression(p)) {
      n = ts.isPropertyAssignment(p) ? p.parent : p;
      continue;
    }
    if (ts.isVariableDeclaration(p)) return p.initializer === n && p.type !== undefined;
    return ts.isCallExpression(p) && p.arguments.includes(n as ts.Expression);
  }
}

function isMapOptions(node: ts.Node, intrinsics: Intrinsics): boolean {
  const call = node.parent;
  // A map of maps' `inner: { … }`: the inner maps' options.
  const prop = node.parent;
  if (ts.isPropertyAssignment(prop) && prop.initializer === node && prop.name.getText() === "inner") return isMapOptions(prop.parent, intrinsics);
  return ts.isNewExpression(call) && call.arguments?.[0] === node && intrinsics.mapClass(call.expression) !== undefined;
}

function isTopLevelConst(node: ts.Node): boolean {
  const decl = node.parent;
  return ts.isVariableDeclaration(decl) && decl.initializer === node && ts.isVariableStatement(decl.parent.parent) && ts.isSourceFile(decl.parent.parent.parent);
}

function isPrintkArgument(node: ts.Node, intrinsics: Intrinsics): boolean {
  const call = node.parent;
  return ts.isCallExpression(call) && call.arguments[0] === node && intrinsics.resolve(call.expression)?.kind === "printk";
}

function isStrncmpText(node: ts.Node, intrinsics: Intrinsics): boolean {
  const call = ts.isParenthesizedExpression(node.parent) ? node.parent.parent : node.parent;
  const kind = ts.isCallExpression(call) ? intrinsics.resolve(call.expression)?.kind : undefined;
  const at = node.parent === call ? node : node.parent;
  // bpf_snprintf's format too, and the kernel type bpf_snprintf_btf shows a value as (bpf_rdonly_cast reads one as).
  const resolved = ts.isCallExpression(call) ? intrinsics.resolve(call.expression) : undefined;
  const rdonlyCast = resolved?.kind === "kfunc" && resolved.kfunc.name === "bpf_rdonly_cast";
  return ts.isCallExpression(call) && ((call.arguments[1] === at && (kind === "strncmp" || kind === "snprintf" || rdonlyCast)) || (call.arguments[2] === at && kind === "snprintfBtf"));
}

function isLicenseArgument(node: ts.Node, intrinsics: Intrinsics): boolean {
  const call = node.parent;
  return ts.isCallExpression(call) && call.arguments[0] === node && intrinsics.resolve(call.expression)?.kind === "license";
}

function isGraphNodeName(node: ts.Node, intrinsics: Intrinsics): boolean {
  const literal = node.parent;
  const ref = literal?.parent;
  if (!ts.isLiteralTypeNode(literal) || !ref || !ts.isTypeReferenceNode(ref) || ref.typeArguments?.[1] !== literal) return false;
  const name = intrinsics.dialectSymbol(ref.typeName)?.name;
  return name === "ListHead" || name === "RbRoot";
}

function firstToken(node: ts.Node): ts.Node {
  return node.getFirstToken() ?? node;
}

function describe(node: ts.Node): string {
  const name = ts.SyntaxKind[node.kind]!;
  const words = name
    .replace(/(Expression|Statement|Declaration|Literal)$/, " $1")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .trim();
  return `\`${node.getFirstToken()?.getText() ?? words}\` (${words})`;
}
