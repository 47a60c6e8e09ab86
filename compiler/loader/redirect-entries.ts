/**
 * Entries of DEVMAP, DEVMAP_HASH and CPUMAP maps as the kernel reads them:
 * `struct bpf_devmap_val { u32 ifindex; union { int fd; u32 id; } bpf_prog; }`
 * and `struct bpf_cpumap_val { u32 qsize; union { int fd; u32 id; } bpf_prog; }`
 * (include/uapi/linux/bpf.h). A 4-byte map (declared without
 * `programs: true`) holds the first member only. Userspace writes the
 * program's fd; lookups return its id.
 *
 * The kernel refuses a program whose expected attach type is not
 * BPF_XDP_DEVMAP / BPF_XDP_CPUMAP with a bare EINVAL, so programs of a
 * loaded object are checked here first, by their section.
 */
import { BpfError } from "./loader";

export const BPF_MAP_TYPE_DEVMAP = 14;
export const BPF_MAP_TYPE_CPUMAP = 16;
export const BPF_MAP_TYPE_DEVMAP_HASH = 25;

const EINVAL = 22;

export type RedirectMapKind = "devmap" | "cpumap";

/** "devmap" for DEVMAP and DEVMAP_HASH, "cpumap" for CPUMAP, otherwise undefined. */
export function redirectMapKind(type: number): RedirectMapKind | undefined {
  if (type === BPF_MAP_TYPE_DEVMAP || type === BPF_MAP_TYPE_DEVMAP_HASH) return "devmap";
  if (type === BPF_MAP_TYPE_CPUMAP) return "cpumap";
  return undefined;
}

/** A program to put in an entry: its name in the map's own object, or a loaded program (of any object). */
export type EntryProgram = string | { readonly fd: number; readonly name?: string; readonly section?: string };

/** What `updateEntry` writes: `ifindex` for a device map, `qsize` for a CPU map; `program` needs a map declared with `programs: true`. */
export interface RedirectEntry {
  readonly ifindex?: number;
  readonly qsize?: number;
  readonly program?: EntryProgram;
}

/** What `lookupEntry` reads: the first member and the program's id (0: none, or a 4-byte map). */
export interface RedirectEntryValue {
  readonly ifindex?: number;
  readonly qsize?: number;
  readonly programId: number;
}

/** The section a program of that kind must come from (libbpf sets the expected attach type from it). */
export function entryProgramProblem(kind: RedirectMapKind, mapName: string, prog: { name?: string; section?: string }): string | undefined {
  if (prog.section === undefined) return undefined;
  if (new RegExp(`^xdp(\\.frags)?/${kind}$`).test(prog.section)) return undefined;
  const declared = /^xdp(\.frags)?\/(devmap|cpumap)$/.test(prog.section) ? `xdp.${prog.section.endsWith("devmap") ? "devmap" : "cpumap"}(…)` : "xdp(…)";
  return (
    `program '${prog.name ?? "?"}' (section ${prog.section}) cannot run from ${kind} '${mapName}': the kernel takes only programs loaded for ` +
    `${kind === "devmap" ? "BPF_XDP_DEVMAP" : "BPF_XDP_CPUMAP"}; declare it with xdp.${kind}(…) (or xdp.frags.${kind}(…)) instead of ${declared}`
  );
}

function u32(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${what} must be a u32, got ${String(v)}`);
  return v;
}

/**
 * The value bytes of an entry. `programFd` is the fd of the resolved
 * program (undefined: no program). Throws BpfError (EINVAL) for an entry
 * that does not fit the map.
 */
export function encodeRedirectEntry(map: { name: string; type: number; valueSize: number }, entry: RedirectEntry, programFd: number | undefined): Uint8Array {
  const operation = `entry of map '${map.name}'`;
  const kind = redirectMapKind(map.type);
  if (kind === undefined) throw new BpfError(operation, EINVAL, `'${map.name}' is not a DEVMAP, DEVMAP_HASH or CPUMAP: write its values with update()`);
  if (typeof entry !== "object" || entry === null) throw new TypeError(`${operation}: expected { ${kind === "devmap" ? "ifindex" : "qsize"}, program? }`);
  const first = kind === "devmap" ? "ifindex" : "qsize";
  const other = kind === "devmap" ? "qsize" : "ifindex";
  if (entry[other] !== undefined) throw new BpfError(operation, EINVAL, `a ${kind} entry has \`${first}\`, not \`${other}\``);
  const value = u32(`${operation}: ${first}`, entry[first]);
  if (programFd !== undefined && map.valueSize < 8) {
    throw new BpfError(operation, EINVAL, `'${map.name}' holds no programs (value_size ${map.valueSize}): declare it with \`programs: true\``);
  }
  const out = new Uint8Array(map.valueSize);
  const view = new DataView(out.buffer);
  view.setUint32(0, value, true);
  // fd 0 or below is "no program" to the kernel (dev_map_update_elem, cpu_map_update_elem).
  if (map.valueSize >= 8) view.setInt32(4, programFd ?? 0, true);
  return out;
}

export function decodeRedirectEntry(type: number, bytes: Uint8Array): RedirectEntryValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getUint32(0, true);
  const programId = bytes.length >= 8 ? view.getUint32(4, true) : 0;
  return redirectMapKind(type) === "cpumap" ? { qsize: first, programId } : { ifindex: first, programId };
}
