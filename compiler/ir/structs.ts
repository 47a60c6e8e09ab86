/**
 * Structs and fixed arrays as stack values: `const key: FlowKey = { … }`,
 * `zeroed<T>()`, `{ ...ip }` copies, struct parameters of inlined functions,
 * and stack memory passed to helpers. A local struct is a view like a header
 * view, over stack memory the program owns (an alloca), zeroed when it is
 * made: padding included, as the kernel hashes every byte of a map key and
 * a helper may read every byte of a buffer.
 *
 * Like TypeScript objects, a struct is shared, not copied, when it is bound
 * to another name or passed to a function; object literals and spreads make
 * new ones.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { HelperParam } from "../dialect/helpers";
import type { FunctionBuilder } from "./builder";
import { convertTo, lowerExpression, type Value, type View } from "./expressions";
import { type Operand, type StructLiteral, type Temp } from "./ir";
import { type FieldType, type Layout, LayoutError, sameShape, shapeName, sizeOfField } from "./layout";
import { constant } from "./typing";
import { type IntType, int, stackPtr, u64 } from "./types";
import { scalarsOnly } from "./kfuncs";

/** The struct or array an annotation names, or undefined when it names something else. */
export function structShape(fb: FunctionBuilder, typeNode: ts.TypeNode): FieldType | undefined {
  try {
    return fb.scope.layouts.shapeOf(typeNode);
  } catch (err) {
    if (err instanceof LayoutError) throw fb.fail(Codes.typeMismatch, err.node, err.message);
    throw err;
  }
}

/** New zeroed stack memory of a shape, as a view. */
export function newStackValue(fb: FunctionBuilder, shape: FieldType, name: string, node: ts.Node): View {
  const size = sizeOfField(shape);
  const dst = fb.temp(stackPtr);
  fb.emit({ op: "stack_alloc", dst, size, name, node });
  let offset = 0;
  for (const chunk of [8, 4, 2, 1] as const) {
    for (; offset + chunk <= size; offset += chunk) {
      fb.emit({ op: "store", ptr: dst, region: "stack", offset, size: chunk, value: constant(0n, int(chunk * 8 as 8 | 16 | 32 | 64, false)), node });
    }
  }
  return { kind: "view", region: "stack", ptr: dst, offset: 0, shape, nullable: false };
}

/**
 * The value of a declaration or argument whose type is a struct or array:
 * a new one for an object or array literal and for `zeroed()`, otherwise
 * the view the expression already is (a header, a map value, a local).
 */
export function structValue(fb: FunctionBuilder, e: ts.Expression, shape: FieldType, name: string): View {
  const expr = skipParens(e);
  if (ts.isObjectLiteralExpression(expr) || ts.isArrayLiteralExpression(expr) || isZeroed(fb, expr)) {
    if (isZeroed(fb, expr)) checkZeroedType(fb, expr as ts.CallExpression, shape);
    const v = newStackValue(fb, shape, name, e);
    if (!isZeroed(fb, expr)) fill(fb, v, expr, shape);
    return v;
  }
  const v = lowerExpression(fb, expr);
  if (v.kind !== "view") throw fb.fail(Codes.typeMismatch, e, `a \`${shapeName(shape)}\` is expected here`, { hints: [`write an object literal, \`zeroed<${shapeName(shape)}>()\`, or a struct of that type`] });
  if (!sameShape(v.shape, shape)) throw fb.fail(Codes.typeMismatch, e, `a \`${shapeName(v.shape)}\` is not a \`${shapeName(shape)}\``, { hints: ["copy the fields you need: `{ ...src, field: value }`"] });
  return v;
}

/** `zeroed<T>()` on its own: new zeroed memory of `T`. */
export function zeroedCall(fb: FunctionBuilder, e: ts.CallExpression): View {
  const typeArg = e.typeArguments?.[0];
  if (!typeArg || e.arguments.length > 0) {
    throw fb.fail(Codes.callArguments, e, "write `zeroed<T>()` with the struct as a type argument, or give the variable its type: `const k: FlowKey = zeroed();`");
  }
  const shape = structShape(fb, typeArg);
  if (!shape) throw fb.fail(Codes.typeMismatch, typeArg, `\`${typeArg.getText()}\` is not a struct or FixedArray`);
  return newStackValue(fb, shape, shapeName(shape), e);
}

function isZeroed(fb: FunctionBuilder, e: ts.Expression): boolean {
  return ts.isCallExpression(e) && fb.intrinsics.resolve(e.expression)?.kind === "zeroed";
}

