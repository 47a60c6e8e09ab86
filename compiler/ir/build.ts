/**
 * The module level: finds program declarations, the license and module
 * constants, then builds each program's IR. Module constants are folded
 * here, once, and shared by every program in the file.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { DiagnosticBag } from "../diagnostics/diagnostic";
import type { Intrinsics } from "../dialect/intrinsics";
import { Abort, type BuildOptions, FunctionBuilder, type ModuleScope, buildProgram, buildSubprogram } from "./builder";
import { checkCallbackReturns, checkGplHelpers, checkSubprogramCycles, declareSubprogram } from "./calls";
import { convertTo, lowerExpression, type Value } from "./expressions";
import { type Subprogram, type GlobalDecl, type MapDecl, type ModuleIR, type ProgramIR, type RunConfig, type SlotType, isLayout } from "./ir";
import { type Field, type Layout, LayoutError } from "./layout";
import { mapClasses, redirectMaps } from "../dialect/intrinsics";
import { type IntType, u32 } from "./types";
import { Layouts } from "./layout";
import { lockedMapAllowed } from "../analysis/locks";
import { kptrMapAllowed } from "./kptrs";

export type { BuildOptions } from "./builder";

const validName = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function buildModule(sourceFile: ts.SourceFile, checker: ts.TypeChecker, intrinsics: Intrinsics, diagnostics: DiagnosticBag, options: BuildOptions): ModuleIR {
  const scope: ModuleScope = { checker, intrinsics, diagnostics, options, constants: new Map(), functions: new Map(), subprograms: new Map(), maps: new Map(), globals: new Map(), poisoned: new Set(), layouts: new Layouts(checker, intrinsics) };
  // Constants are evaluated without a block: any instruction they would need is refused.
  const constantBuilder = new FunctionBuilder(scope);
  constantBuilder.current = undefined;
  let license: string | undefined;
  const programs: ProgramIR[] = [];
  const maps: MapDecl[] = [];
  const globals: GlobalDecl[] = [];
  const names = new Set<string>();

  // Functions first: a program may call one declared below it.
  for (const stmt of sourceFile.statements) {
    if (ts.isFunctionDeclaration(stmt) && stmt.body && stmt.name) {
      const sym = constantBuilder.symbolOf(stmt.name);
      if (sym) scope.functions.set(sym, stmt);
    }
  }
  // Then the ones compiled as subprograms: calls of them anywhere become BPF-to-BPF calls.
  const subprograms: Subprogram[] = [];
  for (const stmt of sourceFile.statements) {
    const marker = subprogramMarker(stmt, intrinsics);
    if (!marker) continue;
    const sub = declareMarked(scope, constantBuilder, marker.call, marker.linkage);
    if (sub) subprograms.push(sub);
  }
  for (const stmt of sourceFile.statements) {
    if (ts.isImportDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt) || ts.isInterfaceDeclaration(stmt) || ts.isEmptyStatement(stmt)) continue;
    // Declarations without a body generate nothing; their calls are refused where they are made.
    if (ts.isFunctionDeclaration(stmt) && !stmt.body) continue;
    if (ts.isFunctionDeclaration(stmt)) continue; // collected above
    if (subprogramMarker(stmt, intrinsics)) continue; // handled above
    if (ts.isExpressionStatement(stmt) && ts.isCallExpression(stmt.expression) && intrinsics.resolve(stmt.expression.expression)?.kind === "license") {
      const call = stmt.expression;
      const arg = call.arguments[0];
      if (call.arguments.length !== 1 || !arg || !ts.isStringLiteralLike(arg) || arg.text.length === 0 || arg.text.includes("\0")) {
        diagnostics.report(Codes.licenseArgument, call, "`license` takes one non-empty string literal", { hints: ['e.g. `license("Dual MIT/GPL");`'] });
      } else if (license !== undefined) {
        diagnostics.report(Codes.licenseArgument, call, "the license is already set");
      } else {
        license = arg.text;
      }
      continue;
    }
    if (ts.isVariableStatement(stmt)) {
      const isConst = (stmt.declarationList.flags & ts.NodeFlags.Const) !== 0;
      for (const decl of stmt.declarationList.declarations) {
        const init = decl.initializer;
        if (init && ts.isCallExpression(init) && intrinsics.section(init.expression)) {
          const program = declareProgram(scope, decl, init, isConst, names);
          if (program) programs.push(program);
        } else if (isConst && init && ts.isNewExpression(init) && intrinsics.mapClass(init.expression)) {
          const map = declareMap(scope, constantBuilder, decl, init, names);
          if (map) maps.push(map);
          // Uses of a map that failed to declare add nothing to its diagnostic.
          else if (ts.isIdentifier(decl.name)) {
            const sym = constantBuilder.symbolOf(decl.name);
            if (sym) scope.poisoned.add(sym);
          }
        } else if (isConst && init && ts.isCallExpression(init) && intrinsics.resolve(init.expression)?.kind === "config") {
          const global = declareGlobal(scope, constantBuilder, decl, init);
          if (global) globals.push(global);
        } else if (isConst) {
          declareConstant(scope, constantBuilder, decl);
        } else {
          const global = declareGlobal(scope, constantBuilder, decl, undefined);
          if (global) globals.push(global);
        }
      }
      continue;
    }
    diagnostics.report(Codes.unsupportedTopLevel, stmt.getFirstToken() ?? stmt, "a program file holds imports, constants, `license(…)` and program declarations only");
  }
  if (programs.length === 0 && !diagnostics.hasErrors) {
    diagnostics.report(Codes.noPrograms, sourceFile.statements[0] ?? sourceFile, "this file declares no XDP program", {
      hints: ["declare one with `export const prog = xdp((ctx) => XdpAction.PASS);`"],
    });
  }
  // bpf_loop callbacks join as calls of bpfLoop are built, theirs included.
  for (let todo = [...scope.subprograms.values()]; todo.length > 0; todo = [...scope.subprograms.values()].filter((s) => !s.ir)) {
    for (const sub of todo) {
      if (!subprograms.includes(sub)) subprograms.push(sub);
      sub.ir = buildSubprogram(scope, sub);
    }
  }
  checkSubprogramCycles(subprograms, diagnostics);
  for (const sub of subprograms) checkCallbackReturns(sub, diagnostics);
  checkGplHelpers([...programs, ...subprograms.flatMap((s) => (s.ir ? [s.ir] : []))], license ?? "GPL", diagnostics);
  return { fileName: sourceFile.fileName, sourceFile, license: license ?? "GPL", maps, globals, programs, subprograms };
}

/** `noinline(f);` or `globalFunction(f);` at the top level. */
function subprogramMarker(stmt: ts.Statement, intrinsics: Intrinsics): { call: ts.CallExpression; linkage: "static" | "global" } | undefined {
  if (!ts.isExpressionStatement(stmt) || !ts.isCallExpression(stmt.expression)) return undefined;
  const name = intrinsics.dialectSymbol(stmt.expression.expression)?.name;
  if (name === "noinline") return { call: stmt.expression, linkage: "static" };
  if (name === "globalFunction") return { call: stmt.expression, linkage: "global" };
  return undefined;
}

