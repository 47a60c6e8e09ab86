/**
 * A map opened from its bpffs pin (BPF_OBJ_GET), for `tsxdp map`: info,
 * lookup (plain and per-CPU), update, delete and key iteration on the raw fd
 * through libbpf's low-level bpf_map_*_elem calls, and the map's BTF as the
 * kernel holds it (btf__load_from_kernel_by_id).
 *
 * Invariants: the fd is owned by the PinnedMap and closed by close(); every
 * libbpf call here returns -errno (libbpf 1.x) and never throws; a path that
 * is not a pinned map is a PinnedMapError with kind "environment" before any
 * map operation is tried. Per-CPU values use the kernel's layout:
 * round_up(value_size, 8) bytes per possible CPU.
 */
import fs from "node:fs";
import koffi from "koffi";
import { BtfTypes } from "../object/btf-types";
import { bpf, bpffsMounts } from "./bpf-objects";
import { BpfMapInfo, BpfProgInfo, errnoName, libbpf, libbpfLibrary } from "./libbpf";
import type { BpfMapInfoStruct, Ptr } from "./libbpf";
import { closeFd } from "./libc";
import { mapTypeName } from "./maps";
import type { MapInfo, MapUpdateFlag } from "./maps";

const ENOENT = 2;
const EPERM = 1;
const EACCES = 13;
const EINVAL = 22;

const PER_CPU_TYPES = new Set([5, 6, 10, 21]); // PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE
const UPDATE_FLAGS: Record<MapUpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };

/** Why a map operation failed: "missing" (ENOENT), "data" (EEXIST, E2BIG, …: the request conflicts with the contents), or "environment". */
export class PinnedMapError extends Error {
  constructor(
    message: string,
    readonly kind: "missing" | "data" | "environment",
    readonly errno = 0,
  ) {
    super(message);
    this.name = "PinnedMapError";
  }
}

interface Bindings {
  bpf_map_lookup_elem(fd: number, key: Uint8Array | null, value: Uint8Array): number;
  bpf_map_lookup_and_delete_elem(fd: number, key: Uint8Array | null, value: Uint8Array): number;
  bpf_map_update_elem(fd: number, key: Uint8Array | null, value: Uint8Array, flags: bigint | number): number;
  bpf_map_delete_elem(fd: number, key: Uint8Array): number;
  bpf_map_get_next_key(fd: number, key: Uint8Array | null, next: Uint8Array): number;
  bpf_map_get_fd_by_id(id: number): number;
  btf__load_from_kernel_by_id(id: number): Ptr | null;
  btf__raw_data(btf: Ptr, size: [number]): Ptr | null;
  btf__free(btf: Ptr): void;
}

let bound: Bindings | undefined;

function raw(): Bindings {
  if (bound) return bound;
  libbpf();
  const lib = libbpfLibrary();
  const btf = koffi.pointer(koffi.opaque());
  bound = {
    bpf_map_lookup_elem: lib.func("bpf_map_lookup_elem", "int", ["int", "const void *", "void *"]),
    bpf_map_lookup_and_delete_elem: lib.func("bpf_map_lookup_and_delete_elem", "int", ["int", "const void *", "void *"]),
    bpf_map_update_elem: lib.func("bpf_map_update_elem", "int", ["int", "const void *", "const void *", "uint64_t"]),
    bpf_map_delete_elem: lib.func("bpf_map_delete_elem", "int", ["int", "const void *"]),
    bpf_map_get_next_key: lib.func("bpf_map_get_next_key", "int", ["int", "const void *", "void *"]),
    bpf_map_get_fd_by_id: lib.func("bpf_map_get_fd_by_id", "int", ["uint32_t"]),
    btf__load_from_kernel_by_id: lib.func("btf__load_from_kernel_by_id", btf, ["uint32_t"]),
    btf__raw_data: lib.func("btf__raw_data", "const void *", [btf, koffi.out(koffi.pointer("uint32_t"))]),
    btf__free: lib.func("btf__free", "void", [btf]),
  };
  return bound;
}

function errnoText(errno: number): string {
  let text = "";
  try {
    text = libbpf().strerror(errno);
  } catch {
    /* no libbpf */
  }
  const name = errnoName(errno);
  return name ? `${name}${text ? `: ${text}` : ""}` : text || `errno ${errno}`;
}

export interface PinnedMapInfo extends MapInfo {
  readonly btfId: number;
}

