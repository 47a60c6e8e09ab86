/**
 * tsxdp — the dialect's surface, as seen by editors and by the compiler.
 *
 * Everything here is a declaration only: programs are compiled to BPF by
 * `tsxdp build`, never run by Node. The compiler recognises these names
 * through the type checker (by symbol, not by spelling), so aliases and
 * re-exports keep working.
 *
 * Integers are plain `number` aliases so arithmetic reads naturally; the
 * compiler gives them exact fixed-width BPF semantics (wraparound at the
 * declared width, signed/unsigned comparisons and shifts). Network-order
 * integers and packet pointers are branded so that an editor already
 * refuses the worst mix-ups.
 */

// ---------------------------------------------------------------- integers

/** Unsigned 8-bit integer; arithmetic wraps modulo 2^8. */
export type u8 = number;
/** Unsigned 16-bit integer; arithmetic wraps modulo 2^16. */
export type u16 = number;
/** Unsigned 32-bit integer; arithmetic wraps modulo 2^32. */
export type u32 = number;
/** Unsigned 64-bit integer; arithmetic wraps modulo 2^64. */
export type u64 = number;
/** Signed 8-bit integer (two's complement). */
export type i8 = number;
/** Signed 16-bit integer (two's complement). */
export type i16 = number;
/** Signed 32-bit integer (two's complement). */
export type i32 = number;
/** Signed 64-bit integer (two's complement). */
export type i64 = number;

/** Converts (truncating or extending) to u8. */
export declare function u8(value: number): u8;
/** Converts (truncating or extending) to u16. */
export declare function u16(value: number): u16;
/** Converts (truncating or extending) to u32. */
export declare function u32(value: number): u32;
/** Converts (truncating or extending) to u64. */
export declare function u64(value: number): u64;
/** Converts (truncating or sign-extending) to i8. */
export declare function i8(value: number): i8;
/** Converts (truncating or sign-extending) to i16. */
export declare function i16(value: number): i16;
/** Converts (truncating or sign-extending) to i32. */
export declare function i32(value: number): i32;
/** Converts (truncating or sign-extending) to i64. */
export declare function i64(value: number): i64;

// ------------------------------------------------------------- byte order

declare const be16Brand: unique symbol;
declare const be32Brand: unique symbol;
declare const be64Brand: unique symbol;

/** A 16-bit value in network byte order (big-endian), as it sits in the packet. */
export type be16 = number & { readonly [be16Brand]: true };
/** A 32-bit value in network byte order (big-endian), as it sits in the packet. */
export type be32 = number & { readonly [be32Brand]: true };
/** A 64-bit value in network byte order (big-endian), as it sits in the packet. */
export type be64 = number & { readonly [be64Brand]: true };

/** Host to network order, 16 bits. Folded at compile time for constants. */
export declare function htons(value: u16): be16;
/** Network to host order, 16 bits. */
export declare function ntohs(value: be16): u16;
/** Host to network order, 32 bits. Folded at compile time for constants. */
export declare function htonl(value: u32): be32;
/** Network to host order, 32 bits. */
export declare function ntohl(value: be32): u32;
/** Host to network order, 64 bits. Folded at compile time for constants. */
export declare function htonll(value: u64): be64;
/** Network to host order, 64 bits. */
export declare function ntohll(value: be64): u64;
/** Reverses the bytes of a 16-bit value. */
export declare function bswap16(value: u16): u16;
/** Reverses the bytes of a 32-bit value. */
export declare function bswap32(value: u32): u32;
/** Reverses the bytes of a 64-bit value. */
export declare function bswap64(value: u64): u64;

/** The types a packet load can produce. */
export type Scalar = u8 | u16 | u32 | u64 | i8 | i16 | i32 | i64 | be16 | be32 | be64;

// ---------------------------------------------------------- packet memory

declare const packetBrand: unique symbol;
declare const packetEndBrand: unique symbol;
declare const metaBrand: unique symbol;

interface PacketPointerOps {
  readonly [packetBrand]: true;
  /**
   * Reads a `T` at `offset` bytes past this pointer. `T` must be given
   * explicitly (`p.load<be16>(12)`); the offset must be a constant.
   * The bytes must be proven within `data_end` by an earlier check on every
   * path, e.g. `if (data + 14 > end) return XdpAction.DROP;`.
   */
  load<T extends Scalar>(offset: number): T;
  /**
   * Writes `value` as a `T` at `offset` bytes past this pointer; proven like
   * a load. `p.store<be16>(12, htons(0x0800))`.
   */
  store<T extends Scalar>(offset: number, value: T): void;
  /**
   * A view of a header struct `T` (an interface of integer fields, nested
   * structs and `FixedArray`s, laid out as C lays out the same struct) at
   * `offset` bytes past this pointer, or `null` when the packet is too short
   * for it: `const eth = data.header<EthHdr>(0); if (!eth) return XdpAction.DROP;`.
   * The null test is the bounds check. Fields read and write the packet.
   */
  header<T extends object>(offset: number): T | null;
  /** This pointer moved `bytes` forward, still a packet pointer. */
  add(bytes: number): PacketPointer;
}

/** A pointer into the packet, from `ctx.data`. Compare it with `ctx.data_end` before reading. */
export type PacketPointer = number & PacketPointerOps;

/** `ctx.data_end`: the first byte past the packet's linear data. Only comparable, never readable. */
export type PacketEnd = number & { readonly [packetEndBrand]: true };

interface MetaPointerOps {
  readonly [metaBrand]: true;
  /** Reads a `T` at `offset` bytes into the metadata area; proven against `ctx.data`. */
  load<T extends Scalar>(offset: number): T;
  /** Writes `value` as a `T` at `offset` bytes into the metadata area; proven against `ctx.data`. */
  store<T extends Scalar>(offset: number, value: T): void;
  /** This pointer moved `bytes` forward, still a metadata pointer. */
  add(bytes: number): MetaPointer;
}

/** `ctx.data_meta`: the metadata area in front of the packet, which ends at `ctx.data`. */
export type MetaPointer = number & MetaPointerOps;

// ------------------------------------------------------------ header structs

declare const packedBrand: unique symbol;

/** `N` elements of `T` in a header struct: `dst: FixedArray<u8, 6>`. Indexes must be constants. */
export interface FixedArray<T, N extends number> {
  readonly length: N;
  [index: number]: T;
  /** Its first element: it makes an array literal (`[1, 2, 3, 4]`) a tuple that TypeScript checks against `N`. */
  0: T;
}

/**
 * Extend it to lay a struct out without padding (`__attribute__((packed))`),
 * where the wire format puts fields at unaligned offsets.
 */
export interface Packed {
  readonly [packedBrand]?: true;
}

declare const unionBrand: unique symbol;

/**
 * Extend it to lay every field at offset 0, as a C `union` does: the size is
 * the largest field's. A field of a struct may be such a union.
 */
export interface Union {
  readonly [unionBrand]?: true;
}

/** The size in bytes of a header struct or integer type, as a compile-time constant. */
export declare function sizeof<T>(): number;

/**
 * A new struct (or `FixedArray`) on the stack with every byte zero, padding
 * included: `const key = zeroed<FlowKey>();`. An object literal with a
 * struct type makes one too (`const key: FlowKey = { saddr, dport }`), its
 * unset fields zero; `{ ...ip }` copies a header into one.
 */
export declare function zeroed<T extends object>(): T;

/** One integer on the stack, for helpers that write through a pointer (`bpf_check_mtu`'s length). */
export interface Cell<T extends Scalar> {
  value: T;
}

// ---------------------------------------------------------------- context

/** The XDP context (`struct xdp_md`). Read-only. */
export interface XdpContext {
  /** Start of the packet's linear data. */
  readonly data: PacketPointer;
  /** End of the packet's linear data; every read must be proven below it. */
  readonly data_end: PacketEnd;
  /** Start of the metadata area (equal to `data` unless `bpf_xdp_adjust_meta` made room). */
  readonly data_meta: MetaPointer;
  /** Index of the device the packet arrived on. */
  readonly ingress_ifindex: u32;
  /** Receive queue the packet arrived on. */
  readonly rx_queue_index: u32;
  /** Device the packet leaves from; set only in programs run from a DEVMAP entry (`xdp.devmap`). */
  readonly egress_ifindex: u32;
}

/** What happens to the packet. */
export declare enum XdpAction {
  /** An error: the packet is dropped and the `xdp_exception` tracepoint fires. */
  ABORTED = 0,
  /** Drop the packet. */
  DROP = 1,
  /** Pass the packet on to the network stack. */
  PASS = 2,
  /** Send the packet back out of the device it arrived on. */
  TX = 3,
  /** Redirect the packet; set the target with a redirect helper first. */
  REDIRECT = 4,
}

// --------------------------------------------------------------- programs

declare const programBrand: unique symbol;

/** A compiled XDP program; the exported constant's name is the program's name. */
export interface XdpProgram {
  readonly [programBrand]: true;
}

/** The body of an XDP program. */
export type XdpHandler = (ctx: XdpContext) => XdpAction;

/** Declares a program in one ELF section. */
/**
 * How a program takes part in libxdp's dispatcher, where several programs
 * share one interface (`xdp-loader`, `tsxdp attach --multi`): lower
 * priorities run first, and the next program runs only after one of the
 * `chainCallActions`. Emitted as libxdp's XDP_RUN_CONFIG metadata.
 */
export interface RunConfig {
  /** 0 to 1000; libxdp's default is 50. */
  readonly priority?: number;
  /** Actions after which the next program in the chain runs; libxdp's default is [XdpAction.PASS]. */
  readonly chainCallActions?: readonly XdpAction[];
}

export interface XdpSection {
  (handler: XdpHandler, runConfig?: RunConfig): XdpProgram;
}

/**
 * Declares an XDP program: `export const name = xdp((ctx) => { … })` goes to
 * section `xdp`. `xdp.frags(…)` (section `xdp.frags`) marks it as able to
 * handle multi-buffer packets; `xdp.devmap`/`xdp.cpumap` and their frags forms
 * are for programs run from DEVMAP and CPUMAP entries.
 */