function declareMarked(scope: ModuleScope, fb: FunctionBuilder, call: ts.CallExpression, linkage: "static" | "global"): Subprogram | undefined {
  const arg = call.arguments[0];
  const sym = arg && ts.isIdentifier(arg) ? fb.symbolOf(arg) : undefined;
  const fn = sym && scope.functions.get(sym);
  if (call.arguments.length !== 1 || !fn) {
    scope.diagnostics.report(Codes.subprogram, arg ?? call, `\`${call.expression.getText()}\` takes the name of one of the file's functions`, { hints: [`e.g. \`${call.expression.getText()}(parse);\` after \`function parse(…) { … }\``] });
    return undefined;
  }
  if (scope.subprograms.has(fn)) {
    scope.diagnostics.report(Codes.subprogram, call, `\`${fn.name!.text}\` is already marked`);
    return undefined;
  }
  const sub = declareSubprogram(fb, fn, linkage);
  if (sub) scope.subprograms.set(fn, sub);
  return sub;
}

/** A u32 then a u32 program id: the kernel's 8-byte entry (`programs: true`). */
function programEntry(name: string, first: string): Layout {
  const field = (n: string, offset: number): Field => ({ name: n, offset, size: 4, type: { kind: "scalar", type: u32 } });
  return { name, size: 8, align: 4, packed: false, fields: new Map([[first, field(first, 0)], ["prog_id", field("prog_id", 4)]]) };
}

