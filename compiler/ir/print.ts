/**
 * A readable dump of the IR (`tsxdp build --emit-ir`), for debugging the
 * compiler and for bug reports. Not a stable format.
 */
import type { Block, Instr, ModuleIR, Operand, ProgramIR, StructLiteral, Terminator } from "./ir";
import { typeName } from "./types";

export function printModule(m: ModuleIR): string {
  const subprograms = m.subprograms.flatMap((s) => (s.ir ? [printProgram(s.ir)] : []));
  return [`; license ${JSON.stringify(m.license)}`, ...m.programs.map(printProgram), ...subprograms].join("\n\n") + "\n";
}

export function printProgram(p: ProgramIR): string {
  const lines = [p.subprogram ? `function ${p.subprogram.linkage} ${p.name} {` : `program ${p.name} section "${p.section}" {`];
  for (const l of p.locals) lines.push(`  local %${l.name}.${l.id}: ${typeName(l.type)}`);
  for (const b of p.blocks) {
    if (!b.term && b.instrs.length === 0) continue;
    lines.push(`b${b.id}:`);
    for (const i of b.instrs) lines.push(`  ${printInstr(i)}`);
    if (b.term) lines.push(`  ${printTerm(b.term)}`);
  }
  lines.push("}");
  return lines.join("\n");
}

function op(o: Operand): string {
  return o.kind === "const" ? `${o.value}:${typeName(o.type)}` : `t${o.id}`;
}

function slot(v: Operand | StructLiteral): string {
  return v.kind === "struct" ? `{ ${v.stores.map((s) => `+${s.offset}: ${op(s.value)}`).join(", ")} }` : op(v);
}

