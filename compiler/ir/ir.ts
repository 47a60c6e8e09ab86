/**
 * The tsxdp IR: a control-flow graph of typed instructions, one per program,
 * made for the analyses that the kernel verifier will repeat (packet bounds,
 * later references and stack). Every instruction keeps the TypeScript node it
 * came from, so diagnostics, line info and BTF all point at the source.
 *
 * Values are SSA temporaries; `let` variables are locals read and written
 * explicitly, like allocas before mem2reg. Constants are folded as the IR is
 * built, so an operand that is a constant here is a constant in the object.
 */
import type ts from "typescript";
import type { HelperSpec } from "../dialect/helpers";
import type { FieldType, KptrTarget, Layout } from "./layout";
import type { BoolType, IntType, PointerType, ValueType } from "./types";

export interface Temp {
  readonly kind: "temp";
  readonly id: number;
  readonly type: ValueType;
}

export interface Const {
  readonly kind: "const";
  readonly value: bigint;
  readonly type: IntType | BoolType;
}

export type Operand = Temp | Const;

export interface Local {
  readonly id: number;
  readonly name: string;
  readonly type: ValueType;
  readonly node: ts.Node;
}

export type CtxField = "data" | "data_end" | "data_meta" | "ingress_ifindex" | "rx_queue_index" | "egress_ifindex";

/** Offsets in `struct xdp_md` (include/uapi/linux/bpf.h). */
export const ctxFieldOffsets: Readonly<Record<CtxField, number>> = {
  data: 0,
  data_end: 4,
  data_meta: 8,
  ingress_ifindex: 12,
  rx_queue_index: 16,
  egress_ifindex: 20,
};

export type BinaryKind = "add" | "sub" | "mul" | "udiv" | "sdiv" | "urem" | "srem" | "and" | "or" | "xor" | "shl" | "lshr" | "ashr";

export type Predicate = "eq" | "ne" | "ult" | "ule" | "ugt" | "uge" | "slt" | "sle" | "sgt" | "sge";

interface InstrBase {
  readonly node: ts.Node;
}

export interface CtxLoad extends InstrBase {
  readonly op: "ctx";
  readonly dst: Temp;
  readonly field: CtxField;
}

export interface Binary extends InstrBase {
  readonly op: "binary";
  readonly dst: Temp;
  readonly kind: BinaryKind;
  readonly a: Operand;
  readonly b: Operand;
}

export interface Compare extends InstrBase {
  readonly op: "cmp";
  readonly dst: Temp;
  readonly pred: Predicate;
  readonly a: Operand;
  readonly b: Operand;
}

/** Integer width change (sign- or zero-extending by the source type) or bool to integer. */
export interface Cast extends InstrBase {
  readonly op: "cast";
  readonly dst: Temp;
  readonly src: Operand;
}

export interface ByteSwap extends InstrBase {
  readonly op: "bswap";
  readonly dst: Temp;
  readonly src: Operand;
}

/** A packet or metadata pointer moved by a byte count. */
export interface PointerAdd extends InstrBase {
  readonly op: "ptr_add";
  readonly dst: Temp;
  readonly base: Temp;
  readonly offset: Operand;
}

/** A read of `size` bytes at `ptr + offset`. */
export interface MemoryLoad extends InstrBase {
  readonly op: "load";
  readonly dst: Temp;
  readonly ptr: Temp;
  readonly region: PointerType["region"];
  readonly offset: number;
  readonly size: 1 | 2 | 4 | 8;
  /** A field of a kernel struct at `ptr` (then `offset` is the field's): read at the offset libbpf relocates. */
  readonly core?: Layout;
}

/** A write of `size` bytes at `ptr + offset`. */
export interface MemoryStore extends InstrBase {
  readonly op: "store";
  readonly ptr: Temp;
  readonly region: PointerType["region"];
  readonly offset: number;
  readonly size: 1 | 2 | 4 | 8;
  readonly value: Operand;
  /** A field of a kernel struct at `ptr`, as for a load (nf_conn's mark). */
  readonly core?: Layout;
}

/** A BTF-defined map declared at the top level (`const m = new HashMap<K, V>({ … })`). */
export interface MapDecl {
  readonly name: string;
  /** BPF_MAP_TYPE_* (include/uapi/linux/bpf.h). */
  readonly type: number;
  readonly className: string;
  readonly key: SlotType;
  readonly value: SlotType;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinned: boolean;
  /** map_extra: a bloom filter's number of hash functions */
  readonly extra?: number;
  /** A map of maps' inner map template (libbpf's `values` member); never emitted as a map itself. */
  readonly inner?: MapDecl;
  readonly node: ts.Node;
}