export class PinnedMap {
  readonly info: PinnedMapInfo;
  readonly perCpu: boolean;
  /** possible CPUs: the number of values of a per-CPU map */
  readonly cpus: number;
  /** the map's BTF, when it has some and the kernel gives it */
  readonly btf: BtfTypes | undefined;
  /** why there is no BTF, when there is none */
  readonly btfMissing: string | undefined;
  private fd: number;

  /**
   * @param path the pin path, or a label such as "map id 42" for a map
   * opened by id (`pinned` false)
   */
  private constructor(
    readonly path: string,
    fd: number,
    readonly pinned = true,
  ) {
    this.fd = fd;
    const size = koffi.sizeof(BpfMapInfo);
    const buf = Buffer.alloc(size);
    const rc = libbpf().bpf_obj_get_info_by_fd(fd, buf, [size]);
    if (rc < 0) throw new PinnedMapError(`cannot read the map info of ${path}: ${errnoText(-rc)}`, "environment", -rc);
    const i = koffi.decode(buf, BpfMapInfo) as BpfMapInfoStruct;
    this.info = {
      name: i.name,
      type: i.type,
      typeName: mapTypeName(i.type),
      keySize: i.key_size,
      valueSize: i.value_size,
      maxEntries: i.max_entries,
      flags: i.map_flags,
      id: i.id,
      btfId: i.btf_id,
      btfKeyTypeId: i.btf_key_type_id,
      btfValueTypeId: i.btf_value_type_id,
    };
    this.perCpu = PER_CPU_TYPES.has(i.type);
    const cpus = libbpf().libbpf_num_possible_cpus();
    if (cpus <= 0) throw new PinnedMapError(`cannot count the possible CPUs: ${errnoText(-cpus || EINVAL)}`, "environment");
    this.cpus = cpus;
    let btf: BtfTypes | undefined;
    let missing: string | undefined;
    if (i.btf_id === 0) missing = "the map has no BTF";
    else if (i.btf_value_type_id === 0 && i.btf_key_type_id === 0) missing = "the map's BTF does not describe its key and value";
    else {
      try {
        btf = loadKernelBtf(i.btf_id);
      } catch (e) {
        missing = e instanceof Error ? e.message : String(e);
      }
    }
    this.btf = btf;
    this.btfMissing = missing;
  }

