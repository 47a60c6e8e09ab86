/**
 * Packet bounds, proven the way the kernel verifier proves them
 * (kernel/bpf/verifier.c: try_match_pkt_pointers, find_good_pkt_pointers,
 * check_packet_access): a comparison of `data + k` against `data_end` gives
 * the branch where it holds a range of k readable bytes; ranges meet at
 * joins by taking the smaller; every load must lie inside the range proven
 * at its point. The metadata area works the same way with `data` as its end.
 *
 * Forward dataflow over the IR's CFG, flow-sensitive per edge. Where the
 * kernel is more generous than this analysis (a strict `<` check gives one
 * more byte on kernels since 5.17), we take the smaller range: a program
 * this stage accepts is one the kernel accepts.
 *
 * One kernel rule is per register, not per packet: on the branch where a
 * check finds `data + k` at or beyond data_end, the register holding
 * `data + k` is marked so (mark_pkt_end) and loses the range proven before,
 * even when an earlier, longer check makes that branch impossible; only a
 * later check gives it a range again. LLVM reuses that register for
 * accesses at `data + k` and past it, so on such paths those accesses
 * count only what later checks prove. LLVM also sinks a load past such a
 * check into the branch that uses it, so an access made before the check
 * counts as made after it unless that branch just returns an action.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import { type KfuncSpec, kfunc } from "../dialect/kfuncs";
import { type Block, type Compare, type MemoryLoad, type MemoryStore, type ModuleIR, type Operand, type ProgramIR, reversePostOrder, successors } from "../ir/ir";

type Region = "packet" | "meta";

/**
 * What the analysis knows about a value. A pointer is a base plus a constant
 * offset, as the kernel sees a packet register: base 0 is `data` (or
 * `data_meta`) itself; adding a variable makes a new base (the kernel gives
 * the register a new id), whose variable part is at most `varMax`. Ranges
 * are proven per base. A scalar carries its largest unsigned value when known.
 */
type Abstract =
  | { readonly kind: "ptr"; readonly region: Region; readonly base: number; readonly offset: number | undefined; readonly varMax: bigint; readonly epoch?: number }
  | { readonly kind: "end"; readonly epoch?: number }
  /** A map lookup's result: a value pointer or null, until a test says which. */
  | { readonly kind: "mapval"; readonly id: number; readonly from?: string }
  | { readonly kind: "scalar"; readonly max?: bigint };

interface Proven {
  readonly bytes: number;
  /** The comparison that proved it, for messages. */
  readonly by?: ts.Node;
  /** Set when paths with more proven met one with less here. */
  readonly weakerJoin?: { readonly stronger: number; readonly strongerBy?: ts.Node };
}

interface State {
  /**
   * How many packet-moving helper calls (bpf_xdp_adjust_head, …) lie behind
   * this point on some path; pointers from an earlier epoch are dead.
   */
  readonly epoch: number;
  readonly movedBy?: ts.Node;
  /** Map lookups proven non-null here (mark_ptr_or_null_regs). */
  readonly nonNull: ReadonlySet<number>;
  /** Packet bytes proven readable, per pointer base (0: from `data`). */
  readonly ranges: ReadonlyMap<number, Proven>;
  readonly meta: Proven;
  readonly locals: ReadonlyMap<number, Abstract>;
  /** Packet pointers found at or beyond data_end on some path here, by "base:offset". */
  readonly beyond: ReadonlyMap<string, Beyond>;
  /** Packet accesses made on every path to here: those LLVM may sink to here (into blocks they dominate). */
  readonly accessed: readonly Access[];
}

interface Access {
  readonly base: number;
  readonly from: number;
  readonly to: number;
  /** Offset of the pointer the access goes through (the register LLVM uses for it). */
  readonly pointer: number;
  readonly instr: MemoryLoad | MemoryStore;
}

/** `data + offset` was found at or beyond data_end; `regained` is what later checks proved since. */
interface Beyond {
  readonly base: number;
  readonly offset: number;
  readonly regained: number;
  readonly by: ts.Node;
}

interface Fact {
  readonly region: Region;
  readonly base: number;
  readonly bytes: number;
  readonly by: ts.Node;
}

interface Outcomes {
  readonly onTrue: Fact[];
  readonly onFalse: Fact[];
  /** The packet pointer (base, offset) the branch finds at or beyond data_end, if any. */
  readonly beyondOnTrue?: readonly [number, number];
  readonly beyondOnFalse?: readonly [number, number];
  /** The map lookup the branch proves non-null. */
  readonly nonNullOnTrue?: number;
  readonly nonNullOnFalse?: number;
  readonly by?: ts.Node;
}

const scalar: Abstract = { kind: "scalar" };
const nothing: Proven = { bytes: 0 };

/** The verifier's MAX_PACKET_OFF: beyond it a comparison proves nothing. */
const maxPacketOffset = 0xffff;
const unbounded = 1n << 64n;

/**
 * Every program, and the subprograms they call: a static one with each
 * call's state (check_func_call walks the callee with the caller's
 * registers), a global one once, on its own, with arguments it knows
 * nothing about (as the kernel verifies it).
 */
export function checkModuleBounds(module: ModuleIR, diagnostics: DiagnosticBag): void {
  for (const p of module.programs) checkPacketBounds(p, diagnostics);
  // A bpf_loop callback gets only an index and its caller's stack: nothing of the packet comes in.
  for (const s of module.subprograms) if ((s.linkage === "global" || s.callback) && s.ir) checkPacketBounds(s.ir, diagnostics);
}

