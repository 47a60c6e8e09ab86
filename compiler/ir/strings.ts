/**
 * `bpf_strncmp(buf, "text")`: helper 182. The kernel takes the second string
 * only from a frozen read-only map (ARG_PTR_TO_CONST_STR), so it is a literal
 * written in place that becomes a NUL-terminated constant in `.rodata`; the
 * first is stack memory (the helper has no packet access), its whole size.
 */
import ts from "typescript";
import { Codes } from "../diagnostics/codes";
import type { FunctionBuilder } from "./builder";
import { type Value, convertTo, lowerExpression } from "./expressions";
import type { Operand } from "./ir";
import { constant } from "./typing";
import { printedValue } from "./calls";
import { helperMemory } from "./structs";
import { i64, u64 } from "./types";

export function strncmpCall(fb: FunctionBuilder, e: ts.CallExpression): Value {
  if (e.arguments.length !== 2) throw fb.fail(Codes.callArguments, e, "`bpf_strncmp` takes a buffer and a string literal");
  const [bufExpr, textExpr] = e.arguments as unknown as [ts.Expression, ts.Expression];
  const text = ts.isParenthesizedExpression(textExpr) ? textExpr.expression : textExpr;
  if (!ts.isStringLiteral(text) && !ts.isNoSubstitutionTemplateLiteral(text)) {
    throw fb.fail(Codes.unsupportedString, textExpr, "`bpf_strncmp` compares with a string literal written in place: the kernel takes it only from read-only memory", {
      hints: ['e.g. `bpf_strncmp(method, "GET ")`'],
    });
  }
  if (text.text.includes("\0")) throw fb.fail(Codes.unsupportedString, textExpr, "the string ends at its first NUL byte: write it without one");
  const s1 = helperMemory(fb, "bpf_strncmp", { kind: "mem", access: "read" }, bufExpr);
  const dst = fb.temp(i64);
  fb.emit({ op: "strncmp", dst, s1: s1.ptr, size: s1.size, text: text.text, node: e });
  return dst;
}

/** bpf_snprintf's and bpf_trace_vprintk's limit on values (MAX_BPF_FUNC_VARARGS). */
const maxFormatValues = 12;

/**
 * `bpf_snprintf(buf, "format", …values)`: helper 165. The format is a literal
 * that becomes a constant in `.rodata` (ARG_PTR_TO_CONST_STR); the values a
 * u64 array on the stack; the output the whole of `buf`, NUL-terminated.
 */
export function snprintfCall(fb: FunctionBuilder, e: ts.CallExpression): Value {
  if (e.arguments.length < 2) throw fb.fail(Codes.callArguments, e, "`bpf_snprintf` takes a buffer, a format string literal and its values");
  const [bufExpr, formatExpr, ...valueExprs] = e.arguments as unknown as ts.Expression[];
  const format = ts.isParenthesizedExpression(formatExpr!) ? formatExpr.expression : formatExpr!;
  if (!ts.isStringLiteral(format) && !ts.isNoSubstitutionTemplateLiteral(format)) {
    throw fb.fail(Codes.unsupportedString, formatExpr!, "`bpf_snprintf` takes its format as a string literal written in place: the kernel takes it only from read-only memory", {
      hints: ['e.g. `bpf_snprintf(buf, "port %u", port)`'],
    });
  }
  const conversions = formatConversions(format.text);
  if (typeof conversions === "string") throw fb.fail(Codes.callArguments, formatExpr!, conversions, { hints: ["the kernel formats integers: %d %i %u %x %X, with flags (0 + - space), a width, l or ll; %% for a percent sign"] });
  if (conversions !== valueExprs.length) {
    throw fb.fail(Codes.callArguments, valueExprs[conversions] ?? e, `the format has ${conversions} conversion${conversions === 1 ? "" : "s"}, and ${valueExprs.length} value${valueExprs.length === 1 ? " is" : "s are"} given: the kernel refuses a mismatch`);
  }
  const out = helperMemory(fb, "bpf_snprintf", { kind: "mem", access: "write" }, bufExpr!);
  const args = valueExprs.map((v) => printedValue(fb, v));
  const dst = fb.temp(i64);
  fb.emit({ op: "snprintf", dst, out: out.ptr, size: out.size, format: format.text, args, node: e });
  return dst;
}

