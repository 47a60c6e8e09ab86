/**
 * Ring buffer reservations, tracked the way the verifier tracks acquired
 * references (kernel/bpf/verifier.c: acquire_reference_state,
 * release_reference, check_reference_leak): a `reserve()` that is not null
 * is a reference that `submit` or `discard` must release exactly once
 * before the program returns, on every path; a released record is gone
 * (its register invalidated), so touching it again is refused.
 *
 * Forward dataflow per edge over the IR's CFG: the null test of a
 * reservation splits it into held (non-null branch) and done (null branch).
 * Where paths meet with different obligations the kernel would still walk
 * them apart; we do not, and refuse the program (a reservation released on
 * some paths only is almost always a leak).
 */
import { Codes } from "../diagnostics/codes";
import { type DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import { type Block, type Instr, type Operand, type ProgramIR, type RingBufReserve, type Terminator, reversePostOrder, successors } from "../ir/ir";

/** none: not reserved yet on this path; pending: reserved, not tested; held: non-null; done: null or released; mixed: paths disagree. */
type State = "none" | "pending" | "held" | "done" | "mixed";
type States = ReadonlyMap<number, State>;

type Report = (id: number, kind: "leak" | "untested" | "released", node: Instr["node"] | Terminator["node"], extra?: string) => void;

export function checkReferences(program: ProgramIR, diagnostics: DiagnosticBag): void {
  const reserves = new Map<number, RingBufReserve>();
  for (const b of program.blocks) for (const i of b.instrs) if (i.op === "ringbuf_reserve") reserves.set(i.dst.id, i);
  if (reserves.size === 0) return;

  const order = reversePostOrder(program.entry);
  const preds = new Map<Block, Block[]>();
  for (const b of order) for (const s of successors(b)) preds.set(s, [...(preds.get(s) ?? []), b]);

  const edgeOut = new Map<Block, Map<Block, States>>();
  const stateIn = (block: Block): Map<number, State> | undefined => {
    if (block === program.entry) return new Map();
    let out: Map<number, State> | undefined;
    for (const p of preds.get(block) ?? []) {
      const s = edgeOut.get(p)?.get(block);
      if (!s) continue;
      if (!out) {
        out = new Map(s);
        continue;
      }
      for (const id of new Set([...out.keys(), ...s.keys()])) out.set(id, join(out.get(id) ?? "none", s.get(id) ?? "none"));
    }
    return out;
  };

  const run = (report?: Report) => {
    let changed = false;
    for (const block of order) {
      const s = stateIn(block);
      if (!s) continue;
      if (report) for (const [id, st] of s) if (st === "mixed") report(id, "leak", reserves.get(id)!.node, "on some paths only");
      const edges = transfer(program, block, s, reserves, report);
      const old = edgeOut.get(block);
      if (!old || [...edges].some(([b, st]) => !sameStates(old.get(b), st))) changed = true;
      edgeOut.set(block, edges);
    }
    return changed;
  };
  // The states only climb (none → pending → held → done, anything → mixed): this ends.
  for (let round = 0; run() && round < 4 * order.length + 8; round++);

  const reported = new Set<number>();
  run((id, kind, node, extra) => {
    if (reported.has(id)) return;
    reported.add(id);
    const at = reserves.get(id)!;
    const name = `${at.map.name}.reserve()`;
    if (kind === "leak") {
      diagnostics.report(Codes.ringBufLeak, at.node, `the record from \`${name}\` is not submitted or discarded ${extra ?? "on every path"}`, {
        hints: [`call \`${at.map.name}.submit(record)\` or \`${at.map.name}.discard(record)\` on every path after the null test; the kernel refuses a program that can return holding a reservation`],
        related: node !== at.node ? [{ message: extra === "before the tail call" ? "this tail call can be reached holding it" : "this return can be reached holding it", location: locationOf(node) }] : [],
      });
    } else if (kind === "untested") {
      diagnostics.report(Codes.mapValueNull, node, `the record from \`${name}\` may be null here: test it before submitting or discarding it`, {
        hints: ["`const r = events.reserve(); if (!r) return XdpAction.PASS;`"],
      });
    } else {
      diagnostics.report(Codes.ringBufReleased, node, `the record from \`${name}\` was already submitted or discarded on this path`, {
        hints: ["fill the record before `submit`; after `submit` or `discard` it belongs to the reader (or to no one)"],
      });
    }
  });
}

function join(a: State, b: State): State {
  if (a === b) return a;
  if ((a === "none" || a === "done") && (b === "none" || b === "done")) return "done";
  return "mixed";
}

function sameStates(a: States | undefined, b: States): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}