/**
 * struct bpf_devmap_val and struct bpf_cpumap_val (include/uapi/linux/bpf.h):
 * the second member is a union of the program's fd (written by userspace)
 * and its id (what lookups return); a program only reads, so the id.
 */
const entryWithProgram: ReadonlyMap<string, Layout> = new Map([
  ["DevMap", programEntry("bpf_devmap_val", "ifindex")],
  ["DevMapHash", programEntry("bpf_devmap_val", "ifindex")],
  ["CpuMap", programEntry("bpf_cpumap_val", "qsize")],
]);

/** What a map of maps may hold, and the program can use through `lookup`, `update` and `delete`. */
const innerKeyValueMaps = new Set(["HashMap", "ArrayMap", "PerCpuHash", "PerCpuArray", "LruHash", "LruPerCpuHash", "LpmTrie"]);

/** Maps with values but no keys (key_size 0): the one type argument is the value's, or the ring's records'. */
const valueOnlyMaps = new Set(["RingBuf", "PerfEventArray", "Queue", "Stack", "BloomFilter"]);

/**
 * What trie_alloc and trie_check_btf (kernel/bpf/lpm_trie.c) would refuse in
 * an LPM trie's key: it is a struct, `prefixlen` (a host-order u32) first,
 * then 1 to 256 bytes of address.
 */
function lpmKeyProblem(key: SlotType): string | undefined {
  const shape = "an LpmTrie key is a struct: `prefixlen: u32` first, then the address bytes";
  if (!isLayout(key)) return shape;
  const first = [...key.fields.values()].find((f) => f.offset === 0);
  if (!first || first.type.kind !== "scalar" || first.type.type.bits !== 32 || first.type.type.signed || first.type.type.be) return `${shape}; \`${key.name}\` does not start with a host-order u32`;
  if (key.size < 5 || key.size > 4 + 256) return `${shape}: 1 to 256 bytes of address after the prefix length (\`${key.name}\` has ${key.size - 4})`;
  return undefined;
}

/** `const name = new HashMap<K, V>({ maxEntries, flags?, pinned? })`: a BTF-defined map. */
function declareMap(scope: ModuleScope, fb: FunctionBuilder, decl: ts.VariableDeclaration, init: ts.NewExpression, names: Set<string>): MapDecl | undefined {
  const d = scope.diagnostics;
  const className = scope.intrinsics.mapClass(init.expression)!;
  if (!ts.isIdentifier(decl.name) || !validName.test(decl.name.text)) {
    d.report(Codes.programName, decl.name, "a map needs a plain name: letters, digits and _");
    return undefined;
  }
  const name = decl.name.text;
  if (names.has(name)) {
    d.report(Codes.duplicateProgram, decl.name, `\`${name}\` is already declared`);
    return undefined;
  }
  names.add(name);
  const map = mapDefinition(scope, fb, name, className, init.typeArguments ?? [], init.expression, init.arguments?.[0], init, decl);
  const sym = fb.symbolOf(decl.name);
  if (map && sym) scope.maps.set(sym, map);
  return map;
}

/** Maps whose values are maps (BPF_MAP_TYPE_ARRAY_OF_MAPS, HASH_OF_MAPS): the last type argument is the inner map's class. */
const mapsOfMaps = new Set(["ArrayOfMaps", "HashOfMaps"]);

/**
 * A map's definition from its class, type arguments and options: a declared
 * map's, or a map of maps' inner template (`ArrayMap<u64>` with `inner: { … }`).
 */