export declare const xdp: XdpSection & {
  readonly frags: XdpSection & { readonly devmap: XdpSection; readonly cpumap: XdpSection };
  readonly devmap: XdpSection;
  readonly cpumap: XdpSection;
};

/**
 * Sets the program license (default "GPL"). A top-level statement:
 * `license("Dual MIT/GPL");`. GPL-only helpers need a GPL-compatible license.
 */
export declare function license(name: string): void;

/**
 * Compiles the file's function `f` as a BPF-to-BPF call (a static function
 * in `.text`, C's `static __attribute__((noinline))`) instead of inlining it
 * at every call. A top-level statement after the function: `noinline(parse);`.
 * The kernel verifies it with each caller's state, so packet pointers passed
 * in keep the range their checks proved. At most 5 parameters.
 */
export declare function noinline(f: (...args: never[]) => unknown): void;

/**
 * Compiles the file's function `f` as a global BPF function: the kernel
 * verifies it once, on its own, from its BTF signature, so it takes only the
 * context and integers and returns an integer: `globalFunction(classify);`.
 */
export declare function globalFunction(f: (...args: never[]) => unknown): void;

/**
 * bpf_loop: calls `callback(index, state)` for index 0, 1, … while it
 * returns 0, at most `count` times (a run-time value, up to 1 << 23);
 * returning 1 stops early. Returns the number of calls made. The callback is
 * one of the file's functions, `(index: u32, state: S): i64`, compiled as a
 * static subprogram; `state` is a local struct it reads and writes (the
 * kernel passes a pointer to it), and every `return` gives 0 or 1.
 */
export declare function bpfLoop(count: u32, callback: (index: u32) => i64): i64;
export declare function bpfLoop<S>(count: u32, callback: (index: u32, state: S) => i64, state: S, flags?: 0): i64;

// ---------------------------------------------------------------- globals

/**
 * A read-only setting in `.rodata`, fixed when the program is loaded (C's
 * `const volatile`): `const DROP_PORT = config<u16>(9);`. The loader can
 * change it before load (`loadObject(obj, { rodata: { DROP_PORT: 53 } })`,
 * `tsxdp attach --set DROP_PORT=53`) without recompiling. Module-level `let`
 * variables live in `.bss`/`.data`, shared by every run of the program.
 */
export declare function config<T extends Scalar>(initial: number): T;

// ------------------------------------------------------------------- maps

/** How a map is created (BTF-defined, in section `.maps`, as libbpf expects). */
export interface MapOptions {
  /** Entries the map holds (for arrays: the number of indexes). */
  readonly maxEntries: number;
  /** BPF_F_* map flags, e.g. BPF_F_NO_PREALLOC (1) for hash maps. */
  readonly flags?: number;
  /** Pin the map in bpffs by its name (LIBBPF_PIN_BY_NAME), so it outlives the program. */
  readonly pinned?: boolean;
}

/** A value in a map, in kernel memory: read and write `.value`, or change it with `atomicAdd`. */
export interface ValueRef<V> {
  value: V;
}

/** A map value the program may only read (a redirect map's entry). */
export interface ReadonlyValueRef<V> {
  readonly value: V;
}

declare const spinLockBrand: unique symbol;

/**
 * A `struct bpf_spin_lock` field of a map value struct (HashMap and ArrayMap
 * only, one per value): `interface Account { lock: SpinLock; balance: u64 }`.
 * Taken with `bpf_spin_lock(ref.value.lock)`, released with
 * `bpf_spin_unlock(ref.value.lock)` on every path; in between, no calls and
 * no `return` (the verifier's rules, checked at compile time). Never read or
 * written itself.
 */
export interface SpinLock {
  readonly [spinLockBrand]: never;
}

/** Takes a map value's lock (bpf_spin_lock). */
export declare function bpf_spin_lock(lock: SpinLock): void;
/** Releases the lock taken by `bpf_spin_lock` (bpf_spin_unlock). */
export declare function bpf_spin_unlock(lock: SpinLock): void;

declare const timerBrand: unique symbol;

/**
 * A `struct bpf_timer` field of a map value struct (HashMap, LruHash and
 * ArrayMap only, one per value): `interface Slot { timer: Timer; fired: u64 }`.
 * Set up once with `bpf_timer_init`, given a callback with
 * `bpf_timer_set_callback`, armed with `bpf_timer_start`. The kernel cancels
 * it when the map goes away. Never read or written itself.
 */
export interface Timer {
  readonly [timerBrand]: never;
}

/** Clocks of `bpf_timer_init`. */
export declare const CLOCK_REALTIME: 0;
export declare const CLOCK_MONOTONIC: 1;
export declare const CLOCK_BOOTTIME: 7;
/** `bpf_timer_start` flags: `nsecs` is an absolute time (kernel 6.7), the callback runs on this CPU (6.7). */
export declare const BPF_F_TIMER_ABS: 1;
export declare const BPF_F_TIMER_CPU_PIN: 2;

/**
 * Initialises a map value's timer on `clock` (bpf_timer_init; the map is the
 * one the value is in, passed for you). 0, or -EBUSY when it already was.
 */
export declare function bpf_timer_init(timer: Timer, clock: u64): i64;
/**
 * Sets the function the kernel calls when the timer fires (bpf_timer_set_callback):
 * one of the file's functions, `(key: K, value: ValueRef<V>): i64` for the
 * map's key and value, compiled as a static subprogram, returning 0.
 */
export declare function bpf_timer_set_callback<K, V>(timer: Timer, callback: (key: K, value: ValueRef<V>) => i64): i64;
/** Arms the timer to fire in `nsecs` nanoseconds (bpf_timer_start); `flags`: BPF_F_TIMER_*. */
export declare function bpf_timer_start(timer: Timer, nsecs: u64, flags?: u64): i64;
/** Disarms the timer (bpf_timer_cancel): 1 if it was armed, 0 if not, a negative errno otherwise. */
export declare function bpf_timer_cancel(timer: Timer): i64;

/** Flags of `update`: create or replace (ANY), create only (NOEXIST), replace only (EXIST). */
export declare enum UpdateFlags {
  ANY = 0,
  NOEXIST = 1,
  EXIST = 2,
}

declare class BpfMap<K, V> {
  constructor(options: MapOptions);
  /** The value for `key`, or `null` when there is none: test it before use, as the verifier requires. */
  lookup(key: K): ValueRef<V> | null;
  /** Sets `key` to `value`; 0 on success, a negative errno otherwise. */
  update(key: K, value: V, flags?: UpdateFlags): i64;
  /** Removes `key`; 0 on success, a negative errno otherwise. */
  delete(key: K): i64;
  /**
   * bpf_for_each_map_elem (hash and array maps): calls `callback(key, value, state)`
   * for each element while it returns 0; returning 1 stops. Returns the number
   * of elements visited. The callback is one of the file's functions, compiled
   * as a static subprogram: the key is read-only, the value is the element
   * itself (writable), `state` a local struct of the caller; every `return`
   * gives 0 or 1.
   */
  forEach(callback: (key: K, value: ValueRef<V>) => i64): i64;
  forEach<S>(callback: (key: K, value: ValueRef<V>, state: S) => i64, state: S): i64;
}

/** BPF_MAP_TYPE_HASH. Declare at the top level: `const flows = new HashMap<u32, u64>({ maxEntries: 1024 });` */
export declare class HashMap<K, V> extends BpfMap<K, V> {}
/** BPF_MAP_TYPE_ARRAY: keys are indexes 0 … maxEntries-1; entries always exist (zeroed). */
export declare class ArrayMap<V> extends BpfMap<u32, V> {}
/** A per-CPU map: `lookup` is this CPU's value, `lookupOnCpu` another's. */
declare class PerCpuMap<K, V> extends BpfMap<K, V> {
  /**
   * The value for `key` on CPU `cpu` (`bpf_map_lookup_percpu_elem`), or `null`
   * when there is none or no such CPU: test it before use, like `lookup`.
   */
  lookupOnCpu(key: K, cpu: u32): ValueRef<V> | null;
}
/** BPF_MAP_TYPE_PERCPU_HASH: one value per CPU, no contention. */
export declare class PerCpuHash<K, V> extends PerCpuMap<K, V> {}
/** BPF_MAP_TYPE_PERCPU_ARRAY: one value per CPU; the usual home of counters. */
export declare class PerCpuArray<V> extends PerCpuMap<u32, V> {}
/** BPF_MAP_TYPE_LRU_HASH: a hash whose least recently used entries make room. */
export declare class LruHash<K, V> extends BpfMap<K, V> {}
/** BPF_MAP_TYPE_LRU_PERCPU_HASH. */
export declare class LruPerCpuHash<K, V> extends PerCpuMap<K, V> {}

/** The key of an LpmTrie: a struct whose first field is the prefix length in bits, followed by the address bytes. */
export interface LpmKey {
  prefixlen: u32;
}

/**
 * BPF_MAP_TYPE_LPM_TRIE: longest-prefix match. The key is a struct starting
 * with `prefixlen: u32` (host order), then the address in network order:
 * `interface V4 { prefixlen: u32; addr: be32 }`. A lookup with prefixlen 32
 * finds the longest stored prefix that covers the address. BPF_F_NO_PREALLOC,
 * which the kernel requires, is set for you.
 */
export declare class LpmTrie<K extends LpmKey, V> extends BpfMap<K, V> {}

/** BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK: values without keys, taken out in order. */
declare class ValueQueue<V> {
  constructor(options: MapOptions);
  /**
   * Adds `value` (`bpf_map_push_elem`); 0, or a negative errno when full.
   * With `UpdateFlags.EXIST` a full map drops its oldest value to make room.
   */
  push(value: V, flags?: UpdateFlags): i64;
  /** Takes the next value out (`bpf_map_pop_elem`): a copy, or `null` when empty. */
  pop(): ReadonlyValueRef<V> | null;
  /** The next value, left in place (`bpf_map_peek_elem`): a copy, or `null` when empty. */
  peek(): ReadonlyValueRef<V> | null;
}

