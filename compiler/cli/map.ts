/**
 * `tsxdp map dump|get|set|delete`: the contents of pinned maps, keys and
 * values decoded through the map's BTF as the kernel holds it
 * (object/btf-types.ts), hex bytes without BTF.
 *
 * Invariants: the key and value text is parsed before the map is touched
 * (exit 2 for text that does not fit the type); every opened map is closed;
 * exit 1 only when the data says no (missing key for get/delete/set --flags
 * exist, existing key for --flags noexist, a full map), 2 for the command
 * line and the machine (not a map, no privileges, no libbpf).
 */
import path from "node:path";
import { LibbpfNotFoundError } from "../loader/libbpf";
import { PinnedMap, PinnedMapError, pinnedMapsIn } from "../loader/pinned-map";
import type { MapUpdateFlag } from "../loader/maps";
import { BtfError, type Decoded, hexText, parseHexText, parseHostInt } from "../object/btf-types";
import { parseFlags, UsageError } from "./args";
import type { Command } from "./command";

const help = `Usage: tsxdp map dump <pinned-map> [--json]
       tsxdp map dump --pinned-dir <dir> [--json]
       tsxdp map get <pinned-map> <key> [--json]
       tsxdp map set <pinned-map> <key> <value> [--flags any|noexist|exist] [--json]
       tsxdp map delete <pinned-map> <key> [--json]

Reads and writes maps pinned in bpffs (tsxdp attach --pin, bpftool prog
loadall … pinmaps <dir>, or LoadedMap.pin()). Keys and values are decoded
through the map's BTF: integers in decimal; __be16/__be32/__be64 as the hex
of their network-order bytes with the host-order value, "0x0a000001
(167772161)" (JSON: {"be": "0x0a000001", "host": 167772161}); structs by
member, arrays as lists, enums by name. Maps without BTF show hex:<bytes>.
Per-CPU maps show one value per possible CPU, and their sum for integers.

Keys and values on the command line:
  42, 0x2a, -1            integers (range-checked against the type); for
                          __beNN types the host-order value, written in
                          network order; a __be32 also takes 10.0.0.1
  NAME                    an enumerator of an enum type
  '{"a": 1, "b": [1, 2]}' JSON for structs and arrays, as --json prints them
  hex:0a000001            raw bytes for any type (the exact size)
Without BTF only hex:… and integers (little-endian, the key's size) work.

Options:
  --pinned-dir <dir>      dump every map pinned in <dir> (and below, 3 levels)
  --flags <f>             set: any (default), noexist (only a new key),
                          exist (only an existing key)
  --json                  JSON on stdout: dump { path, map, entries: [{ key,
                          keyHex, value, valueHex } | { key, keyHex, values,
                          valuesHex, sum }] }; get one entry; set/delete
                          { ok, key, … }; --pinned-dir { dir, maps: [dump…] }

Set on a per-CPU map writes the value to every CPU.

Exit codes: 0 success, 1 the key is missing (get, delete, set --flags exist)
or the map refuses the data (set --flags noexist on an existing key, a full
map), 2 usage, a bad key or value, a path that is not a pinned map, or no
privileges (root or CAP_BPF).`;

interface EntryJson {
  key: Decoded;
  keyHex: string;
  value?: Decoded;
  valueHex?: string;
  values?: Decoded[];
  valuesHex?: string[];
  sum?: number | string;
}

/** Key or value text that does not fit the map's type: exit 2 with the reason, without the usage overview. */
class BadText extends Error {}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

class MapView {
  constructor(readonly map: PinnedMap) {}

  private typeId(which: "key" | "value"): number {
    return which === "key" ? this.map.info.btfKeyTypeId : this.map.info.btfValueTypeId;
  }

  private size(which: "key" | "value"): number {
    return which === "key" ? this.map.info.keySize : this.map.info.valueSize;
  }

