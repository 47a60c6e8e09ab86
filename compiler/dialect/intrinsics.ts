/**
 * Recognises the dialect's names through the type checker: a reference is an
 * intrinsic when its symbol (after following imports and aliases) is
 * declared in the tsxdp declarations, whatever it is called locally.
 */
import ts from "typescript";
import type { SectionName } from "../ir/ir";
import { type IntType, intTypeByName } from "../ir/types";
import { type HelperSpec, helpers, kptrHelpers } from "./helpers";
import { type KfuncSpec, kfuncsBySpelling } from "./kfuncs";

export type Intrinsic =
  | { readonly kind: "conversion"; readonly to: IntType }
  | { readonly kind: "byteswap"; readonly name: ByteSwapName }
  | { readonly kind: "section"; readonly section: SectionName }
  | { readonly kind: "license" }
  | { readonly kind: "sizeof" }
  | { readonly kind: "zeroed" }
  | { readonly kind: "printk" }
  | { readonly kind: "checksum"; readonly bits: 16 | 32 }
  | { readonly kind: "atomic"; readonly op: "add" | "and" | "or" | "xor" | "xchg" | "cmpxchg" }
  | { readonly kind: "config" }
  | { readonly kind: "tailCall" }
  | { readonly kind: "spinLock"; readonly unlock: boolean }
  | { readonly kind: "strncmp" }
  | { readonly kind: "snprintf" }
  | { readonly kind: "snprintfBtf" }
  | { readonly kind: "timer"; readonly op: "init" | "set_callback" | "start" | "cancel" }
  | { readonly kind: "constant"; readonly value: bigint }
  | { readonly kind: "action"; readonly name: string; readonly value: bigint }
  | { readonly kind: "helper"; readonly helper: HelperSpec }
  /** bpf_kptr_xchg, bpf_this_cpu_ptr, bpf_per_cpu_ptr: on kptr fields and what they hold (ir/kptrs.ts). */
  | { readonly kind: "kptr"; readonly helper: HelperSpec }
  | { readonly kind: "kfunc"; readonly kfunc: KfuncSpec };

export type ByteSwapName = "htons" | "ntohs" | "htonl" | "ntohl" | "htonll" | "ntohll" | "bswap16" | "bswap32" | "bswap64";
const byteSwapNames = new Set<string>(["htons", "ntohs", "htonl", "ntohl", "htonll", "ntohll", "bswap16", "bswap32", "bswap64"]);

const atomics = new Map<string, "add" | "and" | "or" | "xor" | "xchg" | "cmpxchg">([
  ["atomicAdd", "add"],
  ["atomicAnd", "and"],
  ["atomicOr", "or"],
  ["atomicXor", "xor"],
  ["atomicExchange", "xchg"],
  ["atomicCompareExchange", "cmpxchg"],
]);

const updateFlags: ReadonlyMap<string, bigint> = new Map([
  ["ANY", 0n],
  ["NOEXIST", 1n],
  ["EXIST", 2n],
]);

/** Map classes and their BPF_MAP_TYPE_* (include/uapi/linux/bpf.h). */
export const mapClasses: ReadonlyMap<string, number> = new Map([
  ["HashMap", 1],
  ["ArrayMap", 2],
  ["PerCpuHash", 5],
  ["PerCpuArray", 6],
  ["LruHash", 9],
  ["LruPerCpuHash", 10],
  ["LpmTrie", 11],
  ["RingBuf", 27],
  ["PerfEventArray", 4],
  ["Queue", 22],
  ["Stack", 23],
  ["BloomFilter", 30],
  ["ProgArray", 3],
  ["DevMap", 14],
  ["CpuMap", 16],
  ["XskMap", 17],
  ["DevMapHash", 25],
  ["ArrayOfMaps", 12],
  ["HashOfMaps", 13],
]);

/**
 * The redirect maps: fixed u32 keys and values (no type arguments), a
 * `redirect` method (bpf_redirect_map), and from the program's side only
 * what check_map_func_compatibility (kernel/bpf/verifier.c) lets through:
 * redirect_map for all four, map_lookup_elem for DEVMAP, DEVMAP_HASH and
 * XSKMAP (a read-only value: the device's ifindex, the socket's queue_id),
 * never update or delete. Their entries are written from userspace.
 */