/** BPF_MAP_TYPE_QUEUE: first in, first out. `new Queue<u32>({ maxEntries: 64 })` */
export declare class Queue<V> extends ValueQueue<V> {}
/** BPF_MAP_TYPE_STACK: last in, first out. */
export declare class Stack<V> extends ValueQueue<V> {}

/** Options of a BloomFilter: `hashes` (1 to 15, default 5) is the number of hash functions (map_extra). */
export interface BloomFilterOptions extends MapOptions {
  readonly hashes?: number;
}

/**
 * BPF_MAP_TYPE_BLOOM_FILTER: a set that can answer "maybe" but never wrongly
 * "no". `maxEntries` is the number of values it is sized for.
 */
export declare class BloomFilter<V> {
  constructor(options: BloomFilterOptions);
  /** Adds `value` (`bpf_map_push_elem`); 0 on success, a negative errno otherwise. */
  push(value: V): i64;
  /** Whether `value` may have been pushed (`bpf_map_peek_elem`): false means it certainly was not. */
  contains(value: V): boolean;
}

/**
 * BPF_MAP_TYPE_PROG_ARRAY: index → an XDP program, for `tailCall`. Userspace
 * fills it (`obj.map("progs").setProgram(0, "name")`); a program can only
 * jump through it. `new ProgArray({ maxEntries: 8 })`
 */
export declare class ProgArray {
  constructor(options: MapOptions);
  private readonly progArrayBrand: true;
}

/**
 * Jumps to the program at `index` of `progs` (`bpf_tail_call`): that program
 * runs in place of this one, with the same context, and its verdict is the
 * packet's. When the entry is empty (or after 33 chained jumps) the call
 * returns and this program goes on: `tailCall(ctx, progs, 1); return XdpAction.PASS;`.
 */
export declare function tailCall(ctx: XdpContext, progs: ProgArray, index: u32): void;

/** Flags of a ring buffer's `output`, `submit` and `discard`: when to wake the reader up (default: when it is waiting). */
export declare enum RingBufFlags {
  NO_WAKEUP = 1,
  FORCE_WAKEUP = 2,
}

/** Room reserved in a ring buffer: fill `.value`, then `submit` or `discard` it on every path. */
export interface RingBufRecord<T> {
  value: T;
}

/**
 * BPF_MAP_TYPE_RINGBUF: records of type `T` (an integer or header struct)
 * sent to userspace in order. `maxEntries` is the size in bytes: a power of 2,
 * a multiple of the page size (4096). Read it with the loader's `openRingBuffer`.
 */
export declare class RingBuf<T> {
  constructor(options: MapOptions);
  /** Copies `value` into the ring (`bpf_ringbuf_output`); 0 on success, a negative errno when it is full. */
  output(value: T, flags?: RingBufFlags): i64;
  /**
   * Reserves a record (`bpf_ringbuf_reserve`), or `null` when the ring is
   * full: test it, fill `.value`, then `submit` or `discard` it on every path
   * (the verifier refuses a program that can leave one behind).
   */
  reserve(): RingBufRecord<T> | null;
  /** Sends a reserved record to the reader (`bpf_ringbuf_submit`); the record is gone afterwards. */
  submit(record: RingBufRecord<T>, flags?: RingBufFlags): void;
  /** Drops a reserved record (`bpf_ringbuf_discard`); the record is gone afterwards. */
  discard(record: RingBufRecord<T>, flags?: RingBufFlags): void;
  /** What the kernel knows of the ring (`bpf_ringbuf_query`): bytes not yet consumed, its size, or a position. */
  query(what: RingBufQuery): u64;
}

/** What `RingBuf.query` reports: bytes waiting for the reader, the ring's size, the reader's and the writer's positions. */
export declare enum RingBufQuery {
  AVAIL_DATA = 0,
  RING_SIZE = 1,
  CONS_POS = 2,
  PROD_POS = 3,
}

/** Which CPU's buffer `PerfEventArray.output` writes: `CURRENT_CPU`, or a CPU number. */
export declare enum PerfEventFlags {
  CURRENT_CPU = 0xffffffff,
}

/**
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY: records of type `T` (an integer or header
 * struct) sent to userspace through one perf buffer per CPU. Keys and values
 * are u32 (the CPU, a perf event's fd set by the reader); `maxEntries` defaults
 * to the number of CPUs (libbpf's choice for 0). Read it with the loader's
 * `openPerfBuffer`. Prefer a RingBuf where the kernel has one (5.8).
 */
export declare class PerfEventArray<T> {
  constructor(options?: { readonly maxEntries?: number; readonly pinned?: boolean });
  /**
   * Copies `value` into the buffer of the CPU `flags` names (`bpf_perf_event_output`),
   * by default this CPU's; 0, or a negative errno (-ENOENT: no reader on that CPU).
   */
  output(ctx: XdpContext, value: T, flags?: PerfEventFlags | u32): i64;
}

/**
 * Flags of `redirect` (bpf_redirect_map), combined with `|` and with the
 * fallback action in the low two bits: `devs.redirect(k, RedirectFlags.BROADCAST | XdpAction.PASS)`.
 */
export declare enum RedirectFlags {
  /** DEVMAP and DEVMAP_HASH: send a copy to every device in the map (the key is ignored). */
  BROADCAST = 8,
  /** With BROADCAST: leave out the device the packet arrived on. */
  EXCLUDE_INGRESS = 16,
}

/**
 * A map the kernel redirects packets through. Keys and values are u32, so it
 * takes no type arguments; its entries are written from userspace (the
 * kernel refuses `update` and `delete` from a program).
 */
declare class RedirectMap {
  constructor(options: MapOptions);
  /**
   * Redirects the packet to the entry at `key` (`bpf_redirect_map`): returns
   * `XdpAction.REDIRECT` when the entry exists, otherwise the fallback action
   * in the low two bits of `flags` (default 0, ABORTED). Return its result:
   * `return devs.redirect(0, XdpAction.PASS);`.
   */
  redirect(key: u32, flags?: u64): XdpAction;
}

/**
 * Options of DevMap, DevMapHash and CpuMap. `programs: true` makes each entry
 * the kernel's 8-byte `struct bpf_devmap_val` / `struct bpf_cpumap_val`: the
 * ifindex (or queue size) and a program run on the entry's packets, an
 * `xdp.devmap(…)` program before the device transmits them, an
 * `xdp.cpumap(…)` program on the CPU. Userspace fills the program in
 * (`LoadedMap.updateEntry`, `tsxdp map set … --program`).
 */
export interface RedirectMapOptions<P extends boolean> extends MapOptions {
  readonly programs?: P;
}
/** An entry of a DevMap or DevMapHash declared with `programs: true` (`struct bpf_devmap_val`). */
export interface DevMapEntry {
  readonly ifindex: u32;
  /** The id of the entry's program, 0 for none. */
  readonly prog_id: u32;
}
/** BPF_MAP_TYPE_DEVMAP: index → ifindex of the device to transmit on. `new DevMap({ maxEntries: 8 })` */
export declare class DevMap<P extends boolean = false> extends RedirectMap {
  constructor(options: RedirectMapOptions<P>);
  /** The entry's ifindex (with `programs: true`, a DevMapEntry), or `null`; read-only (the kernel refuses writes). */
  lookup(key: u32): ReadonlyValueRef<P extends true ? DevMapEntry : u32> | null;
}
/** BPF_MAP_TYPE_DEVMAP_HASH: like DevMap, keyed by any u32 (e.g. an ifindex) instead of an index. */
export declare class DevMapHash<P extends boolean = false> extends RedirectMap {
  constructor(options: RedirectMapOptions<P>);
  /** The entry's ifindex (with `programs: true`, a DevMapEntry), or `null`; read-only (the kernel refuses writes). */
  lookup(key: u32): ReadonlyValueRef<P extends true ? DevMapEntry : u32> | null;
}
/**
 * BPF_MAP_TYPE_CPUMAP: CPU number → queue size (with `programs: true`, also a
 * program); redirects to the CPU's kthread. Programs can only `redirect` through it.
 */
export declare class CpuMap<P extends boolean = false> extends RedirectMap {
  constructor(options: RedirectMapOptions<P>);
}
/** BPF_MAP_TYPE_XSKMAP: rx queue → AF_XDP socket (written from userspace as the socket's fd). */
export declare class XskMap extends RedirectMap {
  /** `.value` is the socket's queue_id, or `null` when no socket is there; read-only. */
  lookup(key: u32): ReadonlyValueRef<u32> | null;
}

/** The maps a map of maps can hold: maps with keys and values. */
export type InnerMap = BpfMap<any, any>;

/** Options of ArrayOfMaps and HashOfMaps: `inner` gives the inner maps' own options. */
export interface MapOfMapsOptions extends MapOptions {
  /**
   * The inner maps' `maxEntries` and `flags` (their class and types are the
   * type argument): the template every map put in a slot must match.
   */
  readonly inner: MapOptions;
}

/**
 * BPF_MAP_TYPE_ARRAY_OF_MAPS: index → a map of type `Inner`, e.g.
 * `new ArrayOfMaps<ArrayMap<u64>>({ maxEntries: 8, inner: { maxEntries: 4 } })`.
 * Userspace puts maps in the slots (`LoadedMap.setInner`); a program looks
 * one up and uses it as a map.
 */
export declare class ArrayOfMaps<Inner extends InnerMap> {
  constructor(options: MapOfMapsOptions);
  /** The inner map at `key`, or `null` when the slot is empty: test it before use. */
  lookup(key: u32): Inner | null;
  private readonly arrayOfMapsBrand: true;
}
/** BPF_MAP_TYPE_HASH_OF_MAPS: key → a map of type `Inner`. `new HashOfMaps<u32, HashMap<u32, u64>>({ … })` */
export declare class HashOfMaps<K, Inner extends InnerMap> {
  constructor(options: MapOfMapsOptions);
  /** The inner map for `key`, or `null`: test it before use. */
  lookup(key: K): Inner | null;
  private readonly hashOfMapsBrand: true;
}

