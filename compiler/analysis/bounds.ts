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
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import { type Block, type Compare, type MemoryLoad, type MemoryStore, type Operand, type ProgramIR, reversePostOrder, successors } from "../ir/ir";

type Region = "packet" | "meta";

/** What the analysis knows about a value. */
type Abstract = { readonly kind: "ptr"; readonly region: Region; readonly offset: number | undefined } | { readonly kind: "end" } | { readonly kind: "scalar" };

interface Proven {
  readonly bytes: number;
  /** The comparison that proved it, for messages. */
  readonly by?: ts.Node;
  /** Set when paths with more proven met one with less here. */
  readonly weakerJoin?: { readonly stronger: number; readonly strongerBy?: ts.Node };
}

interface State {
  readonly packet: Proven;
  readonly meta: Proven;
  readonly locals: ReadonlyMap<number, Abstract>;
  /** Packet offsets found at or beyond data_end on some path here, by offset. */
  readonly beyond: ReadonlyMap<number, Beyond>;
  /** Packet accesses made on every path to here: those LLVM may sink to here (into blocks they dominate). */
  readonly accessed: readonly Access[];
}

interface Access {
  readonly from: number;
  readonly to: number;
  /** Offset of the pointer the access goes through (the register LLVM uses for it). */
  readonly pointer: number;
  readonly instr: MemoryLoad | MemoryStore;
}

/** `data + offset` was found at or beyond data_end; `regained` is what later checks proved since. */
interface Beyond {
  readonly offset: number;
  readonly regained: number;
  readonly by: ts.Node;
}

interface Fact {
  readonly region: Region;
  readonly bytes: number;
  readonly by: ts.Node;
}

interface Outcomes {
  readonly onTrue: Fact[];
  readonly onFalse: Fact[];
  /** The packet offset the branch finds at or beyond data_end, if any. */
  readonly beyondOnTrue?: number;
  readonly beyondOnFalse?: number;
  readonly by?: ts.Node;
}

const scalar: Abstract = { kind: "scalar" };
const nothing: Proven = { bytes: 0 };

/** The verifier's MAX_PACKET_OFF: beyond it a comparison proves nothing. */
const maxPacketOffset = 0xffff;