export const redirectMaps: ReadonlyMap<string, { readonly lookup: boolean }> = new Map([
  ["DevMap", { lookup: true }],
  ["DevMapHash", { lookup: true }],
  ["CpuMap", { lookup: false }],
  ["XskMap", { lookup: true }],
]);

/** Flags of bpf_redirect_map (BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS). */
const redirectFlags: ReadonlyMap<string, bigint> = new Map([
  ["BROADCAST", 8n],
  ["EXCLUDE_INGRESS", 16n],
]);

/** Flags of bpf_ringbuf_output/submit/discard (BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP). */
const ringBufFlags: ReadonlyMap<string, bigint> = new Map([
  ["NO_WAKEUP", 1n],
  ["FORCE_WAKEUP", 2n],
]);

/** What bpf_ringbuf_query reports (BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS). */
const ringBufQueries: ReadonlyMap<string, bigint> = new Map([
  ["AVAIL_DATA", 0n],
  ["RING_SIZE", 1n],
  ["CONS_POS", 2n],
  ["PROD_POS", 3n],
]);

/** Flags of bpf_perf_event_output: the CPU's buffer to write (BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK). */
const perfEventFlags: ReadonlyMap<string, bigint> = new Map([["CURRENT_CPU", 0xffffffffn]]);

const actions: ReadonlyMap<string, bigint> = new Map([
  ["ABORTED", 0n],
  ["DROP", 1n],
  ["PASS", 2n],
  ["TX", 3n],
  ["REDIRECT", 4n],
]);

