/**
 * RCU read-side sections (bpf_rcu_read_lock / bpf_rcu_read_unlock), as the
 * verifier checks them (check_kfunc_call, do_check's exit checks): a lock
 * while one is held is refused ("nested rcu read lock"), an unlock without
 * one too ("unmatched rcu read unlock"), and so is leaving the program
 * inside a section, by a return or a tail call. Each function must end its own sections on every path;
 * paths that meet must agree on whether a section is open.
 *
 * An object read from a kptr field inside a section (MEM_RCU) is forgotten
 * at its bpf_rcu_read_unlock (the verifier makes it untrusted there): using
 * it afterwards is refused. Read outside one, it lasts the whole program, an
 * XDP program being always in an RCU read section.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import { type Block, type Instr, type ModuleIR, type ProgramIR, type Subprogram, reversePostOrder, successors } from "../ir/ir";

/** The lock of the open section, or undefined outside one. */
type Open = ts.Node | undefined;

export function checkRcu(module: ModuleIR, diagnostics: DiagnosticBag): void {
  for (const p of module.programs) checkFunction(p, diagnostics);
  for (const s of module.subprograms) if (s.ir) checkFunction(s.ir, diagnostics);
}

function line(node: ts.Node): string {
  return `line ${locationOf(node).line}`;
}

/** Objects read from kptr fields in the open section (`inside`), and those whose section has ended (`ended`, with its unlock). */
interface Reads {
  readonly inside: ReadonlySet<number>;
  readonly ended: ReadonlyMap<number, ts.Node>;
}

function checkFunction(ir: ProgramIR, d: DiagnosticBag): void {
  const entry = new Map<Block, Open>([[ir.entry, undefined]]);
  const reads = new Map<Block, Reads>();
  for (const block of reversePostOrder(ir.entry)) {
    if (!entry.has(block)) continue;
    let open = entry.get(block);
    const inside = new Set(reads.get(block)?.inside ?? []);
    const ended = new Map(reads.get(block)?.ended ?? []);
    for (const i of block.instrs) {
      if (!staleUse(i, ended, d)) return;
      // A kptr field's object, or a CPU's copy of a per-CPU one: valid until this section ends.
      const kptrRead = i.op === "load" && i.region === "map" && i.dst.type.kind === "ptr" && !i.core;
      const copy = i.op === "call" && (i.helper.name === "bpf_this_cpu_ptr" || i.helper.name === "bpf_per_cpu_ptr") && i.args[0]?.kind === "temp" && inside.has(i.args[0].id);
      if (open && (kptrRead || copy)) inside.add(i.dst.id);
      if (i.op === "kfunc" && i.name === "bpf_rcu_read_unlock") {
        for (const id of inside) ended.set(id, i.node);
        inside.clear();
      }
      const tail = !open ? undefined : i.op === "tail_call" ? i.node : i.op === "subcall" ? tailCallIn(i.callee, new Set()) : undefined;
      if (open && tail) {
        d.report(Codes.rcuSection, i.node, `a tail call inside the RCU read section opened at ${line(open)}: the kernel refuses bpf_tail_call there`, {
          hints: ["call `bpf_rcu_read_unlock()` before the tail call"],
          related: [{ message: "the section opens here", location: locationOf(open) }, ...(tail !== i.node ? [{ message: "the tail call", location: locationOf(tail) }] : [])],
        });
        return;
      }
      if (i.op !== "kfunc" || (i.name !== "bpf_rcu_read_lock" && i.name !== "bpf_rcu_read_unlock")) continue;
      if (i.name === "bpf_rcu_read_lock") {
        if (open) {
          d.report(Codes.rcuSection, i.node, `an RCU read section is already open (since ${line(open)}): the kernel refuses a nested bpf_rcu_read_lock`, { hints: ["end the first section with `bpf_rcu_read_unlock()` before opening another"] });
          return;
        }
        open = i.node;
      } else {
        if (!open) {
          d.report(Codes.rcuSection, i.node, "no RCU read section is open here: the kernel refuses an unmatched bpf_rcu_read_unlock", { hints: ["call `bpf_rcu_read_lock()` first, in this function, on every path to here"] });
          return;
        }
        open = undefined;
      }
    }
    const term = block.term;
    if (!term) continue;
    if (term.op === "ret") {
      if (open) {
        d.report(Codes.rcuSection, open, "this RCU read section is still open where the function returns", {
          hints: ["call `bpf_rcu_read_unlock()` on every path before `return`"],
          related: [{ message: "this return is reached inside it", location: locationOf(term.node) }],
        });
        return;
      }
      continue;
    }
    for (const next of successors(block)) {
      const r = reads.get(next);
      reads.set(next, { inside: new Set([...(r?.inside ?? []), ...inside]), ended: new Map([...(r?.ended ?? []), ...ended]) });
      if (!entry.has(next)) {
        entry.set(next, open);
        continue;
      }
      const other = entry.get(next);
      if ((other === undefined) !== (open === undefined)) {
        const at = open ?? other!;
        d.report(Codes.rcuSection, at, "this RCU read section is ended on some paths only: where they meet, the section must be open on all of them or on none", {
          hints: ["call `bpf_rcu_read_unlock()` on each branch, or outside the branches"],
        });
        return;
      }
    }
  }
}

/** A tail call a subprogram makes, itself or through the subprograms it calls: the caller's RCU section is still open there. */
function tailCallIn(sub: Subprogram, seen: Set<Subprogram>): ts.Node | undefined {
  if (!sub.ir || seen.has(sub)) return undefined;
  seen.add(sub);
  for (const block of reversePostOrder(sub.ir.entry)) {
    for (const i of block.instrs) {
      if (i.op === "tail_call") return i.node;
      const inner = i.op === "subcall" ? tailCallIn(i.callee, seen) : undefined;
      if (inner) return inner;
    }
  }
  return undefined;
}

/** An object whose RCU section has ended, used: the verifier refuses it (its pointer is untrusted now). */
function staleUse(i: Instr, ended: ReadonlyMap<number, ts.Node>, d: DiagnosticBag): boolean {
  const used = i.op === "load" || i.op === "store" || i.op === "atomic" ? [i.ptr] : i.op === "call" || i.op === "kfunc" ? i.args : [];
  for (const u of used) {
    if (u.kind !== "temp") continue;
    const unlock = ended.get(u.id);
    if (!unlock) continue;
    d.report(Codes.kptrAfterRcu, i.node, `this object was read from a kptr field inside an RCU read section that has ended (${line(unlock)}): the kernel forgets it at bpf_rcu_read_unlock`, {
      hints: ["use it before `bpf_rcu_read_unlock()`, or read the field again after it (an XDP program may read it outside any section)"],
      related: [{ message: "the section ends here", location: locationOf(unlock) }],
    });
    return false;
  }
  return true;
}
