/**
 * TypeScript says "has no exported member 'bpf_skb_load_bytes'" or "cannot
 * find name"; for a kernel helper the user deserves to know why: the kernel
 * does not offer it to XDP programs (TSX4020, with what to use instead), or
 * tsxdp spells it differently (a map method, `bpfLoop`, …), or tsxdp does
 * not offer it yet (TSX1015).
 */
import type ts from "typescript";
import { Codes, codeString } from "../diagnostics/codes";
import type { Diagnostic } from "../diagnostics/diagnostic";
import { KERNEL_HELPERS, XDP_COUNTERPARTS, XDP_HELPERS } from "./kernel-helpers";
import { kfuncsNotInXdp } from "./kfuncs";

/** TS2305/TS2724: no exported member (named …); TS2304/TS2552: cannot find name. */
const UNKNOWN_NAME = new Set(["TS2305", "TS2724", "TS2304", "TS2552"]);

/** XDP helpers that tsxdp offers under another form. */
const SPELLED_OTHERWISE: ReadonlyMap<string, string> = new Map([
  ["map_lookup_elem", "a map's `lookup(key)`"],
  ["map_update_elem", "a map's `update(key, value, flags)`"],
  ["map_delete_elem", "a map's `delete(key)`"],
  ["map_push_elem", "`push(value)` on a Queue, Stack or BloomFilter"],
  ["map_pop_elem", "`pop()` on a Queue or Stack"],
  ["map_peek_elem", "`peek()` on a Queue or Stack, `contains(value)` on a BloomFilter"],
  ["redirect_map", "`redirect(key, flags)` on a DevMap, DevMapHash, CpuMap or XskMap"],
  ["tail_call", "`tailCall(ctx, progs, index)` with a ProgArray"],
  ["ringbuf_output", "a RingBuf's `output(value)`"],
  ["ringbuf_reserve", "a RingBuf's `reserve()`"],
  ["ringbuf_submit", "a RingBuf's `submit(record)`"],
  ["ringbuf_discard", "a RingBuf's `discard(record)`"],
  ["loop", "`bpfLoop(count, callback, state)`"],
  ["for_each_map_elem", "a map's `forEach(callback, state)`"],
  ["trace_printk", "`bpf_printk(`…`)` with a template literal"],
  ["trace_vprintk", "`bpf_printk(`…`)` with a template literal of more than three values"],
  ["perf_event_output", "a PerfEventArray's `output(ctx, value, flags)`"],
  ["map_lookup_percpu_elem", "`lookupOnCpu(key, cpu)` on a PerCpuArray, PerCpuHash or LruPerCpuHash"],
  ["ringbuf_query", "a RingBuf's `query(what)`"],
]);

export function explainUnknownHelper(d: Diagnostic, exported: ReadonlySet<string>): Diagnostic {
  if (!UNKNOWN_NAME.has(d.code)) return d;
  const name = /'(bpf_\w+)'/.exec(d.message)?.[1];
  const refused = name && kfuncsNotInXdp.get(name);
  if (refused) {
    return { ...d, code: codeString(Codes.kfuncNotInXdp.code), message: `\`${name}\` (kfunc) ${refused.why}`, hints: [`in XDP, use ${refused.instead}`], related: [] };
  }
  const id = name ? KERNEL_HELPERS.indexOf(name.slice(4)) : -1;
  if (!name || id <= 0) return d;
  const bare = name.slice(4);
  if (exported.has(name)) return { ...d, hints: [...d.hints, `import it: \`import { ${name} } from "tsxdp";\``] };
  if (!XDP_HELPERS.has(bare)) {
    const instead = XDP_COUNTERPARTS.get(bare);
    return {
      ...d,
      code: codeString(Codes.helperNotInXdp.code),
      message: `\`${name}\` (helper ${id}) is not available to XDP programs: the kernel refuses it in BPF_PROG_TYPE_XDP ("program of this type cannot use helper")`,
      hints: instead ? [`in XDP, use ${instead}`] : ["it belongs to other program types (tc, sockets, tracing); tsxdp exports the helpers XDP programs can call"],
      // TypeScript's "did you mean" points at a helper only when there is a counterpart.
      related: instead ? d.related : [],
    };
  }
  const form = SPELLED_OTHERWISE.get(bare);
  return {
    ...d,
    code: codeString(Codes.unsupportedCall.code),
    message: form ? `\`${name}\` (helper ${id}) is not a function in tsxdp: use ${form}` : `\`${name}\` (helper ${id}) is allowed in XDP programs, but tsxdp does not offer it yet`,
    hints: form ? [] : ["tsxdp exports the helpers it offers; your editor lists them"],
    related: [],
  };
}

/** The names the dialect module (`tsxdp`) exports. */
export function dialectExports(program: ts.Program, checker: ts.TypeChecker, dialectFile: string): ReadonlySet<string> {
  const file = program.getSourceFile(dialectFile);
  const symbol = file && checker.getSymbolAtLocation(file);
  return new Set(symbol ? checker.getExportsOfModule(symbol).map((s) => s.name) : []);
}