  /** Opens the map pinned at `path`; throws a PinnedMapError ("environment") when it is not one. */
  static open(path: string): PinnedMap {
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch (e) {
      throw new PinnedMapError(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, "environment");
    }
    if (st.isDirectory()) throw new PinnedMapError(`${path} is a directory, not a pinned map (use --pinned-dir to dump every map in it)`, "environment");
    const mounts = bpffsMounts();
    if (mounts.length > 0 && !mounts.some((m) => path === m || path.startsWith(m.endsWith("/") ? m : `${m}/`))) {
      throw new PinnedMapError(`${path} is not on a bpffs mount (${mounts.join(", ")}), so it is not a pinned map`, "environment");
    }
    const fd = bpf().bpf_obj_get(path);
    if (fd < 0) {
      const errno = -fd;
      const why =
        errno === EPERM || errno === EACCES
          ? "permission denied (reading maps needs root, or CAP_BPF)"
          : errno === EINVAL
            ? "not a pinned BPF object (is it on a bpffs mount such as /sys/fs/bpf?)"
            : errnoText(errno);
      throw new PinnedMapError(`cannot open ${path}: ${why}`, "environment", errno);
    }
    let kind = "";
    try {
      kind = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      /* no /proc: the info call below decides */
    }
    if (kind !== "" && kind !== "anon_inode:bpf-map") {
      closeFd(fd);
      const what = kind === "anon_inode:bpf-prog" ? "a program" : kind === "anon_inode:bpf_link" ? "a link" : kind;
      throw new PinnedMapError(`${path} is ${what}, not a map`, "environment");
    }
    try {
      return new PinnedMap(path, fd);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /** Opens the map with kernel id `id` (BPF_MAP_GET_FD_BY_ID), pinned or not; throws a PinnedMapError ("environment"). */
  static openById(id: number): PinnedMap {
    const label = `map id ${id}`;
    if (!Number.isInteger(id) || id <= 0 || id > 0xffff_ffff) throw new PinnedMapError(`${label}: a map id is a positive integer`, "environment");
    const fd = raw().bpf_map_get_fd_by_id(id);
    if (fd < 0) {
      const errno = -fd;
      const why = errno === ENOENT ? "no such map (see: bpftool map list)" : errno === EPERM || errno === EACCES ? "permission denied (maps by id need root, or CAP_SYS_ADMIN)" : errnoText(errno);
      throw new PinnedMapError(`cannot open ${label}: ${why}`, "environment", errno);
    }
    try {
      return new PinnedMap(label, fd, false);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /** The open fd (owned by this PinnedMap), e.g. to put the map in a map of maps' slot. */
  get handle(): number {
    return this.live();
  }

  close(): void {
    if (this.fd >= 0) closeFd(this.fd);
    this.fd = -1;
  }

  private get stride(): number {
    return Math.ceil(this.info.valueSize / 8) * 8;
  }

  private live(): number {
    if (this.fd < 0) throw new Error(`map ${this.path} is closed`);
    return this.fd;
  }

  private fail(op: string, errno: number): PinnedMapError {
    const kind = errno === ENOENT ? "missing" : errno === 17 || errno === 7 ? "data" : "environment";
    let hint = "";
    if (errno === 17) hint = " (the key already exists)";
    else if (errno === ENOENT && op === "update") hint = " (the key does not exist)";
    else if (errno === 7) hint = this.info.type === 2 || this.info.type === 6 ? ` (index out of range: max_entries is ${this.info.maxEntries})` : ` (the map is full: max_entries is ${this.info.maxEntries}${this.info.type === 22 || this.info.type === 23 ? '; --flags exist drops the oldest value' : ""})`;
    else if (errno === EINVAL && op === "update" && (this.info.type === 12 || this.info.type === 13)) hint = " (the map does not match the inner map template: its type, key and value sizes and flags, and an array's max_entries)";
    else if (errno === EINVAL && op === "delete" && (this.info.type === 2 || this.info.type === 6)) hint = " (elements of array maps cannot be deleted; set them to zero instead)";
    else if (errno === EPERM || errno === EACCES) hint = op === "update" || op === "delete" ? " (no privileges, or the map is read-only from userspace)" : " (no privileges)";
    return new PinnedMapError(`${op} in ${this.path}: ${errnoText(errno)}${hint}`, kind, errno);
  }

  /** One value for a plain map, one per possible CPU for a per-CPU map; undefined when the key is absent. */
  lookup(key: Uint8Array): Uint8Array[] | undefined {
    const fd = this.live();
    const size = this.perCpu ? this.stride * this.cpus : this.info.valueSize;
    const out = new Uint8Array(Math.max(size, 1));
    const rc = raw().bpf_map_lookup_elem(fd, key, out);
    if (rc === -ENOENT) return undefined;
    if (rc < 0) throw this.fail("lookup", -rc);
    if (!this.perCpu) return [out.subarray(0, this.info.valueSize)];
    const values: Uint8Array[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++) values.push(out.slice(cpu * this.stride, cpu * this.stride + this.info.valueSize));
    return values;
  }

  /** `value` is written to every CPU of a per-CPU map. */
  update(key: Uint8Array, value: Uint8Array, flags: MapUpdateFlag = "any"): void {
    const fd = this.live();
    let bytes = value;
    if (this.perCpu) {
      bytes = new Uint8Array(this.stride * this.cpus);
      for (let cpu = 0; cpu < this.cpus; cpu++) bytes.set(value, cpu * this.stride);
    }
    const rc = raw().bpf_map_update_elem(fd, key, bytes, UPDATE_FLAGS[flags]);
    if (rc < 0) throw this.fail("update", -rc);
  }

  /** false when the key is absent */
  delete(key: Uint8Array): boolean {
    const rc = raw().bpf_map_delete_elem(this.live(), key);
    if (rc === -ENOENT) return false;
    if (rc < 0) throw this.fail("delete", -rc);
    return true;
  }

  /** Queues and stacks: adds `value` ("exist": a full one drops its oldest); bloom filters: adds `value`. */
  push(value: Uint8Array, flags: "any" | "exist" = "any"): void {
    const rc = raw().bpf_map_update_elem(this.live(), null, value, UPDATE_FLAGS[flags]);
    if (rc < 0) throw this.fail("push", -rc);
  }

  /** Queues and stacks: the next value, taken out (`remove`) or left in place; undefined when empty. */
  take(remove: boolean): Uint8Array | undefined {
    const fd = this.live();
    const out = new Uint8Array(this.info.valueSize);
    const rc = remove ? raw().bpf_map_lookup_and_delete_elem(fd, null, out) : raw().bpf_map_lookup_elem(fd, null, out);
    if (rc === -ENOENT) return undefined;
    if (rc < 0) throw this.fail(remove ? "pop" : "peek", -rc);
    return out;
  }

  /** Bloom filters: whether `value` may have been pushed (a lookup takes the value to test). */
  contains(value: Uint8Array): boolean {
    const rc = raw().bpf_map_lookup_elem(this.live(), null, value);
    if (rc === -ENOENT) return false;
    if (rc < 0) throw this.fail("lookup", -rc);
    return true;
  }

  /** Every key in the kernel's order, duplicates (from a hash map restarting its walk) dropped. */
  keys(): Uint8Array[] {
    const fd = this.live();
    const keys: Uint8Array[] = [];
    const seen = new Set<string>();
    let prev: Uint8Array | null = null;
    for (let step = 0, bound = 4 * this.info.maxEntries + 16; step < bound; step++) {
      const next = new Uint8Array(Math.max(this.info.keySize, 1));
      const rc = raw().bpf_map_get_next_key(fd, prev, next);
      if (rc === -ENOENT) break;
      if (rc < 0) throw this.fail("key iteration", -rc);
      const id = Buffer.from(next).toString("hex");
      if (!seen.has(id)) {
        seen.add(id);
        keys.push(next);
      }
      prev = next;
    }
    return keys;
  }
}

/** The raw BTF blob the kernel holds under `id`, parsed. */
export function loadKernelBtf(id: number): BtfTypes {
  const b = raw();
  const handle = b.btf__load_from_kernel_by_id(id);
  if (handle === null) throw new Error(`cannot read BTF ${id} from the kernel: ${errnoText(koffi.errno() || EINVAL)}`);
  try {
    const size: [number] = [0];
    const data = b.btf__raw_data(handle, size);
    if (data === null || size[0] === 0) throw new Error(`BTF ${id} is empty`);
    return new BtfTypes(new Uint8Array(koffi.view(data, size[0]).slice(0)));
  } finally {
    b.btf__free(handle);
  }
}

/** Pinned maps directly in `dir` (and its subdirectories, depth 3), sorted by path. */
export function pinnedMapsIn(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) {
        if (depth < 3) walk(p, depth + 1);
      } else if (e.isFile()) {
        const fd = bpf().bpf_obj_get(p);
        if (fd < 0) continue;
        let kind = "";
        try {
          kind = fs.readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          /* unknown */
        } finally {
          closeFd(fd);
        }
        if (kind === "anon_inode:bpf-map") out.push(p);
      }
    }
  };
  walk(dir.replace(/\/+$/, "") || "/", 1);
  return out.sort();
}

/**
 * The ids of the maps program `progId` uses (bpf_prog_info.map_ids): its
 * BTF-defined maps and .rodata/.data/.bss. Throws a PinnedMapError
 * ("environment") when the program is gone or cannot be read.
 */
export function programMapIds(progId: number): number[] {
  const fd = bpf().bpf_prog_get_fd_by_id(progId);
  if (fd < 0) {
    const errno = -fd;
    const why = errno === ENOENT ? "no such program (see: bpftool prog list)" : errno === EPERM || errno === EACCES ? "permission denied (programs by id need root, or CAP_SYS_ADMIN)" : errnoText(errno);
    throw new PinnedMapError(`cannot open program ${progId}: ${why}`, "environment", errno);
  }
  try {
    const size = koffi.sizeof(BpfProgInfo);
    const nrAt = koffi.offsetof(BpfProgInfo, "nr_map_ids");
    const idsAt = koffi.offsetof(BpfProgInfo, "map_ids");
    // First the count, then again with room for the ids (the kernel fills at most nr_map_ids).
    for (let room = 0; ; ) {
      const info = Buffer.alloc(size);
      const ids = koffi.alloc("uint32_t", Math.max(room, 1));
      try {
        info.writeUInt32LE(room, nrAt);
        info.writeBigUInt64LE(room > 0 ? BigInt(koffi.address(ids)) : 0n, idsAt);
        const rc = libbpf().bpf_obj_get_info_by_fd(fd, info, [size]);
        if (rc < 0) throw new PinnedMapError(`cannot read the info of program ${progId}: ${errnoText(-rc)}`, "environment", -rc);
        const count = info.readUInt32LE(nrAt);
        if (count === 0) return [];
        if (room >= count) return Array.from(koffi.decode(ids, "uint32_t", count) as ArrayLike<number>);
        room = count;
      } finally {
        koffi.free(ids);
      }
    }
  } finally {
    closeFd(fd);
  }
}
