/**
 * Header struct layouts, read from TypeScript interfaces through the type
 * checker: fields in declaration order, each at the next offset its
 * alignment allows, the size rounded up to the largest alignment, exactly
 * as C lays out the same struct (or with no padding at all for interfaces
 * that extend `Packed`). The layout is what makes `eth.proto` a 2-byte
 * load at offset 12, so it must agree with clang's byte for byte.
 */
import ts from "typescript";
import type { Intrinsics } from "../dialect/intrinsics";
import { type IntType, typeName, u32, u64 } from "./types";

export type FieldType = { readonly kind: "scalar"; readonly type: IntType } | { readonly kind: "struct"; readonly layout: Layout } | { readonly kind: "array"; readonly element: FieldType; readonly count: number };

export interface Field {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly type: FieldType;
  /** btf_decl_tag strings the verifier reads on this member (a list head's "contains:T:node"). */
  readonly declTags?: readonly string[];
}

export interface Layout {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly packed: boolean;
  /** Every field at offset 0, as in a C union (interfaces that extend `Union`). */
  readonly union?: boolean;
  readonly fields: ReadonlyMap<string, Field>;
  /**
   * A kernel struct (its C name) of which the program knows some fields only: their
   * offsets are CO-RE relocations that libbpf fixes against the running kernel's BTF.
   */
  readonly kernel?: string;
  /** A `ListHead<T, "node">` or `RbRoot<T, "node">`: the kernel's struct, holding `T`s by their `node` field. */
  readonly graph?: GraphRoot;
  /** A `Kptr<T>` or `PercpuKptr<T>` field: a pointer to an allocated `T` (BTF: `struct T __kptr *`). */
  readonly kptr?: KptrTarget;
}

/** What a kptr field holds: objects of `target`, from bpf_obj_new or (`percpu`) bpf_percpu_obj_new. */
export interface KptrTarget {
  readonly target: Layout;
  readonly percpu: boolean;
}

/** What a list head or tree root holds: objects of `of`, linked through their field `node`, at `nodeOffset`. */
export interface GraphRoot {
  readonly kind: "list" | "rbtree";
  readonly of: Layout;
  readonly node: string;
  readonly nodeOffset: number;
}

/** Why a type is not a header struct, with the node to point at. */
export class LayoutError extends Error {
  constructor(
    message: string,
    readonly node: ts.Node,
  ) {
    super(message);
  }
}