function mapDefinition(
  scope: ModuleScope,
  fb: FunctionBuilder,
  name: string,
  className: string,
  typeArgs: readonly ts.TypeNode[],
  classNode: ts.Node,
  options: ts.Expression | undefined,
  at: ts.Node,
  decl: ts.VariableDeclaration,
): MapDecl | undefined {
  const d = scope.diagnostics;
  const type = mapClasses.get(className)!;
  // Arrays take the value type only; a ring buffer, the type of its records.
  const isArray = className === "ArrayMap" || className === "PerCpuArray" || valueOnlyMaps.has(className);
  let key: SlotType | undefined = u32;
  let value: SlotType | undefined = u32;
  let innerClass: { name: string; node: ts.TypeReferenceNode } | undefined;
  if (mapsOfMaps.has(className)) {
    // The kernel stores an inner map's fd (from userspace) or id (read back): a u32.
    const expected = className === "ArrayOfMaps" ? 1 : 2;
    const innerNode = typeArgs[expected - 1];
    const innerName = innerNode && ts.isTypeReferenceNode(innerNode) ? scope.intrinsics.mapClass(innerNode.typeName as ts.Expression) : undefined;
    if (typeArgs.length !== expected || !innerName) {
      d.report(Codes.mapType, typeArgs[expected - 1] ?? classNode, `write the ${expected === 2 ? "key type and the " : ""}inner map's class: \`new ${className}<${expected === 2 ? "u32, " : ""}ArrayMap<u64>>(…)\``);
      return undefined;
    }
    // bpf_map_meta_alloc (kernel/bpf/map_in_map.c) refuses these as inner maps; the program side is key-value maps only.
    if (!innerKeyValueMaps.has(innerName)) {
      d.report(Codes.mapType, innerNode!, `a ${className} holds key-value maps (${[...innerKeyValueMaps].join(", ")}), not a ${innerName}`);
      return undefined;
    }
    innerClass = { name: innerName, node: innerNode as ts.TypeReferenceNode };
    if (expected === 2) {
      const int = scope.intrinsics.intType(typeArgs[0]!);
      try {
        key = int ?? scope.layouts.ofTypeNode(typeArgs[0]!);
      } catch (err) {
        if (!(err instanceof LayoutError)) throw err;
        d.report(Codes.mapType, err.node, `map keys are integer types or header structs: ${err.message}`);
        return undefined;
      }
    }
  } else if (redirectMaps.has(className) || className === "ProgArray") {
    // Keys and values are fixed by the kernel: a u32 index and a u32 ifindex / queue size / socket fd.
    if (typeArgs.length !== 0) {
      d.report(Codes.mapType, typeArgs[0]!, `a ${className} takes no type arguments: the kernel fixes its keys and values (u32, or an entry with a program under \`programs: true\`)`, {
        hints: [`write \`new ${className}({ maxEntries: 8 })\`${className === "ProgArray" || className === "XskMap" ? "" : ", with `programs: true` among the options for entries with programs"}`],
      });
      return undefined;
    }
  } else {
    if (typeArgs.length !== (isArray ? 1 : 2)) {
      d.report(Codes.mapType, classNode, isArray ? `write the ${className === "RingBuf" || className === "PerfEventArray" ? "record" : "value"} type: \`new ${className}<u64>(…)\`` : `write the key and value types: \`new ${className}<u32, u64>(…)\``);
      return undefined;
    }
    const [keyNode, valueNode] = isArray ? [undefined, typeArgs[0]!] : [typeArgs[0]!, typeArgs[1]!];
    // An integer type, or a header struct (an interface laid out as C).
    const slotType = (node: ts.TypeNode): SlotType | undefined => {
      const int = scope.intrinsics.intType(node);
      if (int) return int;
      try {
        return scope.layouts.ofTypeNode(node);
      } catch (err) {
        if (!(err instanceof LayoutError)) throw err;
        d.report(Codes.mapType, err.node, `map keys and values are integer types or header structs: ${err.message}`);
        return undefined;
      }
    };
    key = keyNode ? slotType(keyNode) : u32;
    value = key && slotType(valueNode);
    if (!key || !value) return undefined;
    if (!lockedMapAllowed(d, className, key, value, keyNode ?? valueNode, valueNode)) return undefined;
    if (!kptrMapAllowed(d, className, key, value, keyNode ?? valueNode, valueNode)) return undefined;
    const lpmProblem = className === "LpmTrie" ? lpmKeyProblem(key) : undefined;
    if (lpmProblem) {
      d.report(Codes.mapType, keyNode!, lpmProblem, { hints: ["e.g. `interface V4Key { prefixlen: u32; addr: be32 }`"] });
      return undefined;
    }
  }
  // A perf event array's options may be left out: libbpf sizes it to the CPUs.
  if (!options && className === "PerfEventArray") options = ts.factory.createObjectLiteralExpression([]);
  if (!options || !ts.isObjectLiteralExpression(options)) {
    d.report(Codes.mapType, at, "pass the map's options: `{ maxEntries: 1024 }`");
    return undefined;
  }
  let maxEntries: bigint | undefined;
  let flags = 0n;
  let pinned = false;
  let hashes: number | undefined;
  let inner: MapDecl | undefined;
  for (const prop of options.properties) {
    if (!ts.isPropertyAssignment(prop) || !ts.isIdentifier(prop.name)) {
      d.report(Codes.mapType, prop, "map options are `maxEntries`, `flags` and `pinned`, written out");
      return undefined;
    }
    const option = prop.name.text;
    if (option === "inner" && innerClass) {
      inner = mapDefinition(scope, fb, `${name}.inner`, innerClass.name, innerClass.node.typeArguments ?? [], innerClass.node, prop.initializer, prop, decl);
      if (!inner) return undefined;
      if (inner.pinned) {
        d.report(Codes.mapType, prop.initializer, "an inner map template is not pinned: pin the maps put in its slots");
        return undefined;
      }
      continue;
    }
    if (option === "pinned" || (option === "programs" && entryWithProgram.has(className))) {
      if (prop.initializer.kind !== ts.SyntaxKind.TrueKeyword && prop.initializer.kind !== ts.SyntaxKind.FalseKeyword) {
        d.report(Codes.mapType, prop.initializer, `\`${option}\` is \`true\` or \`false\``);
        return undefined;
      }
      const on = prop.initializer.kind === ts.SyntaxKind.TrueKeyword;
      if (option === "pinned") pinned = on;
      else if (on) value = entryWithProgram.get(className)!;
      continue;
    }
    let v: bigint | undefined;
    try {
      const value = lowerExpression(fb, prop.initializer);
      v = value.kind === "untyped" || value.kind === "const" ? value.value : undefined;
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      return undefined;
    }
    if (v === undefined || v < 0n || v > 0xffffffffn) {
      d.report(Codes.mapType, prop.initializer, `\`${option}\` must be a constant from 0 to 2^32-1`);
      return undefined;
    }
    if (option === "maxEntries") maxEntries = v;
    else if (option === "flags") flags = v;
    else if (option === "hashes" && className === "BloomFilter" && v >= 1n && v <= 15n) hashes = Number(v);
    else if (option === "hashes" && className === "BloomFilter") {
      // bloom_map_alloc (kernel/bpf/bloom_filter.c) keeps the low 4 bits of map_extra.
      d.report(Codes.mapType, prop.initializer, "`hashes` is the number of hash functions: 1 to 15");
      return undefined;
    }
    else {
      d.report(Codes.mapType, prop.name, `unknown map option \`${option}\`; the options are maxEntries, flags${entryWithProgram.has(className) ? ", pinned and programs" : innerClass ? ", pinned and inner" : " and pinned"}`);
      return undefined;
    }
  }
  if (!maxEntries && className === "PerfEventArray") maxEntries = 0n;
  else if (!maxEntries) {
    d.report(Codes.mapType, options, "a map needs `maxEntries` (1 or more)");
    return undefined;
  }
  if (innerClass && !inner) {
    d.report(Codes.mapType, options, `a ${className} needs its inner maps' options: \`inner: { maxEntries: 4 }\``);
    return undefined;
  }
  // trie_alloc (kernel/bpf/lpm_trie.c) refuses an LPM trie without BPF_F_NO_PREALLOC.
  if (className === "LpmTrie") flags |= 1n;
  // ringbuf_map_alloc (kernel/bpf/ringbuf.c): the size in bytes, a power of 2 and page-aligned.
  if (className === "RingBuf" && (maxEntries & (maxEntries - 1n) || maxEntries % 4096n)) {
    d.report(Codes.mapType, options, `a RingBuf's \`maxEntries\` is its size in bytes: a power of 2 and a multiple of the page size (4096), not ${maxEntries}`, {
      hints: [`e.g. \`maxEntries: ${maxEntries <= 4096n ? 4096 : 2 ** maxEntries.toString(2).length}\``],
    });
    return undefined;
  }
  return { name, type, className, key, value, maxEntries: Number(maxEntries), flags: Number(flags), pinned, ...(hashes ? { extra: hashes } : {}), ...(inner ? { inner } : {}), node: decl };
}