/** What a static subprogram starts with: its arguments and what its caller proved about them. */
interface CallEntry {
  readonly params: readonly Abstract[];
  readonly ranges: ReadonlyMap<number, Proven>;
  readonly meta: Proven;
  readonly beyond: ReadonlyMap<string, Beyond>;
}

/** Caller bases as the callee sees them, apart from the callee's own (made from its temp ids). */
const callerBase = -(2 ** 40);

function callEntry(args: readonly Abstract[], s: State): CallEntry {
  // Even `data` itself: the callee's own read of ctx->data is a new register with no range.
  const remap = new Map<number, number>();
  const params = args.map((a): Abstract => {
    if (a.kind === "ptr") {
      if (!remap.has(a.base)) remap.set(a.base, callerBase - remap.size - 1);
      return { ...a, base: remap.get(a.base)!, epoch: 0 };
    }
    if (a.kind === "end") return { kind: "end", epoch: 0 };
    return a.kind === "scalar" ? a : scalar;
  });
  const ranges = new Map<number, Proven>();
  for (const [b, p] of s.ranges) if (remap.has(b)) ranges.set(remap.get(b)!, p);
  const beyond = new Map<string, Beyond>();
  for (const v of s.beyond.values()) {
    const base = remap.get(v.base);
    if (base !== undefined) beyond.set(`${base}:${v.offset}`, { ...v, base });
  }
  // The metadata range is not kept per pointer here, and a callee's own read of ctx->data_meta has none: none comes in.
  return { params, ranges, meta: nothing, beyond };
}

