/**
 * RCU read-side sections (bpf_rcu_read_lock / bpf_rcu_read_unlock), as the
 * verifier checks them (check_kfunc_call, do_check's exit checks): a lock
 * while one is held is refused ("nested rcu read lock"), an unlock without
 * one too ("unmatched rcu read unlock"), and so is leaving the program
 * inside a section. Each function must end its own sections on every path;
 * paths that meet must agree on whether a section is open.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import { type Block, type ModuleIR, type ProgramIR, reversePostOrder, successors } from "../ir/ir";

/** The lock of the open section, or undefined outside one. */
type Open = ts.Node | undefined;

export function checkRcu(module: ModuleIR, diagnostics: DiagnosticBag): void {
  for (const p of module.programs) checkFunction(p, diagnostics);
  for (const s of module.subprograms) if (s.ir) checkFunction(s.ir, diagnostics);
}

function line(node: ts.Node): string {
  return `line ${locationOf(node).line}`;
}

function checkFunction(ir: ProgramIR, d: DiagnosticBag): void {
  const entry = new Map<Block, Open>([[ir.entry, undefined]]);
  for (const block of reversePostOrder(ir.entry)) {
    if (!entry.has(block)) continue;
    let open = entry.get(block);
    for (const i of block.instrs) {
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