/**
 * A module-level variable: `.rodata` for `config<T>(…)` settings (read-only
 * in the program, set by the loader before load), `.data`/`.bss` for `let`.
 */
export interface GlobalDecl {
  readonly name: string;
  readonly type: IntType;
  readonly initial: bigint;
  readonly section: ".rodata" | ".data" | ".bss";
  readonly node: ts.Node;
}

export interface GlobalLoad extends InstrBase {
  readonly op: "global_load";
  readonly dst: Temp;
  readonly global: GlobalDecl;
}

export interface GlobalStore extends InstrBase {
  readonly op: "global_store";
  readonly global: GlobalDecl;
  readonly value: Operand;
}

/** What a map key or value is: an integer, or a header struct laid out as C. */
export type SlotType = IntType | Layout;

export function isLayout(t: SlotType): t is Layout {
  return "fields" in t;
}

export function slotSize(t: SlotType): number {
  return isLayout(t) ? t.size : t.bits / 8;
}

/**
 * A struct key or value written as an object literal: the bytes are zeroed
 * (padding included, as the kernel hashes every byte) and each field stored.
 */
export interface StructLiteral {
  readonly kind: "struct";
  readonly layout: Layout;
  readonly stores: readonly { readonly offset: number; readonly value: Operand }[];
  /** A local struct already on the stack (no stores): its pointer is passed as it is. */
  readonly source?: Temp;
}

/** bpf_map_lookup_elem: a pointer to the value, or null. */
export interface MapLookup extends InstrBase {
  readonly op: "map_lookup";
  readonly dst: Temp;
  readonly map: MapDecl;
  readonly key: Operand | StructLiteral;
  /** An inner map looked up in a map of maps (then `map` is its template): the helper's map argument. */
  readonly via?: Temp;
  /** A per-CPU map's value on that CPU (bpf_map_lookup_percpu_elem), not this CPU's. */
  readonly cpu?: Operand;
}

/** bpf_map_update_elem / bpf_map_delete_elem: 0 or a negative errno. */
export interface MapUpdate extends InstrBase {
  readonly op: "map_update" | "map_delete";
  readonly dst: Temp;
  readonly map: MapDecl;
  readonly key: Operand | StructLiteral;
  readonly value?: Operand | StructLiteral;
  readonly flags?: Operand;
  /** An inner map looked up in a map of maps, as in MapLookup. */
  readonly via?: Temp;
}

/** bpf_redirect_map (51): XDP_REDIRECT, or the fallback action in the low bits of `flags` when the key has no entry. */
export interface MapRedirect extends InstrBase {
  readonly op: "map_redirect";
  readonly dst: Temp;
  readonly map: MapDecl;
  readonly key: Operand;
  readonly flags: Operand;
}

/**
 * bpf_map_push_elem (87), bpf_map_pop_elem (88), bpf_map_peek_elem (89) on
 * queues, stacks and bloom filters: 0 or a negative errno. `value` is passed
 * in (push, and a bloom filter's peek); `out` receives a queue's or stack's value.
 */
export interface MapValueOp extends InstrBase {
  readonly op: "map_push" | "map_pop" | "map_peek";
  readonly dst: Temp;
  readonly map: MapDecl;
  readonly value?: Operand | StructLiteral;
  readonly out?: Temp;
  readonly flags?: Operand;
}

/** bpf_tail_call (12): jumps to the program at `index` of `map`, a PROG_ARRAY; goes on here when the entry is empty. */
export interface TailCall extends InstrBase {
  readonly op: "tail_call";
  readonly map: MapDecl;
  readonly index: Operand;
}

/** bpf_ringbuf_output (130): the record copied from the stack; 0 or a negative errno. */
export interface RingBufOutput extends InstrBase {
  readonly op: "ringbuf_output";
  readonly dst: Temp;
  readonly map: MapDecl;
  readonly value: Operand | StructLiteral;
  readonly flags: Operand;
}

/** bpf_perf_event_output (25): the record copied from the stack into a CPU's perf buffer; 0 or a negative errno. */
export interface PerfEventOutput extends InstrBase {
  readonly op: "perf_event_output";
  readonly dst: Temp;
  readonly ctx: Temp;
  readonly map: MapDecl;
  readonly value: Operand | StructLiteral;
  readonly flags: Operand;
}

