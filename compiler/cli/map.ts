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
import fs from "node:fs";
import path from "node:path";
import { bpf } from "../loader/bpf-objects";
import { closeFd } from "../loader/libc";
import { LibbpfNotFoundError } from "../loader/libbpf";
import { findDevice } from "../loader/netdev";
import { PinnedMap, PinnedMapError, pinnedMapsIn, programMapIds } from "../loader/pinned-map";
import { decodeRedirectEntry, redirectMapKind } from "../loader/redirect-entries";
import type { MapUpdateFlag } from "../loader/maps";
import { BtfError, type Decoded, hexText, parseHexText, parseHostInt } from "../object/btf-types";
import { parseFlags, UsageError } from "./args";
import type { Command } from "./command";

const help = `Usage: tsxdp map dump <pinned-map> [--json]
       tsxdp map dump --pinned-dir <dir> [--json]
       tsxdp map dump (--dev <ifname> | --prog-id <n>) [<map-name>] [--json]
       tsxdp map get <map> <key> [--json]
       tsxdp map set <map> <key> <value> [--flags any|noexist|exist] [--program <pin|id>] [--json]
       tsxdp map delete <map> <key> [--json]
       tsxdp map get|delete <queue-or-stack> [--json]
       tsxdp map set <queue-stack-or-bloom-filter> <value> [--flags any|exist] [--json]

  where <map> is a pinned map's path, or with --dev <ifname> / --prog-id <n>
  the name of a map of that program, or nothing with --id <n>.

Reads and writes maps pinned in bpffs (tsxdp attach --pin <dir>/, bpftool
prog loadall … pinmaps <dir>, or LoadedMap.pin()), and the maps of programs
in the kernel: those of the program attached to a device (--dev), of a
program by id (--prog-id), or one map by id (--id). Keys and values are decoded
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

DEVMAP, DEVMAP_HASH and CPUMAP entries (which never have BTF) show as the
kernel's structs: the ifindex (a CPUMAP: the queue size), and for maps whose
entries hold programs (value_size 8) { ifindex, prog_id }. Their <value> is
the ifindex or queue size; --program puts a program into the entry.

Queues and stacks have no keys: get peeks at the next value, delete pops it
(exit 1 when empty), set pushes one (--flags exist: a full map drops its
oldest); dump shows the next value. A bloom filter is tested with get <map>
<value> (exit 1: certainly absent) and added to with set <map> <value>; it
cannot be listed or deleted from. A ring buffer is refused: its records are
read by a reader (openRingBuffer in tsxdp/loader). An ARRAY_OF_MAPS or
HASH_OF_MAPS shows each slot's map { id, name, type }; set puts a map in a
slot, by id or pinned path (it must match the inner template); delete
empties the slot.

Options:
  --pinned-dir <dir>      dump every map pinned in <dir> (and below, 3 levels)
  --dev <ifname>          the maps of the program(s) attached to <ifname>
  --prog-id <n>           the maps of program <n>
  --id <n>                the map with id <n>
  --program <pin|id>      set, on a DEVMAP/CPUMAP with programs: the entry's
                          program, pinned at <pin> or by id; it must have been
                          loaded for the entry (xdp.devmap / xdp.cpumap)
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

/**
 * Maps without key → value entries (enum bpf_map_type): a queue or stack is
 * read by peek and pop and written by push, a bloom filter tested and
 * pushed; a ring buffer's records are only for a reader.
 */
function keylessKind(type: number): "queue" | "bloom" | "ringbuf" | undefined {
  return type === 22 || type === 23 ? "queue" : type === 30 ? "bloom" : type === 27 ? "ringbuf" : undefined;
}

/** ARRAY_OF_MAPS and HASH_OF_MAPS: their values are inner map ids (fds when written). */
const isMapOfMaps = (type: number) => type === 12 || type === 13;

const ringBufRefusal = (where: string) =>
  `${where} is a ring buffer: its records are read in order by a reader, not by key (openRingBuffer(obj, name) in tsxdp/loader)`;

/** The map with id `id`, shown in a map of maps' slot. */
function innerMap(id: number): Decoded {
  try {
    const m = PinnedMap.openById(id);
    try {
      return { id, name: m.info.name, type: m.info.typeName };
    } finally {
      m.close();
    }
  } catch {
    return { id };
  }
}

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

  /** DEVMAP, DEVMAP_HASH or CPUMAP: the kernel fixes their layout, so they decode without BTF. */
  private get redirect(): boolean {
    return redirectMapKind(this.map.info.type) !== undefined && this.map.info.keySize === 4;
  }

  format(which: "key" | "value", bytes: Uint8Array): Decoded {
    if (which === "value" && isMapOfMaps(this.map.info.type) && bytes.length === 4) return innerMap(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true));
    const id = this.typed(which);
    // An ARRAY_OF_MAPS is indexed like an array (libbpf gives it no key BTF).
    if (id === undefined && which === "key" && this.map.info.type === 12 && bytes.length === 4) return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
    if (id === undefined && this.redirect && bytes.length >= 4) {
      const entry = decodeRedirectEntry(this.map.info.type, bytes);
      const first = entry.ifindex ?? entry.qsize!;
      if (which === "key" || bytes.length < 8) return first;
      return entry.ifindex !== undefined ? { ifindex: first, prog_id: entry.programId } : { qsize: first, prog_id: entry.programId };
    }
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
      if (this.redirect && which === "value" && !text.startsWith("hex:")) {
        // The ifindex or queue size; the program fd, when there is room for one, is added by `set`.
        const first = parseHostInt(text, 4);
        if (first === undefined) throw new BtfError(`give the ${redirectMapKind(this.map.info.type) === "cpumap" ? "queue size" : "ifindex"} as an integer, or hex:<${size} bytes>`);
        const bytes = new Uint8Array(size);
        bytes.set(first);
        return bytes;
      }
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

  /** `count` null: a queue's or stack's, which cannot be counted without taking its values out. */
  header(count: number | null): Record<string, unknown> {
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

  title(count: number | null): string {
    const i = this.map.info;
    const kt = this.typeName("key");
    const vt = this.typeName("value");
    const btfNote = this.map.btf ? "" : `, no BTF${this.map.btfMissing ? ` (${this.map.btfMissing})` : ""}`;
    return (
      `${this.map.path}: ${i.typeName} '${i.name}' (id ${i.id}), key ${kt ? `${kt}, ` : ""}${i.keySize} bytes, value ${vt ? `${vt}, ` : ""}${i.valueSize} bytes, ` +
      `${count === null ? `at most ${i.maxEntries}` : `${count}/${i.maxEntries}`} entries${this.map.perCpu ? `, ${this.map.cpus} CPUs` : ""}${btfNote}`
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

interface Dump {
  /** null for a map opened by id */
  path: string | null;
  map: Record<string, unknown>;
  entries: EntryJson[];
  /** a queue or stack: the value a pop would take, or null when empty */
  next?: { value: Decoded; valueHex: string } | null;
  /** why a bloom filter or ring buffer has no entries to show */
  note?: string;
}

function dump(v: MapView): { json: Dump; text: string[] } {
  const where = v.map.pinned ? v.map.path : null;
  const kind = keylessKind(v.map.info.type);
  if (kind === "queue") {
    const bytes = v.map.take(false);
    const next = bytes ? { value: v.format("value", bytes), valueHex: hex(bytes) } : null;
    return { json: { path: where, map: v.header(null), entries: [], next }, text: [v.title(null), next ? `  next  ${showDecoded(next.value)}` : "  (empty)"] };
  }
  if (kind !== undefined) {
    const note = kind === "bloom" ? "a bloom filter cannot be listed: test a value with `tsxdp map get <map> <value>`" : ringBufRefusal("this map");
    return { json: { path: where, map: v.header(0), entries: [], note }, text: [v.title(0), `  (${note})`] };
  }
  const entries: EntryJson[] = [];
  for (const key of v.map.keys()) {
    const values = v.map.lookup(key);
    if (values) entries.push(v.entry(key, values)); // deleted meanwhile: skipped
  }
  return { json: { path: where, map: v.header(entries.length), entries }, text: [v.title(entries.length), ...entryLines(entries)] };
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

/** Where the maps come from: a pin (the default), a directory of pins, a program's maps, or one map id. */
type Source = { kind: "pin" } | { kind: "dir"; dir: string } | { kind: "programs"; what: string; ids: number[] } | { kind: "id"; id: number };

function positiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0 || Number(v) > 0xffff_ffff) throw new UsageError(`${flag} takes a positive integer id, got '${v}'`);
  return Number(v);
}

/** The programs attached to a device, in every mode, or a usage-style failure. */
function deviceProgramIds(dev: string): { ids: number[]; what: string } | string {
  const d = findDevice(/^\d+$/.test(dev) ? Number(dev) : dev);
  if (!d) return `no network device '${dev}' in this network namespace (see: ip link)`;
  const ids = [...new Set(Object.values(d.xdp).filter((id) => id !== 0))];
  if (ids.length === 0) return `${d.name} runs no XDP program`;
  return { ids, what: d.name };
}

/** Maps of the programs `ids` (each map once), opened; the caller closes them. */
function openProgramMaps(ids: readonly number[]): PinnedMap[] {
  const mapIds = [...new Set(ids.flatMap((id) => programMapIds(id)))];
  const maps: PinnedMap[] = [];
  try {
    for (const id of mapIds) maps.push(PinnedMap.openById(id));
  } catch (e) {
    for (const m of maps) m.close();
    throw e;
  }
  return maps;
}

/**
 * An fd of the program `ref` names: a number is a program id, anything else
 * a pinned program. Thrown as a PinnedMapError ("environment") when it is not one.
 */
function programFd(ref: string): number {
  let fd: number;
  if (/^\d+$/.test(ref)) {
    fd = bpf().bpf_prog_get_fd_by_id(Number(ref));
    if (fd < 0) throw new PinnedMapError(`--program ${ref}: no program with that id (see: bpftool prog list)`, "environment", -fd);
    return fd;
  }
  const p = path.resolve(ref);
  fd = bpf().bpf_obj_get(p);
  if (fd < 0) throw new PinnedMapError(`--program ${p}: nothing pinned there (give a pinned program's path or a program id)`, "environment", -fd);
  let kind = "";
  try {
    kind = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    /* unknown: the kernel decides */
  }
  if (kind !== "" && kind !== "anon_inode:bpf-prog") {
    closeFd(fd);
    throw new PinnedMapError(`--program ${p} is ${kind === "anon_inode:bpf-map" ? "a map" : kind === "anon_inode:bpf_link" ? "a link" : kind}, not a program`, "environment");
  }
  return fd;
}