function checkZeroedType(fb: FunctionBuilder, e: ts.CallExpression, shape: FieldType): void {
  const typeArg = e.typeArguments?.[0];
  if (e.arguments.length > 0) throw fb.fail(Codes.callArguments, e, "`zeroed` takes no arguments");
  const named = typeArg && structShape(fb, typeArg);
  if (typeArg && (!named || !sameShape(named, shape))) throw fb.fail(Codes.typeMismatch, typeArg, `\`${typeArg.getText()}\` is not a \`${shapeName(shape)}\``);
}

function skipParens(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e)) e = e.expression;
  return e;
}

/** Writes a literal into zeroed memory: listed fields (and spreads, in order); the rest stays zero. */
function fill(fb: FunctionBuilder, target: View, e: ts.Expression, shape: FieldType): void {
  const expr = skipParens(e);
  if (ts.isArrayLiteralExpression(expr)) {
    if (shape.kind !== "array") throw fb.fail(Codes.typeMismatch, expr, `a \`${shapeName(shape)}\` is written as an object literal, not an array`);
    if (expr.elements.length > shape.count) throw fb.fail(Codes.typeMismatch, expr.elements[shape.count]!, `\`${shapeName(shape)}\` has ${shape.count} elements`);
    const size = sizeOfField(shape.element);
    expr.elements.forEach((el, i) => {
      if (ts.isSpreadElement(el) || ts.isOmittedExpression(el)) throw fb.fail(Codes.unsupportedSyntax, el, "write each element of a fixed array out");
      assignInto(fb, at(target, i * size, shape.element), el, shape.element);
    });
    return;
  }
  if (!ts.isObjectLiteralExpression(expr) || shape.kind !== "struct") {
    throw fb.fail(Codes.typeMismatch, expr, `a \`${shapeName(shape)}\` is written as ${shape.kind === "array" ? "an array literal `[…]`" : "an object literal `{ … }`"} here`);
  }
  const layout = shape.layout;
  for (const prop of expr.properties) {
    if (ts.isSpreadAssignment(prop)) {
      // `{ ...zeroed<T>(), a: 1 }`: the memory is zero already.
      if (isZeroed(fb, skipParens(prop.expression))) {
        const typeArg = (skipParens(prop.expression) as ts.CallExpression).typeArguments?.[0];
        if (typeArg) checkZeroedType(fb, skipParens(prop.expression) as ts.CallExpression, shape);
        continue;
      }
      const src = lowerExpression(fb, prop.expression);
      if (src.kind !== "view" || src.shape.kind !== "struct") throw fb.fail(Codes.typeMismatch, prop.expression, "only a struct (a header, a map value, a local struct) can be spread into a struct");
      spread(fb, target, layout, src, prop);
      continue;
    }
    const name = (ts.isPropertyAssignment(prop) || ts.isShorthandPropertyAssignment(prop)) && ts.isIdentifier(prop.name) ? prop.name.text : undefined;
    const field = name !== undefined ? layout.fields.get(name) : undefined;
    if (!field) throw fb.fail(Codes.typeMismatch, prop, `\`${layout.name}\` has no field \`${prop.name?.getText() ?? "?"}\``);
    const valueExpr = ts.isPropertyAssignment(prop) ? prop.initializer : (prop as ts.ShorthandPropertyAssignment).name;
    assignInto(fb, at(target, field.offset, field.type), valueExpr, field.type);
  }
}

/** A view of part of `v`. */
function at(v: View, offset: number, shape: FieldType): View {
  return { ...v, offset: v.offset + offset, shape };
}

/** One field (or element) of a new struct from its expression. */
function assignInto(fb: FunctionBuilder, place: View, e: ts.Expression, shape: FieldType): void {
  const expr = skipParens(e);
  if (shape.kind === "scalar") {
    const value = convertTo(fb, lowerExpression(fb, expr, shape.type), shape.type, expr) as Operand;
    store(fb, place, value, expr);
    return;
  }
  if (ts.isObjectLiteralExpression(expr) || ts.isArrayLiteralExpression(expr)) return fill(fb, place, expr, shape);
  if (isZeroed(fb, expr)) return checkZeroedType(fb, expr as ts.CallExpression, shape);
  const src = lowerExpression(fb, expr);
  if (src.kind !== "view" || !sameShape(src.shape, shape)) {
    throw fb.fail(Codes.typeMismatch, expr, `a \`${shapeName(shape)}\` is expected here`, { hints: [`write ${shape.kind === "array" ? "an array literal" : "an object literal"} or a \`${shapeName(shape)}\``] });
  }
  copy(fb, place, src, expr);
}