function printInstr(i: Instr): string {
  switch (i.op) {
    case "ctx":
      return `t${i.dst.id} = ctx.${i.field}`;
    case "ctx_ptr":
      return `t${i.dst.id} = ctx`;
    case "stack_alloc":
      return `t${i.dst.id} = stack ${i.size} %${i.name}`;
    case "binary":
      return `t${i.dst.id} = ${i.kind} ${op(i.a)}, ${op(i.b)} : ${typeName(i.dst.type)}`;
    case "cmp":
      return `t${i.dst.id} = cmp ${i.pred} ${op(i.a)}, ${op(i.b)}`;
    case "cast":
      return `t${i.dst.id} = cast ${op(i.src)} to ${typeName(i.dst.type)}`;
    case "bswap":
      return `t${i.dst.id} = bswap ${op(i.src)} : ${typeName(i.dst.type)}`;
    case "ptr_add":
      return `t${i.dst.id} = ptr_add t${i.base.id}, ${op(i.offset)}`;
    case "load":
      return `t${i.dst.id} = load.${i.size} ${i.region} t${i.ptr.id}+${i.offset} : ${typeName(i.dst.type)}`;
    case "store":
      return `store.${i.size} ${i.region} t${i.ptr.id}+${i.offset}, ${op(i.value)}`;
    case "call":
      return `t${i.dst.id} = call ${i.helper.name}#${i.helper.id}(${i.args.map(op).join(", ")})`;
    case "printk":
      return `printk ${JSON.stringify(i.format)}(${i.args.map(op).join(", ")})`;
    case "map_lookup":
      return `t${i.dst.id} = lookup ${i.map.name}[${slot(i.key)}]${i.cpu ? ` cpu ${op(i.cpu)}` : ""}`;
    case "map_update":
    case "map_delete":
      return `t${i.dst.id} = ${i.op === "map_update" ? "update" : "delete"} ${i.map.name}[${slot(i.key)}]${i.value ? ` = ${slot(i.value)}` : ""}${i.flags ? ` flags ${op(i.flags)}` : ""}`;
    case "map_redirect":
      return `t${i.dst.id} = redirect ${i.map.name}[${op(i.key)}] flags ${op(i.flags)}`;
    case "map_push":
    case "map_pop":
    case "map_peek":
      return `t${i.dst.id} = ${i.op.slice(4)} ${i.map.name}${i.value ? ` ${slot(i.value)}` : ""}${i.out ? ` into t${i.out.id}` : ""}${i.flags ? ` flags ${op(i.flags)}` : ""}`;
    case "tail_call":
      return `tail_call ${i.map.name}[${op(i.index)}]`;
    case "ringbuf_output":
      return `t${i.dst.id} = output ${i.map.name} ${slot(i.value)} flags ${op(i.flags)}`;
    case "perf_event_output":
      return `t${i.dst.id} = perf_output ${i.map.name} ${slot(i.value)} flags ${op(i.flags)}`;
    case "ringbuf_reserve":
      return `t${i.dst.id} = reserve ${i.map.name}`;
    case "ringbuf_query":
      return `t${i.dst.id} = query ${i.map.name} ${op(i.flags)}`;
    case "ringbuf_submit":
    case "ringbuf_discard":
      return `${i.op === "ringbuf_submit" ? "submit" : "discard"} t${i.record.id} flags ${op(i.flags)}`;
    case "global_load":
      return `t${i.dst.id} = global ${i.global.section} ${i.global.name}`;
    case "global_store":
      return `set global ${i.global.name}, ${op(i.value)}`;
    case "atomic":
      return `${i.dst ? `t${i.dst.id} = ` : ""}atomic_${i.kind} t${i.ptr.id}+${i.offset}, ${i.expected ? `${op(i.expected)}, ` : ""}${op(i.value)}`;
    case "local_get":
      return `t${i.dst.id} = get %${i.local.name}.${i.local.id}`;
    case "local_set":
      return `set %${i.local.name}.${i.local.id}, ${op(i.value)}`;
    case "param":
      return `t${i.dst.id} = param ${i.index}`;
    case "kfunc":
      return `${i.dst ? `t${i.dst.id} = ` : ""}kfunc ${i.name}(${i.args.map(op).join(", ")})`;
    case "timer":
      return `t${i.dst.id} = timer_${i.kind} t${i.ptr.id}+${i.offset}${i.callback ? `, ${i.callback.name}` : ""}${i.args.map((a) => `, ${op(a)}`).join("")}`;
    case "snprintf_btf":
      return `t${i.dst.id} = snprintf_btf ${op(i.out)}, ${i.size}, ${op(i.value)} as ${i.typeName} flags ${op(i.flags)}`;
    case "snprintf":
      return `t${i.dst.id} = snprintf ${op(i.out)}, ${i.size}, ${JSON.stringify(i.format)}${i.args.map((a) => `, ${op(a)}`).join("")}`;
    case "strncmp":
      return `t${i.dst.id} = strncmp ${op(i.s1)}, ${i.size}, ${JSON.stringify(i.text)}`;
    case "spin_lock":
      return `${i.unlock ? "spin_unlock" : "spin_lock"} t${i.ptr.id}+${i.offset}`;
    case "for_each_map":
      return `t${i.dst.id} = for_each_map ${i.map.name}, ${i.callback.name}, ${i.state ? `t${i.state.id}` : "null"}`;
    case "bpf_loop":
      return `t${i.dst.id} = bpf_loop ${op(i.count)}, ${i.callback.name}, ${i.state ? `t${i.state.id}` : "null"}`;
    case "subcall":
      return `${i.dst ? `t${i.dst.id} = ` : ""}call ${i.callee.linkage} ${i.callee.name}(${i.args.map(op).join(", ")})`;
  }
}

function printTerm(t: Terminator): string {
  switch (t.op) {
    case "br":
      return `br b${t.target.id}`;
    case "cond_br":
      return `br ${op(t.cond)}, b${t.then.id}, b${t.else.id}`;
    case "ret":
      return `ret ${op(t.value)}`;
  }
}

export type { Block };