/** The block's effect, as the state on each outgoing edge (a null test refines its two edges). */
function transfer(program: ProgramIR, block: Block, input: Map<number, State>, reserves: ReadonlyMap<number, RingBufReserve>, report?: Report): Map<Block, States> {
  const s = new Map(input);
  const touch = (id: number, node: Instr["node"]) => {
    if (!reserves.has(id)) return;
    if (s.get(id) === "done") report?.(id, "released", node);
  };
  for (const i of block.instrs) {
    switch (i.op) {
      case "ringbuf_reserve": {
        const st = s.get(i.dst.id);
        if (st === "pending" || st === "held" || st === "mixed") report?.(i.dst.id, "leak", i.node, "before it is reserved again");
        s.set(i.dst.id, "pending");
        break;
      }
      case "ringbuf_submit":
      case "ringbuf_discard": {
        const id = i.record.id;
        const st = s.get(id);
        if (st === "pending") report?.(id, "untested", i.node);
        else if (st === "done") report?.(id, "released", i.node);
        else if (st === "mixed") report?.(id, "leak", reserves.get(id)!.node, "on some paths only");
        s.set(id, "done");
        break;
      }
      case "load":
      case "store":
      case "atomic":
        touch(i.ptr.id, i.node);
        break;
      case "tail_call":
        // check_helper_call refuses bpf_tail_call while a reference is held ("would lead to reference leak").
        for (const [id, st] of s) if (st === "pending" || st === "held" || st === "mixed") report?.(id, "leak", i.node, "before the tail call");
        break;
      default:
        break;
    }
  }
  const out = new Map<Block, States>();
  const term = block.term;
  if (!term) return out;
  if (term.op === "ret") {
    for (const [id, st] of s) if (st === "pending" || st === "held" || st === "mixed") report?.(id, "leak", term.node);
    return out;
  }
  if (term.op === "br") {
    out.set(term.target, s);
    return out;
  }
  const test = nullTest(program, term.cond, reserves);
  if (!test || term.then === term.else || s.get(test.id) !== "pending") {
    for (const b of successors(block)) out.set(b, s);
    return out;
  }
  const held = new Map(s).set(test.id, "held");
  const gone = new Map(s).set(test.id, "done");
  out.set(term.then, test.nonNullOnTrue ? held : gone);
  out.set(term.else, test.nonNullOnTrue ? gone : held);
  return out;
}

/** `record != 0` / `record == 0` on a reservation, as the branch condition. */
function nullTest(program: ProgramIR, cond: Operand, reserves: ReadonlyMap<number, RingBufReserve>): { id: number; nonNullOnTrue: boolean } | undefined {
  if (cond.kind !== "temp") return undefined;
  const def = program.defs.get(cond.id);
  if (def?.op !== "cmp" || (def.pred !== "eq" && def.pred !== "ne")) return undefined;
  const [r, z] = def.a.kind === "temp" && reserves.has(def.a.id) ? [def.a, def.b] : [def.b, def.a];
  if (r.kind !== "temp" || !reserves.has(r.id) || z.kind !== "const" || z.value !== 0n) return undefined;
  return { id: r.id, nonNullOnTrue: def.pred === "ne" };
}
