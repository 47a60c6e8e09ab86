/**
 * koffi binding to the system libbpf (libbpf.so.1, libbpf 1.1 ABI) plus the
 * few libc calls it needs.
 *
 * Design invariants:
 * - Nothing native is touched at import time: the libraries are opened on the
 *   first call to `libbpf()`, so merely importing the compiler never requires
 *   libbpf to be installed. A missing library surfaces as `LibbpfNotFoundError`.
 * - Every struct crossing the boundary is declared here with the exact layout
 *   of the libbpf 1.1 headers / Linux UAPI (checked by test/loader.test.ts
 *   against the C headers when gcc is available). Types are anonymous koffi
 *   types so that re-importing this module (e.g. by several test files in one
 *   worker) never collides on koffi's global type-name registry.
 * - libbpf's print callback is installed once per process and routes text to
 *   whichever capture is active (`captureLibbpfLog`); outside of a capture the
 *   text is dropped, unless TSXDP_LIBBPF_DEBUG=1 mirrors it to stderr.
 */
import koffi from "koffi";
import type { LibraryHandle, TypeObject } from "koffi";
import { constants as osConstants } from "node:os";

/** Thrown when libbpf.so.1 (or libc) cannot be dlopen()ed. */
export class LibbpfNotFoundError extends Error {
  constructor(readonly library: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `cannot load ${library}: ${why}. ` +
        `tsxdp needs libbpf 1.x; on Debian/Ubuntu install it with: apt-get install libbpf1 ` +
        `(or point TSXDP_LIBBPF to the shared object)`,
      { cause },
    );
    this.name = "LibbpfNotFoundError";
  }
}

// ---------------------------------------------------------------------------
// Struct layouts (x86_64 / LP64). Offsets are asserted in the tests.

/** struct bpf_object_open_opts (libbpf.h, 1.1): 80 bytes. */
export const BpfObjectOpenOpts: TypeObject = koffi.struct({
  sz: "size_t",
  object_name: "const char *",
  relaxed_maps: "bool",
  pin_root_path: "const char *",
  _removed_attach_prog_fd: "uint32_t", // `__u32 :32` in the header
  kconfig: "const char *",
  btf_custom_path: "const char *",
  kernel_log_buf: "void *",
  kernel_log_size: "size_t",
  kernel_log_level: "uint32_t",
});

/** struct bpf_test_run_opts (bpf.h, 1.1): 80 bytes. */
export const BpfTestRunOpts: TypeObject = koffi.struct({
  sz: "size_t",
  data_in: "void *",
  data_out: "void *",
  data_size_in: "uint32_t",
  data_size_out: "uint32_t",
  ctx_in: "void *",
  ctx_out: "void *",
  ctx_size_in: "uint32_t",
  ctx_size_out: "uint32_t",
  retval: "uint32_t",
  repeat: "int",
  duration: "uint32_t",
  flags: "uint32_t",
  cpu: "uint32_t",
  batch_size: "uint32_t",
});

/** struct bpf_prog_info (linux/bpf.h UAPI as shipped by Debian 12): 232 bytes. */
export const BpfProgInfo: TypeObject = koffi.struct({
  type: "uint32_t",
  id: "uint32_t",
  tag: koffi.array("uint8_t", 8),
  jited_prog_len: "uint32_t",
  xlated_prog_len: "uint32_t",
  jited_prog_insns: "uint64_t",
  xlated_prog_insns: "uint64_t",
  load_time: "uint64_t",
  created_by_uid: "uint32_t",
  nr_map_ids: "uint32_t",
  map_ids: "uint64_t",
  name: koffi.array("char", 16),
  ifindex: "uint32_t",
  gpl_compatible: "uint32_t", // bit 0 only; the other 31 bits are padding
  netns_dev: "uint64_t",
  netns_ino: "uint64_t",
  nr_jited_ksyms: "uint32_t",
  nr_jited_func_lens: "uint32_t",
  jited_ksyms: "uint64_t",
  jited_func_lens: "uint64_t",
  btf_id: "uint32_t",
  func_info_rec_size: "uint32_t",
  func_info: "uint64_t",
  nr_func_info: "uint32_t",
  nr_line_info: "uint32_t",
  line_info: "uint64_t",
  jited_line_info: "uint64_t",
  nr_jited_line_info: "uint32_t",
  line_info_rec_size: "uint32_t",
  jited_line_info_rec_size: "uint32_t",
  nr_prog_tags: "uint32_t",
  prog_tags: "uint64_t",
  run_time_ns: "uint64_t",
  run_cnt: "uint64_t",
  recursion_misses: "uint64_t",
  verified_insns: "uint32_t",
  attach_btf_obj_id: "uint32_t",
  attach_btf_id: "uint32_t",
  _pad: "uint32_t", // trailing `__u32 :32`
});