/** bpf_ringbuf_reserve (131): a record of the map's record type, or null; a reference to release. */
export interface RingBufReserve extends InstrBase {
  readonly op: "ringbuf_reserve";
  readonly dst: Temp;
  readonly map: MapDecl;
}

/** bpf_ringbuf_query (134): a property of the ring (BPF_RB_AVAIL_DATA, _RING_SIZE, _CONS_POS, _PROD_POS), 0 for another flag. */
export interface RingBufQuery extends InstrBase {
  readonly op: "ringbuf_query";
  readonly dst: Temp;
  readonly map: MapDecl;
  readonly flags: Operand;
}

/** bpf_ringbuf_submit (132) / bpf_ringbuf_discard (133): releases the reserved `record`. */
export interface RingBufRelease extends InstrBase {
  readonly op: "ringbuf_submit" | "ringbuf_discard";
  readonly record: Temp;
  readonly flags: Operand;
}

/**
 * An atomic operation on memory that allows it (a map value). `dst`, when
 * present, receives the old value (BPF_FETCH); cmpxchg compares with
 * `expected` first.
 */
export interface Atomic extends InstrBase {
  readonly op: "atomic";
  readonly kind: "add" | "and" | "or" | "xor" | "xchg" | "cmpxchg";
  readonly dst?: Temp;
  readonly ptr: Temp;
  readonly offset: number;
  readonly value: Operand;
  readonly expected?: Operand;
}

export interface HelperCall extends InstrBase {
  readonly op: "call";
  readonly dst: Temp;
  readonly helper: HelperSpec;
  readonly args: readonly Operand[];
  /**
   * Packet bytes the helper reads through a pointer argument: proven within data_end like a load;
   * `length`: a size the user passes, whose largest value the read reaches (ARG_CONST_SIZE's umax).
   */
  readonly packetReads?: readonly { readonly ptr: Temp; readonly offset: number; readonly size: number; readonly length?: Operand }[];
  /** bpf_kptr_xchg's: what the field holds, so what the object it returns is (a reference, dropped or put back). */
  readonly kptr?: KptrTarget;
  /** The `ringbuf` argument's map (bpf_ringbuf_reserve_dynptr), passed as its address. */
  readonly map?: MapDecl;
}

export interface LocalGet extends InstrBase {
  readonly op: "local_get";
  readonly dst: Temp;
  readonly local: Local;
}

export interface LocalSet extends InstrBase {
  readonly op: "local_set";
  readonly local: Local;
  readonly value: Operand;
}

/** A trace line through bpf_trace_printk: the format is a constant in .rodata, the values 64-bit. */
export interface Printk extends InstrBase {
  readonly op: "printk";
  readonly format: string;
  readonly args: readonly Operand[];
}

/**
 * Stack memory for a local struct or array (an alloca in the entry block):
 * `dst` points at its first byte. The builder zeroes it with stores.
 */
export interface StackAlloc extends InstrBase {
  readonly op: "stack_alloc";
  readonly dst: Temp;
  readonly size: number;
  readonly name: string;
}

/** A subprogram's parameter `index`, as its caller passed it (r1–r5). */
export interface Param extends InstrBase {
  readonly op: "param";
  readonly dst: Temp;
  readonly index: number;
}

/** A BPF-to-BPF call of one of the file's functions compiled as a subprogram; `dst` is absent for `void`. */
export interface SubprogramCall extends InstrBase {
  readonly op: "subcall";
  readonly dst?: Temp;
  readonly callee: Subprogram;
  readonly args: readonly Operand[];
}

/** bpf_loop (181): `callback(i, state)` for i from 0 while it returns 0, at most `count` times; the iterations run. */
export interface BpfLoop extends InstrBase {
  readonly op: "bpf_loop";
  readonly dst: Temp;
  readonly count: Operand;
  readonly callback: Subprogram;
  /** The caller's stack memory the callback gets as its state; absent: NULL. */
  readonly state?: Temp;
}

/** bpf_for_each_map_elem (164): `callback(map, key, value, state)` for each element while it returns 0; the elements visited. */
export interface ForEachMap extends InstrBase {
  readonly op: "for_each_map";
  readonly dst: Temp;
  readonly map: MapDecl;
  readonly callback: Subprogram;
  /** The caller's stack memory the callback gets as its state; absent: NULL. */
  readonly state?: Temp;
}