export class Layouts {
  private readonly cache = new Map<ts.Node, Layout>();
  private readonly inProgress = new Set<ts.Node>();

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly intrinsics: Intrinsics,
  ) {}

  /** The layout of the struct a type argument names (`header<EthHdr>`). */
  ofTypeNode(node: ts.TypeNode): Layout {
    const decl = this.declarationOf(node);
    if (!decl) throw new LayoutError(`\`${node.getText()}\` is not a header struct: declare it as an interface of integer fields`, node);
    return this.ofDeclaration(decl, node);
  }

  /**
   * The struct or fixed array an annotation names (`FlowKey`,
   * `FixedArray<u8, 16>`, `Cell<u32>`), or undefined for anything else
   * (integers, pointers, the context). Throws LayoutError for a malformed struct.
   */
  shapeOf(node: ts.TypeNode): FieldType | undefined {
    if (ts.isParenthesizedTypeNode(node)) return this.shapeOf(node.type);
    if (!ts.isTypeReferenceNode(node) || this.intrinsics.intType(node)) return undefined;
    const dialect = this.intrinsics.dialectSymbol(node.typeName);
    if (dialect) {
      if (dialect.name === "FixedArray" || dialect.name === "Cell") return this.fieldType(node);
      // tsxdp/net's headers are structs, as are tsxdp's helper structs (BpfFibLookup); its other types are not.
      if (!(dialect.declarations ?? []).some((d) => d.getSourceFile().fileName.endsWith("net.d.ts"))) {
        const decl = dialect.declarations?.[0];
        if (!decl || !ts.isInterfaceDeclaration(decl) || decl.typeParameters) return undefined;
        try {
          return { kind: "struct", layout: this.ofDeclaration(decl, node) };
        } catch (err) {
          if (err instanceof LayoutError) return undefined;
          throw err;
        }
      }
    }
    const decl = this.declarationOf(node);
    return decl ? { kind: "struct", layout: this.ofDeclaration(decl, node) } : undefined;
  }

  /** Size in bytes of an integer type or a header struct (`sizeof<T>()`). */
  sizeOf(node: ts.TypeNode): number {
    const t = this.intrinsics.intType(node);
    if (t) return t.bits / 8;
    const shape = this.shapeOf(node);
    return shape ? sizeOfField(shape) : this.ofTypeNode(node).size;
  }

  private readonly cells = new Map<IntType, Layout>();

  /** `Cell<T>`: a struct of one field, `value`. */
  private cell(type: IntType): Layout {
    let l = this.cells.get(type);
    if (!l) {
      const size = type.bits / 8;
      l = { name: "Cell", size, align: size, packed: false, fields: new Map([["value", { name: "value", offset: 0, size, type: { kind: "scalar", type } }]]) };
      this.cells.set(type, l);
    }
    return l;
  }

  private readonly kptrs = new Map<Layout, Layout>();

  /** `Kptr<T>` / `PercpuKptr<T>`: 8 bytes, a pointer to a `T` of the program; one layout per target and kind. */
  private kptr(node: ts.TypeReferenceNode, percpu: boolean): Layout {
    const targetNode = node.typeArguments?.[0];
    const target = targetNode ? this.declarationOf(targetNode) : undefined;
    if (!targetNode || !target) throw new LayoutError(`a ${percpu ? "PercpuKptr" : "Kptr"} holds an object of one of the program's structs: \`${percpu ? "PercpuKptr" : "Kptr"}<Flow>\``, node);
    const layout = this.ofDeclaration(target, targetNode);
    const cache = percpu ? this.percpuKptrs : this.kptrs;
    let l = cache.get(layout);
    if (!l) {
      l = { name: `${percpu ? "PercpuKptr" : "Kptr"}<${layout.name}>`, size: 8, align: 8, packed: false, fields: new Map(), kptr: { target: layout, percpu } };
      cache.set(layout, l);
    }
    return l;
  }

  private readonly percpuKptrs = new Map<Layout, Layout>();

  private readonly graphRoots = new Map<Layout, Map<string, Layout>>();

  /** `ListHead<T, "node">` / `RbRoot<T, "node">`: one layout per struct held and node field. */
  private graphRoot(node: ts.TypeReferenceNode, kind: "list" | "rbtree"): Layout {
    const spelled = kind === "list" ? "ListHead" : "RbRoot";
    const nodeType = kind === "list" ? "ListNode" : "RbNode";
    const [ofNode, nameNode] = node.typeArguments ?? [];
    const decl = ofNode ? this.declarationOf(ofNode) : undefined;
    if (!ofNode || !decl || !nameNode || !ts.isLiteralTypeNode(nameNode) || !ts.isStringLiteral(nameNode.literal)) {
      throw new LayoutError(`write \`${spelled}<Flow, "node">\`: one of the program's structs, and the name of its \`${nodeType}\` field`, node);
    }
    const of = this.ofDeclaration(decl, ofNode);
    const name = nameNode.literal.text;
    const field = of.fields.get(name);
    if (field?.type.kind !== "struct" || field.type.layout !== (kind === "list" ? listNodeLayout : rbNodeLayout)) {
      throw new LayoutError(`\`${of.name}\` has no \`${nodeType}\` field \`${name}\``, nameNode);
    }
    const byNode = this.graphRoots.get(of) ?? new Map<string, Layout>();
    this.graphRoots.set(of, byNode);
    const key = `${kind}:${name}`;
    let l = byNode.get(key);
    if (!l) {
      l = { ...(kind === "list" ? listHeadLayout : rbRootLayout), graph: { kind, of, node: name, nodeOffset: field.offset } };
      byNode.set(key, l);
    }
    return l;
  }

  private declarationOf(node: ts.TypeNode, depth = 0): ts.InterfaceDeclaration | ts.TypeLiteralNode | undefined {
    if (ts.isTypeLiteralNode(node)) return node;
    if (!ts.isTypeReferenceNode(node) || depth > 8) return undefined;
    let sym = this.checker.getSymbolAtLocation(node.typeName);
    if (sym && sym.flags & ts.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
    const decl = sym?.declarations?.[0];
    if (!decl) return undefined;
    if (ts.isInterfaceDeclaration(decl)) return decl;
    if (ts.isTypeAliasDeclaration(decl)) return this.declarationOf(decl.type, depth + 1);
    return undefined;
  }

  private ofDeclaration(decl: ts.InterfaceDeclaration | ts.TypeLiteralNode, at: ts.Node): Layout {
    const cached = this.cache.get(decl);
    if (cached) return cached;
    if (this.inProgress.has(decl)) throw new LayoutError("a header struct cannot contain itself", at);
    this.inProgress.add(decl);
    try {
      const name = ts.isInterfaceDeclaration(decl) ? decl.name.text : "struct";
      let packed = false;
      let union = false;
      for (const clause of ts.isInterfaceDeclaration(decl) ? (decl.heritageClauses ?? []) : []) {
        for (const base of clause.types) {
          const sym = this.intrinsics.dialectSymbol(ts.isIdentifier(base.expression) ? base.expression : base);
          if (sym?.name === "Packed") packed = true;
          else if (sym?.name === "Union") union = true;
          else throw new LayoutError(`a header struct extends only \`Packed\` or \`Union\`; write the fields of \`${base.getText()}\` out, or nest it as a field`, base);
        }
      }
      const fields = new Map<string, Field>();
      let offset = 0;
      let align = 1;
      for (const member of decl.members) {
        if (!ts.isPropertySignature(member) || !member.type || !ts.isIdentifier(member.name) || member.questionToken) {
          throw new LayoutError("a header struct has plain fields with a type only (no methods, optional or computed fields)", member);
        }
        const type = this.fieldType(member.type);
        // A list head or tree root (or an array of them) tells the verifier what it holds (btf_decl_tag "contains:T:node").
        let element = type;
        while (element.kind === "array") element = element.element;
        const graph = element.kind === "struct" ? element.layout.graph : undefined;
        const declTags = graph ? { declTags: [`contains:${graph.of.name}:${graph.node}`] } : {};
        const fieldAlign = packed ? 1 : alignOf(type);
        const size = sizeOfField(type);
        if (union) {
          fields.set(member.name.text, { name: member.name.text, offset: 0, size, type });
          offset = Math.max(offset, size);
        } else {
          offset = alignUp(offset, fieldAlign);
          fields.set(member.name.text, { name: member.name.text, offset, size, type, ...declTags });
          offset += size;
        }
        align = Math.max(align, fieldAlign);
      }
      if (fields.size === 0) throw new LayoutError(`\`${name}\` has no fields`, at);
      const layout: Layout = { name, size: alignUp(offset, align), align, packed, ...(union ? { union } : {}), fields };
      this.cache.set(decl, layout);
      return layout;
    } finally {
      this.inProgress.delete(decl);
    }
  }

  private fieldType(node: ts.TypeNode): FieldType {
    const scalar = this.intrinsics.intType(node);
    if (scalar) return { kind: "scalar", type: scalar };
    if (ts.isTypeReferenceNode(node) && this.intrinsics.dialectSymbol(node.typeName)?.name === "FixedArray") {
      const [elementNode, countNode] = node.typeArguments ?? [];
      if (!elementNode || !countNode || !ts.isLiteralTypeNode(countNode) || !ts.isNumericLiteral(countNode.literal)) {
        throw new LayoutError("write a fixed array as `FixedArray<u8, 6>`: an element type and a constant length", node);
      }
      const count = Number(countNode.literal.text);
      if (!Number.isInteger(count) || count < 1 || count > 4096) throw new LayoutError("a fixed array has 1 to 4096 elements", countNode);
      return { kind: "array", element: this.fieldType(elementNode), count };
    }
    if (ts.isTypeReferenceNode(node) && this.intrinsics.dialectSymbol(node.typeName)?.name === "SpinLock") return { kind: "struct", layout: spinLockLayout };
    if (ts.isTypeReferenceNode(node) && this.intrinsics.dialectSymbol(node.typeName)?.name === "Timer") return { kind: "struct", layout: timerLayout };
    if (ts.isTypeReferenceNode(node) && this.intrinsics.dialectSymbol(node.typeName)?.name === "Refcount") return { kind: "struct", layout: refcountLayout };
    const graphName = ts.isTypeReferenceNode(node) ? this.intrinsics.dialectSymbol(node.typeName)?.name : undefined;
    if (graphName === "ListNode") return { kind: "struct", layout: listNodeLayout };
    if (graphName === "RbNode") return { kind: "struct", layout: rbNodeLayout };
    if (graphName === "ListHead" || graphName === "RbRoot") return { kind: "struct", layout: this.graphRoot(node as ts.TypeReferenceNode, graphName === "ListHead" ? "list" : "rbtree") };
    const kptr = ts.isTypeReferenceNode(node) ? this.intrinsics.dialectSymbol(node.typeName)?.name : undefined;
    if (kptr === "Kptr" || kptr === "PercpuKptr") return { kind: "struct", layout: this.kptr(node as ts.TypeReferenceNode, kptr === "PercpuKptr") };
    if (ts.isTypeReferenceNode(node) && this.intrinsics.dialectSymbol(node.typeName)?.name === "Cell") {
      const value = node.typeArguments?.[0] && this.intrinsics.intType(node.typeArguments[0]);
      if (!value) throw new LayoutError("a cell holds one integer: `Cell<u32>`", node);
      return { kind: "struct", layout: this.cell(value) };
    }
    const decl = this.declarationOf(node);
    if (decl) return { kind: "struct", layout: this.ofDeclaration(decl, node) };
    throw new LayoutError(`\`${node.getText()}\` cannot be a field of a header struct: use an integer type, a header struct or FixedArray`, node);
  }
}