/** get (peek), delete (pop) and set (push) on a queue or stack; set (push) on a bloom filter. */
function keylessCommand(v: MapView, act: "get" | "set" | "delete", text: string | undefined, flag: string, json: boolean): number {
  const where = v.map.path;
  if (act === "set") {
    if (flag === "noexist" || (flag === "exist" && keylessKind(v.map.info.type) === "bloom")) {
      throw new UsageError(`--flags ${flag} does not apply to a ${v.map.info.typeName}${flag === "exist" ? "" : " (exist: a full queue or stack drops its oldest value)"}`);
    }
    const value = v.parse("value", text!);
    v.map.push(value, flag as "any" | "exist");
    const shown = v.format("value", value);
    out(json, { ok: true, value: shown, valueHex: hex(value) }, [`pushed ${showDecoded(shown)} onto ${where}`]);
    return 0;
  }
  const bytes = v.map.take(act === "delete");
  if (!bytes) return fail(json, "missing", `${where} is empty`, 1);
  const shown = v.format("value", bytes);
  out(json, act === "delete" ? { ok: true, value: shown, valueHex: hex(bytes) } : { value: shown, valueHex: hex(bytes) }, [act === "delete" ? `popped ${showDecoded(shown)} from ${where}` : `  ${showDecoded(shown)}`]);
  return 0;
}