/**
 * The bpf_timer helpers on the `struct bpf_timer` at `ptr + offset` in a
 * value of `map`: init (169, with the clock), set_callback (170), start
 * (171, nanoseconds and flags), cancel (172). 0 or a negative errno.
 */
export interface TimerOp extends InstrBase {
  readonly op: "timer";
  readonly kind: "init" | "set_callback" | "start" | "cancel";
  readonly dst: Temp;
  readonly ptr: Temp;
  readonly offset: number;
  readonly map: MapDecl;
  readonly callback?: Subprogram;
  readonly args: readonly Operand[];
}

/** bpf_snprintf (165): `format` (a constant in .rodata) with `args` (a u64 array on the stack) into `out` (stack memory, `size` bytes). */
export interface SnPrintf extends InstrBase {
  readonly op: "snprintf";
  readonly dst: Temp;
  readonly out: Operand;
  readonly size: number;
  readonly format: string;
  readonly args: readonly Operand[];
}

/**
 * bpf_snprintf_btf (149): `value` (stack memory) shown as the kernel's type `typeName`, whose
 * id in vmlinux is a CO-RE relocation (BPF_CORE_TYPE_ID_TARGET), into `out` (`size` bytes).
 */
export interface SnPrintfBtf extends InstrBase {
  readonly op: "snprintf_btf";
  readonly dst: Temp;
  readonly out: Operand;
  readonly size: number;
  readonly value: Operand;
  readonly typeName: string;
  readonly flags: Operand;
}

/** bpf_strncmp (182): `s1` (stack memory, `size` bytes) against `text`, a NUL-terminated constant in .rodata. */
export interface StrNCmp extends InstrBase {
  readonly op: "strncmp";
  readonly dst: Temp;
  readonly s1: Operand;
  readonly size: number;
  readonly text: string;
}

/** bpf_spin_lock (93) or bpf_spin_unlock (94) of the `struct bpf_spin_lock` at `ptr + offset` in a map value. */
export interface SpinLockOp extends InstrBase {
  readonly op: "spin_lock";
  readonly unlock: boolean;
  readonly ptr: Temp;
  readonly offset: number;
}

/** A kfunc of compiler/dialect/kfuncs.ts (resolved by libbpf through BTF as a `.ksyms` extern). */
export type KfuncName = string;

/** A kfunc call, its arguments as the table's parameters: e.g. the number iterator's `new(it, start, end)`, `next(it)`, `destroy(it)`. */
export interface KfuncCall extends InstrBase {
  readonly op: "kfunc";
  readonly dst?: Temp;
  readonly name: KfuncName;
  readonly args: readonly Operand[];
  /** The struct whose local BTF id is the `typeId` argument (bpf_obj_new_impl's), a placeholder here; for bpf_refcount_acquire_impl, the struct of the object it returns. */
  readonly typeId?: Layout;
  /** The vmlinux struct whose id is the `kernelTypeId` argument (bpf_rdonly_cast's), as bpf_core_type_id_kernel takes it; a placeholder here. */
  readonly kernelType?: string;
  /** The map whose address is the `map` argument (bpf_map_sum_elem_count's), a placeholder here. */
  readonly map?: MapDecl;
  /** The function whose address is the `callback` argument (bpf_rbtree_add_impl's `less`), a placeholder here. */
  readonly callback?: Subprogram;
}

/** The context pointer itself, as an argument to helpers. */
export interface CtxPointer extends InstrBase {
  readonly op: "ctx_ptr";
  readonly dst: Temp;
}

export type Instr = CtxLoad | Binary | Compare | Cast | ByteSwap | PointerAdd | MemoryLoad | MemoryStore | HelperCall | LocalGet | LocalSet | CtxPointer | Printk | MapLookup | MapUpdate | MapRedirect | MapValueOp | TailCall | RingBufOutput | PerfEventOutput | RingBufReserve | RingBufQuery | RingBufRelease | Atomic | GlobalLoad | GlobalStore | StackAlloc | Param | SubprogramCall | BpfLoop | ForEachMap | SpinLockOp | StrNCmp | SnPrintf | SnPrintfBtf | TimerOp | KfuncCall;

export interface Jump extends InstrBase {
  readonly op: "br";
  readonly target: Block;
}

export interface Branch extends InstrBase {
  readonly op: "cond_br";
  readonly cond: Operand;
  readonly then: Block;
  readonly else: Block;
}

export interface Return extends InstrBase {
  readonly op: "ret";
  readonly value: Operand;
}

export type Terminator = Jump | Branch | Return;

export interface Block {
  readonly id: number;
  readonly instrs: Instr[];
  term?: Terminator;
}

