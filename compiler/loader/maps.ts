/**
 * Userspace access to the maps of a loaded object: lookup, update, delete,
 * key iteration, info and pinning, over libbpf's size-checked bpf_map__*
 * calls.
 *
 * Design invariants:
 * - A LoadedMap never outlives its object: every operation first checks that
 *   the owning LoadedObject is open (its fd is -1 afterwards), because
 *   libbpf closes the map fds in bpf_object__close.
 * - Sizes are checked here before libbpf sees them, so a wrong key or value
 *   size is a BpfError (EINVAL) that says which size was expected; libbpf's
 *   own check stays behind it as a second line.
 * - Per-CPU values cross the boundary as one buffer of
 *   round_up(valueSize, 8) * possible-CPUs bytes (the kernel's layout);
 *   callers only ever see one valueSize-byte buffer per CPU.
 * - Buffers handed to libbpf are plain JS memory: every call is synchronous
 *   and libbpf keeps no pointer to them afterwards.
 */
import koffi from "koffi";
import { BpfMapInfo, libbpf } from "./libbpf";
import type { BpfMapInfoStruct, Ptr } from "./libbpf";
import { BpfError } from "./loader";
import { decodeRedirectEntry, encodeRedirectEntry, entryProgramProblem, redirectMapKind } from "./redirect-entries";
import type { RedirectEntry, RedirectEntryValue } from "./redirect-entries";

export interface MapInfo {
  /** the kernel's name for the map (at most 15 characters) */
  readonly name: string;
  /** enum bpf_map_type */
  readonly type: number;
  /** "hash", "array", "percpu_array", … (libbpf_bpf_map_type_str) */
  readonly typeName: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly id: number;
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
}

export type MapUpdateFlag = "any" | "noexist" | "exist";

export interface LoadedMap {
  /** as libbpf names it: internal maps are e.g. "xdp_maps.bss" */
  readonly name: string;
  /** the map fd; -1 once the object is closed */
  readonly fd: number;
  info(): MapInfo;
  /** Per-CPU maps: true; otherwise false and the value is one buffer of valueSize bytes. */
  readonly perCpu: boolean;
  /** The number of possible CPUs (libbpf_num_possible_cpus): the number of values of a per-CPU map. */
  readonly cpus: number;
  /** Non-per-CPU maps: the value (a copy), or undefined when the key is absent. */
  lookup(key: Uint8Array): Uint8Array | undefined;
  /** Per-CPU maps: one valueSize-byte buffer per possible CPU, or undefined when the key is absent. */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined;
  /** One buffer for a plain map, one per possible CPU for a per-CPU map. Default flags "any". */
  update(key: Uint8Array, value: Uint8Array | Uint8Array[], flags?: MapUpdateFlag): void;
  /** false when the key is absent (ENOENT) */
  delete(key: Uint8Array): boolean;
  /** every key, in the kernel's iteration order (bpf_map_get_next_key) */
  keys(): Uint8Array[];
  pin(path: string): void;
  /** Queues and stacks: adds a value ("exist": a full one drops its oldest to make room); bloom filters: adds a value. */
  push(value: Uint8Array, flags?: "any" | "exist"): void;
  /** Queues and stacks: takes the next value out (lookup-and-delete with no key), or undefined when empty. */
  pop(): Uint8Array | undefined;
  /** Queues and stacks: the next value, left in place, or undefined when empty. */
  peek(): Uint8Array | undefined;
  /** Bloom filters: whether `value` may have been pushed (false: it certainly was not). */
  contains(value: Uint8Array): boolean;
  /** PROG_ARRAY maps: puts the object's program `program` (by name) at `index` for tail calls, or empties the entry (null). */
  setProgram(index: number, program: string | null): void;
  /**
   * DEVMAP, DEVMAP_HASH and CPUMAP: writes entry `key` (an index, a hash key
   * or a CPU) as the kernel's struct: `{ ifindex }` or `{ qsize }`, and in a
   * map declared with `programs: true` a `program` run on the entry's packets,
   * by name in this object or a LoadedProgram, which must be an `xdp.devmap` /
   * `xdp.cpumap` program (checked before the kernel sees it).
   */
  updateEntry(key: number, entry: RedirectEntry, flags?: MapUpdateFlag): void;
  /** The entry at `key` of a DEVMAP, DEVMAP_HASH or CPUMAP, with its program's id (0 for none), or undefined. */
  lookupEntry(key: number): RedirectEntryValue | undefined;
  /**
   * ARRAY_OF_MAPS and HASH_OF_MAPS: puts `inner` (a LoadedMap, or a map fd)
   * in slot `key`, which must match the inner template (class, key and value
   * sizes, flags); null empties the slot.
   */
  setInner(key: Uint8Array, inner: LoadedMap | number | null): void;
  /** The id of the map in slot `key` of a map of maps (what the kernel returns), or undefined when the slot is empty. */
  innerId(key: Uint8Array): number | undefined;
}