export const mapCommand: Command = {
  name: "map",
  usage:
    "map dump <pinned-map> | --pinned-dir <dir> | --dev <ifname> | --prog-id <n> | --id <n> [--json]\n" +
    "tsxdp map get|delete <pinned-map> <key> | (--dev <ifname> | --prog-id <n>) <map-name> <key> | --id <n> <key> [--json]\n" +
    "tsxdp map set <map> <key> <value> [--flags any|noexist|exist] [--program <pin|id>] [--json]",
  help,
  run(argv) {
    // Negative numbers are keys and values, not options.
    const negative = (a: string) => /^-(\d|0x)/.test(a);
    const parsed = parseFlags("map", argv.map((a) => (negative(a) ? `\0${a}` : a)), { json: "boolean", flags: "string", "pinned-dir": "string", dev: "string", "prog-id": "string", id: "string", program: "string" });
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
    const str = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
    const pinnedDir = str("pinned-dir");
    const dev = str("dev");
    const progId = str("prog-id");
    const mapId = str("id");
    const program = str("program");
    const chosen = [pinnedDir !== undefined && "--pinned-dir", dev !== undefined && "--dev", progId !== undefined && "--prog-id", mapId !== undefined && "--id"].filter(Boolean);
    if (chosen.length > 1) throw new UsageError(`${chosen.join(" and ")} exclude each other: choose where the maps come from once`);
    if (pinnedDir !== undefined && act !== "dump") throw new UsageError("--pinned-dir goes with 'map dump' only");
    if (flags.flags !== undefined && act !== "set") throw new UsageError("--flags goes with 'map set' only");
    if (program !== undefined && act !== "set") throw new UsageError("--program goes with 'map set' only");
    const updateFlag = (flags.flags ?? "any") as string;
    if (!["any", "noexist", "exist"].includes(updateFlag)) throw new UsageError(`unknown --flags '${updateFlag}' (use any, noexist or exist)`);

    const byProgram = dev !== undefined || progId !== undefined;
    // With --dev/--prog-id the map is named (optional for dump); with --id or --pinned-dir, not at all.
    const wanted = pinnedDir !== undefined || mapId !== undefined ? ARITY[act].slice(1) : byProgram ? ["<map-name>", ...ARITY[act].slice(1)] : ARITY[act];
    const optionalName = byProgram && act === "dump";
    const arityError = () => {
      const what = wanted.length === 0 ? `no more arguments${pinnedDir !== undefined ? " with --pinned-dir" : mapId !== undefined ? " with --id" : ""}` : wanted.join(" ");
      return new UsageError(`'map ${act}' takes ${what}${args.length > wanted.length ? `, got an extra '${args[wanted.length]}'` : `; missing ${wanted.slice(args.length).join(" ")}`}`);
    };
    // Without a key: get (peek) and delete (pop) on a queue or stack, set (push) on a keyless map; checked once the map is open.
    const keyless = act !== "dump" && pinnedDir === undefined && args.length === wanted.length - 1;
    if (args.length !== wanted.length && !(optionalName && args.length === 0) && !keyless) throw arityError();
    let source: Source = { kind: "pin" };
    if (pinnedDir !== undefined) source = { kind: "dir", dir: path.resolve(pinnedDir) };
    else if (mapId !== undefined) source = { kind: "id", id: positiveInt("--id", mapId) };
    else if (progId !== undefined) source = { kind: "programs", what: `program ${positiveInt("--prog-id", progId)}`, ids: [Number(progId)] };
    const rest = source.kind === "pin" || byProgram ? args.slice(1) : args;

    try {
      if (dev !== undefined) {
        const found = deviceProgramIds(dev);
        if (typeof found === "string") return fail(json, "environment", found, 2);
        source = { kind: "programs", what: `${found.what} (program${found.ids.length > 1 ? "s" : ""} ${found.ids.join(", ")})`, ids: found.ids };
      }
      if (source.kind === "dir" || (source.kind === "programs" && act === "dump" && args.length === 0)) {
        let views: PinnedMap[];
        const label = source.kind === "dir" ? source.dir : source.what;
        if (source.kind === "dir") {
          let paths: string[];
          try {
            paths = pinnedMapsIn(source.dir);
          } catch (e) {
            return fail(json, "environment", `cannot read ${source.dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 2);
          }
          if (paths.length === 0) return fail(json, "environment", `no pinned maps in ${source.dir}`, 2);
          views = [];
          try {
            for (const p of paths) views.push(PinnedMap.open(p));
          } catch (e) {
            for (const m of views) m.close();
            throw e;
          }
        } else {
          views = openProgramMaps(source.ids);
          if (views.length === 0) return fail(json, "environment", `${label} uses no maps`, 2);
        }
        try {
          const dumps = views.map((m) => dump(new MapView(m)));
          const head = source.kind === "dir" ? { dir: source.dir } : { programs: source.ids, ...(dev !== undefined ? { device: dev } : {}) };
          out(json, { ...head, maps: dumps.map((d) => d.json) }, [...(source.kind === "programs" ? [`maps of ${label}:`, ""] : []), ...dumps.flatMap((d, i) => (i === 0 ? d.text : ["", ...d.text]))]);
        } finally {
          for (const m of views) m.close();
        }
        return 0;
      }

      let map: PinnedMap;
      if (source.kind === "id") map = PinnedMap.openById(source.id);
      else if (source.kind === "programs") {
        const name = args[0]!;
        const all = openProgramMaps(source.ids);
        const hit = all.find((m) => m.info.name === name);
        for (const m of all) if (m !== hit) m.close();
        if (!hit) return fail(json, "environment", `${source.what} has no map named '${name}' (its maps: ${all.map((m) => `'${m.info.name}'`).join(", ") || "none"})`, 2);
        map = hit;
      } else map = PinnedMap.open(path.resolve(args[0]!));
      const where = map.path;
      try {
        const v = new MapView(map);
        const kind = keylessKind(map.info.type);
        if (kind === "ringbuf") return fail(json, "usage", ringBufRefusal(where), 2);
        if (act === "dump") {
          const d = dump(v);
          out(json, d.json, d.text);
          return 0;
        }
        if (kind === "queue" || (kind === "bloom" && act !== "get")) {
          if (act === "delete" && kind === "bloom") return fail(json, "usage", `values cannot be removed from a bloom filter (${where})`, 2);
          if (!keyless) throw new UsageError(`${where} is a ${map.info.typeName}: it has no keys (map get|delete <map> to peek|pop, map set <map> <value> to push)`);
          return keylessCommand(v, act, rest[0], updateFlag, json);
        }
        if (keyless && kind === "bloom") throw new UsageError(`'map get' on a bloom filter takes the value to test: map get <map> <value>`);
        if (keyless) throw arityError();
        if (kind === "bloom") {
          const value = v.parse("value", rest[0]!);
          const shown = showDecoded(v.format("value", value));
          if (!v.map.contains(value)) return fail(json, "missing", `${shown} is not in ${where}`, 1);
          out(json, { value: v.format("value", value), valueHex: hex(value), present: true }, [`${shown} may be in ${where} (a bloom filter can wrongly say yes, never wrongly no)`]);
          return 0;
        }
        const keyText = rest[0]!;
        const key = v.parse("key", keyText);
        if (act === "get") {
          const values = v.map.lookup(key);
          if (!values) return fail(json, "missing", `key ${keyText} is not in ${where}`, 1);
          const e = v.entry(key, values);
          out(json, e, entryLines([e]));
          return 0;
        }
        if (act === "set" && isMapOfMaps(map.info.type)) {
          // The slot takes a map: by id, or pinned; the kernel checks it against the inner template.
          const text = rest[1]!;
          if (program !== undefined) throw new BadText(`--program is for DEVMAP, DEVMAP_HASH and CPUMAP entries; ${where} is a ${map.info.typeName}`);
          const inner = /^\d+$/.test(text) ? PinnedMap.openById(Number(text)) : PinnedMap.open(path.resolve(text));
          try {
            const fd = new Uint8Array(4);
            new DataView(fd.buffer).setUint32(0, inner.handle, true);
            v.map.update(key, fd, updateFlag as MapUpdateFlag);
          } finally {
            inner.close();
          }
          const after = v.map.lookup(key);
          const e = after ? v.entry(key, after) : { key: v.format("key", key), keyHex: hex(key) };
          out(json, { ok: true, ...e }, [`updated ${where}:`, ...entryLines([e])]);
          return 0;
        }
        if (act === "set") {
          const value = v.parse("value", rest[1]!);
          if (program !== undefined) {
            const kind = redirectMapKind(map.info.type);
            if (kind === undefined) throw new BadText(`--program is for DEVMAP, DEVMAP_HASH and CPUMAP entries; ${where} is a ${map.info.typeName}`);
            if (map.info.valueSize < 8) throw new BadText(`${where} holds no programs (value_size ${map.info.valueSize}): declare the map with \`programs: true\``);
            const fd = programFd(program);
            try {
              new DataView(value.buffer, value.byteOffset).setInt32(4, fd, true);
              v.map.update(key, value, updateFlag as MapUpdateFlag);
            } catch (e) {
              if (e instanceof PinnedMapError && e.errno === 22) {
                throw new PinnedMapError(`the kernel refused program ${program} for a ${kind} entry of ${where}: it must be an XDP program loaded for BPF_XDP_${kind.toUpperCase()} (declared xdp.${kind}(…)), and all programs of one map must agree on frags`, "data", 22);
              }
              throw e;
            } finally {
              closeFd(fd);
            }
          } else v.map.update(key, value, updateFlag as MapUpdateFlag);
          const after = v.map.lookup(key);
          const e = after ? v.entry(key, after) : { key: v.format("key", key), keyHex: hex(key) };
          out(json, { ok: true, ...e }, [`updated ${where}:`, ...entryLines([e])]);
          return 0;
        }
        const deleted = v.map.delete(key);
        if (!deleted) return fail(json, "missing", `key ${keyText} is not in ${where}`, 1);
        out(json, { ok: true, key: v.format("key", key), keyHex: hex(key) }, [`deleted ${showDecoded(v.format("key", key))} from ${where}`]);
        return 0;
      } finally {
        map.close();
      }
    } catch (e) {
      if (e instanceof PinnedMapError) return fail(json, e.kind, e.message, e.kind === "environment" ? 2 : 1);
      if (e instanceof LibbpfNotFoundError) return fail(json, "environment", e.message, 2);
      if (e instanceof BadText) return fail(json, "usage", e.message, 2);
      throw e;
    }
  },
};