export class Intrinsics {
  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly dialectFile: string,
  ) {}

  /** The dialect symbol a reference resolves to, if any. */
  dialectSymbol(node: ts.Node): ts.Symbol | undefined {
    let sym = this.checker.getSymbolAtLocation(node);
    if (!sym) return undefined;
    if (sym.flags & ts.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
    return this.isDialect(sym) ? sym : undefined;
  }

  isDialect(sym: ts.Symbol): boolean {
    return (sym.declarations ?? []).some((d) => this.isDialectFile(d.getSourceFile().fileName));
  }

  /** The dialect's own declaration files: tsxdp and tsxdp/net. */
  isDialectFile(fileName: string): boolean {
    return fileName === this.dialectFile || fileName === this.netFile;
  }

  private get netFile(): string {
    return this.dialectFile.replace(/index\.d\.ts$/, "net.d.ts");
  }

  /** A dialect constant declared with a number literal type (`ETH_P_IP: 0x0800`), as its value. */
  literalConstant(node: ts.Node): bigint | undefined {
    const sym = this.dialectSymbol(node);
    if (!sym || !(sym.flags & ts.SymbolFlags.Variable)) return undefined;
    const type = this.checker.getTypeOfSymbol(sym);
    return type.isNumberLiteral() ? BigInt(type.value) : undefined;
  }

  /** An integer type named in an annotation or type argument (`u32`, `be16`, …). */
  intType(typeNode: ts.TypeNode): IntType | undefined {
    if (!ts.isTypeReferenceNode(typeNode) || typeNode.typeArguments) return undefined;
    const sym = this.dialectSymbol(typeNode.typeName);
    return sym ? intTypeByName.get(sym.name) : undefined;
  }

  /** What a callee or value expression means, when it is one of ours. */
  resolve(expr: ts.Expression): Intrinsic | undefined {
    const section = this.section(expr);
    if (section) return { kind: "section", section };
    const target = ts.isPropertyAccessExpression(expr) ? expr.name : expr;
    const sym = this.dialectSymbol(target);
    if (!sym) return undefined;
    if (sym.flags & ts.SymbolFlags.EnumMember) {
      const parent = (sym.declarations?.[0]?.parent as ts.EnumDeclaration | undefined)?.name.text;
      if (parent === "UpdateFlags") {
        const flag = updateFlags.get(sym.name);
        return flag === undefined ? undefined : { kind: "constant", value: flag };
      }
      if (parent === "RedirectFlags") {
        const flag = redirectFlags.get(sym.name);
        return flag === undefined ? undefined : { kind: "constant", value: flag };
      }
      if (parent === "RingBufFlags") {
        const flag = ringBufFlags.get(sym.name);
        return flag === undefined ? undefined : { kind: "constant", value: flag };
      }
      if (parent === "RingBufQuery") {
        const flag = ringBufQueries.get(sym.name);
        return flag === undefined ? undefined : { kind: "constant", value: flag };
      }
      if (parent === "PerfEventFlags") {
        const flag = perfEventFlags.get(sym.name);
        return flag === undefined ? undefined : { kind: "constant", value: flag };
      }
      const value = actions.get(sym.name);
      return value === undefined ? undefined : { kind: "action", name: sym.name, value };
    }
    if (!(sym.flags & ts.SymbolFlags.Function)) return undefined;
    const to = intTypeByName.get(sym.name);
    if (to && !to.be) return { kind: "conversion", to };
    if (byteSwapNames.has(sym.name)) return { kind: "byteswap", name: sym.name as ByteSwapName };
    if (sym.name === "license") return { kind: "license" };
    if (sym.name === "sizeof") return { kind: "sizeof" };
    if (sym.name === "zeroed") return { kind: "zeroed" };
    if (sym.name === "bpf_printk") return { kind: "printk" };
    if (sym.name === "csumReplace16") return { kind: "checksum", bits: 16 };
    if (sym.name === "csumReplace32") return { kind: "checksum", bits: 32 };
    const atomicOp = atomics.get(sym.name);
    if (atomicOp) return { kind: "atomic", op: atomicOp };
    if (sym.name === "config") return { kind: "config" };
    if (sym.name === "tailCall") return { kind: "tailCall" };
    if (sym.name === "bpf_spin_lock" || sym.name === "bpf_spin_unlock") return { kind: "spinLock", unlock: sym.name === "bpf_spin_unlock" };
    if (sym.name === "bpf_strncmp") return { kind: "strncmp" };
    if (sym.name === "bpf_snprintf") return { kind: "snprintf" };
    if (sym.name === "bpf_snprintf_btf") return { kind: "snprintfBtf" };
    if (sym.name === "bpf_timer_init" || sym.name === "bpf_timer_set_callback" || sym.name === "bpf_timer_start" || sym.name === "bpf_timer_cancel") {
      return { kind: "timer", op: sym.name.slice("bpf_timer_".length) as "init" | "set_callback" | "start" | "cancel" };
    }
    const helper = helpers.get(sym.name);
    if (helper) return { kind: "helper", helper };
    const kptr = kptrHelpers.get(sym.name);
    if (kptr) return { kind: "kptr", helper: kptr };
    const k = kfuncsBySpelling.get(sym.name);
    if (k?.call) return { kind: "kfunc", kfunc: k };
    return undefined;
  }

  /** Whether `expr` names a map declared in the file (`const m = new HashMap<…>(…)`). */
  isMap(expr: ts.Expression): boolean {
    let sym = this.checker.getSymbolAtLocation(expr);
    if (sym && sym.flags & ts.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
    const decl = sym?.declarations?.[0];
    return !!decl && ts.isVariableDeclaration(decl) && !!decl.initializer && ts.isNewExpression(decl.initializer) && this.mapClass(decl.initializer.expression) !== undefined;
  }

  /** The map class a `new` expression creates (`new HashMap<…>(…)`), by name. */
  mapClass(expr: ts.Expression): string | undefined {
    const sym = this.dialectSymbol(expr);
    return sym && sym.flags & ts.SymbolFlags.Class && mapClasses.has(sym.name) ? sym.name : undefined;
  }

  /** `xdp`, `xdp.frags`, `xdp.devmap`, `xdp.frags.cpumap`, … as an ELF section name. */
  section(expr: ts.Expression): SectionName | undefined {
    const parts: string[] = [];
    let e: ts.Expression = expr;
    while (ts.isPropertyAccessExpression(e)) {
      parts.unshift(e.name.text);
      e = e.expression;
    }
    if (!ts.isIdentifier(e)) return undefined;
    const root = this.dialectSymbol(e);
    if (!root || root.name !== "xdp" || !(root.flags & ts.SymbolFlags.Variable)) return undefined;
    const key = parts.join(".");
    return sectionsByPath.get(key);
  }
}

const sectionsByPath: ReadonlyMap<string, SectionName> = new Map([
  ["", "xdp"],
  ["frags", "xdp.frags"],
  ["devmap", "xdp/devmap"],
  ["cpumap", "xdp/cpumap"],
  ["frags.devmap", "xdp.frags/devmap"],
  ["frags.cpumap", "xdp.frags/cpumap"],
]);