/** What a map needs from the object that owns it (loader.ts `Loaded`). */
export interface MapOwner {
  readonly closed: boolean;
  capture<T>(fn: () => T): T;
  /** a program of the same object, by name; throws if absent */
  program(name: string): { readonly fd: number; readonly name: string; readonly section: string };
}

// linux/bpf.h
const EINVAL = 22;
const ENOENT = 2;
const EEXIST = 17;
const E2BIG = 7;
const EPERM = 1;
const ENOTSUPP = 524; // kernel-internal, leaks out of some map ops
const EOPNOTSUPP = 95;

const BPF_MAP_TYPE_ARRAY = 2;
const BPF_MAP_TYPE_PERCPU_HASH = 5;
const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
const BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21;
const PER_CPU_TYPES = new Set([
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
]);
const ARRAY_LIKE_TYPES = new Set([BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY]);
const BPF_MAP_TYPE_QUEUE = 22;
const BPF_MAP_TYPE_PROG_ARRAY = 3;
const BPF_MAP_TYPE_STACK = 23;
const BPF_MAP_TYPE_BLOOM_FILTER = 30;
const MAPS_OF_MAPS = new Set([12, 13]); // BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS
const EBADF = 9;

const UPDATE_FLAGS: Record<MapUpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };

/** libbpf's name for an enum bpf_map_type value, or `unknown(N)`. */
export function mapTypeName(type: number): string {
  let name: string | null = null;
  try {
    name = libbpf().libbpf_bpf_map_type_str(type);
  } catch {
    /* libbpf missing: fall through */
  }
  return name ?? `unknown(${type})`;
}

let possibleCpus: number | undefined;

function numPossibleCpus(): number {
  if (possibleCpus !== undefined) return possibleCpus;
  const n = libbpf().libbpf_num_possible_cpus();
  if (n <= 0) throw new BpfError("libbpf_num_possible_cpus()", n < 0 ? -n : EINVAL, "cannot size per-CPU values");
  possibleCpus = n;
  return n;
}

/** Every map of a loaded object, in libbpf's order (user maps, then .rodata/.data/.bss, …). */
export function collectMaps(owner: MapOwner, obj: Ptr): LoadedMap[] {
  const lb = libbpf();
  const maps: LoadedMap[] = [];
  for (let m = lb.bpf_object__next_map(obj, null); m !== null; m = lb.bpf_object__next_map(obj, m)) {
    maps.push(new BpfMap(owner, m));
  }
  return maps;
}

/**
 * The map called `name`: the libbpf name first, then libbpf's own lookup,
 * which also knows internal maps by their section (".bss", ".rodata", …).
 */