/**
 * The number of values a format takes, or what the kernel would refuse in it
 * (bpf_bprintf_prepare, kernel/bpf/helpers.c, checked at load for bpf_snprintf):
 * printable ASCII only; each conversion optional flags, a width, l or ll,
 * then an integer conversion. %s, %c and %p need pointers or chars tsxdp does not pass.
 */
export function formatConversions(format: string): number | string {
  let count = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && !(c >= 0x09 && c <= 0x0d))) return `the format may hold printable ASCII only, not ${JSON.stringify(format[i])}`;
    if (format[i] !== "%") continue;
    if (format[i + 1] === "%") {
      i++;
      continue;
    }
    if (count === maxFormatValues) return `a format takes at most ${maxFormatValues} values`;
    const start = i;
    i++;
    while (format[i] === "0" || format[i] === "+" || format[i] === "-" || format[i] === " ") i++;
    if (format[i] !== undefined && format[i]! >= "1" && format[i]! <= "9") while (format[i] !== undefined && format[i]! >= "0" && format[i]! <= "9") i++;
    if (format[i] === "l") i++;
    if (format[i] === "l") i++;
    if (!["d", "i", "u", "x", "X"].includes(format[i] ?? "")) return `\`${format.slice(start, i + 1)}\` is not a conversion tsxdp passes: integers only (%d %i %u %x %X)`;
    count++;
  }
  return count;
}

/**
 * The kernel structs bpf_snprintf_btf shows, with their sizes: the network
 * headers of the UAPI, in every kernel's BTF, so the CO-RE relocation of the
 * type id always resolves (libbpf fails the load for a name vmlinux lacks),
 * and the value passed must be that size (the kernel reads that many bytes).
 */
export const btfShownStructs: ReadonlyMap<string, number> = new Map([
  ["ethhdr", 14],
  ["vlan_hdr", 4],
  ["arphdr", 8],
  ["iphdr", 20],
  ["ipv6hdr", 40],
  ["tcphdr", 20],
  ["udphdr", 8],
  ["icmphdr", 8],
  ["icmp6hdr", 8],
]);

/**
 * `bpf_snprintf_btf(buf, value, "iphdr", flags?)`: helper 149 shows `value`
 * (a local struct laid out as the kernel's) as vmlinux's type of that name,
 * as `bpf_core_type_id_kernel` names it: the kernel reads the type's size.
 */
export function snprintfBtfCall(fb: FunctionBuilder, e: ts.CallExpression): Value {
  if (e.arguments.length < 3 || e.arguments.length > 4) throw fb.fail(Codes.callArguments, e, "`bpf_snprintf_btf` takes a buffer, a value, the name of its kernel type and optional flags");
  const [bufExpr, valueExpr, nameExpr, flagsExpr] = e.arguments as unknown as ts.Expression[];
  const name = ts.isParenthesizedExpression(nameExpr!) ? nameExpr.expression : nameExpr!;
  const size = ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name) ? btfShownStructs.get(name.text) : undefined;
  if (size === undefined) {
    throw fb.fail(Codes.callArguments, nameExpr!, `\`bpf_snprintf_btf\` names the kernel struct as a string literal, one of ${[...btfShownStructs.keys()].map((k) => `"${k}"`).join(", ")}`, {
      hints: ['e.g. `bpf_snprintf_btf(buf, ip, "iphdr")` with a local `Ipv4Hdr`'],
    });
  }
  const out = helperMemory(fb, "bpf_snprintf_btf", { kind: "mem", access: "write" }, bufExpr!);
  const value = helperMemory(fb, "bpf_snprintf_btf", { kind: "mem", access: "read", size }, valueExpr!);
  const flags = flagsExpr ? (convertTo(fb, lowerExpression(fb, flagsExpr, u64), u64, flagsExpr) as Operand) : constant(0n, u64);
  const dst = fb.temp(i64);
  fb.emit({ op: "snprintf_btf", dst, out: out.ptr, size: out.size, value: value.ptr, typeName: (name as ts.StringLiteral).text, flags, node: e });
  return dst;
}