/**
 * The number of elements in `map`, one of the file's maps by name
 * (`bpf_map_sum_elem_count`, a kfunc, kernel 6.6): the kernel counts them
 * for hash maps (`HashMap`, `PerCpuHash`, `LruHash`, `LruPerCpuHash`), what
 * the program and userspace put in less what they deleted; 0 for maps it
 * does not count (arrays).
 */
export declare function bpf_map_sum_elem_count(map: InnerMap): i64;

/** Adds `delta` to a map value atomically (a BPF atomic add): safe when several CPUs update it. */
export declare function atomicAdd<V extends u32 | u64>(ref: ValueRef<V>, delta: V): void;
/** Clears bits of a map value atomically (BPF ISA v3). */
export declare function atomicAnd<V extends u32 | u64>(ref: ValueRef<V>, mask: V): void;
/** Sets bits of a map value atomically (BPF ISA v3). */
export declare function atomicOr<V extends u32 | u64>(ref: ValueRef<V>, bits: V): void;
/** Flips bits of a map value atomically (BPF ISA v3). */
export declare function atomicXor<V extends u32 | u64>(ref: ValueRef<V>, bits: V): void;
/** Stores `value` into a map value atomically and returns the old value (BPF ISA v3). */
export declare function atomicExchange<V extends u32 | u64>(ref: ValueRef<V>, value: V): V;
/** Stores `desired` if the value is `expected`, atomically; returns the old value either way (BPF ISA v3). */
export declare function atomicCompareExchange<V extends u32 | u64>(ref: ValueRef<V>, expected: V, desired: V): V;

// ---------------------------------------------------------------- helpers

/** Length of the whole packet, all fragments included (`bpf_xdp_get_buff_len`, kernel 5.18). */
export declare function bpf_xdp_get_buff_len(ctx: XdpContext): u64;
/**
 * Moves the start of the packet by `delta` bytes (negative: grow the front,
 * e.g. to push a header; positive: shrink it, e.g. to pop one). Returns 0 on
 * success. Every packet pointer taken before the call is dead after it: read
 * `ctx.data` and `ctx.data_end` again and check them again.
 */
export declare function bpf_xdp_adjust_head(ctx: XdpContext, delta: i32): i64;
/** Moves the start of the metadata area by `delta` bytes (negative: make room). Returns 0 on success; packet pointers die as with adjust_head. */
export declare function bpf_xdp_adjust_meta(ctx: XdpContext, delta: i32): i64;
/** Moves the end of the packet by `delta` bytes (negative: trim). Returns 0 on success; packet pointers die as with adjust_head. */
export declare function bpf_xdp_adjust_tail(ctx: XdpContext, delta: i32): i64;
/**
 * Writes a line to the kernel's trace pipe (`bpf_trace_printk`, or
 * `bpf_trace_vprintk` past 3 values; read it with `cat /sys/kernel/tracing/trace_pipe`).
 * Takes a string or template literal with at most 12 integer values:
 * `bpf_printk(\`proto ${ntohs(proto)}\`)`.
 * Network-order values print in host order. For debugging: it is slow.
 */
export declare function bpf_printk(message: string): void;
/**
 * Redirects the packet to the device `ifindex` (`bpf_redirect`, kernel 4.14):
 * returns `XdpAction.REDIRECT`, or `XdpAction.ABORTED` when `flags` is not 0.
 * A DevMap's `redirect` is faster and can broadcast.
 */
export declare function bpf_redirect(ifindex: u32, flags: u64): XdpAction;
/** Nanoseconds since boot, excluding suspend (`bpf_ktime_get_ns`). */
export declare function bpf_ktime_get_ns(): u64;
/** Nanoseconds since boot, including suspend (`bpf_ktime_get_boot_ns`, kernel 5.8). */
export declare function bpf_ktime_get_boot_ns(): u64;
/**
 * `bpf_ktime_get_ns` as of the last timer tick (`bpf_ktime_get_coarse_ns`,
 * kernel 5.11): CLOCK_MONOTONIC_COARSE, cheaper, a tick's precision.
 */
export declare function bpf_ktime_get_coarse_ns(): u64;
/**
 * International Atomic Time in nanoseconds since the epoch
 * (`bpf_ktime_get_tai_ns`, kernel 6.1): CLOCK_TAI, wall-clock time without
 * leap seconds, never set back.
 */
export declare function bpf_ktime_get_tai_ns(): u64;
/** A pseudo-random number, not for cryptography (`bpf_get_prandom_u32`). */
export declare function bpf_get_prandom_u32(): u32;
/** The CPU running the program (`bpf_get_smp_processor_id`). */
export declare function bpf_get_smp_processor_id(): u32;
/** The NUMA node running the program (`bpf_get_numa_node_id`). */
export declare function bpf_get_numa_node_id(): i32;
/** The kernel's jiffies counter (`bpf_jiffies64`, kernel 5.5). */
export declare function bpf_jiffies64(): u64;

// ------------------------------------------------- helpers with stack memory
//
// Buffers are local structs, `FixedArray`s or `Cell`s (or fields of them);
// their sizes are passed for you.

/**
 * The ones'-complement sum of the 32-bit words of `to` minus those of
 * `from`, added to `seed` (`bpf_csum_diff`): the checksum change when `from`
 * becomes `to`. Either may be `null`, or a header view (the packet's bytes,
 * proven like a load); sizes must be multiples of 4. Returns the sum, or a
 * negative errno.
 */
export declare function bpf_csum_diff(from: object | null, to: object | null, seed: u32): i64;
/** Copies `buf`'s size in bytes from the packet at `offset` (fragments included) into `buf` (`bpf_xdp_load_bytes`, kernel 5.18). 0 or a negative errno. */
export declare function bpf_xdp_load_bytes(ctx: XdpContext, offset: u32, buf: object): i64;
/**
 * Compares the bytes of `buf` (a local struct, FixedArray or Cell: its whole
 * size) with `text`, a string literal written in place, as C's strncmp does
 * (`bpf_strncmp`, kernel 5.17): 0 when equal up to the end of `buf` or of
 * `text`, otherwise negative or positive as the first differing byte is
 * smaller or larger. `text` becomes a constant in `.rodata`, as the helper requires.
 */
export declare function bpf_strncmp(buf: object, text: string): i64;
/**
 * Formats integers into `buf` (a local FixedArray<u8, N> or struct: its whole
 * size), as C's snprintf, always NUL-terminated (`bpf_snprintf`, kernel 5.13).
 * `format` is a string literal written in place, with the kernel's integer
 * conversions (%d %i %u %x %X, flags, a width, l or ll; %% for %), one value
 * each; network-order values are formatted in host order. Returns the length
 * the whole text needs with its NUL (more than `buf` holds: it was cut), or
 * a negative errno.
 */
export declare function bpf_snprintf(buf: object, format: string, ...values: number[]): i64;
/**
 * Shows `value` (a local struct of the kernel struct's size) as vmlinux's struct
 * `kernelType` into `buf`, as `(struct iphdr){.ihl = (__u8)0x5,…}`
 * (`bpf_snprintf_btf`, kernel 5.10). `kernelType` is a network header:
 * "ethhdr", "vlan_hdr", "arphdr", "iphdr", "ipv6hdr", "tcphdr", "udphdr",
 * "icmphdr" or "icmp6hdr". `flags`: BTF_F_COMPACT (1), BTF_F_NONAME (2), BTF_F_PTR_RAW (4),
 * BTF_F_ZERO (8). Returns the length the whole text needs (as snprintf,
 * without the NUL), or a negative errno.
 */
export declare function bpf_snprintf_btf(buf: object, value: object, kernelType: string, flags?: u64): i64;
/** Copies `buf` into the packet at `offset` (fragments included; `bpf_xdp_store_bytes`, kernel 5.18). Packet pointers stay valid. 0 or a negative errno. */
export declare function bpf_xdp_store_bytes(ctx: XdpContext, offset: u32, buf: object): i64;
/**
 * Copies `buf`'s size in bytes from kernel address `addr` into `buf`
 * (`bpf_probe_read_kernel`, kernel 5.5, GPL); a bad address is no fault:
 * a negative errno, `buf` zeroed.
 */
export declare function bpf_probe_read_kernel(buf: object, addr: u64): i64;
/** As `bpf_probe_read_kernel`, from an address of the running process (`bpf_probe_read_user`). */
export declare function bpf_probe_read_user(buf: object, addr: u64): i64;
/**
 * Copies a NUL-terminated string from kernel address `addr` into `buf`, at
 * most its size, always NUL-terminated (`bpf_probe_read_kernel_str`, GPL):
 * the length copied with the NUL, or a negative errno.
 */
export declare function bpf_probe_read_kernel_str(buf: object, addr: u64): i64;
/** As `bpf_probe_read_kernel_str`, from an address of the running process (`bpf_probe_read_user_str`). */
export declare function bpf_probe_read_user_str(buf: object, addr: u64): i64;
/** The address of the running task's `struct task_struct` (`bpf_get_current_task`, GPL), for the probe_read helpers. */
export declare function bpf_get_current_task(): u64;
/** The running task as the verifier types it (struct task_struct): no number, only passed to helpers that take it. */
export interface TaskStruct {
  readonly __kernelStruct: "task_struct";
  /** The thread's id and its process's; read from a task `bpf_task_from_pid` or `bpf_task_acquire` returned. */
  readonly pid: i32;
  readonly tgid: i32;
}
/** The running task (`bpf_get_current_task_btf`, kernel 5.11, GPL), for `bpf_task_pt_regs`; pass the call, or a const holding it. */
export declare function bpf_get_current_task_btf(): TaskStruct;
/** The address of `task`'s saved user registers, its `struct pt_regs` (`bpf_task_pt_regs`, kernel 5.15, GPL), to read with `bpf_probe_read_kernel`. */
export declare function bpf_task_pt_regs(task: TaskStruct): u64;
/**
 * DANGER: panics the machine into its crash kernel (kexec), as a kernel
 * panic does; returns only when no crash kernel is loaded (`crash_kexec`, a
 * destructive kfunc, kernel 6.1). `regs` is what `bpf_task_pt_regs` returns
 * (the call, or a const holding it), saved in the crash dump. The kernel
 * loads such a program only with CAP_SYS_BOOT, and only if it was built
 * with CONFIG_KEXEC_CORE: otherwise its BTF has no `crash_kexec` and the
 * load fails naming it.
 */