/** struct bpf_map_info (linux/bpf.h UAPI as shipped by Debian 12): 88 bytes. */
export const BpfMapInfo: TypeObject = koffi.struct({
  type: "uint32_t",
  id: "uint32_t",
  key_size: "uint32_t",
  value_size: "uint32_t",
  max_entries: "uint32_t",
  map_flags: "uint32_t",
  name: koffi.array("char", 16),
  ifindex: "uint32_t",
  btf_vmlinux_value_type_id: "uint32_t",
  netns_dev: "uint64_t",
  netns_ino: "uint64_t",
  btf_id: "uint32_t",
  btf_key_type_id: "uint32_t",
  btf_value_type_id: "uint32_t",
  _pad: "uint32_t", // `__u32 :32` alignment pad
  map_extra: "uint64_t",
});

/** struct xdp_md (linux/bpf.h UAPI): the ctx_in of an XDP test run. */
export const XdpMd: TypeObject = koffi.struct({
  data: "uint32_t",
  data_end: "uint32_t",
  data_meta: "uint32_t",
  ingress_ifindex: "uint32_t",
  rx_queue_index: "uint32_t",
  egress_ifindex: "uint32_t",
});

export interface BpfProgInfoStruct {
  type: number; id: number; tag: Uint8Array; jited_prog_len: number; xlated_prog_len: number;
  name: string; btf_id: number; nr_func_info: number; nr_line_info: number;
  nr_jited_line_info: number; verified_insns: number;
}

export interface BpfMapInfoStruct {
  type: number; id: number; key_size: number; value_size: number; max_entries: number; map_flags: number;
  name: string; ifindex: number; btf_id: number; btf_key_type_id: number; btf_value_type_id: number;
}

export interface BpfTestRunOptsStruct {
  sz: number; data_in: bigint | null; data_out: bigint | null;
  data_size_in: number; data_size_out: number;
  ctx_in: bigint | null; ctx_out: bigint | null; ctx_size_in: number; ctx_size_out: number;
  retval: number; repeat: number; duration: number; flags: number; cpu: number; batch_size: number;
}

export interface BpfObjectOpenOptsStruct {
  sz: number;
  object_name: string | null;
}

/** enum libbpf_print_level */
export const LIBBPF_WARN = 0;
export const LIBBPF_INFO = 1;
export const LIBBPF_DEBUG = 2;

/** enum bpf_prog_type values used by the loader. */
export const BPF_PROG_TYPE_XDP = 6;

// ---------------------------------------------------------------------------
// The typed surface. Pointers are koffi 3 BigInts (null for NULL).

export type Ptr = bigint;

type TypeSpec = string | TypeObject | ReturnType<typeof koffi.inout>;

