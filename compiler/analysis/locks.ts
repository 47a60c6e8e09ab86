/**
 * The verifier's spin lock rules (check_helper_call, process_spin_lock,
 * do_check's exit checks), proven on the IR before the kernel sees it: one
 * lock held at a time, released on every path by the function that took it,
 * no call of any kind while it is held, no `return` with it held, and the
 * lock's own bytes never loaded or stored (nor a timer's). A map value may
 * hold a lock or a timer only in the maps whose BTF the kernel accepts it in
 * (map_check_btf).
 *
 * The list and tree kfuncs are the calls allowed under a lock, and only under
 * the lock of the value holding the list or tree (check_reg_allocation_locked);
 * a node bpf_rbtree_first lends is valid until that lock is released
 * (invalidate_non_owning_refs), and a tree's `less` runs with it held.
 */
import type ts from "typescript";
import { Codes } from "../diagnostics/codes";
import { type DiagnosticBag, locationOf } from "../diagnostics/diagnostic";
import { type Block, type Instr, type MapDecl, type ModuleIR, type Operand, type ProgramIR, type SlotType, isLayout, reversePostOrder, successors } from "../ir/ir";
import { type FieldType, type Layout, spinLockLayout, timerLayout } from "../ir/layout";
import { graphKfuncs } from "../ir/graphs";
import { kfunc } from "../dialect/kfuncs";

interface Held {
  readonly key: string;
  readonly node: ts.Node;
}

/** Instructions that are not calls: anything else (helpers, map operations, subprograms, kfuncs) is one. */
const plain = new Set(["ctx", "binary", "cmp", "cast", "bswap", "ptr_add", "load", "store", "global_load", "global_store", "atomic", "local_get", "local_set", "stack_alloc", "param", "ctx_ptr"]);

const lockedMaps = new Set(["HashMap", "ArrayMap"]);

export function checkLocks(module: ModuleIR, diagnostics: DiagnosticBag): void {
  for (const p of module.programs) checkFunction(p, diagnostics);
  for (const s of module.subprograms) if (s.ir) checkFunction(s.ir, diagnostics);
}

function line(node: ts.Node): string {
  return `line ${locationOf(node).line}`;
}

function checkFunction(ir: ProgramIR, d: DiagnosticBag): void {
  const order = reversePostOrder(ir.entry);
  const entryState = new Map<Block, Held | undefined>([[ir.entry, undefined]]);
  const exitState = new Map<Block, Held | undefined>();
  // Nodes bpf_rbtree_first lent, with the lock they were lent under.
  const lent = new Map<number, Held>();
  const less = ir.subprogram?.rbtreeLess === true;
  for (const block of order) {
    if (!entryState.has(block)) continue;
    let held = entryState.get(block);
    for (const i of block.instrs) {
      checkLockBytes(ir, i, d);
      if (lent.size > 0 && !checkLent(i, held, lent, d)) return;
      if (less && !plain.has(i.op)) {
        d.report(Codes.lockCall, i.node, `\`${ir.name}\` orders a tree for \`bpf_rbtree_add\`, which calls it with the tree's lock held: the verifier allows no call there`, {
          hints: ["compare fields only, and return the boolean"],
        });
        return;
      }
      if (i.op === "kfunc" && graphKfuncs.has(i.name)) {
        const name = kfunc(i.name).spelled ?? i.name;
        const root = i.args[0]!;
        const base = root.kind === "temp" && ir.defs.get(root.id)?.op === "ptr_add" ? (ir.defs.get(root.id) as { base: Operand }).base : root;
        if (!held || base.kind !== "temp" || !held.key.startsWith(`${base.id}+`)) {
          d.report(
            Codes.graphLock,
            i.node,
            held
              ? `the lock taken at ${line(held.node)} is not the one beside this ${i.name.includes("list") ? "list" : "tree"}: \`${name}\` needs the lock of the same map value held`
              : `\`${name}\` needs the lock of the map value holding the ${i.name.includes("list") ? "list" : "tree"} held: the verifier refuses the call without it`,
            { hints: ["`bpf_spin_lock(ref.value.lock);` before the call, and `bpf_spin_unlock(ref.value.lock);` after it, `ref` the value holding the root"] },
          );
          return;
        }
        if (i.name === "bpf_rbtree_first" && i.dst) lent.set(i.dst.id, held);
        continue;
      }
      if (i.op === "spin_lock") {
        const key = `${i.ptr.id}+${i.offset}`;
        if (!i.unlock) {
          if (held) {
            d.report(Codes.lockOrder, i.node, `a second lock while the one taken at ${line(held.node)} is held: the verifier allows one at a time`, { hints: ["release the first lock before taking another"] });
            return;
          }
          held = { key, node: i.node };
        } else {
          if (!held) {
            d.report(Codes.lockOrder, i.node, "no lock is held here: the verifier refuses an unlock without its lock", { hints: ["take the lock with `bpf_spin_lock` first, in this function, on every path to here"] });
            return;
          }
          if (held.key !== key) {
            d.report(Codes.lockOrder, i.node, `this is not the lock taken at ${line(held.node)}: release the lock that is held`);
            return;
          }
          held = undefined;
        }
        continue;
      }
      if (held && !plain.has(i.op)) {
        d.report(Codes.lockCall, i.node, `a call while the lock taken at ${line(held.node)} is held: the verifier allows no helper, map operation or function call but bpf_spin_unlock`, {
          hints: ["release the lock first, or do the work before taking it; reads, writes and arithmetic on the value are fine"],
        });
        return;
      }
    }
    const term = block.term;
    if (term?.op === "ret" && held) {
      d.report(Codes.lockLeak, term.node, `returns while the lock taken at ${line(held.node)} is held: the verifier wants it released first`, { hints: ["call `bpf_spin_unlock` before this `return`"] });
      return;
    }
    exitState.set(block, held);
    for (const s of successors(block)) {
      if (!entryState.has(s)) {
        entryState.set(s, held);
        continue;
      }
      const other = entryState.get(s);
      if (other?.key !== held?.key) {
        const lock = (held ?? other)!;
        d.report(Codes.lockLeak, lock.node, "the lock taken here is not released on every path: paths where it is held meet paths where it is not", {
          hints: ["release it on each branch, or take and release it within one branch"],
        });
        return;
      }
    }
  }
}