export function checkPacketBounds(program: ProgramIR, outer: DiagnosticBag, entry?: CallEntry): void {
  // One pass in reverse post-order sees every forward predecessor first. A real loop (bpf_iter_num)
  // has a back edge: passes repeat until the states at its header settle, as the verifier's do, and
  // what they report counts only if they do.
  const order = reversePostOrder(program.entry);
  const headers = loopHeaders(order);
  const diagnostics = headers.size > 0 ? new DiagnosticBag() : outer;
  const values = new Map<number, Abstract>();
  const facts = new Map<number, Outcomes>();
  const entryStates = new Map<Block, State>();
  entryStates.set(program.entry, { epoch: 0, nonNull: new Set(), ranges: new Map(entry?.ranges ?? []), meta: entry?.meta ?? nothing, locals: new Map(), beyond: new Map(entry?.beyond ?? []), accessed: [] });
  /** Where each variable base was made, for messages. */
  const bases = new Map<number, ts.Node>();
  const joinBases: JoinBases = (block, localId) => {
    const id = -(block.id * 0x10000 + localId + 1);
    const local = program.locals[localId];
    if (local && !bases.has(id)) bases.set(id, local.node);
    return id;
  };
  /** Bases whose making was already refused: their uses add nothing to that diagnostic. */
  const refused = new Set<number>();
  const isRefused = (v: Abstract) => v.kind === "ptr" && refused.has(v.base);

  const valueOf = (o: Operand): Abstract => (o.kind === "const" ? { kind: "scalar", max: BigInt.asUintN(64, o.value) } : (values.get(o.id) ?? scalar));
  const maxOf = (o: Operand): bigint | undefined => {
    const v = valueOf(o);
    return v.kind === "scalar" ? v.max : undefined;
  };

  for (let pass = 0; ; pass++) {
  const before = new Map([...headers].map((h) => [h, entryStates.get(h)] as const));
  for (const block of order) {
    let state = entryStates.get(block);
    if (!state) continue;
    const locals = new Map(state.locals);
    const accessed = [...state.accessed];
    // Only a comparison in the branch's own block counts: a boolean kept
    // from earlier may reach the kernel as a 0/1 register, which proves nothing.
    const comparedHere = new Set<number>();
    /** A pointer (or data_end) from before a packet-moving call: reports it once per use. */
    const stale = (v: Abstract, node: ts.Node): boolean => {
      if (v.kind === "scalar" || v.kind === "mapval" || (v.epoch ?? 0) >= state!.epoch) return false;
      const call = state!.movedBy;
      const helper = call && ts.isCallExpression(call) ? call.expression.getText() : "a helper that moves the packet";
      diagnostics.report(Codes.packetStale, node, `${v.kind === "end" ? "this `data_end`" : "this pointer"} is from before \`${helper}\`${call ? ` at line ${locationOf(call).line}` : ""} moved the packet; the kernel forgets every packet pointer there`, {
        related: call ? [{ message: "the packet moves here", location: locationOf(call) }] : [],
        hints: ["read `ctx.data` and `ctx.data_end` again after the call, and check them again before use"],
      });
      return true;
    };
    for (const instr of block.instrs) {
      switch (instr.op) {
        case "ctx":
          values.set(
            instr.dst.id,
            instr.field === "data"
              ? { kind: "ptr", region: "packet", base: 0, offset: 0, varMax: 0n, epoch: state.epoch }
              : instr.field === "data_meta"
                ? { kind: "ptr", region: "meta", base: 0, offset: 0, varMax: 0n, epoch: state.epoch }
                : instr.field === "data_end"
                  ? { kind: "end", epoch: state.epoch }
                  : { kind: "scalar", max: 0xffffffffn },
          );
          break;
        case "ptr_add": {
          const base = valueOf(instr.base);
          if (base.kind !== "ptr") break;
          if (stale(base, instr.node)) {
            values.set(instr.dst.id, base);
            break;
          }
          if (instr.offset.kind === "const") {
            const delta = Number(BigInt.asIntN(64, instr.offset.value));
            values.set(instr.dst.id, { ...base, offset: base.offset === undefined ? undefined : base.offset + delta });
            break;
          }
          // adjust_ptr_min_max_vals: a variable added to a packet pointer gives a new id, the
          // constant offset stays, and the variable's bounds add up.
          const add = maxOf(instr.offset);
          const varMax = add === undefined ? unbounded : base.varMax + add;
          const fresh = instr.dst.id + 1;
          bases.set(fresh, instr.node);
          if (varMax >= 1n << 63n) {
            // check_reg_sane_offset: a value that may be negative (as the verifier reads it) cannot move a pointer at all.
            diagnostics.report(Codes.packetVariableOffset, instr.node, "the verifier refuses moving a packet pointer by a value this large: it may be negative as the verifier reads it", {
              hints: ["bound the amount first, e.g. with a mask (`x & 0xffff`) or a narrower type (`u16(x)`)"],
            });
            refused.add(fresh);
          }
          values.set(instr.dst.id, { kind: "ptr", region: base.region, base: fresh, offset: base.region === "meta" ? undefined : base.offset, varMax });
          break;
        }
        case "binary": {
          const bits = bitsOf(instr.dst.type);
          const a = maxOf(instr.a);
          // A shift right by a constant lowers the bound as much (a header length: `(doff >> 4) * 4`).
          const shifted = instr.kind === "lshr" && instr.b.kind === "const" && a !== undefined ? a >> BigInt.asUintN(64, instr.b.value) % BigInt(bits) : undefined;
          const max = shifted !== undefined ? (shifted < limit(bits) ? shifted : limit(bits)) : binaryMax(instr.kind, a, maxOf(instr.b), bits);
          values.set(instr.dst.id, { kind: "scalar", max });
          break;
        }
        case "cast": {
          const from = instr.src.type;
          const to = bitsOf(instr.dst.type);
          const m = from.kind === "bool" ? 1n : from.kind === "int" && !from.signed ? maxOf(instr.src) : undefined;
          values.set(instr.dst.id, { kind: "scalar", max: m !== undefined && m <= limit(to) ? m : limit(to) });
          break;
        }
        case "bswap":
          values.set(instr.dst.id, { kind: "scalar", max: limit(bitsOf(instr.dst.type)) });
          break;
        case "call":
          // check_helper_mem_access: a packet buffer must lie within the proven range, as a load would.
          for (const r of instr.packetReads ?? []) {
            // check_mem_size_reg: a length passed at run time reaches as far as its largest value.
            const longest = r.length ? maxOf(r.length) : undefined;
            if (r.length && (longest === undefined || longest > BigInt(maxPacketOffset))) {
              diagnostics.report(Codes.packetVariableOffset, instr.node, `\`${instr.helper.name}\` reads as many packet bytes as this length says, and the compiler cannot bound it: the kernel refuses an unbounded size`, {
                hints: ["bound it first, e.g. `u32(tcp.doff >> 4) * 4` is at most 60"],
              });
              continue;
            }
            const size = longest !== undefined ? Number(longest) : r.size;
            const read: MemoryLoad = { op: "load", dst: instr.dst, ptr: r.ptr, region: "packet", offset: r.offset, size: size as 1, node: instr.node };
            if (!isRefused(valueOf(r.ptr)) && !stale(valueOf(r.ptr), instr.node)) checkAccess(read, valueOf(r.ptr), state, program, diagnostics, accessed, bases);
          }
          // A per-CPU object read from a PercpuKptr field: tested first, as the verifier wants it non-null.
          for (const [k, p] of instr.helper.params.entries()) {
            const a = instr.args[k];
            if (p.kind === "object" && !p.release && a?.kind === "temp") checkMapValue(instr, valueOf(a), state, diagnostics);
          }
          // A socket from a lookup, an object out of a kptr field or a CPU's copy of one: null until tested, like a map value.
          values.set(instr.dst.id, instr.helper.returns.kind === "ptr" ? { kind: "mapval", id: instr.dst.id, ...(instr.helper.acquires ? {} : { from: instr.helper.name }) } : { kind: "scalar", max: limit(bitsOf(instr.dst.type)) });
          // bpf_this_cpu_ptr: never NULL for an object (RET_PTR_TO_MEM_OR_BTF_ID without MAYBE_NULL).
          if (instr.helper.name === "bpf_this_cpu_ptr") state = { ...state, nonNull: new Set([...state.nonNull, instr.dst.id]) };
          if (instr.helper.changesPacket) {
            // clear_all_pkt_pointers: nothing proven survives, and every packet pointer is dead.
            state = { ...state, epoch: state.epoch + 1, movedBy: instr.node, ranges: new Map(), meta: nothing, beyond: new Map() };
            accessed.length = 0;
          }
          break;
        case "local_get":
          values.set(instr.dst.id, locals.get(instr.local.id) ?? scalar);
          break;
        case "local_set":
          locals.set(instr.local.id, valueOf(instr.value));
          break;
        case "param": {
          const t = instr.dst.type;
          // A for_each callback's map, key and value: the kernel passes them, never null.
          if (t.kind === "ptr" && t.region === "map") {
            values.set(instr.dst.id, { kind: "mapval", id: instr.dst.id });
            state = { ...state, nonNull: new Set([...state.nonNull, instr.dst.id]) };
            break;
          }
          values.set(instr.dst.id, entry?.params[instr.index] ?? (t.kind === "int" ? { kind: "scalar", max: t.signed ? undefined : limit(t.bits) } : scalar));
          break;
        }
        case "bpf_loop":
        case "for_each_map":
          values.set(instr.dst.id, scalar);
          break;
        case "kfunc":
          if (instr.dst && instr.name === "bpf_cast_to_kern_ctx") {
            // The kernel's context: never NULL, read through at once.
            values.set(instr.dst.id, { kind: "mapval", id: instr.dst.id, from: instr.name });
            state = { ...state, nonNull: new Set([...state.nonNull, instr.dst.id]) };
            break;
          }
          // A reference a kfunc acquires, or a dynptr slice: null until tested, like a map value.
          if (instr.dst) values.set(instr.dst.id, nullTested(kfunc(instr.name)) ? { kind: "mapval", id: instr.dst.id, from: instr.name } : scalar);
          break;
        case "subcall": {
          const args = instr.args.map(valueOf);
          if (args.some((a) => isRefused(a) || stale(a, instr.node))) break;
          // A static callee is verified with this call's state; a global one was verified on its own.
          if (instr.callee.linkage === "static" && instr.callee.ir) checkPacketBounds(instr.callee.ir, diagnostics, callEntry(args, state));
          if (instr.dst) values.set(instr.dst.id, { kind: "scalar", max: limit(bitsOf(instr.dst.type)) });
          if (instr.callee.changesPacket) {
            state = { ...state, epoch: state.epoch + 1, movedBy: instr.node, ranges: new Map(), meta: nothing, beyond: new Map() };
            accessed.length = 0;
          }
          break;
        }
        case "map_lookup":
        case "ringbuf_reserve":
          if (instr.op === "map_lookup" && instr.via) checkInnerMap(instr, valueOf(instr.via), state, diagnostics);
          values.set(instr.dst.id, { kind: "mapval", id: instr.dst.id });
          break;
        case "map_update":
        case "map_delete":
          if (instr.via) checkInnerMap(instr, valueOf(instr.via), state, diagnostics);
          break;
        case "global_load":
          values.set(instr.dst.id, { kind: "scalar", max: instr.global.type.signed ? undefined : limit(instr.global.type.bits) });
          break;
        case "spin_lock":
        case "timer":
          checkMapValue(instr, valueOf(instr.ptr), state, diagnostics);
          break;
        case "atomic":
          if (instr.dst) values.set(instr.dst.id, { kind: "scalar", max: limit(bitsOf(instr.dst.type)) });
          checkMapValue(instr, valueOf(instr.ptr), state, diagnostics);
          break;
        case "cmp": {
          const a = valueOf(instr.a);
          const b = valueOf(instr.b);
          if (a.kind === "mapval" || b.kind === "mapval") {
            const v = a.kind === "mapval" ? a : (b as { id: number });
            const other = a.kind === "mapval" ? instr.b : instr.a;
            if (other.kind === "const" && other.value === 0n && (instr.pred === "eq" || instr.pred === "ne")) {
              facts.set(instr.dst.id, instr.pred === "ne" ? { onTrue: [], onFalse: [], nonNullOnTrue: v.id } : { onTrue: [], onFalse: [], nonNullOnFalse: v.id });
              comparedHere.add(instr.dst.id);
            }
            break;
          }
          if (isRefused(a) || isRefused(b)) break;
          if (stale(a, instr.node) || stale(b, instr.node)) break;
          if (isVariablePointer(a) || isVariablePointer(b)) {
            // Such a check proves nothing here, and keeps alive pointer arithmetic that the
            // kernel refuses when the offset's range is unbounded ("math between pkt pointer
            // and register with unbounded min value"): refuse it rather than hope.
            reportVariableOffset(diagnostics, instr.node, "comparison");
            break;
          }
          if (isOrdering(instr.pred) && (isUselessStart(a, b) || isUselessStart(b, a))) {
            // No range for `data` itself, and on one branch the kernel marks the register holding
            // `data` as at or beyond the end, after which no access through it passes: refuse it.
            diagnostics.report(Codes.pointerCompare, instr.node, "comparing the start of the packet with data_end proves no readable bytes", {
              hints: ["compare `data + n` with data_end, n being the number of bytes you read, e.g. `if (data + 14 > data_end) return XdpAction.DROP;`"],
            });
            break;
          }
          facts.set(instr.dst.id, comparisonFacts(instr, a, b));
          comparedHere.add(instr.dst.id);
          break;
        }
        case "load":
          if (instr.core && instr.dst.type.kind === "ptr") {
            // A kernel pointer read through CO-RE (a css's cgroup): the verifier lets the program read through it.
            checkMapValue(instr, valueOf(instr.ptr), state, diagnostics);
            values.set(instr.dst.id, { kind: "mapval", id: instr.dst.id });
            state = { ...state, nonNull: new Set([...state.nonNull, instr.dst.id]) };
            break;
          }
          if (instr.region === "map" && instr.dst.type.kind === "ptr") {
            // A kptr field read: the object it holds, or NULL (PTR_MAYBE_NULL), tested before use.
            checkMapValue(instr, valueOf(instr.ptr), state, diagnostics);
            values.set(instr.dst.id, { kind: "mapval", id: instr.dst.id, from: "kptr" });
            break;
          }
          values.set(instr.dst.id, { kind: "scalar", max: limit(instr.size * 8) });
          // The program's own stack memory: in bounds by construction (constant offsets in a fixed-size alloca).
          if (instr.region === "stack") break;
          if (instr.region === "map") {
            checkMapValue(instr, valueOf(instr.ptr), state, diagnostics);
            break;
          }
          if (!isRefused(valueOf(instr.ptr)) && !stale(valueOf(instr.ptr), instr.node)) checkAccess(instr, valueOf(instr.ptr), state, program, diagnostics, accessed, bases);
          break;
        case "store":
          if (instr.region === "stack") break;
          if (instr.region === "map") {
            checkMapValue(instr, valueOf(instr.ptr), state, diagnostics);
            break;
          }
          if (!isRefused(valueOf(instr.ptr)) && !stale(valueOf(instr.ptr), instr.node)) checkAccess(instr, valueOf(instr.ptr), state, program, diagnostics, accessed, bases);
          break;
        default:
          break;
      }
    }
    state = { ...state, locals, accessed };
    const term = block.term;
    if (!term) continue;
    if (term.op === "cond_br" && term.cond.kind === "temp") {
      const f = comparedHere.has(term.cond.id) ? facts.get(term.cond.id) : undefined;
      if (f?.by && f.beyondOnTrue !== undefined) checkSunk(f.beyondOnTrue, f.by, term.then, state, diagnostics);
      if (f?.by && f.beyondOnFalse !== undefined) checkSunk(f.beyondOnFalse, f.by, term.else, state, diagnostics);
      const then = apply(state, f?.onTrue, f?.beyondOnTrue, f?.by);
      const otherwise = apply(state, f?.onFalse, f?.beyondOnFalse, f?.by);
      propagate(entryStates, term.then, f?.nonNullOnTrue !== undefined ? { ...then, nonNull: new Set([...then.nonNull, f.nonNullOnTrue]) } : then, joinBases);
      propagate(entryStates, term.else, f?.nonNullOnFalse !== undefined ? { ...otherwise, nonNull: new Set([...otherwise.nonNull, f.nonNullOnFalse]) } : otherwise, joinBases);
    } else {
      for (const s of successors(block)) propagate(entryStates, s, state, joinBases);
    }
  }
  let settled = true;
  for (const h of headers) {
    const was = before.get(h);
    const now = entryStates.get(h);
    if (!now || (was && sameState(was, now))) continue;
    settled = false;
    if (was) entryStates.set(h, widen(was, now));
  }
  if (settled) {
    if (diagnostics !== outer) for (const d of diagnostics.all) outer.add(d);
    break;
  }
  if (pass >= maxLoopPasses) {
    for (const h of headers) {
      outer.report(Codes.unsupportedLoop, h.term?.node ?? program.node, "the compiler cannot prove this loop's packet accesses: a packet pointer (or the packet itself) changes on every iteration, so what it knows at the loop's start never settles", {
        hints: ["move pointers and packet changes out of a loop bounded at run time, or bound it by a constant and let the compiler unroll it"],
      });
    }
    break;
  }
  }
}