export interface Libbpf {
  bpf_object__open_file(path: string, opts: BpfObjectOpenOptsStruct): Ptr | null;
  bpf_object__open_mem(buf: Ptr, size: number, opts: BpfObjectOpenOptsStruct): Ptr | null;
  bpf_object__load(obj: Ptr): number;
  bpf_object__close(obj: Ptr): void;
  bpf_object__next_program(obj: Ptr, prev: Ptr | null): Ptr | null;
  bpf_program__name(prog: Ptr): string;
  bpf_program__section_name(prog: Ptr): string;
  bpf_program__fd(prog: Ptr): number;
  bpf_program__type(prog: Ptr): number;
  bpf_program__set_log_level(prog: Ptr, level: number): number;
  bpf_program__set_log_buf(prog: Ptr, buf: Ptr | null, size: number): number;
  bpf_program__pin(prog: Ptr, path: string): number;
  bpf_obj_get_info_by_fd(fd: number, info: Buffer, len: [number]): number;
  bpf_prog_test_run_opts(fd: number, opts: BpfTestRunOptsStruct): number;
  // Maps (struct bpf_map *). The bpf_map__*_elem calls (libbpf >= 0.8) check
  // key/value sizes against the map definition and return -errno.
  bpf_object__next_map(obj: Ptr, prev: Ptr | null): Ptr | null;
  bpf_object__find_map_by_name(obj: Ptr, name: string): Ptr | null;
  bpf_map__name(map: Ptr): string;
  bpf_map__fd(map: Ptr): number;
  bpf_map__type(map: Ptr): number;
  bpf_map__key_size(map: Ptr): number;
  bpf_map__value_size(map: Ptr): number;
  bpf_map__max_entries(map: Ptr): number;
  bpf_map__map_flags(map: Ptr): number;
  /** `key` null (size 0) for queues, stacks and bloom filters, which have none */
  bpf_map__lookup_elem(map: Ptr, key: Uint8Array | null, keySize: number, value: Uint8Array, valueSize: number, flags: number): number;
  bpf_map__update_elem(map: Ptr, key: Uint8Array | null, keySize: number, value: Uint8Array, valueSize: number, flags: number): number;
  /** a queue's or stack's pop, with a null key */
  bpf_map__lookup_and_delete_elem(map: Ptr, key: Uint8Array | null, keySize: number, value: Uint8Array, valueSize: number, flags: number): number;
  bpf_map__delete_elem(map: Ptr, key: Uint8Array, keySize: number, flags: number): number;
  bpf_map__get_next_key(map: Ptr, cur: Uint8Array | null, next: Uint8Array, keySize: number): number;
  bpf_map__pin(map: Ptr, path: string): number;
  /** libbpf's copy of an internal map's contents (before load: what will be loaded), its size in `size[0]`; null when the map has none */
  bpf_map__initial_value(map: Ptr, size: [number]): Ptr | null;
  /** replaces that copy (before load only; the size must be the map's value size), or -errno */
  bpf_map__set_initial_value(map: Ptr, data: Uint8Array, size: number): number;
  /** the object's BTF (struct btf *, owned by the object), with DATASEC sizes and offsets fixed up at open; null without BTF */
  bpf_object__btf(obj: Ptr): Ptr | null;
  /** the raw BTF blob of a struct btf (owned by it), its size in `size[0]` */
  btf__raw_data(btf: Ptr, size: [number]): Ptr | null;
  /** possible CPUs (what per-CPU map values are sized by), or -errno */
  libbpf_num_possible_cpus(): number;
  /** "hash", "percpu_array", …; null for a type this libbpf does not know */
  libbpf_bpf_map_type_str(type: number): string | null;
  /** Reads errno as left by the most recent native call. */
  errno(): number;
  /** Human-readable text for a (positive) errno, including libbpf's own 4000+ codes. */
  strerror(err: number): string;
}

interface Loaded {
  api: Libbpf;
  /** the dlopen()ed libbpf, for bindings declared elsewhere (attach.ts) */
  lib: LibraryHandle;
  /** keeps the registered print callback alive for the process lifetime */
  printCallback: Ptr;
}

let loaded: Loaded | undefined;

export function libbpf(): Libbpf {
  loaded ??= bind();
  return loaded.api;
}

/**
 * The same libbpf handle `libbpf()` uses, with its print callback already
 * installed, so further bindings (the attach API) log through the same capture.
 */
export function libbpfLibrary(): LibraryHandle {
  loaded ??= bind();
  return loaded.lib;
}

function openLibrary(names: string[]): LibraryHandle {
  let firstError: unknown;
  for (const name of names) {
    try {
      return koffi.load(name);
    } catch (e) {
      firstError ??= e;
    }
  }
  throw new LibbpfNotFoundError(names[0]!, firstError);
}