/** A lent node used after the lock it was lent under was released: the verifier has invalidated it. */
function checkLent(i: Instr, held: Held | undefined, lent: ReadonlyMap<number, Held>, d: DiagnosticBag): boolean {
  const used = i.op === "load" || i.op === "store" || i.op === "atomic" ? [i.ptr] : i.op === "kfunc" ? i.args : [];
  for (const o of used) {
    const under = o.kind === "temp" ? lent.get(o.id) : undefined;
    if (!under || under === held) continue;
    d.report(Codes.graphNonOwning, i.node, `this node from \`bpf_rbtree_first\` (under the lock taken at ${line(under.node)}) is used after that lock was released: the tree may have freed it`, {
      hints: ["read it, or take it out with `bpf_rbtree_remove`, before `bpf_spin_unlock`"],
    });
    return false;
  }
  return true;
}

/** The kernel's special fields of a map value: never loaded or stored, allowed in some maps only (map_check_btf). */
const specials = [
  { layout: spinLockLayout, name: "SpinLock", maps: new Set(["HashMap", "ArrayMap"]) },
  { layout: timerLayout, name: "Timer", maps: new Set(["HashMap", "LruHash", "ArrayMap"]) },
];

/** The kernel refuses a load or store that touches a value's bpf_spin_lock or bpf_timer ("cannot be accessed directly"). */
function checkLockBytes(ir: ProgramIR, i: Instr, d: DiagnosticBag): void {
  if ((i.op !== "load" && i.op !== "store" && i.op !== "atomic") || (i.op !== "atomic" && i.region !== "map")) return;
  const map = mapOf(ir, i.ptr.id);
  if (!map) return;
  const size = i.op === "atomic" ? (i.value.type.kind === "int" ? i.value.type.bits / 8 : 8) : i.size;
  for (const special of specials) {
    const at = specialOffset(map.value, special.layout);
    if (at === undefined || !(i.offset < at + special.layout.size && at < i.offset + size)) continue;
    d.report(Codes.mapOperation, i.node, `this reads or writes the bytes of a ${special.name}: the kernel refuses any access to them but its helpers`, {
      hints: ["read and write the other fields one by one instead of copying the whole value"],
    });
    return;
  }
}