/** Passes over a function with a loop before its states must have settled. */
const maxLoopPasses = 8;

/** Blocks some later block (in reverse post-order) jumps back to. */
function loopHeaders(order: readonly Block[]): Set<Block> {
  const position = new Map(order.map((b, i) => [b, i] as const));
  const out = new Set<Block>();
  for (const b of order) for (const s of successors(b)) if ((position.get(s) ?? Infinity) <= position.get(b)!) out.add(s);
  return out;
}

function sameState(a: State, b: State): boolean {
  const key = (s: State) =>
    JSON.stringify({
      epoch: s.epoch,
      meta: s.meta.bytes,
      ranges: [...s.ranges].map(([k, v]) => [k, v.bytes]).sort(),
      locals: [...s.locals].map(([k, v]) => [k, v.kind, "base" in v ? v.base : 0, "offset" in v ? v.offset : 0, "varMax" in v ? String(v.varMax) : "", "max" in v ? String(v.max) : "", "id" in v ? v.id : 0]).sort(),
      nonNull: [...s.nonNull].sort(),
      beyond: [...s.beyond].map(([k, v]) => [k, v.regained]).sort(),
    });
  return key(a) === key(b);
}

/** A loop's scalars that keep changing are widened to unknown, as the verifier widens imprecise ones. */
function widen(was: State, now: State): State {
  const locals = new Map(now.locals);
  for (const [id, v] of now.locals) {
    const w = was.locals.get(id);
    if (v.kind === "scalar" && w?.kind === "scalar" && w.max !== v.max) locals.set(id, { kind: "scalar" });
  }
  return { ...now, locals };
}