export function findMap(maps: readonly LoadedMap[], obj: Ptr | null, name: string): LoadedMap {
  const exact = maps.find((m) => m.name === name);
  if (exact) return exact;
  if (obj !== null) {
    const ptr = libbpf().bpf_object__find_map_by_name(obj, name);
    const viaLibbpf = ptr === null ? undefined : maps.find((m) => m instanceof BpfMap && m.ptr === ptr);
    if (viaLibbpf) return viaLibbpf;
  }
  const known = maps.map((m) => `'${m.name}'`).join(", ") || "none";
  throw new Error(`no map named '${name}' in this object (maps: ${known})`);
}

function checkBytes(what: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}

class BpfMap implements LoadedMap {
  readonly name: string;
  readonly perCpu: boolean;
  readonly cpus: number;
  private readonly mapFd: number;
  private readonly type: number;
  private readonly keySize: number;
  private readonly valueSize: number;
  private readonly maxEntries: number;
  /** bytes between two CPUs' values in the kernel's per-CPU layout */
  private readonly stride: number;

  constructor(
    private readonly owner: MapOwner,
    readonly ptr: Ptr,
  ) {
    const lb = libbpf();
    this.name = lb.bpf_map__name(ptr);
    this.mapFd = lb.bpf_map__fd(ptr);
    this.type = lb.bpf_map__type(ptr);
    this.keySize = lb.bpf_map__key_size(ptr);
    this.valueSize = lb.bpf_map__value_size(ptr);
    this.maxEntries = lb.bpf_map__max_entries(ptr);
    this.perCpu = PER_CPU_TYPES.has(this.type);
    this.cpus = numPossibleCpus();
    this.stride = Math.ceil(this.valueSize / 8) * 8;
  }

  get fd(): number {
    return this.owner.closed ? -1 : this.mapFd;
  }

  private live(operation: string): void {
    if (this.owner.closed) throw new Error(`${operation}: map '${this.name}' belongs to a closed object`);
    if (this.mapFd < 0) throw new BpfError(`${operation}: map '${this.name}' was not created`, -this.mapFd || EINVAL);
  }

  private checkKey(operation: string, key: unknown): asserts key is Uint8Array {
    checkBytes(`${operation}: key`, key);
    if (key.length !== this.keySize) {
      throw new BpfError(operation, EINVAL, `the key must be ${this.keySize} bytes (key_size of '${this.name}'), got ${key.length}`);
    }
  }

  private get isArray(): boolean {
    return ARRAY_LIKE_TYPES.has(this.type);
  }

  private get perCpuSize(): number {
    return this.stride * this.cpus;
  }

  info(): MapInfo {
    this.live("info()");
    const size = koffi.sizeof(BpfMapInfo);
    const buf = Buffer.alloc(size);
    const len: [number] = [size];
    const rc = this.owner.capture(() => libbpf().bpf_obj_get_info_by_fd(this.mapFd, buf, len));
    if (rc < 0) throw new BpfError(`bpf_obj_get_info_by_fd(map '${this.name}')`, -rc);
    const raw = koffi.decode(buf, BpfMapInfo) as BpfMapInfoStruct;
    return {
      name: raw.name,
      type: raw.type,
      typeName: mapTypeName(raw.type),
      keySize: raw.key_size,
      valueSize: raw.value_size,
      maxEntries: raw.max_entries,
      flags: raw.map_flags,
      id: raw.id,
      btfKeyTypeId: raw.btf_key_type_id,
      btfValueTypeId: raw.btf_value_type_id,
    };
  }