function bind(): Loaded {
  const candidates = [process.env.TSXDP_LIBBPF, "libbpf.so.1"].filter((x): x is string => !!x);
  const lib = openLibrary(candidates);
  const libc = openLibrary(["libc.so.6"]);

  const bpfObject = koffi.pointer(koffi.opaque());
  const bpfProgram = koffi.pointer(koffi.opaque());
  const bpfMap = koffi.pointer(koffi.opaque());
  const btfPtr = koffi.pointer(koffi.opaque());

  // The format string and va_list are taken as raw pointers so they can be
  // handed straight back to vsnprintf without a JS round trip.
  const printFn = koffi.proto("int", ["int", "void *", "void *"]);
  const libbpf_set_print = lib.func("libbpf_set_print", "void *", [koffi.pointer(printFn)]);
  const vsnprintf = libc.func("vsnprintf", "int", ["void *", "size_t", "void *", "void *"]);
  const libbpf_strerror = lib.func("libbpf_strerror", "int", ["int", "void *", "size_t"]);

  // On x86_64 (SysV ABI) va_list is a one-element array of a 24-byte struct,
  // so the callback receives a pointer to the caller's struct. vsnprintf
  // consumes it; copying the 24 bytes is exactly what va_copy does on this
  // ABI, which lets us retry with a larger buffer on truncation.
  const VA_LIST_SIZE = 24;
  const format = (fmt: Ptr, ap: Ptr): string => {
    const saved = Buffer.from(new Uint8Array(koffi.view(ap, VA_LIST_SIZE)));
    let out = Buffer.alloc(1024);
    let n = vsnprintf(out, out.length, fmt, Buffer.from(saved)) as number;
    if (n >= out.length) {
      out = Buffer.alloc(n + 1);
      n = vsnprintf(out, out.length, fmt, Buffer.from(saved)) as number;
    }
    return n > 0 ? out.toString("utf8", 0, Math.min(n, out.length - 1)) : "";
  };

  const printCallback = koffi.register((level: number, fmt: Ptr | null, ap: Ptr | null): number => {
    // libbpf ignores the return value; never let an exception escape into C.
    try {
      if (fmt === null || ap === null) return 0;
      const text = format(fmt, ap);
      deliver(level, text);
    } catch {
      /* a lost log line is better than a crashed load */
    }
    return 0;
  }, koffi.pointer(printFn));
  libbpf_set_print(printCallback);

  const f = (name: string, ret: TypeSpec, args: TypeSpec[]) => {
    try {
      return lib.func(name, ret, args);
    } catch (e) {
      // A libbpf 0.x (or a stripped build) lacks the 1.0 iteration/opts API.
      throw new LibbpfNotFoundError(`${candidates[0]} with symbol ${name} (libbpf >= 1.0)`, e);
    }
  };
  const openOptsPtr = koffi.pointer(BpfObjectOpenOpts);

  const api: Libbpf = {
    bpf_object__open_file: f("bpf_object__open_file", bpfObject, ["const char *", openOptsPtr]),
    bpf_object__open_mem: f("bpf_object__open_mem", bpfObject, ["void *", "size_t", openOptsPtr]),
    bpf_object__load: f("bpf_object__load", "int", [bpfObject]),
    bpf_object__close: f("bpf_object__close", "void", [bpfObject]),
    bpf_object__next_program: f("bpf_object__next_program", bpfProgram, [bpfObject, bpfProgram]),
    bpf_program__name: f("bpf_program__name", "const char *", [bpfProgram]),
    bpf_program__section_name: f("bpf_program__section_name", "const char *", [bpfProgram]),
    bpf_program__fd: f("bpf_program__fd", "int", [bpfProgram]),
    bpf_program__type: f("bpf_program__type", "int", [bpfProgram]),
    bpf_program__set_log_level: f("bpf_program__set_log_level", "int", [bpfProgram, "uint32_t"]),
    bpf_program__set_log_buf: f("bpf_program__set_log_buf", "int", [bpfProgram, "void *", "size_t"]),
    bpf_program__pin: f("bpf_program__pin", "int", [bpfProgram, "const char *"]),
    bpf_obj_get_info_by_fd: f("bpf_obj_get_info_by_fd", "int", [
      "int",
      "void *",
      koffi.inout(koffi.pointer("uint32_t")),
    ]),
    bpf_prog_test_run_opts: f("bpf_prog_test_run_opts", "int", [
      "int",
      koffi.inout(koffi.pointer(BpfTestRunOpts)),
    ]),
    bpf_object__next_map: f("bpf_object__next_map", bpfMap, [bpfObject, bpfMap]),
    bpf_object__find_map_by_name: f("bpf_object__find_map_by_name", bpfMap, [bpfObject, "const char *"]),
    bpf_map__name: f("bpf_map__name", "const char *", [bpfMap]),
    bpf_map__fd: f("bpf_map__fd", "int", [bpfMap]),
    bpf_map__type: f("bpf_map__type", "int", [bpfMap]),
    bpf_map__key_size: f("bpf_map__key_size", "uint32_t", [bpfMap]),
    bpf_map__value_size: f("bpf_map__value_size", "uint32_t", [bpfMap]),
    bpf_map__max_entries: f("bpf_map__max_entries", "uint32_t", [bpfMap]),
    bpf_map__map_flags: f("bpf_map__map_flags", "uint32_t", [bpfMap]),
    bpf_map__lookup_elem: f("bpf_map__lookup_elem", "int", [bpfMap, "const void *", "size_t", "void *", "size_t", "uint64_t"]),
    bpf_map__update_elem: f("bpf_map__update_elem", "int", [bpfMap, "const void *", "size_t", "const void *", "size_t", "uint64_t"]),
    bpf_map__lookup_and_delete_elem: f("bpf_map__lookup_and_delete_elem", "int", [bpfMap, "const void *", "size_t", "void *", "size_t", "uint64_t"]),
    bpf_map__delete_elem: f("bpf_map__delete_elem", "int", [bpfMap, "const void *", "size_t", "uint64_t"]),
    bpf_map__get_next_key: f("bpf_map__get_next_key", "int", [bpfMap, "const void *", "void *", "size_t"]),
    bpf_map__pin: f("bpf_map__pin", "int", [bpfMap, "const char *"]),
    bpf_map__initial_value: f("bpf_map__initial_value", "void *", [bpfMap, koffi.out(koffi.pointer("size_t"))]),
    bpf_map__set_initial_value: f("bpf_map__set_initial_value", "int", [bpfMap, "const void *", "size_t"]),
    bpf_object__btf: f("bpf_object__btf", btfPtr, [bpfObject]),
    btf__raw_data: f("btf__raw_data", "const void *", [btfPtr, koffi.out(koffi.pointer("uint32_t"))]),
    libbpf_num_possible_cpus: f("libbpf_num_possible_cpus", "int", []),
    libbpf_bpf_map_type_str: f("libbpf_bpf_map_type_str", "const char *", ["int"]),
    errno: () => koffi.errno(),
    strerror: (err: number) => {
      const buf = Buffer.alloc(256);
      libbpf_strerror(err, buf, buf.length);
      const end = buf.indexOf(0);
      return buf.toString("utf8", 0, end < 0 ? buf.length : end);
    },
  };
  return { api, lib, printCallback };
}