function apply(state: State, facts: readonly Fact[] | undefined, beyond: readonly [number, number] | undefined, by: ts.Node | undefined): State {
  let s = state;
  for (const f of facts ?? []) {
    if (f.region === "meta") {
      if (f.bytes > s.meta.bytes) s = { ...s, meta: { bytes: f.bytes, by: f.by } };
      continue;
    }
    // find_good_pkt_pointers raises every copy of the pointer (same id), the marked ones included.
    if (s.beyond.size > 0) {
      s = { ...s, beyond: new Map([...s.beyond].map(([k, b]) => [k, b.base === f.base ? { ...b, regained: Math.max(b.regained, f.bytes) } : b])) };
    }
    if (f.bytes > rangeOf(s, f.base).bytes) s = { ...s, ranges: new Map(s.ranges).set(f.base, { bytes: f.bytes, by: f.by }) };
  }
  if (beyond !== undefined && by) {
    const [base, offset] = beyond;
    s = { ...s, beyond: new Map(s.beyond).set(`${base}:${offset}`, { base, offset, regained: 0, by }) };
  }
  return s;
}

function rangeOf(s: State, base: number): Proven {
  return s.ranges.get(base) ?? nothing;
}

function bitsOf(t: { kind: string; bits?: number }): number {
  return t.kind === "int" ? t.bits! : t.kind === "bool" ? 1 : 64;
}

function limit(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}

/**
 * The largest unsigned result of an operation, from its operands' largest
 * values (undefined: unknown), never above what the width holds. The kernel
 * tracks at least this much (tnums and min/max in adjust_scalar_min_max_vals).
 */