function declareProgram(scope: ModuleScope, decl: ts.VariableDeclaration, init: ts.CallExpression, isConst: boolean, names: Set<string>): ProgramIR | undefined {
  const d = scope.diagnostics;
  const section = scope.intrinsics.section(init.expression)!;
  if (!isConst || !ts.isIdentifier(decl.name)) {
    d.report(Codes.programShape, decl, "declare a program as `export const name = xdp((ctx) => { … })`");
    return undefined;
  }
  const name = decl.name.text;
  if (!validName.test(name)) {
    d.report(Codes.programName, decl.name, `\`${name}\` cannot name a BPF program: use letters, digits and _`);
    return undefined;
  }
  if (names.has(name)) {
    d.report(Codes.duplicateProgram, decl.name, `a program named \`${name}\` is already declared`);
    return undefined;
  }
  names.add(name);
  const handler = init.arguments[0];
  if (init.arguments.length < 1 || init.arguments.length > 2 || !handler || !(ts.isArrowFunction(handler) || ts.isFunctionExpression(handler))) {
    d.report(Codes.programShape, init, "pass the program's body as a function: `xdp((ctx) => { … })`");
    return undefined;
  }
  if (handler.asteriskToken || handler.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)) {
    d.report(Codes.programShape, handler, "a program cannot be async or a generator");
    return undefined;
  }
  const runConfig = init.arguments[1] ? readRunConfig(scope, init.arguments[1]) : undefined;
  if (init.arguments[1] && !runConfig) return undefined;
  const program = buildProgram(scope, name, section, decl, handler);
  return program && runConfig ? { ...program, runConfig } : program;
}

