/**
 * Acquired references, tracked the way the verifier tracks them
 * (kernel/bpf/verifier.c: acquire_reference_state, release_reference,
 * check_reference_leak): a ring buffer `reserve()` or a socket lookup
 * (`bpf_sk_lookup_tcp`, …) that is not null, or a ring buffer dynptr
 * (`bpf_ringbuf_reserve_dynptr`, null or not), is a reference that must be
 * released exactly once before the program returns, on every path (the
 * record by `submit` or `discard`, the socket by `bpf_sk_release`); a
 * released reference is gone (its register invalidated), so touching it
 * again is refused.
 *
 * Forward dataflow per edge over the IR's CFG: the null test of a
 * reference splits it into held (non-null branch) and done (null branch).
 * Where paths meet with different obligations the kernel would still walk
 * them apart; we do not, and refuse the program (a reference released on
 * some paths only is almost always a leak).
 */
import { Codes } from "../diagnostics/codes";
import { type DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import { kfunc } from "../dialect/kfuncs";
import { graphKfuncs } from "../ir/graphs";
import { type Block, type HelperCall, type Instr, type KfuncCall, type Operand, type ProgramIR, type RingBufReserve, type Terminator, reversePostOrder, successors } from "../ir/ir";

/** none: not acquired yet on this path; pending: acquired, not tested; held: non-null; done: null or released; mixed: paths disagree. */
type State = "none" | "pending" | "held" | "done" | "mixed";
type States = ReadonlyMap<number, State>;

/** Where a reference comes from: a reservation, or a call of a helper or kfunc that acquires one. */
type Acquire = RingBufReserve | HelperCall | KfuncCall;

type Report = (id: number, kind: "leak" | "untested" | "released", node: Instr["node"] | Terminator["node"], extra?: string) => void;

/** How the messages speak of a reference, by where it comes from. */
function describe(at: Acquire) {
  if (at.op === "ringbuf_reserve") {
    const m = at.map.name;
    return {
      what: `the record from \`${m}.reserve()\``,
      leakCode: Codes.ringBufLeak,
      releasedCode: Codes.ringBufReleased,
      leak: "is not submitted or discarded",
      leakHint: `call \`${m}.submit(record)\` or \`${m}.discard(record)\` on every path after the null test; the kernel refuses a program that can return holding a reservation`,
      untested: "before submitting or discarding it",
      untestedHint: "`const r = events.reserve(); if (!r) return XdpAction.PASS;`",
      released: "was already submitted or discarded on this path",
      releasedHint: "fill the record before `submit`; after `submit` or `discard` it belongs to the reader (or to no one)",
    };
  }
  if (at.op === "call" && at.helper.name === "bpf_ringbuf_reserve_dynptr") {
    const m = at.map?.name ?? "events";
    return {
      what: `the dynptr from \`bpf_ringbuf_reserve_dynptr(${m}, …)\``,
      leakCode: Codes.ringBufLeak,
      releasedCode: Codes.ringBufReleased,
      leak: "is not submitted or discarded",
      leakHint: "call `bpf_ringbuf_submit_dynptr(dp, 0)` or `bpf_ringbuf_discard_dynptr(dp, 0)` on every path, also where the reservation failed; the kernel refuses a program that can return holding it (Unreleased reference)",
      untested: "before using it",
      untestedHint: "",
      released: "was already submitted or discarded on this path",
      releasedHint: "write the record before `bpf_ringbuf_submit_dynptr`; after it the record belongs to the reader (or to no one)",
    };
  }
  if (at.op === "kfunc" && at.typeId && graphKfuncs.has(at.name)) {
    // An object out of a list or tree: the program's, to drop or to push or add back.
    const root = at.name.startsWith("bpf_list") ? "ref.value.head" : "ref.value.root, least";
    return {
      what: `the \`${at.typeId.name}\` from \`${at.name}\``,
      leakCode: Codes.kfuncLeak,
      releasedCode: Codes.kfuncReleased,
      leak: "is not dropped or put back",
      leakHint: "call `bpf_obj_drop(obj)`, or push or add it back under the lock, on every path after the null test; the kernel refuses a program that can return holding it (Unreleased reference)",
      untested: "before using it",
      untestedHint: `\`const obj = ${at.name}(${root}); if (!obj) …\``,
      released: "was already dropped, or handed to a list, tree or map, on this path",
      releasedHint: "use the object before `bpf_obj_drop`, `bpf_list_push_*`, `bpf_rbtree_add` or `bpf_kptr_xchg`; after them it is freed, or the list's, tree's or map's",
    };
  }
  if (at.op === "kfunc" && at.typeId) {
    // bpf_obj_new or bpf_percpu_obj_new, dropped by the matching _drop.
    const made = kfunc(at.name).spelled ?? at.name;
    const drop = made === "bpf_percpu_obj_new" ? "bpf_percpu_obj_drop" : "bpf_obj_drop";
    return {
      what: `the \`${at.typeId.name}\` from \`${made}\``,
      leakCode: Codes.kfuncLeak,
      releasedCode: Codes.kfuncReleased,
      leak: "is not dropped",
      leakHint: `call \`${drop}(obj)\` on every path after the null test; the kernel refuses a program that can return holding it (Unreleased reference)`,
      untested: "before using it",
      untestedHint: made === "bpf_refcount_acquire" ? "`const again = bpf_refcount_acquire(obj); if (!again) return XdpAction.PASS;`" : `\`const obj = ${made}<${at.typeId.name}>(); if (!obj) return XdpAction.PASS;\``,
      released: "was already dropped, or moved into a map by `bpf_kptr_xchg` (or a list or tree), on this path",
      releasedHint: `use the object before \`${drop}\`, \`bpf_kptr_xchg\` or a push; after them it is freed, or the map's, list's or tree's`,
    };
  }
  if (at.op === "call" && at.kptr) {
    // The object that was in a kptr field: the program's now, to drop or put back.
    const drop = at.kptr.percpu ? "bpf_percpu_obj_drop" : "bpf_obj_drop";
    return {
      what: `the \`${at.kptr.target.name}\` from \`bpf_kptr_xchg\``,
      leakCode: Codes.kfuncLeak,
      releasedCode: Codes.kfuncReleased,
      leak: "is not dropped or put back",
      leakHint: `call \`${drop}(old)\` or \`bpf_kptr_xchg(field, old)\` on every path after the null test; the kernel refuses a program that can return holding it (Unreleased reference)`,
      untested: "before using it",
      untestedHint: "`const old = bpf_kptr_xchg(ref.value.flow, null); if (old) bpf_obj_drop(old);`",
      released: "was already dropped, or moved into a map, on this path",
      releasedHint: `use the object before \`${drop}\` or \`bpf_kptr_xchg\`; after them it is freed, or the map's`,
    };
  }
  if (at.op === "kfunc" && (at.name === "bpf_task_from_pid" || at.name === "bpf_task_acquire")) {
    return {
      what: `the task from \`${at.name}\``,
      leakCode: Codes.kfuncLeak,
      releasedCode: Codes.kfuncReleased,
      leak: "is not released",
      leakHint: "call `bpf_task_release(task)` on every path after the null test; the kernel refuses a program that can return holding it (Unreleased reference)",
      untested: "before using it",
      untestedHint: `\`const task = ${at.name}(${at.name === "bpf_task_from_pid" ? "pid" : "other"}); if (!task) return XdpAction.PASS;\``,
      released: "was already released on this path",
      releasedHint: "read the task's fields before `bpf_task_release`",
    };
  }
  if (at.op === "kfunc" && ["bpf_cgroup_from_id", "bpf_task_get_cgroup1", "bpf_cgroup_acquire", "bpf_cgroup_ancestor"].includes(at.name)) {
    return {
      what: `the cgroup from \`${at.name}\``,
      leakCode: Codes.kfuncLeak,
      releasedCode: Codes.kfuncReleased,
      leak: "is not released",
      leakHint: "call `bpf_cgroup_release(cgroup)` on every path after the null test; the kernel refuses a program that can return holding it (Unreleased reference)",
      untested: "before using it",
      untestedHint: "`const cg = bpf_cgroup_from_id(id); if (!cg) return XdpAction.PASS;`",
      released: "was already released on this path",
      releasedHint: "read the cgroup's fields before `bpf_cgroup_release`",
    };
  }
  if (at.op === "kfunc") {
    const releasers = at.name === "bpf_xdp_ct_alloc" ? "`bpf_ct_insert_entry(ct)`, then `bpf_ct_release` on what it returns (the kernel takes no other release of an allocated entry)" : "`bpf_ct_release(ct)`";
    return {
      what: `the conntrack entry from \`${at.name}\``,
      leakCode: Codes.kfuncLeak,
      releasedCode: Codes.kfuncReleased,
      leak: "is not released",
      leakHint: `call ${releasers} on every path after the null test; the kernel refuses a program that can return holding it (Unreleased reference)`,
      untested: "before passing it to a kfunc",
      untestedHint: `\`const ct = ${at.name}(ctx, tuple.ipv4, opts); if (!ct) return XdpAction.PASS;\``,
      released: "was already released on this path",
      releasedHint: "pass the entry to the kfuncs that change it before releasing it",
    };
  }
  return {
    what: `the socket from \`${at.helper.name}\``,
    leakCode: Codes.socketLeak,
    releasedCode: Codes.socketReleased,
    leak: "is not released",
    leakHint: "call `bpf_sk_release(sk)` on every path after the null test; the kernel refuses a program that can return holding a socket (Unreleased reference)",
    untested: "before passing it to a helper",
    untestedHint: `\`const sk = ${at.helper.name}(ctx, tuple.ipv4, BPF_F_CURRENT_NETNS, 0); if (!sk) return XdpAction.PASS;\``,
    released: "was already released on this path",
    releasedHint: "read what you need from the socket before `bpf_sk_release`",
  };
}

export function checkReferences(program: ProgramIR, diagnostics: DiagnosticBag): void {
  const reserves = new Map<number, Acquire>();
  for (const b of program.blocks) for (const i of b.instrs) if (i.op === "ringbuf_reserve" || (i.op === "call" && i.helper.acquires)) reserves.set(i.dst.id, i);
    else if (i.op === "kfunc" && i.dst && kfunc(i.name).acquires) reserves.set(i.dst.id, i);
    else if (i.op === "call") {
      // A ring buffer dynptr is the reference, held by its stack slot: known by the slot's address.
      const k = i.helper.params.findIndex((p) => p.kind === "dynptr" && p.acquire);
      const a = i.args[k];
      if (a?.kind === "temp") reserves.set(heldBy(program, a.id), i);
    }
  // A clone of a ring buffer dynptr is the same reference (released with it, and releasing it);
  // bpf_dynptr_data's memory, or a slice, belongs to the record: gone with it (the kernel invalidates both).
  const aliases = new Map<number, number>();
  const slot = (id: number) => aliases.get(heldBy(program, id)) ?? heldBy(program, id);
  for (const b of program.blocks)
    for (const i of b.instrs) {
      const [from, to] = i.op === "kfunc" && i.name === "bpf_dynptr_clone" ? i.args : [];
      if (from?.kind === "temp" && to?.kind === "temp" && reserves.has(slot(from.id))) aliases.set(heldBy(program, to.id), slot(from.id));
    }
  const slices = new Map<number, number>();
  for (const b of program.blocks)
    for (const i of b.instrs) {
      const sliced = i.op === "kfunc" && i.dst && (i.name === "bpf_dynptr_slice" || i.name === "bpf_dynptr_slice_rdwr");
      if (!sliced && (i.op !== "call" || !i.helper.params.some((p) => p.kind === "sizeOfType"))) continue;
      const a = i.op === "call" ? i.args[i.helper.params.findIndex((p) => p.kind === "dynptr")] : i.op === "kfunc" ? i.args[0] : undefined;
      const dst = i.op === "call" || i.op === "kfunc" ? i.dst : undefined;
      if (dst && a?.kind === "temp" && reserves.has(slot(a.id))) slices.set(dst.id, slot(a.id));
    }
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
      const edges = transfer(program, block, s, reserves, { slices, slot }, report);
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
    const d = describe(at);
    if (kind === "leak") {
      diagnostics.report(d.leakCode, at.node, `${d.what} ${d.leak} ${extra ?? "on every path"}`, {
        hints: [d.leakHint],
        related: node !== at.node ? [{ message: extra === "before the tail call" ? "this tail call can be reached holding it" : extra === "before it is made over again" ? "this call makes a new dynptr in its place" : "this return can be reached holding it", location: locationOf(node) }] : [],
      });
    } else if (kind === "untested") {
      diagnostics.report(Codes.mapValueNull, node, `${d.what} may be null here: test it ${d.untested}`, { hints: [d.untestedHint] });
    } else {
      diagnostics.report(d.releasedCode, node, `${d.what} ${d.released}`, { hints: [d.releasedHint] });
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
function transfer(program: ProgramIR, block: Block, input: Map<number, State>, reserves: ReadonlyMap<number, Acquire>, dynptrs: { slices: ReadonlyMap<number, number>; slot: (id: number) => number }, report?: Report): Map<Block, States> {
  const { slices, slot } = dynptrs;
  const s = new Map(input);
  const touch = (id: number, node: Instr["node"]) => {
    if (!reserves.has(id)) return;
    if (s.get(id) === "done") report?.(id, "released", node);
  };
  const acquire = (id: number, node: Instr["node"], again: string) => {
    const st = s.get(id);
    if (st === "pending" || st === "held" || st === "mixed") report?.(id, "leak", node, again);
    s.set(id, "pending");
  };
  const use = (id: number, node: Instr["node"], release: boolean) => {
    const st = s.get(id);
    if (st === "pending") report?.(id, "untested", node);
    else if (st === "done") report?.(id, "released", node);
    else if (st === "mixed") report?.(id, "leak", reserves.get(id)!.node, "on some paths only");
    if (release) s.set(id, "done");
  };
  // A ring buffer dynptr made over again (bpf_dynptr_from_xdp into its slot): the reservation is lost.
  const remake = (id: number, node: Instr["node"]) => {
    const st = s.get(id);
    if (st === "pending" || st === "held" || st === "mixed") report?.(id, "leak", node, "before it is made over again");
    s.set(id, "none");
  };
  for (const i of block.instrs) {
    switch (i.op) {
      case "ringbuf_reserve":
        acquire(i.dst.id, i.node, "before it is reserved again");
        break;
      case "ringbuf_submit":
      case "ringbuf_discard":
        use(i.record.id, i.node, true);
        break;
      case "call":
        // A socket argument is used (and, for bpf_sk_release, released) before any result exists.
        i.helper.params.forEach((p, k) => {
          const a = i.args[k];
          if ((p.kind === "sock" || p.kind === "object") && a?.kind === "temp") use(heldBy(program, a.id), i.node, p.release === true);
          if (p.kind !== "dynptr" || a?.kind !== "temp" || !reserves.has(slot(a.id))) return;
          // Reserved, it is held even when the call failed (the kernel makes it a null dynptr to discard).
          const id = slot(a.id);
          if (p.acquire) {
            acquire(id, i.node, "before it is reserved again");
            s.set(id, "held");
          } else if (p.uninit) remake(id, i.node);
          else use(id, i.node, p.release === true);
        });
        if (i.helper.acquires) acquire(i.dst.id, i.node, "before it is looked up again");
        break;
      case "kfunc": {
        // A reference argument is used (and, for a releasing kfunc, released) before any result exists.
        const spec = kfunc(i.name);
        spec.call?.forEach((p, k) => {
          const a = i.args[k];
          if ((p.kind === "ref" || p.kind === "object") && a?.kind === "temp") use(heldBy(program, a.id), i.node, p.release === true);
          if (p.kind === "dynptr" && a?.kind === "temp" && reserves.has(slot(a.id))) {
            // The clone made here is the reference itself, not a new dynptr over it.
            if (p.uninit) {
              const src = i.args[0];
              if (i.name !== "bpf_dynptr_clone" || src?.kind !== "temp" || slot(src.id) !== slot(a.id)) remake(slot(a.id), i.node);
            } else use(slot(a.id), i.node, false);
          }
        });
        // An iterator's `_new` the compiler emits takes the task or cgroup it walks: tested and not released.
        if (!spec.call) for (const a of i.args) if (a.kind === "temp") use(a.id, i.node, false);
        if (spec.acquires && i.dst) acquire(i.dst.id, i.node, "before it is acquired again");
        break;
      }
      case "load":
      case "store":
      case "atomic":
        touch(slices.get(i.ptr.id) ?? i.ptr.id, i.node);
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

/** The reference a pointer was computed from: an object's node, or a popped object's start, is the object. */
function heldBy(program: ProgramIR, id: number): number {
  const def = program.defs.get(id);
  return def?.op === "ptr_add" && def.base.kind === "temp" && def.offset.kind === "const" ? def.base.id : id;
}

/** `ref != 0` / `ref == 0` on a reference, as the branch condition. */
function nullTest(program: ProgramIR, cond: Operand, reserves: ReadonlyMap<number, Acquire>): { id: number; nonNullOnTrue: boolean } | undefined {
  if (cond.kind !== "temp") return undefined;
  const def = program.defs.get(cond.id);
  if (def?.op !== "cmp" || (def.pred !== "eq" && def.pred !== "ne")) return undefined;
  const [r, z] = def.a.kind === "temp" && reserves.has(def.a.id) ? [def.a, def.b] : [def.b, def.a];
  if (r.kind !== "temp" || !reserves.has(r.id) || z.kind !== "const" || z.value !== 0n) return undefined;
  return { id: r.id, nonNullOnTrue: def.pred === "ne" };
}