function binaryMax(kind: string, a: bigint | undefined, b: bigint | undefined, bits: number): bigint {
  const top = limit(bits);
  const fit = (v: bigint | undefined) => (v === undefined || v > top ? top : v);
  switch (kind) {
    case "and":
      return a === undefined ? fit(b) : b === undefined ? fit(a) : fit(a < b ? a : b);
    case "or":
    case "xor":
      return a === undefined || b === undefined ? top : fit((1n << BigInt((a > b ? a : b).toString(2).length)) - 1n);
    case "add":
      return a === undefined || b === undefined ? top : fit(a + b);
    case "mul":
      return a === undefined || b === undefined ? top : fit(a * b);
    case "shl":
      return a === undefined || b === undefined || b >= BigInt(bits) ? top : fit(a << b);
    case "lshr":
    case "udiv":
      return fit(a);
    case "urem":
      return b === undefined || b === 0n ? fit(a) : fit(a !== undefined && a < b - 1n ? a : b - 1n);
    default:
      return top;
  }
}

/** Registers a base made where a variable's pointers from several paths meet. */
type JoinBases = (block: Block, localId: number) => number;

function propagate(states: Map<Block, State>, target: Block, incoming: State, joinBases: JoinBases): void {
  const existing = states.get(target);
  states.set(target, existing ? join(existing, incoming, (localId) => joinBases(target, localId)) : incoming);
}

function join(a: State, b: State, joinBase: (localId: number) => number): State {
  const locals = new Map<number, Abstract>();
  for (const [id, va] of a.locals) {
    const vb = b.locals.get(id);
    if (vb) locals.set(id, joinValue(va, vb, () => joinBase(id)));
  }
  const beyond = new Map(a.beyond);
  for (const [k, vb] of b.beyond) {
    const va = beyond.get(k);
    beyond.set(k, va && va.regained <= vb.regained ? va : vb);
  }
  const accessed = a.accessed.filter((x) => b.accessed.includes(x));
  const ranges = new Map<number, Proven>();
  for (const base of new Set([...a.ranges.keys(), ...b.ranges.keys()])) ranges.set(base, joinProven(rangeOf(a, base), rangeOf(b, base)));
  const later = a.epoch >= b.epoch ? a : b;
  const nonNull = new Set([...a.nonNull].filter((id) => b.nonNull.has(id)));
  return { epoch: later.epoch, movedBy: later.movedBy, nonNull, ranges, meta: joinProven(a.meta, b.meta), locals, beyond, accessed };
}

function joinProven(a: Proven, b: Proven): Proven {
  if (a.bytes === b.bytes) return a.weakerJoin ? a : b;
  const [weak, strong] = a.bytes < b.bytes ? [a, b] : [b, a];
  return { ...weak, weakerJoin: weak.weakerJoin ?? { stronger: strong.bytes, strongerBy: strong.by } };
}

function joinValue(a: Abstract, b: Abstract, joinBase: () => number): Abstract {
  if (a.kind === "ptr" && b.kind === "ptr" && a.region === b.region) {
    if (a.offset === b.offset && a.base === b.base) return a;
    if (a.offset === undefined || b.offset === undefined || a.region !== "packet") return { ...a, offset: undefined };
    // Pointers from different paths meet (a walk through options): one new base, with no
    // range proven yet, whose variable part covers both. The kernel explores the paths
    // apart and knows at least this much on each.
    const reach = (p: typeof a) => BigInt(p.offset!) + p.varMax;
    return { kind: "ptr", region: "packet", base: joinBase(), offset: 0, varMax: reach(a) > reach(b) ? reach(a) : reach(b) };
  }
  if (a.kind === "scalar" && b.kind === "scalar") return { kind: "scalar", max: a.max === undefined || b.max === undefined ? undefined : a.max > b.max ? a.max : b.max };
  return a.kind === b.kind ? a : scalar;
}

/**
 * What each outcome of a pointer comparison proves: for `p > end` the false
 * branch has `p <= end`, so `p`'s offset is readable; mirrored forms alike.
 */
function comparisonFacts(cmp: Compare, a: Abstract, b: Abstract): Outcomes {
  const none = { onTrue: [], onFalse: [] };
  // Orient as "pointer REL end".
  let ptr: Abstract;
  let end: Abstract;
  let pred = cmp.pred;
  if (a.kind === "ptr" && (b.kind === "end" || isMetaEnd(a, b))) {
    ptr = a;
    end = b;
  } else if (b.kind === "ptr" && (a.kind === "end" || isMetaEnd(b, a))) {
    ptr = b;
    end = a;
    pred = mirror(pred);
  } else {
    return none;
  }
  if (ptr.kind !== "ptr" || ptr.offset === undefined) return none;
  // Each area has its own end: the kernel learns nothing from `data_meta + k` against data_end
  // (try_match_pkt_pointers pairs packet with data_end and metadata with data only).
  if (end.kind === "end" && ptr.region !== "packet") return none;
  if (end.kind === "ptr" && ptr.region !== "meta") return none;
  // The kernel marks the packet pointer on its "at or beyond the end" branch whatever its offset.
  const beyond = ptr.region === "packet" ? ([ptr.base, ptr.offset] as const) : undefined;
  // find_good_pkt_pointers gives no range when the variable part could reach past MAX_PACKET_OFF.
  const fact = ptr.offset <= 0 || BigInt(ptr.offset) + ptr.varMax > BigInt(maxPacketOffset) ? [] : [{ region: ptr.region, base: ptr.base, bytes: ptr.offset, by: cmp.node }];
  switch (pred) {
    case "ugt": // p > end: false branch p <= end
    case "uge": // p >= end: false branch p < end
      return { onTrue: [], onFalse: fact, beyondOnTrue: beyond, by: cmp.node };
    case "ult": // p < end
    case "ule": // p <= end
      return { onTrue: fact, onFalse: [], beyondOnFalse: beyond, by: cmp.node };
    default:
      return none;
  }
}