/** libxdp's priorities are unsigned; beyond this range a value is surely a mistake. */
const maxPriority = 1000;

/** `{ priority: 10, chainCallActions: [XdpAction.PASS] }`: constants only, checked here. */
function readRunConfig(scope: ModuleScope, node: ts.Expression): RunConfig | undefined {
  const d = scope.diagnostics;
  if (!ts.isObjectLiteralExpression(node)) {
    d.report(Codes.programShape, node, "the run configuration is an object literal: `{ priority: 10, chainCallActions: [XdpAction.PASS] }`");
    return undefined;
  }
  let priority = 50;
  let chainCallActions: bigint[] = [2n];
  for (const prop of node.properties) {
    if (!ts.isPropertyAssignment(prop) || !ts.isIdentifier(prop.name)) {
      d.report(Codes.programShape, prop, "the run configuration has `priority` and `chainCallActions`, written out");
      return undefined;
    }
    if (prop.name.text === "priority") {
      const text = prop.initializer.getText();
      const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(value) || value < 0 || value > maxPriority) {
        d.report(Codes.runConfig, prop.initializer, `a priority is a constant from 0 to ${maxPriority}`, { hints: ["lower priorities run first; libxdp's default is 50"] });
        return undefined;
      }
      priority = value;
    } else if (prop.name.text === "chainCallActions") {
      if (!ts.isArrayLiteralExpression(prop.initializer)) {
        d.report(Codes.runConfig, prop.initializer, "chainCallActions is a list of actions: `[XdpAction.PASS, XdpAction.TX]`");
        return undefined;
      }
      chainCallActions = [];
      for (const el of prop.initializer.elements) {
        const action = ts.isPropertyAccessExpression(el) ? scope.intrinsics.resolve(el) : undefined;
        if (action?.kind !== "action") {
          d.report(Codes.runConfig, el, "chainCallActions lists `XdpAction` members");
          return undefined;
        }
        if (!chainCallActions.includes(action.value)) chainCallActions.push(action.value);
      }
    } else {
      d.report(Codes.runConfig, prop.name, `unknown run configuration \`${prop.name.text}\`; there are \`priority\` and \`chainCallActions\``);
      return undefined;
    }
  }
  return { priority, chainCallActions };
}