/**
 * `SpinLock`: the kernel's `struct bpf_spin_lock { __u32 val; }`, found in a
 * map value's BTF by that name and size (btf_find_struct_field), so the BTF
 * of the value must carry it under that name.
 */
export const spinLockLayout: Layout = {
  name: "bpf_spin_lock",
  size: 4,
  align: 4,
  packed: false,
  fields: new Map([["val", { name: "val", offset: 0, size: 4, type: { kind: "scalar", type: u32 } }]]),
};

/** `Timer`: the kernel's `struct bpf_timer { __u64 __opaque[2]; }`, found in BTF by that name and size. */
export const timerLayout: Layout = {
  name: "bpf_timer",
  size: 16,
  align: 8,
  packed: false,
  fields: new Map([["__opaque", { name: "__opaque", offset: 0, size: 16, type: { kind: "array", element: { kind: "scalar", type: u64 }, count: 2 } }]]),
};

/** `Refcount`: the kernel's `struct bpf_refcount { __u32 __opaque[1]; }`, found in an allocated object's BTF by that name. */
export const refcountLayout: Layout = {
  name: "bpf_refcount",
  size: 4,
  align: 4,
  packed: false,
  fields: new Map([["__opaque", { name: "__opaque", offset: 0, size: 4, type: { kind: "array", element: { kind: "scalar", type: u32 }, count: 1 } }]]),
};