  /** BTF for key or value, when the map has it and it agrees with the map's sizes. */
  private typed(which: "key" | "value"): number | undefined {
    const btf = this.map.btf;
    const id = this.typeId(which);
    if (!btf || id === 0) return undefined;
    try {
      return btf.sizeOf(id) === this.size(which) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  typeName(which: "key" | "value"): string | null {
    const id = this.typed(which);
    return id === undefined ? null : this.map.btf!.typeName(id);
  }

  format(which: "key" | "value", bytes: Uint8Array): Decoded {
    const id = this.typed(which);
    if (id === undefined) return hexText(bytes);
    try {
      return this.map.btf!.format(id, bytes);
    } catch {
      return hexText(bytes);
    }
  }

  parse(which: "key" | "value", text: string): Uint8Array {
    const id = this.typed(which);
    const size = this.size(which);
    try {
      if (id !== undefined) return this.map.btf!.parse(id, text);
      const bytes = parseHexText(text, size) ?? parseHostInt(text, size);
      if (bytes === undefined) throw new BtfError(`the map has no BTF for its ${which}: give hex:<${size} bytes> or an integer`);
      return bytes;
    } catch (e) {
      if (e instanceof BtfError) throw new BadText(`bad ${which} '${text}' for ${this.map.path}: ${e.message}`);
      throw e;
    }
  }

  /** The sum of per-CPU values when the value type is a plain (host-order) integer. */
  private sum(values: Uint8Array[]): number | string | undefined {
    const id = this.typed("value");
    if (id === undefined) return undefined;
    const { type, bigEndian } = this.map.btf!.resolve(id);
    if (type.kind !== 1 || bigEndian || (type.int!.encoding & 4) !== 0) return undefined;
    let total = 0n;
    for (const v of values) {
      const d = this.map.btf!.format(id, v);
      total += BigInt(d as number | string);
    }
    return Number.isSafeInteger(Number(total)) && BigInt(Number(total)) === total ? Number(total) : total.toString();
  }

  entry(key: Uint8Array, values: Uint8Array[]): EntryJson {
    const e: EntryJson = { key: this.format("key", key), keyHex: hex(key) };
    if (!this.map.perCpu) {
      e.value = this.format("value", values[0]!);
      e.valueHex = hex(values[0]!);
    } else {
      e.values = values.map((v) => this.format("value", v));
      e.valuesHex = values.map(hex);
      const s = this.sum(values);
      if (s !== undefined) e.sum = s;
    }
    return e;
  }

  header(count: number): Record<string, unknown> {
    const i = this.map.info;
    return {
      name: i.name,
      id: i.id,
      type: i.typeName,
      keySize: i.keySize,
      valueSize: i.valueSize,
      maxEntries: i.maxEntries,
      flags: i.flags,
      btfId: i.btfId,
      keyType: this.typeName("key"),
      valueType: this.typeName("value"),
      ...(this.map.perCpu ? { cpus: this.map.cpus } : {}),
      entries: count,
    };
  }

  title(count: number): string {
    const i = this.map.info;
    const kt = this.typeName("key");
    const vt = this.typeName("value");
    const btfNote = this.map.btf ? "" : `, no BTF${this.map.btfMissing ? ` (${this.map.btfMissing})` : ""}`;
    return (
      `${this.map.path}: ${i.typeName} '${i.name}' (id ${i.id}), key ${kt ? `${kt}, ` : ""}${i.keySize} bytes, value ${vt ? `${vt}, ` : ""}${i.valueSize} bytes, ` +
      `${count}/${i.maxEntries} entries${this.map.perCpu ? `, ${this.map.cpus} CPUs` : ""}${btfNote}`
    );
  }
}

/** A decoded value on one line, for people. */
export function showDecoded(d: Decoded): string {
  if (d === null) return "null";
  if (Array.isArray(d)) return `[${d.map(showDecoded).join(", ")}]`;
  if (typeof d === "object") {
    const keys = Object.keys(d);
    if (keys.length === 2 && "be" in d && "host" in d) return `${String(d.be)} (${String(d.host)})`;
    return `{ ${keys.map((k) => `${k}: ${showDecoded(d[k]!)}`).join(", ")} }`;
  }
  return String(d);
}

function showValue(e: EntryJson): string {
  if (e.values === undefined) return showDecoded(e.value ?? null);
  const per = e.values.map((v, cpu) => `cpu${cpu} ${showDecoded(v)}`).join(", ");
  return e.sum !== undefined ? `sum ${e.sum}  (${per})` : per;
}

function entryLines(entries: EntryJson[]): string[] {
  if (entries.length === 0) return ["  (empty)"];
  const keys = entries.map((e) => showDecoded(e.key));
  const width = Math.max(...keys.map((k) => k.length));
  return entries.map((e, i) => `  ${keys[i]!.padEnd(width)}  ${showValue(e)}`);
}

function withMap<T>(p: string, fn: (v: MapView) => T): T {
  const map = PinnedMap.open(p);
  try {
    return fn(new MapView(map));
  } finally {
    map.close();
  }
}

interface Dump {
  path: string;
  map: Record<string, unknown>;
  entries: EntryJson[];
}

function dump(v: MapView): { json: Dump; text: string[] } {
  const entries: EntryJson[] = [];
  for (const key of v.map.keys()) {
    const values = v.map.lookup(key);
    if (values) entries.push(v.entry(key, values)); // deleted meanwhile: skipped
  }
  return { json: { path: v.map.path, map: v.header(entries.length), entries }, text: [v.title(entries.length), ...entryLines(entries)] };
}

function out(json: boolean, value: unknown, text: string[]): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text.join("\n")}\n`);
}

function fail(json: boolean, kind: string, message: string, code: number): number {
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { kind, message } }, null, 2)}\n`);
  process.stderr.write(`tsxdp: ${message}\n`);
  return code;
}