/** The map whose value a pointer points into: a lookup's result or a forEach or timer callback's value. */
function mapOf(ir: ProgramIR, id: number): MapDecl | undefined {
  const def = ir.defs.get(id);
  if (def?.op === "map_lookup") return def.map;
  if (def?.op === "param" && ir.subprogram?.params[def.index]?.slot === "value") return ir.subprogram.forEachOf;
  return undefined;
}

/** Where a value struct holds a special field, when it holds one as a field of its own. */
function specialOffset(t: SlotType, layout: Layout): number | undefined {
  if (!isLayout(t)) return undefined;
  for (const f of t.fields.values()) if (f.type.kind === "struct" && f.type.layout === layout) return f.offset;
  return undefined;
}

function hasGraph(t: FieldType): boolean {
  if (t.kind === "scalar") return false;
  if (t.kind === "array") return hasGraph(t.element);
  return t.layout.graph !== undefined || [...t.layout.fields.values()].some((f) => hasGraph(f.type));
}

/** A list head or tree root inside a struct that a field (or an array's element) is, rather than the field itself. */
function graphBelow(t: FieldType): boolean {
  if (t.kind === "array") return graphBelow(t.element);
  return t.kind === "struct" && t.layout.graph === undefined && hasGraph(t);
}

function countFields(t: FieldType, layout: Layout): number {
  if (t.kind === "scalar") return 0;
  if (t.kind === "array") return countFields(t.element, layout) * t.count;
  if (t.layout === layout) return 1;
  let n = 0;
  for (const f of t.layout.fields.values()) n += countFields(f.type, layout);
  return n;
}

/**
 * map_check_btf: a SpinLock only in a HASH or ARRAY value, a Timer only in a
 * HASH, LRU_HASH or ARRAY value; one of each, as a field of the value itself;
 * none in keys.
 */
export function lockedMapAllowed(d: DiagnosticBag, className: string, key: SlotType, value: SlotType, keyNode: ts.Node, valueNode: ts.Node): boolean {
  const slotShape = (t: SlotType): FieldType => (isLayout(t) ? { kind: "struct", layout: t } : { kind: "scalar", type: t });
  for (const special of specials) {
    if (countFields(slotShape(key), special.layout) > 0) {
      d.report(Codes.mapType, keyNode, `a map key cannot hold a ${special.name}`, { hints: ["put it in the value struct"] });
      return false;
    }
    const n = countFields(slotShape(value), special.layout);
    if (n === 0) continue;
    if (!special.maps.has(className)) {
      const allowed = [...special.maps].join(", ").replace(/, (?=[^,]*$)/, " and ");
      d.report(Codes.mapType, valueNode, `the kernel accepts a ${special.name} only in ${allowed} values, not in a ${className}'s`, { hints: [`declare the map as one of ${allowed}`] });
      return false;
    }
    if (n > 1 || specialOffset(value, special.layout) === undefined) {
      d.report(Codes.mapType, valueNode, `a map value holds one ${special.name}, as a field of the value struct itself`, { hints: [`keep a single ${special.name} field at the top level of the value`] });
      return false;
    }
  }
  if (isLayout(key) && hasGraph({ kind: "struct", layout: key })) {
    d.report(Codes.mapType, keyNode, "a map key cannot hold a `ListHead` or `RbRoot`", { hints: ["put it in the value struct, beside a `SpinLock`"] });
    return false;
  }
  // btf_parse_fields: a list head or tree root needs the lock that guards it in the same struct,
  // and the value's lock is a field of the value itself.
  const nested = isLayout(value) ? [...value.fields.values()].find((f) => graphBelow(f.type)) : undefined;
  if (nested) {
    d.report(Codes.mapType, valueNode, `\`${nested.name}\` holds a \`ListHead\` or \`RbRoot\` in a struct of its own: the kernel takes one only in the struct that holds its \`SpinLock\`, the value struct`, {
      hints: ["move the list or tree up into the value struct"],
    });
    return false;
  }
  const root = isLayout(value) ? [...value.fields.values()].find((f) => f.type.kind === "struct" && f.type.layout.graph) : undefined;
  if (root && specialOffset(value, spinLockLayout) === undefined) {
    d.report(Codes.mapType, valueNode, `\`${root.name}\` needs a \`SpinLock\` beside it in the value: the kernel refuses a list or tree without the lock that guards it`, {
      hints: ["add `lock: SpinLock` to the value struct"],
    });
    return false;
  }
  return true;
}