/** Words of opaque state the kernel keeps in a struct (uapi: `__u64 __opaque[n]`, aligned 8). */
function opaque(name: string, words: number): Layout {
  return {
    name,
    size: words * 8,
    align: 8,
    packed: false,
    fields: new Map([["__opaque", { name: "__opaque", offset: 0, size: words * 8, type: { kind: "array", element: { kind: "scalar", type: u64 }, count: words } }]]),
  };
}

/** `ListHead`'s and `RbRoot`'s structs, found in a map value's BTF by name (btf_find_struct_field), and their nodes'. */
export const listHeadLayout = opaque("bpf_list_head", 2);
export const listNodeLayout = opaque("bpf_list_node", 3);
export const rbRootLayout = opaque("bpf_rb_root", 2);
export const rbNodeLayout = opaque("bpf_rb_node", 4);

export function sizeOfField(t: FieldType): number {
  switch (t.kind) {
    case "scalar":
      return t.type.bits / 8;
    case "struct":
      return t.layout.size;
    case "array":
      return sizeOfField(t.element) * t.count;
  }
}

export function alignOf(t: FieldType): number {
  switch (t.kind) {
    case "scalar":
      return t.type.bits / 8;
    case "struct":
      return t.layout.align;
    case "array":
      return alignOf(t.element);
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Whether two shapes hold the same bytes in the same places (a copy between them is byte for byte). */
export function sameShape(a: FieldType, b: FieldType): boolean {
  if (a.kind === "scalar" && b.kind === "scalar") return a.type === b.type;
  if (a.kind === "array" && b.kind === "array") return a.count === b.count && sameShape(a.element, b.element);
  if (a.kind === "struct" && b.kind === "struct") {
    if (a.layout === b.layout) return true;
    if (a.layout.size !== b.layout.size || a.layout.fields.size !== b.layout.fields.size) return false;
    return [...a.layout.fields.values()].every((f) => {
      const g = b.layout.fields.get(f.name);
      return g !== undefined && g.offset === f.offset && sameShape(f.type, g.type);
    });
  }
  return false;
}

/** How a shape is named in messages. */
export function shapeName(t: FieldType): string {
  switch (t.kind) {
    case "scalar":
      return typeName(t.type);
    case "struct":
      return t.layout.name;
    case "array":
      return `FixedArray<${shapeName(t.element)}, ${t.count}>`;
  }
}