  /** The raw value (valueSize bytes, or the whole per-CPU block), or undefined on ENOENT. */
  private lookupRaw(operation: string, key: Uint8Array, size: number): Uint8Array | undefined {
    const out = new Uint8Array(size);
    const rc = this.owner.capture(() => libbpf().bpf_map__lookup_elem(this.ptr, key, key.length, out, size, 0));
    if (rc === -ENOENT) return undefined;
    if (rc < 0) throw new BpfError(operation, -rc, this.hint("lookup", -rc, key));
    return out;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const operation = `lookup in map '${this.name}'`;
    this.live(operation);
    this.checkKey(operation, key);
    if (this.perCpu) throw new BpfError(operation, EINVAL, `'${this.name}' is a per-CPU map: use lookupPerCpu()`);
    return this.lookupRaw(operation, key, this.valueSize);
  }

  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    const operation = `per-CPU lookup in map '${this.name}'`;
    this.live(operation);
    this.checkKey(operation, key);
    if (!this.perCpu) throw new BpfError(operation, EINVAL, `'${this.name}' is not a per-CPU map: use lookup()`);
    const raw = this.lookupRaw(operation, key, this.perCpuSize);
    if (raw === undefined) return undefined;
    const values: Uint8Array[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++) values.push(raw.slice(cpu * this.stride, cpu * this.stride + this.valueSize));
    return values;
  }

  update(key: Uint8Array, value: Uint8Array | Uint8Array[], flags: MapUpdateFlag = "any"): void {
    const operation = `update of map '${this.name}'`;
    this.live(operation);
    this.checkKey(operation, key);
    const flagBits = Object.hasOwn(UPDATE_FLAGS, flags) ? UPDATE_FLAGS[flags] : undefined;
    if (flagBits === undefined) throw new RangeError(`${operation}: flags must be "any", "noexist" or "exist" (got ${String(flags)})`);

    let bytes: Uint8Array;
    if (this.perCpu) {
      if (!Array.isArray(value)) {
        throw new BpfError(operation, EINVAL, `'${this.name}' is a per-CPU map: pass an array of ${this.cpus} values (one per possible CPU)`);
      }
      if (value.length !== this.cpus) {
        throw new BpfError(operation, EINVAL, `a per-CPU value needs one buffer per possible CPU: ${this.cpus}, got ${value.length}`);
      }
      bytes = new Uint8Array(this.perCpuSize);
      value.forEach((v, cpu) => {
        checkBytes(`${operation}: value for CPU ${cpu}`, v);
        if (v.length !== this.valueSize) {
          throw new BpfError(operation, EINVAL, `the value for CPU ${cpu} must be ${this.valueSize} bytes (value_size of '${this.name}'), got ${v.length}`);
        }
        bytes.set(v, cpu * this.stride);
      });
    } else {
      if (Array.isArray(value)) throw new BpfError(operation, EINVAL, `'${this.name}' is not a per-CPU map: pass one value, not an array`);
      checkBytes(`${operation}: value`, value);
      if (value.length !== this.valueSize) {
        throw new BpfError(operation, EINVAL, `the value must be ${this.valueSize} bytes (value_size of '${this.name}'), got ${value.length}`);
      }
      bytes = value;
    }
    const rc = this.owner.capture(() => libbpf().bpf_map__update_elem(this.ptr, key, key.length, bytes, bytes.length, flagBits));
    if (rc < 0) throw new BpfError(operation, -rc, this.hint("update", -rc, key, flags));
  }

  delete(key: Uint8Array): boolean {
    const operation = `delete from map '${this.name}'`;
    this.live(operation);
    this.checkKey(operation, key);
    const rc = this.owner.capture(() => libbpf().bpf_map__delete_elem(this.ptr, key, key.length, 0));
    if (rc === -ENOENT) return false;
    if (rc < 0) throw new BpfError(operation, -rc, this.hint("delete", -rc, key));
    return true;
  }

  keys(): Uint8Array[] {
    const operation = `key iteration of map '${this.name}'`;
    this.live(operation);
    if (this.keySize === 0) throw new BpfError(operation, EINVAL, `a ${mapTypeName(this.type)} map has no keys${this.type === BPF_MAP_TYPE_BLOOM_FILTER ? ": test values with contains()" : ": read it with pop() or peek()"}`);
    const lb = libbpf();
    const keys: Uint8Array[] = [];
    const seen = new Set<string>();
    // A hash map restarts from its first key when the current one was deleted
    // meanwhile (by the program, or by LRU eviction): duplicates are dropped
    // and the walk is bounded so a busy map cannot keep it going forever.
    const bound = 4 * this.maxEntries + 16;
    let prev: Uint8Array | null = null;
    for (let step = 0; step < bound; step++) {
      const next = new Uint8Array(this.keySize);
      const cur = prev;
      const rc = this.owner.capture(() => lb.bpf_map__get_next_key(this.ptr, cur, next, this.keySize));
      if (rc === -ENOENT) break;
      if (rc < 0) throw new BpfError(operation, -rc, this.hint("iterate", -rc, next));
      const id = Buffer.from(next.buffer, next.byteOffset, next.byteLength).toString("hex");
      if (!seen.has(id)) {
        seen.add(id);
        keys.push(next);
      }
      prev = next;
    }
    return keys;
  }

  updateEntry(key: number, entry: RedirectEntry, flags: MapUpdateFlag = "any"): void {
    const operation = `update of map '${this.name}'`;
    this.live(operation);
    const kind = redirectMapKind(this.type);
    if (kind === undefined) throw new BpfError(operation, EINVAL, `updateEntry() is for DEVMAP, DEVMAP_HASH and CPUMAP maps; '${this.name}' is a ${mapTypeName(this.type)}: use update()`);
    let programFd: number | undefined;
    const ref = entry?.program;
    if (ref !== undefined) {
      const prog = typeof ref === "string" ? this.owner.program(ref) : ref;
      const problem = entryProgramProblem(kind, this.name, prog);
      if (problem) throw new BpfError(operation, EINVAL, problem);
      if (!Number.isInteger(prog.fd) || prog.fd <= 0) throw new BpfError(operation, EINVAL, `program '${prog.name ?? "?"}' has no fd (its object is closed?)`);
      programFd = prog.fd;
    }
    const value = encodeRedirectEntry({ name: this.name, type: this.type, valueSize: this.valueSize }, entry, programFd);
    try {
      this.update(u32Key(key), value, flags);
    } catch (e) {
      // The kernel's EINVAL for a program it will not run from this map (expected attach type, frags).
      if (e instanceof BpfError && e.errno === EINVAL && programFd !== undefined) {
        throw new BpfError(operation, EINVAL, `the kernel refused the program for a ${kind} entry: it must be an XDP program loaded for BPF_XDP_${kind.toUpperCase()} (xdp.${kind}(…)), and all programs of one map must agree on frags`);
      }
      throw e;
    }
  }

  lookupEntry(key: number): RedirectEntryValue | undefined {
    const operation = `lookup in map '${this.name}'`;
    this.live(operation);
    if (redirectMapKind(this.type) === undefined) throw new BpfError(operation, EINVAL, `lookupEntry() is for DEVMAP, DEVMAP_HASH and CPUMAP maps; '${this.name}' is a ${mapTypeName(this.type)}: use lookup()`);
    const bytes = this.lookup(u32Key(key));
    return bytes === undefined ? undefined : decodeRedirectEntry(this.type, bytes);
  }

  /** The value argument of a keyless map's operation, checked; throws unless the map is one of `types`. */
  private keyless(operation: string, types: readonly number[], value?: unknown): void {
    this.live(operation);
    if (!types.includes(this.type)) throw new BpfError(operation, EINVAL, `'${this.name}' is a ${mapTypeName(this.type)} map; this works on ${types.map(mapTypeName).join(" and ")} maps`);
    if (value === undefined) return;
    checkBytes(`${operation}: value`, value);
    if (value.length !== this.valueSize) throw new BpfError(operation, EINVAL, `the value must be ${this.valueSize} bytes (value_size of '${this.name}'), got ${value.length}`);
  }

  push(value: Uint8Array, flags: "any" | "exist" = "any"): void {
    const operation = `push onto map '${this.name}'`;
    this.keyless(operation, [BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK, BPF_MAP_TYPE_BLOOM_FILTER], value);
    if (flags !== "any" && flags !== "exist") throw new RangeError(`${operation}: flags must be "any" or "exist" (got ${String(flags)})`);
    const rc = this.owner.capture(() => libbpf().bpf_map__update_elem(this.ptr, null, 0, value, value.length, UPDATE_FLAGS[flags]));
    if (rc < 0) throw new BpfError(operation, -rc, -rc === E2BIG ? `the map is full: max_entries is ${this.maxEntries}${this.type === BPF_MAP_TYPE_BLOOM_FILTER ? "" : ' (flags "exist" drops the oldest value)'}` : undefined);
  }

  pop(): Uint8Array | undefined {
    return this.take(`pop from map '${this.name}'`, true);
  }

  peek(): Uint8Array | undefined {
    return this.take(`peek at map '${this.name}'`, false);
  }

  private take(operation: string, remove: boolean): Uint8Array | undefined {
    this.keyless(operation, [BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK]);
    const out = new Uint8Array(this.valueSize);
    const lb = libbpf();
    const rc = this.owner.capture(() => (remove ? lb.bpf_map__lookup_and_delete_elem(this.ptr, null, 0, out, out.length, 0) : lb.bpf_map__lookup_elem(this.ptr, null, 0, out, out.length, 0)));
    if (rc === -ENOENT) return undefined;
    if (rc < 0) throw new BpfError(operation, -rc);
    return out;
  }

  contains(value: Uint8Array): boolean {
    const operation = `bloom filter test of map '${this.name}'`;
    this.keyless(operation, [BPF_MAP_TYPE_BLOOM_FILTER], value);
    // A bloom filter's lookup takes the value to test in the value argument.
    const rc = this.owner.capture(() => libbpf().bpf_map__lookup_elem(this.ptr, null, 0, value, value.length, 0));
    if (rc === -ENOENT) return false;
    if (rc < 0) throw new BpfError(operation, -rc);
    return true;
  }

  setProgram(index: number, program: string | null): void {
    const operation = `setting entry ${index} of map '${this.name}'`;
    this.live(operation);
    if (this.type !== BPF_MAP_TYPE_PROG_ARRAY) throw new BpfError(operation, EINVAL, `setProgram() is for PROG_ARRAY maps; '${this.name}' is a ${mapTypeName(this.type)}`);
    const key = u32Key(index);
    if (program === null) {
      this.delete(key);
      return;
    }
    const prog = this.owner.program(program);
    const rc = this.owner.capture(() => libbpf().bpf_map__update_elem(this.ptr, key, 4, u32Key(prog.fd), 4, 0));
    // prog_fd_array_get_ptr refuses a program of another type or frags setting than the array's first (bpf_prog_map_compatible).
    if (rc < 0) throw new BpfError(operation, -rc, -rc === EINVAL ? `'${prog.name}' (${prog.section}) cannot share this array with its other programs: tail calls stay within one program type and one frags setting` : -rc === E2BIG ? `index ${index} is out of range: max_entries is ${this.maxEntries}` : undefined);
  }

  setInner(key: Uint8Array, inner: LoadedMap | number | null): void {
    const operation = `setting a slot of map '${this.name}'`;
    this.live(operation);
    if (!MAPS_OF_MAPS.has(this.type)) throw new BpfError(operation, EINVAL, `setInner() is for ARRAY_OF_MAPS and HASH_OF_MAPS maps; '${this.name}' is a ${mapTypeName(this.type)}`);
    this.checkKey(operation, key);
    if (inner === null) {
      // An array of maps' slot is emptied by a delete too (fd_array_map_delete_elem).
      this.delete(key);
      return;
    }
    const fd = typeof inner === "number" ? inner : inner.fd;
    if (!Number.isInteger(fd) || fd < 0) throw new BpfError(operation, EBADF, typeof inner === "number" ? `${inner} is not a map fd` : `map '${inner.name}' has no fd (its object is closed?)`);
    const rc = this.owner.capture(() => libbpf().bpf_map__update_elem(this.ptr, key, key.length, u32Key(fd), 4, 0));
    if (rc < 0) {
      const name = typeof inner === "number" ? `fd ${fd}` : `'${inner.name}'`;
      // bpf_map_meta_equal (kernel/bpf/map_in_map.c): the template's type, sizes and flags; an array's max_entries too.
      throw new BpfError(operation, -rc, -rc === EINVAL ? `${name} does not match the inner map template of '${this.name}' (its type, key and value sizes and flags, and an array's max_entries)` : -rc === EBADF ? `${name} is not a map` : this.hint("update", -rc, key));
    }
  }

  innerId(key: Uint8Array): number | undefined {
    const operation = `lookup in map '${this.name}'`;
    this.live(operation);
    if (!MAPS_OF_MAPS.has(this.type)) throw new BpfError(operation, EINVAL, `innerId() is for ARRAY_OF_MAPS and HASH_OF_MAPS maps; '${this.name}' is a ${mapTypeName(this.type)}`);
    this.checkKey(operation, key);
    const id = this.lookupRaw(operation, key, 4);
    return id === undefined ? undefined : new DataView(id.buffer, id.byteOffset, 4).getUint32(0, true);
  }

  pin(path: string): void {
    const operation = `pinning map '${this.name}' at '${path}'`;
    this.live(operation);
    const rc = this.owner.capture(() => libbpf().bpf_map__pin(this.ptr, path));
    if (rc < 0) throw new BpfError(operation, -rc, -rc === EEXIST ? "the path already exists" : undefined);
  }

  /** Why the kernel refused, in the map's terms. */
  private hint(op: "lookup" | "update" | "delete" | "iterate", errno: number, key: Uint8Array, flags?: MapUpdateFlag): string | undefined {
    const index = this.isArray && key.length === 4 ? new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true) : undefined;
    switch (errno) {
      case EEXIST:
        if (op === "update" && flags === "noexist") {
          return this.isArray ? `flags "noexist": array elements always exist` : `flags "noexist": the key already exists`;
        }
        return undefined;
      case ENOENT:
        if (op === "update" && flags === "exist") return `flags "exist": the key does not exist`;
        return undefined;
      case E2BIG:
        if (index !== undefined && index >= this.maxEntries) return `index ${index} is out of range: max_entries is ${this.maxEntries}`;
        if (op === "update") return `the map is full: max_entries is ${this.maxEntries}`;
        return undefined;
      case EPERM:
        return op === "update" || op === "delete" ? "the map is read-only from userspace (frozen, e.g. .rodata)" : undefined;
      case EINVAL:
        if (op === "delete" && this.isArray) return "elements of array maps cannot be deleted (set them to zero instead)";
        return undefined;
      case ENOTSUPP:
      case EOPNOTSUPP:
        return `${op} is not supported by ${mapTypeName(this.type)} maps`;
      default:
        return undefined;
    }
  }
}

// ---------------------------------------------------------------------------
// Byte helpers

/** A 4-byte little-endian key, e.g. an array index. */
export function u32Key(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError(`u32Key: ${String(n)} is not a u32`);
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, n, true);
  return key;
}

/**
 * An unsigned little-endian integer of 1 to 8 bytes as a bigint: a u64
 * counter, or a narrower one (u32 values widen).
 */
export function u64Value(buf: Uint8Array): bigint {
  if (!(buf instanceof Uint8Array)) throw new TypeError("u64Value: expected a Uint8Array");
  if (buf.length === 0 || buf.length > 8) throw new RangeError(`u64Value: expected 1 to 8 bytes, got ${buf.length}`);
  let v = 0n;
  for (let i = buf.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[i]!);
  return v;
}

/** The sum of per-CPU counters (each decoded with u64Value), as lookupPerCpu returns them. */
export function sumPerCpu(values: readonly Uint8Array[]): bigint {
  let sum = 0n;
  for (const v of values) sum += u64Value(v);
  return sum;
}