/** `{ ...src }` into a struct: the fields of the same name, each of the same type. */
function spread(fb: FunctionBuilder, target: View, layout: Layout, src: View, node: ts.SpreadAssignment): void {
  if (src.shape.kind !== "struct") return;
  if (src.shape.layout === layout) return copy(fb, target, src, node);
  for (const field of layout.fields.values()) {
    const from = src.shape.layout.fields.get(field.name);
    if (!from) continue;
    if (!sameShape(from.type, field.type)) {
      throw fb.fail(Codes.typeMismatch, node, `\`${src.shape.layout.name}.${field.name}\` is a \`${shapeName(from.type)}\`, \`${layout.name}.${field.name}\` a \`${shapeName(field.type)}\``);
    }
    copy(fb, at(target, field.offset, field.type), at(src, from.offset, from.type), node);
  }
}

/** Copies every scalar of `src` into `dst` (same shape), field by field: padding stays as it is. */
function copy(fb: FunctionBuilder, dst: View, src: View, node: ts.Node): void {
  const shape = dst.shape;
  switch (shape.kind) {
    case "scalar": {
      const value = fb.temp(shape.type);
      fb.emit({ op: "load", dst: value, ptr: src.ptr, region: src.region, offset: src.offset, size: (shape.type.bits / 8) as 1 | 2 | 4 | 8, node });
      store(fb, dst, value, node);
      return;
    }
    case "struct":
      for (const f of shape.layout.fields.values()) {
        const g = (src.shape as { layout: Layout }).layout.fields.get(f.name)!;
        copy(fb, at(dst, f.offset, f.type), at(src, g.offset, g.type), node);
      }
      return;
    case "array": {
      const size = sizeOfField(shape.element);
      const srcElement = (src.shape as { element: FieldType }).element;
      for (let i = 0; i < shape.count; i++) copy(fb, at(dst, i * size, shape.element), at(src, i * size, srcElement), node);
    }
  }
}

function store(fb: FunctionBuilder, place: View, value: Operand, node: ts.Node): void {
  const type = (place.shape as { type: IntType }).type;
  fb.emit({ op: "store", ptr: place.ptr, region: place.region, offset: place.offset, size: (type.bits / 8) as 1 | 2 | 4 | 8, value, node });
}

/**
 * A map key or value that is not a plain literal: a local struct (or a
 * literal with spreads or arrays), passed to the helper where it is.
 */
export function structSlot(fb: FunctionBuilder, e: ts.Expression, layout: Layout): StructLiteral {
  const shape: FieldType = { kind: "struct", layout };
  const v = structValue(fb, e, shape, layout.name);
  if (v.region !== "stack") {
    throw fb.fail(Codes.mapType, e, `a \`${layout.name}\` key or value is a local struct or an object literal here`, {
      hints: [`copy the header first: \`const k: ${layout.name} = { ...${e.getText()} }\``],
    });
  }
  // Its own memory is passed: zeroed when made, so its padding is zero too.
  if (v.offset === 0) return { kind: "struct", layout, stores: [], source: v.ptr };
  const source = fb.temp(stackPtr);
  fb.emit({ op: "ptr_add", dst: source, base: v.ptr, offset: constant(BigInt(v.offset), int(64, true)), node: e });
  return { kind: "struct", layout, stores: [], source };
}

/** Whether a map key or value literal is plain: named scalar and nested struct fields only (written straight into the slot). */
export function plainLiteral(e: ts.Expression, layout: Layout): boolean {
  const expr = skipParens(e);
  if (!ts.isObjectLiteralExpression(expr)) return false;
  return expr.properties.every((p) => {
    if (!ts.isPropertyAssignment(p) && !ts.isShorthandPropertyAssignment(p)) return false;
    const field = ts.isIdentifier(p.name) ? layout.fields.get(p.name.text) : undefined;
    if (!field || field.type.kind === "array") return !field;
    return field.type.kind === "scalar" || (ts.isPropertyAssignment(p) && plainLiteral(p.initializer, field.type.layout));
  });
}

/**
 * A `mem` argument of a helper: a pointer to a local struct, array or cell
 * (or a part of one) and its size, checked against what the helper needs.
 */