export declare function crash_kexec(regs: u64): void;
/**
 * Whether a packet fits the MTU of device `ifindex` (0: the receiving one)
 * (`bpf_check_mtu`, kernel 5.12). `mtuLen.value` is the L3 length to check
 * (0: this packet's), plus `lenDiff`; it comes back holding the device's MTU.
 * Returns `BPF_MTU_CHK_RET_SUCCESS`, `…_FRAG_NEEDED`, or a negative errno.
 */
export declare function bpf_check_mtu(ctx: XdpContext, ifindex: u32, mtuLen: Cell<u32>, lenDiff: i32, flags: u64): i64;
export declare const BPF_MTU_CHK_RET_SUCCESS: 0;
export declare const BPF_MTU_CHK_RET_FRAG_NEEDED: 1;
export declare const BPF_MTU_CHK_RET_SEGS_TOOBIG: 2;

/** `struct bpf_fib_lookup`'s `tot_len` union: the L3 length in, the MTU out when the lookup says FRAG_NEEDED. */
export interface BpfFibLen extends Union {
  tot_len: u16;
  mtu_result: u16;
}
/** `struct bpf_fib_lookup`'s second union: `tos` (IPv4) or `flowinfo` (IPv6) in, the route's metric out. */
export interface BpfFibFlow extends Union {
  tos: u8;
  flowinfo: be32;
  rt_metric: u32;
}
/** An IPv4 or IPv6 address in `struct bpf_fib_lookup`, network order. */
export interface BpfFibAddr extends Union {
  ipv4: be32;
  ipv6: FixedArray<be32, 4>;
}
export interface BpfFibVlan {
  h_vlan_proto: be16;
  h_vlan_TCI: be16;
}
/** The VLAN found (out), or the routing table to use with BPF_FIB_LOOKUP_TBID (in). */
export interface BpfFibVlanOrTable extends Union {
  vlan: BpfFibVlan;
  tbid: u32;
}
/**
 * `struct bpf_fib_lookup` (include/uapi/linux/bpf.h), its anonymous unions
 * as named fields: C's `params.ipv4_dst` is `params.dst.ipv4` here.
 */
export interface BpfFibLookup {
  family: u8;
  l4_protocol: u8;
  sport: be16;
  dport: be16;
  len: BpfFibLen;
  ifindex: u32;
  flow: BpfFibFlow;
  src: BpfFibAddr;
  dst: BpfFibAddr;
  vlanOrTable: BpfFibVlanOrTable;
  smac: FixedArray<u8, 6>;
  dmac: FixedArray<u8, 6>;
}
/**
 * Looks a route up in the kernel's FIB (`bpf_fib_lookup`, kernel 4.18): on
 * success (`BPF_FIB_LKUP_RET_SUCCESS`) `params` holds the egress `ifindex`
 * and the `smac`/`dmac` to write into the frame. `flags`: `BPF_FIB_LOOKUP_*`.
 * Returns a `BPF_FIB_LKUP_RET_*` code or a negative errno.
 */
export declare function bpf_fib_lookup(ctx: XdpContext, params: BpfFibLookup, flags: u32): i64;
export declare const BPF_FIB_LOOKUP_DIRECT: 1;
export declare const BPF_FIB_LOOKUP_OUTPUT: 2;
export declare const BPF_FIB_LOOKUP_SKIP_NEIGH: 4;
export declare const BPF_FIB_LOOKUP_TBID: 8;
export declare const BPF_FIB_LOOKUP_SRC: 16;
export declare const BPF_FIB_LKUP_RET_SUCCESS: 0;
export declare const BPF_FIB_LKUP_RET_BLACKHOLE: 1;
export declare const BPF_FIB_LKUP_RET_UNREACHABLE: 2;
export declare const BPF_FIB_LKUP_RET_PROHIBIT: 3;
export declare const BPF_FIB_LKUP_RET_NOT_FWDED: 4;
export declare const BPF_FIB_LKUP_RET_FWD_DISABLED: 5;
export declare const BPF_FIB_LKUP_RET_UNSUPP_LWT: 6;
export declare const BPF_FIB_LKUP_RET_NO_NEIGH: 7;
export declare const BPF_FIB_LKUP_RET_FRAG_NEEDED: 8;
export declare const BPF_FIB_LKUP_RET_NO_SRC_ADDR: 9;

// ------------------------------------------------------------ socket lookups

/** `struct bpf_sock_tuple`'s IPv4 part (12 bytes), addresses and ports in network order, as in the packet. */
export interface BpfSockTupleV4 {
  saddr: be32;
  daddr: be32;
  sport: be16;
  dport: be16;
}
/** `struct bpf_sock_tuple`'s IPv6 part (36 bytes). */
export interface BpfSockTupleV6 {
  saddr: FixedArray<be32, 4>;
  daddr: FixedArray<be32, 4>;
  sport: be16;
  dport: be16;
}
/**
 * `struct bpf_sock_tuple` (include/uapi/linux/bpf.h), its anonymous union as
 * a struct: pass `tuple.ipv4` or `tuple.ipv6` to a lookup, whose size tells
 * the kernel the family. Seen from the packet: `saddr`/`sport` are the
 * sender's, `daddr`/`dport` the local socket's.
 */
export interface BpfSockTuple extends Union {
  ipv4: BpfSockTupleV4;
  ipv6: BpfSockTupleV6;
}
/**
 * `struct bpf_sock`, read-only: a socket found by a lookup. `src_port` is in
 * host order, `dst_port` in network order; `state` is a `BPF_TCP_*` value.
 */
export interface BpfSock {
  readonly bound_dev_if: u32;
  readonly family: u32;
  readonly type: u32;
  readonly protocol: u32;
  readonly mark: u32;
  readonly priority: u32;
  readonly src_ip4: be32;
  readonly src_ip6: FixedArray<be32, 4>;
  readonly src_port: u32;
  readonly dst_port: be16;
  readonly dst_ip4: be32;
  readonly dst_ip6: FixedArray<be32, 4>;
  readonly state: u32;
  readonly rx_queue_mapping: i32;
}
/**
 * A socket's common part (`bpf_skc_lookup_tcp` may find a request or
 * time-wait socket): the kernel lets a program read neither `type`,
 * `protocol`, `mark` nor `priority` of it (bpf_sock_common_is_valid_access).
 */
export type BpfSockCommon = Omit<BpfSock, "type" | "protocol" | "mark" | "priority">;

/**
 * Looks up a TCP socket (`bpf_sk_lookup_tcp`, kernel 4.20) by the tuple
 * `tuple.ipv4` or `tuple.ipv6` in network namespace `netns`
 * (`BPF_F_CURRENT_NETNS`: the receiving device's). Returns a full socket
 * or null. A found socket is a reference: test it for null, then release
 * it with `bpf_sk_release` on every path, as the kernel requires.
 */
export declare function bpf_sk_lookup_tcp(ctx: XdpContext, tuple: BpfSockTupleV4 | BpfSockTupleV6, netns: i64, flags: u64): BpfSock | null;
/** As `bpf_sk_lookup_tcp`, for a UDP socket (`bpf_sk_lookup_udp`, kernel 4.20). */
export declare function bpf_sk_lookup_udp(ctx: XdpContext, tuple: BpfSockTupleV4 | BpfSockTupleV6, netns: i64, flags: u64): BpfSock | null;
/** As `bpf_sk_lookup_tcp`, but request and time-wait sockets are found too (`bpf_skc_lookup_tcp`, kernel 5.2). */
export declare function bpf_skc_lookup_tcp(ctx: XdpContext, tuple: BpfSockTupleV4 | BpfSockTupleV6, netns: i64, flags: u64): BpfSockCommon | null;
/** Releases a socket found by a lookup (`bpf_sk_release`); it may not be used afterwards. */
export declare function bpf_sk_release(sk: BpfSock | BpfSockCommon): i64;
/**
 * Whether the ACK in `iph`/`th` carries a valid SYN cookie of listener `sk`
 * (`bpf_tcp_check_syncookie`, kernel 5.2): 0 if so, a negative errno if not
 * (-ENOENT: a wrong cookie, no cookie sent recently, or not an ACK).
 * `iph` is an `Ipv4Hdr` or `Ipv6Hdr`, `th` a `TcpHdr` (in the packet, or
 * copies on the stack).
 */
export declare function bpf_tcp_check_syncookie(sk: BpfSock | BpfSockCommon, iph: object, th: object): i64;
/**
 * A SYN cookie for the SYN in `iph`/`th` to listener `sk`
 * (`bpf_tcp_gen_syncookie`, kernel 5.3, GPL only): the cookie in the low 32
 * bits and the MSS it encodes in the next 16, or a negative errno (-ENOENT
 * when the listener would not send cookies now; `net.ipv4.tcp_syncookies=2`
 * makes it always). The TCP header is passed with its length, which must
 * be its `doff`: `th` is a 20-byte `TcpHdr`, so SYNs with options get -EINVAL.
 */
export declare function bpf_tcp_gen_syncookie(sk: BpfSock | BpfSockCommon, iph: object, th: object): i64;
/**
 * A SYN cookie for the SYN in `iph`/`th` with no listener
 * (`bpf_tcp_raw_gen_syncookie_ipv4`, kernel 6.0, GPL only; an XDP SYN
 * proxy's): the cookie in the low 32 bits and the MSS it encodes (from the
 * SYN's MSS option, 536 without one) in the next 16, or -EINVAL when
 * `thLen` is not the header's `doff` length. `thLen` is a constant from 20
 * to 60, or a value the compiler bounds (`u32(th.doff >> 4) * 4`); the
 * packet must hold that many bytes past `th`, as the kernel proves.
 */