// ---------------------------------------------------------------------------
// Log capture

const debugToStderr = () => process.env.TSXDP_LIBBPF_DEBUG === "1";

/** Text libbpf printed during one capture, split by level. */
export class LibbpfLog {
  private readonly chunks: string[] = [];
  private readonly warnings: string[] = [];
  add(level: number, text: string): void {
    this.chunks.push(text);
    if (level === LIBBPF_WARN) this.warnings.push(text);
  }
  get text(): string {
    return this.chunks.join("");
  }
  get warningText(): string {
    return this.warnings.join("");
  }
}

let activeLog: LibbpfLog | undefined;

function deliver(level: number, text: string): void {
  activeLog?.add(level, text);
  if (debugToStderr()) process.stderr.write(text.endsWith("\n") ? text : text + "\n");
}

/**
 * Runs `fn` with libbpf's output routed into `log`. Captures nest: the
 * previous target is restored afterwards. libbpf only prints synchronously
 * from inside the calls we make, so a plain module variable is sufficient.
 */
export function captureLibbpfLog<T>(log: LibbpfLog, fn: () => T): T {
  const previous = activeLog;
  activeLog = log;
  try {
    return fn();
  } finally {
    activeLog = previous;
  }
}

// ---------------------------------------------------------------------------
// errno helpers

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  // Prefer the first (canonical) name for aliased values such as EWOULDBLOCK.
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

export function errnoName(err: number): string | undefined {
  return errnoNames.get(err);
}
