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
}

interface Fact {
  readonly region: Region;
  readonly bytes: number;
  readonly by: ts.Node;
}

const scalar: Abstract = { kind: "scalar" };
const nothing: Proven = { bytes: 0 };

/** The verifier's MAX_PACKET_OFF: beyond it a comparison proves nothing. */
const maxPacketOffset = 0xffff;

export function checkPacketBounds(program: ProgramIR, diagnostics: DiagnosticBag): void {
  const values = new Map<number, Abstract>();
  const facts = new Map<number, { onTrue: Fact[]; onFalse: Fact[] }>();
  const entryStates = new Map<Block, State>();
  entryStates.set(program.entry, { packet: nothing, meta: nothing, locals: new Map() });

  const valueOf = (o: Operand): Abstract => (o.kind === "const" ? scalar : (values.get(o.id) ?? scalar));

  // No loops yet: one pass in reverse post-order sees every predecessor first.
  for (const block of reversePostOrder(program.entry)) {
    let state = entryStates.get(block);
    if (!state) continue;
    const locals = new Map(state.locals);
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
        case "cmp":
          facts.set(instr.dst.id, comparisonFacts(instr, valueOf(instr.a), valueOf(instr.b)));
          comparedHere.add(instr.dst.id);
          break;
        case "load":
        case "store":
          checkAccess(instr, valueOf(instr.ptr), instr.region === "packet" ? state.packet : state.meta, program, diagnostics);
          break;
        default:
          break;
      }
    }
    state = { ...state, locals };
    const term = block.term;
    if (!term) continue;
    if (term.op === "cond_br" && term.cond.kind === "temp") {
      const f = comparedHere.has(term.cond.id) ? facts.get(term.cond.id) : undefined;
      propagate(entryStates, term.then, apply(state, f?.onTrue));
      propagate(entryStates, term.else, apply(state, f?.onFalse));
    } else {
      for (const s of successors(block)) propagate(entryStates, s, state);
    }
  }
}

function apply(state: State, facts: readonly Fact[] | undefined): State {
  let s = state;
  for (const f of facts ?? []) {
    const current = s[f.region];
    if (f.bytes > current.bytes) s = { ...s, [f.region]: { bytes: f.bytes, by: f.by } };
  }
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
  return { packet: joinProven(a.packet, b.packet), meta: joinProven(a.meta, b.meta), locals };
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
function comparisonFacts(cmp: Compare, a: Abstract, b: Abstract): { onTrue: Fact[]; onFalse: Fact[] } {
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
  if (ptr.kind !== "ptr" || ptr.offset === undefined || ptr.offset <= 0 || ptr.offset > maxPacketOffset) return none;
  // Each area has its own end: the kernel learns nothing from `data_meta + k` against data_end
  // (try_match_pkt_pointers pairs packet with data_end and metadata with data only).
  if (end.kind === "end" && ptr.region !== "packet") return none;
  if (end.kind === "ptr" && ptr.region !== "meta") return none;
  const fact = [{ region: ptr.region, bytes: ptr.offset, by: cmp.node }];
  switch (pred) {
    case "ugt": // p > end: false branch p <= end
    case "uge": // p >= end: false branch p < end
      return { onTrue: [], onFalse: fact };
    case "ult": // p < end
    case "ule": // p <= end
      return { onTrue: fact, onFalse: [] };
    default:
      return none;
  }
}

/** `meta + k` compared with `data` itself: the metadata area ends where the packet starts. */
function isMetaEnd(meta: Abstract, other: Abstract): boolean {
  return meta.kind === "ptr" && meta.region === "meta" && other.kind === "ptr" && other.region === "packet" && other.offset === 0;
}

function mirror(pred: Compare["pred"]): Compare["pred"] {
  const m: Record<string, Compare["pred"]> = { ult: "ugt", ule: "uge", ugt: "ult", uge: "ule", slt: "sgt", sle: "sge", sgt: "slt", sge: "sle", eq: "eq", ne: "ne" };
  return m[pred]!;
}

function checkAccess(load: MemoryLoad | MemoryStore, ptr: Abstract, proven: Proven, program: ProgramIR, d: DiagnosticBag): void {
  const what = `${load.region === "packet" ? "packet" : "metadata"} ${load.op === "load" ? "read" : "write"}`;
  if (ptr.kind !== "ptr") {
    d.report(Codes.internal, load.node, "an access through something that is not a pointer reached the bounds analysis");
    return;
  }
  if (ptr.offset === undefined) {
    d.report(Codes.packetVariableOffset, load.node, `this ${what} is through a pointer whose offset is not a constant, which cannot be proven in bounds yet`, {
      hints: ["use constant offsets from `data` for now"],
    });
    return;
  }
  const from = ptr.offset + load.offset;
  const to = from + load.size;
  if (from < 0) {
    d.report(Codes.packetNegative, load.node, `${what} of bytes [${from}, ${to}) starts before the ${load.region === "packet" ? "packet" : "metadata area"}`);
    return;
  }
  if (to <= proven.bytes) return;
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