export function checkPacketBounds(program: ProgramIR, diagnostics: DiagnosticBag): void {
  const values = new Map<number, Abstract>();
  const facts = new Map<number, Outcomes>();
  const entryStates = new Map<Block, State>();
  entryStates.set(program.entry, { packet: nothing, meta: nothing, locals: new Map(), beyond: new Map(), accessed: [] });

  const valueOf = (o: Operand): Abstract => (o.kind === "const" ? scalar : (values.get(o.id) ?? scalar));

  // No loops yet: one pass in reverse post-order sees every predecessor first.
  for (const block of reversePostOrder(program.entry)) {
    let state = entryStates.get(block);
    if (!state) continue;
    const locals = new Map(state.locals);
    const accessed = [...state.accessed];
    // Only a comparison in the branch's own block counts: a boolean kept
    // from earlier may reach the kernel as a 0/1 register, which proves nothing.
    const comparedHere = new Set<number>();
    for (const instr of block.instrs) {
      switch (instr.op) {
        case "ctx":
          values.set(
            instr.dst.id,
            instr.field === "data" ? { kind: "ptr", region: "packet", offset: 0 } : instr.field === "data_meta" ? { kind: "ptr", region: "meta", offset: 0 } : instr.field === "data_end" ? { kind: "end" } : scalar,
          );
          break;
        case "ptr_add": {
          const base = valueOf(instr.base);
          if (base.kind !== "ptr") break;
          const delta = instr.offset.kind === "const" ? Number(BigInt.asIntN(64, instr.offset.value)) : undefined;
          values.set(instr.dst.id, { kind: "ptr", region: base.region, offset: base.offset === undefined || delta === undefined ? undefined : base.offset + delta });
          break;
        }
        case "local_get":
          values.set(instr.dst.id, locals.get(instr.local.id) ?? scalar);
          break;
        case "local_set":
          locals.set(instr.local.id, valueOf(instr.value));
          break;
        case "cmp": {
          const a = valueOf(instr.a);
          const b = valueOf(instr.b);
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
        case "store":
          checkAccess(instr, valueOf(instr.ptr), state, program, diagnostics, accessed);
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
      propagate(entryStates, term.then, apply(state, f?.onTrue, f?.beyondOnTrue, f?.by));
      propagate(entryStates, term.else, apply(state, f?.onFalse, f?.beyondOnFalse, f?.by));
    } else {
      for (const s of successors(block)) propagate(entryStates, s, state);
    }
  }
}

function apply(state: State, facts: readonly Fact[] | undefined, beyondOffset: number | undefined, by: ts.Node | undefined): State {
  let s = state;
  for (const f of facts ?? []) {
    // find_good_pkt_pointers raises every copy of the pointer, the marked ones included.
    if (f.region === "packet" && s.beyond.size > 0) {
      s = { ...s, beyond: new Map([...s.beyond].map(([k, b]) => [k, { ...b, regained: Math.max(b.regained, f.bytes) }])) };
    }
    const current = s[f.region];
    if (f.bytes > current.bytes) s = { ...s, [f.region]: { bytes: f.bytes, by: f.by } };
  }
  if (beyondOffset !== undefined && by) s = { ...s, beyond: new Map(s.beyond).set(beyondOffset, { offset: beyondOffset, regained: 0, by }) };
  return s;
}

function propagate(states: Map<Block, State>, target: Block, incoming: State): void {
  const existing = states.get(target);
  states.set(target, existing ? join(existing, incoming) : incoming);
}

function join(a: State, b: State): State {
  const locals = new Map<number, Abstract>();
  for (const [id, va] of a.locals) {
    const vb = b.locals.get(id);
    if (vb) locals.set(id, joinValue(va, vb));
  }
  const beyond = new Map(a.beyond);
  for (const [k, vb] of b.beyond) {
    const va = beyond.get(k);
    beyond.set(k, va && va.regained <= vb.regained ? va : vb);
  }
  const accessed = a.accessed.filter((x) => b.accessed.includes(x));
  return { packet: joinProven(a.packet, b.packet), meta: joinProven(a.meta, b.meta), locals, beyond, accessed };
}

function joinProven(a: Proven, b: Proven): Proven {
  if (a.bytes === b.bytes) return a.weakerJoin ? a : b;
  const [weak, strong] = a.bytes < b.bytes ? [a, b] : [b, a];
  return { ...weak, weakerJoin: weak.weakerJoin ?? { stronger: strong.bytes, strongerBy: strong.by } };
}

function joinValue(a: Abstract, b: Abstract): Abstract {
  if (a.kind === "ptr" && b.kind === "ptr" && a.region === b.region) return a.offset === b.offset ? a : { kind: "ptr", region: a.region, offset: undefined };
  return a.kind === b.kind && a.kind !== "ptr" ? a : scalar;
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
  const beyond = ptr.region === "packet" ? ptr.offset : undefined;
  const fact = ptr.offset <= 0 || ptr.offset > maxPacketOffset ? [] : [{ region: ptr.region, bytes: ptr.offset, by: cmp.node }];
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

/** A packet pointer at offset 0 or before, against data_end. */
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

function checkAccess(load: MemoryLoad | MemoryStore, ptr: Abstract, state: State, program: ProgramIR, d: DiagnosticBag, accessed: Access[]): void {
  const proven = load.region === "packet" ? state.packet : state.meta;
  const what = `${load.region === "packet" ? "packet" : "metadata"} ${load.op === "load" ? "read" : "write"}`;
  if (ptr.kind !== "ptr") {
    d.report(Codes.internal, load.node, "an access through something that is not a pointer reached the bounds analysis");
    return;
  }
  if (ptr.offset === undefined) {
    reportVariableOffset(d, load.node, what);
    return;
  }
  const from = ptr.offset + load.offset;
  const to = from + load.size;
  if (from < 0) {
    d.report(Codes.packetNegative, load.node, `${what} of bytes [${from}, ${to}) starts before the ${load.region === "packet" ? "packet" : "metadata area"}`);
    return;
  }
  if (to <= proven.bytes) {
    if (load.region === "packet") {
      checkBeyond(load, ptr.offset, from, to, state, what, program.ctxName, d);
      accessed.push({ from, to, pointer: ptr.offset, instr: load });
    }
    return;
  }
  const endName = load.region === "packet" ? "data_end" : "data";
  const base = load.region === "packet" ? "data" : "data_meta";
  const related = [];
  if (proven.bytes > 0) {
    related.push({ message: `proven here: [0, ${proven.bytes})${proven.by ? ", by this check" : ""}`, location: proven.by ? locationOf(proven.by) : undefined });
  } else {
    related.push({ message: `proven here: nothing; no check against ${endName} covers this access on every path` });
  }
  if (proven.weakerJoin) {
    related.push({
      message: `[0, ${proven.weakerJoin.stronger}) is proven on some paths only${proven.weakerJoin.strongerBy ? ", by this check" : ""}; another path reaches this access without it`,
      location: proven.weakerJoin.strongerBy ? locationOf(proven.weakerJoin.strongerBy) : undefined,
    });
  }
  const line = locationOf(load.node).line;
  d.report(load.region === "packet" ? Codes.packetBounds : Codes.metaBounds, load.node, `${what} of bytes [${from}, ${to}) is not proven within ${endName}`, {
    related,
    hints: [`add \`if (${program.ctxName}.${base} + ${to} > ${program.ctxName}.${endName}) return XdpAction.DROP;\` on every path before line ${line}`],
  });
}

/** An access the kernel may make through a register it marked at or beyond data_end (see the top). */
function checkBeyond(load: MemoryLoad | MemoryStore, pointerOffset: number, from: number, to: number, state: State, what: string, ctxName: string, d: DiagnosticBag): void {
  for (const b of state.beyond.values()) {
    if ((from >= b.offset || pointerOffset === b.offset) && to > b.regained) {
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
function checkSunk(offset: number, by: ts.Node, target: Block, state: State, d: DiagnosticBag): void {
  // A branch that only returns an action uses no loaded value: nothing is sunk into it.
  if (target.instrs.length === 0 && target.term?.op === "ret" && target.term.value.kind === "const") return;
  for (const a of state.accessed) {
    if (a.from < offset && a.pointer !== offset) continue;
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