export declare function bpf_tcp_raw_gen_syncookie_ipv4(iph: import("tsxdp/net").Ipv4Hdr, th: import("tsxdp/net").TcpHdr, thLen: u32): i64;
/** As `bpf_tcp_raw_gen_syncookie_ipv4`, for IPv6 (`bpf_tcp_raw_gen_syncookie_ipv6`, kernel 6.0, GPL only). */
export declare function bpf_tcp_raw_gen_syncookie_ipv6(iph: import("tsxdp/net").Ipv6Hdr, th: import("tsxdp/net").TcpHdr, thLen: u32): i64;
/**
 * Whether the ACK in `iph`/`th` carries a valid SYN cookie (its `ackSeq`
 * less one), with no listener (`bpf_tcp_raw_check_syncookie_ipv4`, kernel
 * 6.0, GPL only): 0 if so, -EACCES if not. Cookies last two minutes.
 */
export declare function bpf_tcp_raw_check_syncookie_ipv4(iph: import("tsxdp/net").Ipv4Hdr, th: import("tsxdp/net").TcpHdr): i64;
/** As `bpf_tcp_raw_check_syncookie_ipv4`, for IPv6 (`bpf_tcp_raw_check_syncookie_ipv6`, kernel 6.0, GPL only). */
export declare function bpf_tcp_raw_check_syncookie_ipv6(iph: import("tsxdp/net").Ipv6Hdr, th: import("tsxdp/net").TcpHdr): i64;
/** A lookup's `netns`: the namespace of the device the packet arrived on. */
export declare const BPF_F_CURRENT_NETNS: -1;
export declare const BPF_TCP_ESTABLISHED: 1;
export declare const BPF_TCP_SYN_SENT: 2;
export declare const BPF_TCP_SYN_RECV: 3;
export declare const BPF_TCP_FIN_WAIT1: 4;
export declare const BPF_TCP_FIN_WAIT2: 5;
export declare const BPF_TCP_TIME_WAIT: 6;
export declare const BPF_TCP_CLOSE: 7;
export declare const BPF_TCP_CLOSE_WAIT: 8;
export declare const BPF_TCP_LAST_ACK: 9;
export declare const BPF_TCP_LISTEN: 10;
export declare const BPF_TCP_CLOSING: 11;
export declare const BPF_TCP_NEW_SYN_RECV: 12;

// ------------------------------------------------------------ conntrack (kfuncs)

/**
 * `struct bpf_ct_opts` (net/netfilter/nf_conntrack_bpf.c, 16 bytes): set
 * `netns_id` (`BPF_F_CURRENT_NETNS` or a namespace id) and `l4proto`
 * (`IPPROTO_TCP` or `IPPROTO_UDP`), the rest 0; the kernel writes `error`
 * (a negative errno when nothing is returned) and `dir` (the direction the
 * tuple matched, `IP_CT_DIR_*`).
 */
export interface BpfCtOpts {
  netns_id: i32;
  error: i32;
  l4proto: u8;
  dir: u8;
  ct_zone_id: u16;
  ct_zone_dir: u8;
  reserved: FixedArray<u8, 3>;
}

declare const nfConnBrand: unique symbol;
declare const nfConnInitBrand: unique symbol;
/**
 * A conntrack entry (`struct nf_conn`), a reference to release with
 * `bpf_ct_release`. Its `status` (IPS_* bits) and `mark` are read where the
 * running kernel has them (CO-RE relocations libbpf resolves); `mark` may
 * be written too, the one field the kernel lets a program write.
 */
export interface NfConn {
  readonly [nfConnBrand]: never;
  readonly status: u64;
  mark: u32;
}
/** A conntrack entry allocated but not inserted yet (`struct nf_conn___init`): insert it or release it. */
export interface NfConnInit {
  readonly [nfConnInitBrand]: never;
}

/**
 * Looks up the conntrack entry of `tuple.ipv4` or `tuple.ipv6` (sender's
 * address and port as `saddr`/`sport`) with the protocol and namespace of
 * `opts` (`bpf_xdp_ct_lookup`, kernel 5.18). Null if there is none (then
 * `opts.error` says why, e.g. -ENOENT). A found entry is a reference:
 * release it with `bpf_ct_release` on every path.
 */
export declare function bpf_xdp_ct_lookup(ctx: XdpContext, tuple: BpfSockTupleV4 | BpfSockTupleV6, opts: BpfCtOpts): NfConn | null;
/**
 * Allocates an entry for `tuple` (`bpf_xdp_ct_alloc`, kernel 6.1), the
 * reply direction being the tuple reversed. Set its timeout and status,
 * then `bpf_ct_insert_entry` it, or `bpf_ct_release` it.
 */
export declare function bpf_xdp_ct_alloc(ctx: XdpContext, tuple: BpfSockTupleV4 | BpfSockTupleV6, opts: BpfCtOpts): NfConnInit | null;
/** Inserts an allocated entry (`bpf_ct_insert_entry`, kernel 6.1), which it takes: the inserted entry, or null if another exists. */
export declare function bpf_ct_insert_entry(ct: NfConnInit): NfConn | null;
/** Releases a conntrack entry (`bpf_ct_release`); it may not be used afterwards. */
export declare function bpf_ct_release(ct: NfConn): void;
/** An IPv4 or IPv6 address as conntrack keeps it (`union nf_inet_addr`, 16 bytes), in network order. */
export interface NfInetAddr extends Union {
  ip: be32;
  ip6: FixedArray<be32, 4>;
}
/** `bpf_ct_set_nat_info`'s manip: rewrite the source (SNAT) or the destination (DNAT). */
export declare const NF_NAT_MANIP_SRC: 0;
export declare const NF_NAT_MANIP_DST: 1;
/**
 * Sets up NAT for an allocated entry before it is inserted
 * (`bpf_ct_set_nat_info`, kernel 6.2): its source (`NF_NAT_MANIP_SRC`) or
 * destination (`NF_NAT_MANIP_DST`) becomes `addr` (a local `NfInetAddr`)
 * and, unless `port` is 0, `port` (host order: the kernel swaps it), so the
 * reply direction is the rewritten tuple's. Once per manip and entry. 0, or
 * a negative errno (-EINVAL for an entry neither IPv4 nor IPv6).
 */
export declare function bpf_ct_set_nat_info(ct: NfConnInit, addr: NfInetAddr, port: u16, manip: 0 | 1): i32;

/**
 * Allocates a `T`, a struct of the program, in kernel memory (`bpf_obj_new`,
 * kernel 6.2). Null if the kernel has no memory; test it, write its fields
 * before reading them (a reused object keeps its bytes), and drop it with
 * `bpf_obj_drop` on every path.
 */
export declare function bpf_obj_new<T extends object>(): T | null;
/**
 * Reads memory as the vmlinux struct `kernelType` (`bpf_rdonly_cast`, kernel
 * 6.2), through `T`, a local struct of at most its size laid out as the
 * kernel's (e.g. `bpf_rdonly_cast<EthHdr>(ctx.data, "ethhdr")`): read-only,
 * each read checked by the verifier against the kernel's struct, a fault
 * reading 0. `kernelType` as for `bpf_snprintf_btf`. Null for a null
 * pointer: test it.
 */
export declare function bpf_rdonly_cast<T extends object>(ptr: object | PacketPointer, kernelType: string): T | null;
declare const xdpBuffBrand: unique symbol;
/**
 * The kernel's `struct xdp_buff` behind the context, read-only; its fields
 * are read where the running kernel has them (CO-RE relocations).
 */
export interface XdpBuff {
  readonly [xdpBuffBrand]: never;
  /** The frame's buffer size, headroom and tailroom included (a page for most drivers). */
  readonly frame_sz: u32;
  /** `XDP_FLAGS_HAS_FRAGS` when the frame has fragments (an `xdp.frags` program's multi-buffer frame). */
  readonly flags: u32;
}
/** `xdp_buff.flags`: the frame has fragments past its linear part. */
export declare const XDP_FLAGS_HAS_FRAGS: 1;
/** The kernel's context behind `ctx` (`bpf_cast_to_kern_ctx`, kernel 6.2): never null. */
export declare function bpf_cast_to_kern_ctx(ctx: XdpContext): XdpBuff;
/**
 * Ends the program at once with `action` (`bpf_throw`, kernel 6.7: an
 * exception, whose default callback returns the cookie). A statement of the
 * program's body; it holds nothing then (no object, entry or RCU section).
 */
export declare function bpf_throw(action: XdpAction): never;
/** Frees an object `bpf_obj_new` returned (`bpf_obj_drop`); it may not be used afterwards. */
export declare function bpf_obj_drop<T extends object>(obj: T): void;
declare const refcountBrand: unique symbol;
/**
 * A `struct bpf_refcount` field of a struct `bpf_obj_new` allocates (one per
 * struct): the kernel counts the references to the object in it. Never read
 * or written itself.
 */
export interface Refcount {
  readonly [refcountBrand]: never;
}
/**
 * Another reference to an object whose struct has a `Refcount` field
 * (`bpf_refcount_acquire`, kernel 6.4), or null: test it, and drop it with
 * `bpf_obj_drop` on every path, apart from the object it was taken from.
 */
export declare function bpf_refcount_acquire<T extends object>(obj: T): T | null;
declare const listHeadBrand: unique symbol;
declare const listNodeBrand: unique symbol;
declare const rbRootBrand: unique symbol;
declare const rbNodeBrand: unique symbol;
/**
 * A `struct bpf_list_head` field of a HashMap or ArrayMap value that also
 * holds a `SpinLock`: a list of `T`s (objects from `bpf_obj_new`) linked
 * through their `ListNode` field `Node`. Only the
 * bpf_list_* kfuncs touch it, with that lock held.
 */