const ACTIONS = ["dump", "get", "set", "delete"] as const;
type Action = (typeof ACTIONS)[number];
const ARITY: Record<Action, string[]> = { dump: ["<pinned-map>"], get: ["<pinned-map>", "<key>"], set: ["<pinned-map>", "<key>", "<value>"], delete: ["<pinned-map>", "<key>"] };

export const mapCommand: Command = {
  name: "map",
  usage: "map dump <pinned-map> | --pinned-dir <dir> [--json]\ntsxdp map get|delete <pinned-map> <key> [--json]\ntsxdp map set <pinned-map> <key> <value> [--flags any|noexist|exist] [--json]",
  help,
  run(argv) {
    // Negative numbers are keys and values, not options.
    const negative = (a: string) => /^-(\d|0x)/.test(a);
    const parsed = parseFlags("map", argv.map((a) => (negative(a) ? `\0${a}` : a)), { json: "boolean", flags: "string", "pinned-dir": "string" });
    const { flags, help: wantsHelp } = parsed;
    const positionals = parsed.positionals.map((a) => (a.startsWith("\0") ? a.slice(1) : a));
    if (wantsHelp) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    const [action, ...args] = positionals;
    if (action === undefined) throw new UsageError("'map' needs an action: dump, get, set or delete");
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown map action '${action}' (use dump, get, set or delete)`);
    const act = action as Action;
    const json = flags.json === true;
    const pinnedDir = typeof flags["pinned-dir"] === "string" ? flags["pinned-dir"] : undefined;
    if (pinnedDir !== undefined && act !== "dump") throw new UsageError("--pinned-dir goes with 'map dump' only");
    if (flags.flags !== undefined && act !== "set") throw new UsageError("--flags goes with 'map set' only");
    const updateFlag = (flags.flags ?? "any") as string;
    if (!["any", "noexist", "exist"].includes(updateFlag)) throw new UsageError(`unknown --flags '${updateFlag}' (use any, noexist or exist)`);
    const wanted = pinnedDir !== undefined ? [] : ARITY[act];
    if (args.length !== wanted.length) {
      throw new UsageError(`'map ${act}' takes ${wanted.length === 0 ? "no path with --pinned-dir" : wanted.join(" ")}${args.length > wanted.length ? `, got an extra '${args[wanted.length]}'` : `; missing ${wanted.slice(args.length).join(" ")}`}`);
    }

    try {
      if (pinnedDir !== undefined) {
        const dir = path.resolve(pinnedDir);
        let paths: string[];
        try {
          paths = pinnedMapsIn(dir);
        } catch (e) {
          return fail(json, "environment", `cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 2);
        }
        if (paths.length === 0) return fail(json, "environment", `no pinned maps in ${dir}`, 2);
        const dumps = paths.map((p) => withMap(p, dump));
        out(json, { dir, maps: dumps.map((d) => d.json) }, dumps.flatMap((d, i) => (i === 0 ? d.text : ["", ...d.text])));
        return 0;
      }
      const mapPath = path.resolve(args[0]!);
      return withMap(mapPath, (v) => {
        if (act === "dump") {
          const d = dump(v);
          out(json, d.json, d.text);
          return 0;
        }
        const keyText = args[1]!;
        const key = v.parse("key", keyText);
        if (act === "get") {
          const values = v.map.lookup(key);
          if (!values) return fail(json, "missing", `key ${keyText} is not in ${mapPath}`, 1);
          const e = v.entry(key, values);
          out(json, e, entryLines([e]));
          return 0;
        }
        if (act === "set") {
          const value = v.parse("value", args[2]!);
          v.map.update(key, value, updateFlag as MapUpdateFlag);
          const after = v.map.lookup(key);
          const e = after ? v.entry(key, after) : { key: v.format("key", key), keyHex: hex(key) };
          out(json, { ok: true, ...e }, [`updated ${mapPath}:`, ...entryLines([e])]);
          return 0;
        }
        const deleted = v.map.delete(key);
        if (!deleted) return fail(json, "missing", `key ${keyText} is not in ${mapPath}`, 1);
        out(json, { ok: true, key: v.format("key", key), keyHex: hex(key) }, [`deleted ${showDecoded(v.format("key", key))} from ${mapPath}`]);
        return 0;
      });
    } catch (e) {
      if (e instanceof PinnedMapError) return fail(json, e.kind, e.message, e.kind === "environment" ? 2 : 1);
      if (e instanceof LibbpfNotFoundError) return fail(json, "environment", e.message, 2);
      if (e instanceof BadText) return fail(json, "usage", e.message, 2);
      throw e;
    }
  },
};