/**
 * `let name: T = v` at the top level (`.data`, or `.bss` when zero), or
 * `const name = config<T>(v)` (`.rodata`): a global whose value comes from
 * the object, and for config from the loader, never folded at compile time.
 */
function declareGlobal(scope: ModuleScope, fb: FunctionBuilder, decl: ts.VariableDeclaration, config: ts.CallExpression | undefined): GlobalDecl | undefined {
  const d = scope.diagnostics;
  if (!ts.isIdentifier(decl.name) || !validName.test(decl.name.text)) {
    d.report(Codes.unsupportedTopLevel, decl.name, "a module-level variable needs a plain name: letters, digits and _");
    return undefined;
  }
  const sym = fb.symbolOf(decl.name);
  try {
    let type;
    let initialExpr: ts.Expression | undefined;
    if (config) {
      const typeArg = config.typeArguments?.[0];
      type = typeArg ? scope.intrinsics.intType(typeArg) : undefined;
      if (!type) throw fb.fail(Codes.untypedNumber, config.expression, "a setting needs its integer type: `config<u16>(53)`");
      if (config.arguments.length !== 1) throw fb.fail(Codes.callArguments, config, "`config` takes the default value");
      initialExpr = config.arguments[0];
    } else {
      if (!decl.type) throw fb.fail(Codes.untypedNumber, decl.name, `\`${decl.name.text}\` needs an integer type: \`let ${decl.name.text}: u64 = 0;\``);
      const t = fb.annotatedType(decl.type);
      if (t.kind !== "int") throw fb.fail(Codes.typeMismatch, decl.type, "a module-level variable is an integer");
      type = t;
      initialExpr = decl.initializer;
    }
    let initial = 0n;
    if (initialExpr) {
      const v = convertTo(fb, lowerExpression(fb, initialExpr, type), type, initialExpr);
      if (v.kind !== "const") throw fb.fail(Codes.unsupportedTopLevel, initialExpr, "the initial value must be a constant");
      initial = v.value;
    }
    const section = config ? ".rodata" : initial === 0n ? ".bss" : ".data";
    const global: GlobalDecl = { name: decl.name.text, type, initial, section, node: decl };
    if (sym) scope.globals.set(sym, global);
    return global;
  } catch (e) {
    if (!(e instanceof Abort)) throw e;
    if (sym) scope.poisoned.add(sym);
    return undefined;
  }
}

function declareConstant(scope: ModuleScope, fb: FunctionBuilder, decl: ts.VariableDeclaration): void {
  if (!ts.isIdentifier(decl.name) || !decl.initializer) {
    scope.diagnostics.report(Codes.unsupportedTopLevel, decl, "a module-level constant is `const NAME = <number>`");
    return;
  }
  const sym = fb.symbolOf(decl.name);
  if (!sym) return;
  try {
    const declared = decl.type ? fb.annotatedType(decl.type) : undefined;
    let value: Value = lowerExpression(fb, decl.initializer, declared);
    if (declared) value = convertTo(fb, value, declared, decl.initializer);
    scope.constants.set(sym, value);
  } catch (e) {
    if (!(e instanceof Abort)) throw e;
    scope.poisoned.add(sym);
  }
}