export interface ListHead<T extends object, Node extends string> {
  readonly [listHeadBrand]: { readonly of: T; readonly node: Node };
}
/** A `struct bpf_list_node`: the field of a struct that a `ListHead` links it by. Never read or written itself. */
export interface ListNode {
  readonly [listNodeBrand]: never;
}
/** A `struct bpf_rb_root`: a red-black tree of `T`s by their `RbNode` field `Node`, as `ListHead` is a list. */
export interface RbRoot<T extends object, Node extends string> {
  readonly [rbRootBrand]: { readonly of: T; readonly node: Node };
}
/** A `struct bpf_rb_node`: the field of a struct that an `RbRoot` orders it by. Never read or written itself. */
export interface RbNode {
  readonly [rbNodeBrand]: never;
}
/** A list of `T`s, whatever its node field is called. */
export type ListOf<T extends object> = ListHead<T, string>;
/** A tree of `T`s, whatever its node field is called. */
export type TreeOf<T extends object> = RbRoot<T, string>;
/** A tree's order for `bpf_rbtree_add`: a top-level function telling whether `a` goes before `b`; it calls nothing (the lock is held). */
export type Less<T extends object> = (a: T, b: T) => boolean;
/** Puts `obj` first in the list (`bpf_list_push_front`, kernel 6.2), the lock held: the list owns it now, and `obj` is gone. */
export declare function bpf_list_push_front<T extends object>(head: ListOf<T>, obj: T): i32;
/** Puts `obj` last in the list (`bpf_list_push_back`), as `bpf_list_push_front`. */
export declare function bpf_list_push_back<T extends object>(head: ListOf<T>, obj: T): i32;
/** Takes the first object out of the list (`bpf_list_pop_front`), the lock held; null when empty. Yours: push it back or drop it on every path. */
export declare function bpf_list_pop_front<T extends object>(head: ListOf<T>): T | null;
/** Takes the last object out of the list (`bpf_list_pop_back`), as `bpf_list_pop_front`. */
export declare function bpf_list_pop_back<T extends object>(head: ListOf<T>): T | null;
/** Adds `obj` to the tree in `less`'s order (`bpf_rbtree_add`, kernel 6.3), the lock held: the tree owns it now, and `obj` is gone. */
export declare function bpf_rbtree_add<T extends object>(root: TreeOf<T>, obj: T, less: Less<T>): i32;
/** The tree's least object (`bpf_rbtree_first`), or null; the tree keeps it: read it, or pass it to `bpf_rbtree_remove`, before the unlock. */
export declare function bpf_rbtree_first<T extends object>(root: TreeOf<T>): T | null;
/** Takes `node`, from `bpf_rbtree_first`, out of the tree (`bpf_rbtree_remove`); null if it was not there. Yours: add it back or drop it on every path. */
export declare function bpf_rbtree_remove<T extends object>(root: TreeOf<T>, node: T): T | null;
/** A per-CPU object of a `T` (`bpf_percpu_obj_new`): a handle only, as the kernel gives an owned one no per-CPU address. */
export interface PercpuObj<T extends object> {
  readonly __percpu: T;
}
/**
 * Allocates a `T` for every CPU (`bpf_percpu_obj_new`, kernel 6.7): `T` a
 * struct of integers (structs and arrays of them) of at most 512 bytes.
 * Null if the kernel has no memory; test it, and drop it with
 * `bpf_percpu_obj_drop` on every path.
 */
export declare function bpf_percpu_obj_new<T extends object>(): PercpuObj<T> | null;
/** Frees an object `bpf_percpu_obj_new` returned (`bpf_percpu_obj_drop`); it may not be used afterwards. */
export declare function bpf_percpu_obj_drop<T extends object>(obj: PercpuObj<T>): void;
declare const kptrBrand: unique symbol;
/**
 * A map value field (ArrayMap, HashMap, LruHash) that holds an object
 * `bpf_obj_new<T>()` allocated, or null (C's `struct T __kptr *`). Read, it
 * is that object, kept alive by RCU while the program runs: test it, then
 * read and write its fields (not after the `bpf_rcu_read_unlock` of a
 * section it was read in). It is never assigned: `bpf_kptr_xchg` puts an
 * object in and takes the old one out.
 */
export type Kptr<T extends object> = (T & { readonly [kptrBrand]: true }) | null;
declare const percpuKptrBrand: unique symbol;
/** The per-CPU object a `PercpuKptr` field holds, as read: reached through `bpf_this_cpu_ptr` or `bpf_per_cpu_ptr`. */
export interface PercpuRef<T extends object> {
  readonly [percpuKptrBrand]: T;
}
/** A map value field that holds an object `bpf_percpu_obj_new<T>()` allocated, or null (C's `struct T __percpu_kptr *`); read, a `PercpuRef<T>`. */
export type PercpuKptr<T extends object> = PercpuRef<T> | null;
/**
 * Puts `obj` (or null) into a map value's `Kptr` field and returns the object
 * that was there, or null (`bpf_kptr_xchg`, kernel 6.2; local objects 6.4):
 * `obj` then belongs to the map, and the one returned to the program, which
 * tests it and drops it or puts it back on every path.
 */
export declare function bpf_kptr_xchg<T extends object>(field: Kptr<T>, obj: T | null): T | null;
/** The same for a `PercpuKptr` field and a `bpf_percpu_obj_new` object (kernel 6.7). */
export declare function bpf_kptr_xchg<T extends object>(field: PercpuKptr<T>, obj: PercpuObj<T> | null): PercpuObj<T> | null;
/** This CPU's `T` of a per-CPU object read from a `PercpuKptr` field and tested (`bpf_this_cpu_ptr`, kernel 6.7 for these). */
export declare function bpf_this_cpu_ptr<T extends object>(obj: PercpuRef<T>): T;
/** CPU `cpu`'s `T` of a per-CPU object read from a `PercpuKptr` field and tested, or null past the last CPU (`bpf_per_cpu_ptr`). */
export declare function bpf_per_cpu_ptr<T extends object>(obj: PercpuRef<T>, cpu: u32): T | null;
/** Sets the timeout of an allocated entry, in milliseconds (`bpf_ct_set_timeout`). */
export declare function bpf_ct_set_timeout(ct: NfConnInit, timeoutMs: u32): void;
/** Changes the timeout of an entry, in milliseconds (`bpf_ct_change_timeout`): 0 or a negative errno. */
export declare function bpf_ct_change_timeout(ct: NfConn, timeoutMs: u32): i32;
/** Sets the status bits (`IPS_*`) of an allocated entry (`bpf_ct_set_status`): 0 or a negative errno. */
export declare function bpf_ct_set_status(ct: NfConnInit, status: u32): i32;
/** Changes the status bits (`IPS_*`) of an entry (`bpf_ct_change_status`): 0 or a negative errno. */
export declare function bpf_ct_change_status(ct: NfConn, status: u32): i32;
/** `opts.dir`: the tuple matched the entry's original direction, or its reply. */
export declare const IP_CT_DIR_ORIGINAL: 0;
export declare const IP_CT_DIR_REPLY: 1;
/** Status bits (include/uapi/linux/netfilter/nf_conntrack_common.h). */
export declare const IPS_EXPECTED: 1;
export declare const IPS_SEEN_REPLY: 2;
export declare const IPS_ASSURED: 4;
export declare const IPS_CONFIRMED: 8;

// ------------------------------------------------------------ dynptrs (kfuncs)

/**
 * `struct bpf_dynptr`: 16 bytes on the stack that `bpf_dynptr_from_xdp`
 * makes a view of the whole packet, fragments of an `xdp.frags` program
 * included. Declare one with `zeroed<BpfDynptr>()`; never read its bytes.
 */
export interface BpfDynptr {
  readonly __opaque: FixedArray<u64, 2>;
}
/** Makes `ptr` a dynptr over the packet (`bpf_dynptr_from_xdp`, kernel 6.4; `flags` 0): 0, or a negative errno. */
export declare function bpf_dynptr_from_xdp(ctx: XdpContext, flags: u64, ptr: BpfDynptr): i32;
/**
 * The `T` at `offset` of the dynptr, read-only (`bpf_dynptr_slice`, kernel
 * 6.4): a pointer into the packet when the bytes are contiguous there, else
 * a copy in `buffer` (a local `T`; with `null`, give `T` as the type
 * argument and get null instead of a copy). Null past the end: test it.
 */
export declare function bpf_dynptr_slice<T>(ptr: BpfDynptr, offset: u32, buffer: T | null): Readonly<T> | null;
/** As `bpf_dynptr_slice`, writable (`bpf_dynptr_slice_rdwr`): writes reach the packet only where it points into it (no buffer). */
export declare function bpf_dynptr_slice_rdwr<T>(ptr: BpfDynptr, offset: u32, buffer: T | null): T | null;
/** The bytes the dynptr covers (`bpf_dynptr_size`, kernel 6.5): the whole packet for one from `bpf_dynptr_from_xdp`. */
export declare function bpf_dynptr_size(ptr: BpfDynptr): u32;
/** Narrows the dynptr to bytes [start, end) of what it covers (`bpf_dynptr_adjust`, kernel 6.5): 0, or a negative errno. */
export declare function bpf_dynptr_adjust(ptr: BpfDynptr, start: u32, end: u32): i32;
/** Makes `clone` a second dynptr over the same bytes (`bpf_dynptr_clone`, kernel 6.5): 0, or a negative errno. */
export declare function bpf_dynptr_clone(ptr: BpfDynptr, clone: BpfDynptr): i32;
/** Whether the dynptr is null, as after a failed `bpf_dynptr_from_xdp` (`bpf_dynptr_is_null`, kernel 6.5). */
export declare function bpf_dynptr_is_null(ptr: BpfDynptr): boolean;
/** Whether the dynptr is read-only (`bpf_dynptr_is_rdonly`, kernel 6.5). */
export declare function bpf_dynptr_is_rdonly(ptr: BpfDynptr): boolean;

// ------------------------------------------------------------ dynptrs (helpers)

/**
 * Makes `ptr` a dynptr over `data`, a local struct, `FixedArray` or `Cell`, or
 * a tested map value (`bpf_dynptr_from_mem`, helper 197, kernel 5.19; `flags`
 * 0): 0, or a negative errno (and a null dynptr).
 */