/** libxdp dispatcher metadata: priority and the chain-call actions (bit per XDP action). */
export interface RunConfig {
  readonly priority: number;
  readonly chainCallActions: readonly bigint[];
}

export type SectionName = "xdp" | "xdp.frags" | "xdp/devmap" | "xdp/cpumap" | "xdp.frags/devmap" | "xdp.frags/cpumap";

export interface ProgramIR {
  readonly name: string;
  readonly section: SectionName;
  /** The exported declaration, for diagnostics and the function's debug info. */
  readonly node: ts.Node;
  /** The handler function: its body's closing brace locates the shared return. */
  readonly handler: ts.FunctionLikeDeclaration;
  /** libxdp's XDP_RUN_CONFIG, when the declaration gives one. */
  readonly runConfig?: RunConfig;
  readonly ctxName: string;
  readonly entry: Block;
  readonly blocks: readonly Block[];
  readonly locals: readonly Local[];
  /** Defining instruction of each temp, for analyses that look through values. */
  readonly defs: ReadonlyMap<number, Instr>;
  /** Set when this is the body of a function compiled as a subprogram, not a program. */
  readonly subprogram?: Subprogram;
}

/**
 * A subprogram's parameter. `shape` binds a pointer as a struct: the caller's
 * stack (a callback's state), or with `slot` an element the kernel passes a
 * for_each callback (its key, read-only, or its value). `hidden`: passed by
 * the kernel but not declared (the map a for_each callback visits).
 */
export interface SubprogramParam {
  readonly name: string;
  readonly type: ValueType;
  readonly node: ts.Node;
  readonly shape?: FieldType;
  readonly slot?: "key" | "value";
  readonly hidden?: boolean;
  /** Where the struct begins from the pointer the kernel passes (a tree's node inside its object: minus the node's offset). */
  readonly at?: number;
}

/**
 * A function compiled as a BPF-to-BPF call target (`noinline(f)` or
 * `globalFunction(f)`) instead of inlined: a function in `.text`, static
 * (the kernel verifies it with each caller's register state) or global
 * (verified once, on its own, from its BTF signature).
 */
export interface Subprogram {
  readonly name: string;
  readonly linkage: "static" | "global";
  readonly params: readonly SubprogramParam[];
  /** Undefined for `void`. */
  readonly returns: IntType | BoolType | undefined;
  readonly node: ts.FunctionDeclaration;
  /** Whether it (or a function it calls) moves the packet: its callers' packet pointers die at the call. */
  changesPacket: boolean;
  /** A bpf_loop callback: `(index: u32, state?: S)`, returning 0 (go on) or 1 (stop). */
  readonly callback?: boolean;
  /** A bpf_for_each_map_elem callback of this map: `(key: K, value: ValueRef<V>, state?: S)`. */
  readonly forEachOf?: MapDecl;
  /** With `forEachOf`: the callback of timers in that map's values, `(key, value)`, returning 0. */
  readonly timer?: boolean;
  /** bpf_rbtree_add's `less(a, b)`: run by the kernel with the tree's lock held (no calls). */
  readonly rbtreeLess?: boolean;
  /** The body, once built. */
  ir?: ProgramIR;
}

export interface ModuleIR {
  readonly fileName: string;
  readonly sourceFile: ts.SourceFile;
  readonly license: string;
  readonly maps: readonly MapDecl[];
  readonly globals: readonly GlobalDecl[];
  readonly programs: readonly ProgramIR[];
  readonly subprograms: readonly Subprogram[];
}

export function successors(block: Block): Block[] {
  const t = block.term;
  if (!t) return [];
  switch (t.op) {
    case "br":
      return [t.target];
    case "cond_br":
      return t.then === t.else ? [t.then] : [t.then, t.else];
    case "ret":
      return [];
  }
}

/** Whether any of `blocks` jumps to `target` (a join nobody jumps to is dead code). */
export function isJumpedTo(blocks: readonly Block[], target: Block): boolean {
  return blocks.some((b) => successors(b).includes(target));
}

/** Blocks reachable from the entry, in reverse post-order (every block after its forward predecessors). */
export function reversePostOrder(entry: Block): Block[] {
  const seen = new Set<Block>();
  const out: Block[] = [];
  const visit = (b: Block) => {
    seen.add(b);
    for (const s of successors(b)) if (!seen.has(s)) visit(s);
    out.push(b);
  };
  visit(entry);
  return out.reverse();
}