function isOrdering(pred: Compare["pred"]): boolean {
  return pred !== "eq" && pred !== "ne";
}

/** A packet pointer at offset 0 or before (of its base), against data_end. */
function isUselessStart(p: Abstract, end: Abstract): boolean {
  return p.kind === "ptr" && p.region === "packet" && p.offset !== undefined && p.offset <= 0 && end.kind === "end";
}

function isVariablePointer(v: Abstract): boolean {
  return v.kind === "ptr" && v.offset === undefined;
}

function reportVariableOffset(d: DiagnosticBag, node: ts.Node, what: string): void {
  d.report(Codes.packetVariableOffset, node, `this ${what} is through a pointer whose offset is not a constant (or not the same constant on every path), which cannot be proven in bounds yet`, {
    hints: ["use constant offsets from `data` for now"],
  });
}

/** `meta + k` compared with `data` itself: the metadata area ends where the packet starts. */
function isMetaEnd(meta: Abstract, other: Abstract): boolean {
  return meta.kind === "ptr" && meta.region === "meta" && other.kind === "ptr" && other.region === "packet" && other.offset === 0;
}

function mirror(pred: Compare["pred"]): Compare["pred"] {
  const m: Record<string, Compare["pred"]> = { ult: "ugt", ule: "uge", ugt: "ult", uge: "ule", slt: "sgt", sle: "sge", sgt: "slt", sge: "sle", eq: "eq", ne: "ne" };
  return m[pred]!;
}

function checkAccess(load: MemoryLoad | MemoryStore, ptr: Abstract, state: State, program: ProgramIR, d: DiagnosticBag, accessed: Access[], bases: ReadonlyMap<number, ts.Node>): void {
  const what = `${load.region === "packet" ? "packet" : "metadata"} ${load.op === "load" ? "read" : "write"}`;
  if (ptr.kind !== "ptr") {
    d.report(Codes.internal, load.node, "an access through something that is not a pointer reached the bounds analysis");
    return;
  }
  if (ptr.offset === undefined) {
    reportVariableOffset(d, load.node, what);
    return;
  }
  const moved = ptr.base !== 0 ? bases.get(ptr.base) : undefined;
  if (moved && ptr.varMax > BigInt(maxPacketOffset)) {
    d.report(Codes.packetVariableOffset, load.node, `this ${what} is through a pointer moved by a value the compiler cannot bound, so no check can prove it`, {
      related: [{ message: "the pointer is moved here", location: locationOf(moved) }],
      hints: ["bound the offset first, e.g. with a mask: `(x & 0x3f)`, or a narrower type such as `u8`"],
    });
    return;
  }
  const proven = load.region === "packet" ? rangeOf(state, ptr.base) : state.meta;
  const from = ptr.offset + load.offset;
  const to = from + load.size;
  if (from < 0) {
    d.report(Codes.packetNegative, load.node, `${what} of bytes [${from}, ${to}) starts before the ${load.region === "packet" ? "packet" : "metadata area"}`);
    return;
  }
  if (to <= proven.bytes) {
    if (load.region === "packet") {
      checkBeyond(load, ptr.base, ptr.offset, from, to, state, what, program.ctxName, d);
      accessed.push({ base: ptr.base, from, to, pointer: ptr.offset, instr: load });
    }
    return;
  }
  const endName = load.region === "packet" ? "data_end" : "data";
  const related = [];
  const pointerText = moved ? pointerExpression(load) : undefined;
  const past = moved ? ` past ${describeBase(moved)}` : "";
  // Past a moved pointer, bytes count from that pointer, as the user wrote them.
  const shift = moved ? ptr.offset : 0;
  if (proven.bytes - shift > 0) {
    related.push({ message: `proven here: [0, ${proven.bytes - shift})${past}${proven.by ? ", by this check" : ""}`, location: proven.by ? locationOf(proven.by) : undefined });
  } else {
    related.push({ message: `proven here: nothing${past}; no check against ${endName} covers this access on every path` });
  }
  if (moved && ts.isVariableDeclaration(moved)) {
    related.push({ message: `\`${moved.name.getText()}\` points at different places on the paths that meet before this access; check it again after they meet`, location: locationOf(moved) });
  } else if (moved) {
    related.push({ message: "the pointer moves by a variable amount here, so checks made before it do not count for it (the kernel gives it a new identity)", location: locationOf(moved) });
  }
  if (proven.weakerJoin) {
    related.push({
      message: `[0, ${proven.weakerJoin.stronger}) is proven on some paths only${proven.weakerJoin.strongerBy ? ", by this check" : ""}; another path reaches this access without it`,
      location: proven.weakerJoin.strongerBy ? locationOf(proven.weakerJoin.strongerBy) : undefined,
    });
  }
  const line = locationOf(load.node).line;
  const base = load.region === "packet" ? "data" : "data_meta";
  const check = moved
    ? pointerText
      ? `\`if (${pointerText} + ${to - ptr.offset} > ${program.ctxName}.data_end) return XdpAction.DROP;\``
      : `a check of this pointer plus ${to - ptr.offset} against data_end`
    : `\`if (${program.ctxName}.${base} + ${to} > ${program.ctxName}.${endName}) return XdpAction.DROP;\``;
  d.report(load.region === "packet" ? Codes.packetBounds : Codes.metaBounds, load.node, `${what} of bytes [${from - shift}, ${to - shift})${past} is not proven within ${endName}`, {
    related,
    hints: program.subprogram
      ? [`check the pointer in \`${program.name}\` before line ${line}${pointerExpression(load) ? ` (\`if (${pointerExpression(load)} + ${to - ptr.offset} > end) return …;\`)` : ""}, or check more in every caller: a static function sees what its caller proved, and a global one nothing`]
      : [`add ${check} on every path before line ${line}`],
  });
}

/** Kfunc results the program tests for null (the iterator's `next` is tested by the loop it builds; a task's is read through). */
function nullTested(k: KfuncSpec): boolean {
  return k.acquires === true || (k.call !== undefined && k.nullable === true) || ["bpf_iter_task_next", "bpf_iter_task_vma_next", "bpf_iter_css_next"].includes(k.name);
}

/** A map value may be read or written only where a test has proven the lookup non-null. */
function checkMapValue(access: { node: ts.Node; op: string }, ptr: Abstract, state: State, d: DiagnosticBag): void {
  if (ptr.kind !== "mapval") {
    d.report(Codes.internal, access.node, "a map access through something that is not a lookup result reached the bounds analysis");
    return;
  }
  if (state.nonNull.has(ptr.id)) return;
  if (ptr.from === "kptr") {
    d.report(Codes.mapValueNull, access.node, "this object read from a kptr field may be null here: the field is empty until `bpf_kptr_xchg` puts one in", {
      hints: ["test it first: `const flow = ref.value.flow; if (!flow) return XdpAction.PASS;`"],
    });
    return;
  }
  if (ptr.from) {
    d.report(Codes.mapValueNull, access.node, `this result of \`${ptr.from}\` may be null here: the kernel returns NULL when it has nothing (for a slice: bytes past the end, or not contiguous without a buffer)`, {
      hints: ["test it first: `const eth = bpf_dynptr_slice(dp, 0, buf); if (!eth) return XdpAction.DROP;`"],
    });
    return;
  }
  d.report(Codes.mapValueNull, access.node, "this map value may be null here: a lookup finds nothing for a missing key", {
    hints: ["test the lookup first: `const v = m.lookup(k); if (!v) return XdpAction.PASS;`"],
  });
}

/** An inner map from a map of maps' lookup, passed to a map helper: the verifier wants it tested first. */
function checkInnerMap(access: { node: ts.Node }, map: Abstract, state: State, d: DiagnosticBag): void {
  if (map.kind === "mapval" && state.nonNull.has(map.id)) return;
  d.report(Codes.mapValueNull, access.node, "this inner map may be null here: a map of maps' slot can be empty", {
    hints: ["test the lookup first: `const m = outer.lookup(k); if (!m) return XdpAction.PASS;`"],
  });
}

/** A variable base, for messages: the move that made it, or the variable whose paths met. */
function describeBase(node: ts.Node): string {
  return ts.isVariableDeclaration(node) ? `\`${node.name.getText()}\` (where paths meet)` : `\`${node.getText()}\``;
}

/** `p` in `p.load<…>(…)`, when it is a plain name (for hints). */
function pointerExpression(access: MemoryLoad | MemoryStore): string | undefined {
  const call = access.node;
  if (!ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression)) return undefined;
  const target = call.expression.expression;
  return ts.isIdentifier(target) ? target.text : undefined;
}