export declare function bpf_dynptr_from_mem<T>(data: T, flags: u64, ptr: BpfDynptr): i64;
/**
 * Copies `dst`'s size in bytes from `offset` of the dynptr `src` into `dst`
 * (`bpf_dynptr_read`, helper 201, kernel 5.19; `flags` 0), across a frame's
 * fragments too: 0, or a negative errno (-E2BIG past the end).
 */
export declare function bpf_dynptr_read<T>(dst: T, src: BpfDynptr, offset: u32, flags: u64): i64;
/**
 * Copies `src` (a local struct, `FixedArray` or `Cell`) to `offset` of the
 * dynptr `dst` (`bpf_dynptr_write`, helper 202, kernel 5.19; `flags` 0):
 * 0, or a negative errno (-E2BIG past the end, -EINVAL if read-only).
 */
export declare function bpf_dynptr_write<T>(dst: BpfDynptr, offset: u32, src: T, flags: u64): i64;
/**
 * The `T` at `offset` of a dynptr over memory (`bpf_dynptr_data`, helper 203,
 * kernel 5.19), read and written in place: null past the end, and always for
 * a dynptr over the packet (use `bpf_dynptr_slice` there). Test it.
 */
export declare function bpf_dynptr_data<T>(ptr: BpfDynptr, offset: u32): T | null;
/**
 * Reserves a record of `size` bytes, known at run time, in `ringbuf` and
 * makes `ptr` a dynptr over it (`bpf_ringbuf_reserve_dynptr`, helper 198,
 * kernel 5.19; `flags` 0): 0, or a negative errno. Either way `ptr` must be
 * submitted or discarded on every path (the verifier refuses a program that
 * can return holding it; a failed reservation is discarded).
 */
export declare function bpf_ringbuf_reserve_dynptr<T>(ringbuf: RingBuf<T>, size: u32, flags: u64, ptr: BpfDynptr): i64;
/** Sends the reserved record to the reader (`bpf_ringbuf_submit_dynptr`, helper 199; `RingBufFlags` or 0); `ptr` is gone afterwards. */
export declare function bpf_ringbuf_submit_dynptr(ptr: BpfDynptr, flags: u64): void;
/** Drops the reserved record (`bpf_ringbuf_discard_dynptr`, helper 200; `RingBufFlags` or 0); `ptr` is gone afterwards. */
export declare function bpf_ringbuf_discard_dynptr(ptr: BpfDynptr, flags: u64): void;

// ------------------------------------------------------------ RCU (kfuncs)

/**
 * Opens an RCU read-side section (`bpf_rcu_read_lock`, kernel 6.2): end it
 * with `bpf_rcu_read_unlock` on every path, in the same function, before
 * returning; sections do not nest.
 */
export declare function bpf_rcu_read_lock(): void;
/** Ends the RCU read-side section `bpf_rcu_read_lock` opened (`bpf_rcu_read_unlock`). */
export declare function bpf_rcu_read_unlock(): void;

// ------------------------------------------------------------ tasks (kfuncs)

/**
 * The task (thread) of that id in the init PID namespace, a reference to
 * release with `bpf_task_release` on every path, or null (`bpf_task_from_pid`,
 * kernel 6.2). Its `pid` and `tgid` are read where the running kernel has
 * them (CO-RE relocations libbpf resolves).
 */
export declare function bpf_task_from_pid(pid: i32): TaskStruct | null;
/** A reference to a task the program holds or a `bpf_iter_task` loop is at, or null (`bpf_task_acquire`, kernel 6.2): release it too. */
export declare function bpf_task_acquire(task: TaskStruct): TaskStruct | null;
/** Releases a task reference `bpf_task_from_pid` or `bpf_task_acquire` returned (`bpf_task_release`, kernel 6.2). */
export declare function bpf_task_release(task: TaskStruct): void;

declare const cgroupBrand: unique symbol;
/**
 * A cgroup (`struct cgroup`), a reference to release with
 * `bpf_cgroup_release`. Its `level` (depth below its hierarchy's root, 0) is
 * read where the running kernel has it (a CO-RE relocation).
 */
export interface Cgroup {
  readonly [cgroupBrand]: never;
  readonly level: i32;
}
/** The cgroup v2 of that id (its cgroupfs directory's inode number), or null (`bpf_cgroup_from_id`, kernel 6.2). */
export declare function bpf_cgroup_from_id(id: u64): Cgroup | null;
/** `task`'s cgroup (held, or a task loop's) in the cgroup v1 hierarchy `hierarchyId` (the first field of /proc/PID/cgroup), or null (`bpf_task_get_cgroup1`, kernel 6.8). */
export declare function bpf_task_get_cgroup1(task: TaskStruct, hierarchyId: i32): Cgroup | null;
/** A second reference to a cgroup the program holds, or null (`bpf_cgroup_acquire`, kernel 6.2). */
export declare function bpf_cgroup_acquire(cgroup: Cgroup): Cgroup | null;
/** The ancestor of `cgroup` at that level (0: the root; its own level: itself), or null (`bpf_cgroup_ancestor`, kernel 6.2). */
export declare function bpf_cgroup_ancestor(cgroup: Cgroup, level: i32): Cgroup | null;
/** Releases a cgroup reference (`bpf_cgroup_release`, kernel 6.2). */
export declare function bpf_cgroup_release(cgroup: Cgroup): void;
/** 1 if `task` (held, or a task loop's) is in `ancestor` or below it in the cgroup v2 hierarchy, else 0 (`bpf_task_under_cgroup`, kernel 6.5): with a `bpf_iter_task` loop, a cgroup's tasks. */
export declare function bpf_task_under_cgroup(task: TaskStruct, ancestor: Cgroup): i64;
/**
 * The tasks of the system, for a loop only: `for (const t of
 * bpf_iter_task(BPF_TASK_ITER_ALL_PROCS)) { … }` (the kernel's
 * open-coded iterator `bpf_iter_task_new/next/destroy`, kernel 6.7, made
 * and destroyed around the loop). Each `t` is valid in its iteration only;
 * leave the loop with `break`, not `return`.
 */
export declare function bpf_iter_task(flags: u32): Iterable<TaskStruct>;
/** Each process (its main thread). */
export declare const BPF_TASK_ITER_ALL_PROCS: 0;
/** Every thread of every process. */
export declare const BPF_TASK_ITER_ALL_THREADS: 1;

declare const vmAreaBrand: unique symbol;
/**
 * A memory area of a task (`struct vm_area_struct`): its first address and
 * the one past its last, read where the running kernel has them (CO-RE).
 */
export interface VmArea {
  readonly [vmAreaBrand]: never;
  readonly vm_start: u64;
  readonly vm_end: u64;
}
/**
 * The memory areas of `task` in address order, from the one holding (or
 * after) `addr` (0: all), for a loop only: `for (const v of
 * bpf_iter_task_vma(task, 0)) { … }` (`bpf_iter_task_vma_new/next/destroy`,
 * kernel 6.7). `task` is one the program holds (from `bpf_task_from_pid` or
 * `bpf_task_acquire`, tested) or the variable of a `bpf_iter_task` loop.
 * Each `v` is valid in its iteration only; leave the loop with `break`.
 */
export declare function bpf_iter_task_vma(task: TaskStruct, addr: u64): Iterable<VmArea>;
/**
 * The cgroups from `cgroup` on, in an order (`BPF_CGROUP_ITER_*`), for a
 * loop only: `for (const c of bpf_iter_css(cg, BPF_CGROUP_ITER_DESCENDANTS_PRE))
 * { … }` (the css iterator `bpf_iter_css_new/next/destroy` over the
 * cgroup's own css, kernel 6.7). `cgroup` is one the program holds, tested;
 * each `c` (its `level` readable, not a reference) is valid in its iteration
 * only; leave the loop with `break`. Other orders walk nothing.
 */
export declare function bpf_iter_css(cgroup: Cgroup, order: u32): Iterable<Cgroup>;
/** `cgroup` and every cgroup below it, each before its children. */
export declare const BPF_CGROUP_ITER_DESCENDANTS_PRE: 2;
/** `cgroup` and every cgroup below it, each after its children (`cgroup` last). */
export declare const BPF_CGROUP_ITER_DESCENDANTS_POST: 3;
/** `cgroup`, its parent, and so up to the root. */
export declare const BPF_CGROUP_ITER_ANCESTORS_UP: 4;

// ------------------------------------------------------------ RX metadata (kfuncs)

/**
 * The RX hash the device computed, into `hash`, and its type into `rssType`
 * (`XDP_RSS_*` bits: L3, L4, IPv4/IPv6, TCP/UDP/SCTP) (`bpf_xdp_metadata_rx_hash`,
 * kernel 6.3): 0, or a negative errno (-ENODATA: none for this packet,
 * -EOPNOTSUPP: the driver has none, or the program was not loaded bound to
 * the device: `loadObject(bytes, { deviceBoundIfindex })`).
 */
export declare function bpf_xdp_metadata_rx_hash(ctx: XdpContext, hash: Cell<u32>, rssType: Cell<u32>): i32;
/** The RX timestamp in nanoseconds, into `timestamp` (`bpf_xdp_metadata_rx_timestamp`, kernel 6.3): 0, or a negative errno as for the hash. */
export declare function bpf_xdp_metadata_rx_timestamp(ctx: XdpContext, timestamp: Cell<u64>): i32;
/**
 * The VLAN tag the device took off the frame (`bpf_xdp_metadata_rx_vlan_tag`,
 * kernel 6.8): its protocol (network order, 0x8100 or 0x88a8) into
 * `proto` and its TCI (priority, DEI, VLAN id; host order) into `tci`. 0, or a
 * negative errno (-ENODATA: the frame had no offloaded tag).
 */
export declare function bpf_xdp_metadata_rx_vlan_tag(ctx: XdpContext, proto: Cell<be16>, tci: Cell<u16>): i32;