export function helperMemory(fb: FunctionBuilder, helper: string, param: Extract<HelperParam, { kind: "mem" }>, e: ts.Expression): { ptr: Operand; size: number; packet?: { ptr: Temp; offset: number } } {
  const expr = skipParens(e);
  if (expr.kind === ts.SyntaxKind.NullKeyword) {
    if (!param.nullable) throw fb.fail(Codes.callArguments, e, `\`${helper}\` needs memory here, not null`);
    return { ptr: constant(0n, u64), size: 0 };
  }
  const v = lowerExpression(fb, expr);
  const packet = v.kind === "view" && v.region === "packet" && param.packet;
  if (param.mapValue) return mapValueMemory(fb, helper, v, e);
  if (v.kind !== "view" || (v.region !== "stack" && !packet)) {
    throw fb.fail(Codes.typeMismatch, e, `\`${helper}\` ${param.access === "write" ? "writes into" : "reads"} stack memory${param.packet ? " or a header in the packet" : ""}: pass a local struct, FixedArray or Cell`, {
      hints: ["e.g. `const buf = zeroed<FixedArray<u8, 16>>();`, or copy a header first: `const h: Ipv4Hdr = { ...ip };`"],
    });
  }
  const size = sizeOfField(v.shape);
  if (param.size !== undefined && size !== param.size) {
    throw fb.fail(Codes.callArguments, e, `\`${helper}\` needs ${param.size} bytes here; this \`${shapeName(v.shape)}\` has ${size}`);
  }
  if (param.sizes && !param.sizes.includes(size)) {
    throw fb.fail(Codes.callArguments, e, `\`${helper}\` needs ${param.sizes.join(" or ")} bytes here; this \`${shapeName(v.shape)}\` has ${size}`, {
      hints: ["pass `tuple.ipv4` or `tuple.ipv6` of a local `BpfSockTuple`"],
    });
  }
  if (param.multipleOf !== undefined && size % param.multipleOf !== 0) {
    throw fb.fail(Codes.callArguments, e, `\`${helper}\` needs a size that is a multiple of ${param.multipleOf}; this \`${shapeName(v.shape)}\` has ${size} bytes`, {
      hints: ["the helper returns -EINVAL otherwise; pad the struct or pass a larger part of it"],
    });
  }
  // A header's bytes are read where they are: the bounds analysis proves them like a load's.
  const where = packet ? { packet: { ptr: v.ptr, offset: v.offset } } : {};
  if (v.offset === 0) return { ptr: v.ptr, size, ...where };
  const ptr: Temp = fb.temp(v.ptr.type);
  fb.emit({ op: "ptr_add", dst: ptr, base: v.ptr, offset: constant(BigInt(v.offset), int(64, true)), node: e });
  return { ptr, size, ...where };
}

/** A map value the program may write, or a field of one: bpf_dynptr_from_mem takes nothing else ("Unsupported reg type fp"). */
function mapValueMemory(fb: FunctionBuilder, helper: string, v: Value, e: ts.Expression): { ptr: Operand; size: number } {
  if (v.kind !== "view" || v.region !== "map" || v.readOnly || !fb.defs.get(v.ptr.id) || fb.defs.get(v.ptr.id)!.op !== "map_lookup") {
    throw fb.fail(Codes.typeMismatch, e, `\`${helper}\` takes a map value (\`ref.value\` after its null test), or a field of one: the kernel refuses stack memory here`, {
      hints: ["e.g. `const v = scratch.lookup(0); if (!v) return XdpAction.PASS; bpf_dynptr_from_mem(v.value, 0, dp);`"],
    });
  }
  // check_map_access: the helper's memory may not overlap a lock, timer, kptr or list field.
  if (!scalarsOnly(v.shape)) {
    throw fb.fail(Codes.mapOperation, e, `\`${helper}\` would reach a \`SpinLock\`, \`Timer\`, \`Refcount\`, \`Kptr\` or list or tree field of \`${shapeName(v.shape)}\`: the kernel refuses that memory`, {
      hints: ["pass a field of the value that holds integers only"],
    });
  }
  const size = sizeOfField(v.shape);
  if (v.offset === 0) return { ptr: v.ptr, size };
  const ptr: Temp = fb.temp(v.ptr.type);
  fb.emit({ op: "ptr_add", dst: ptr, base: v.ptr, offset: constant(BigInt(v.offset), int(64, true)), node: e });
  return { ptr, size };
}