/** An access the kernel may make through a register it marked at or beyond data_end (see the top). */
function checkBeyond(load: MemoryLoad | MemoryStore, base: number, pointerOffset: number, from: number, to: number, state: State, what: string, ctxName: string, d: DiagnosticBag): void {
  for (const b of state.beyond.values()) {
    if (b.base === base && (from >= b.offset || pointerOffset === b.offset) && to > b.regained) {
      d.report(Codes.packetBounds, load.node, `${what} of bytes [${from}, ${to}) is not proven within data_end on every path`, {
        related: [
          {
            message: `on a path where this check found \`data + ${b.offset}\` at or beyond data_end, the kernel no longer trusts that pointer, whatever was proven before${b.regained > 0 ? `; later checks prove [0, ${b.regained})` : ""}`,
            location: locationOf(b.by),
          },
        ],
        hints: [`make the access only where that check succeeded, or check again after it: \`if (${ctxName}.data + ${to} > ${ctxName}.data_end) return XdpAction.DROP;\``],
      });
      return;
    }
  }
}

/**
 * A check about to find `data + offset` at or beyond the end, on the edge to `target`: an
 * access made before it through that pointer, or past it, may be sunk into that branch.
 */
function checkSunk([base, offset]: readonly [number, number], by: ts.Node, target: Block, state: State, d: DiagnosticBag): void {
  // A branch that only returns an action uses no loaded value: nothing is sunk into it.
  if (target.instrs.length === 0 && target.term?.op === "ret" && target.term.value.kind === "const") return;
  for (const a of state.accessed) {
    if (a.base !== base || (a.from < offset && a.pointer !== offset)) continue;
    const what = `packet ${a.instr.op === "load" ? "read" : "write"}`;
    d.report(Codes.packetBounds, a.instr.node, `${what} of bytes [${a.from}, ${a.to}) is not proven within data_end on every path`, {
      related: [
        {
          message: `this later check can find \`data + ${offset}\` at or beyond data_end, and that branch does more than return: the compiled code may make the access there, where the kernel no longer trusts that pointer`,
          location: locationOf(by),
        },
      ],
      hints: ["drop the later check if an earlier one already covers it, or make that branch return an action right away"],
    });
  }
}
