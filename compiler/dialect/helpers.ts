/**
 * BPF helpers an XDP program may call, by their kernel IDs (the position in
 * `__BPF_FUNC_MAPPER`, include/uapi/linux/bpf.h). IDs are ABI: a test checks
 * each against the installed UAPI header. One table, one choke point: the IR
 * builder and the code generator both read helpers from here only.
 */
import { type IntType, type PointerType, mapValuePtr, u32, u64, i32, i64 } from "../ir/types";

export type HelperParam =
  | { readonly kind: "ctx" }
  | { readonly kind: "int"; readonly type: IntType }
  /**
   * A pointer to stack memory: the user passes a local struct, `FixedArray`
   * or `Cell` (or a field of one), whose bytes the helper reads or writes.
   * `size`: the memory must be exactly that many bytes (ARG_PTR_TO_FIXED_SIZE_MEM,
   * or a struct the helper checks the size of); `multipleOf`: its size must be
   * a multiple of that (the helper fails otherwise); `nullable`: `null` passes NULL;
   * `packet`: a header view may be passed too (the helper's proto has pkt_access);
 * `mapValue`: a writable map value only, not the stack (bpf_dynptr_from_mem).
   */
  | { readonly kind: "mem"; readonly access: "read" | "write"; readonly size?: number; readonly sizes?: readonly number[]; readonly multipleOf?: number; readonly nullable?: boolean; readonly packet?: boolean; readonly mapValue?: true }
  /** A socket from a lookup, tested non-null (ARG_PTR_TO_BTF_ID_SOCK_COMMON); `release`: the call releases it (OBJ_RELEASE). */
  | { readonly kind: "sock"; readonly release?: boolean }
  /**
   * The running task as bpf_get_current_task_btf returned it (ARG_PTR_TO_BTF_ID of
   * struct task_struct): the call itself, or a const holding it; passed as the register.
   */
  | { readonly kind: "task" }
  /**
   * The byte count of the `mem` argument just before it (ARG_CONST_SIZE): filled in by the compiler,
   * not written; or, with `written`, the user's value within [min, max] (a constant, or one the
   * compiler bounds), the bytes the helper reads being proven up to its largest value.
   */
  | { readonly kind: "size"; readonly type: IntType; readonly written?: { readonly min: number; readonly max: number } }
  /** The address of a map value's `Kptr`/`PercpuKptr` field (ARG_PTR_TO_KPTR). */
  | { readonly kind: "kptr" }
  /** An allocated object, tested, or NULL where the helper allows it; `release`: the call takes it from the program (OBJ_RELEASE). */
  | { readonly kind: "object"; readonly release?: boolean }
  /**
   * A local `BpfDynptr` (ARG_PTR_TO_DYNPTR); `uninit`: the call initialises it
   * (MEM_UNINIT); `acquire`: into a ring buffer reservation, a reference the
   * program then holds even when the call fails; `release`: the call ends it (OBJ_RELEASE).
   */
  | { readonly kind: "dynptr"; readonly uninit?: boolean; readonly acquire?: boolean; readonly release?: boolean }
  /** One of the file's `RingBuf`s, as its address (CONST_PTR_TO_MAP). */
  | { readonly kind: "ringbuf" }
  /** The byte size of the call's type argument `T` (ARG_CONST_ALLOC_SIZE_OR_ZERO): the result is a `T`, or null. */
  | { readonly kind: "sizeOfType"; readonly type: IntType };

export interface HelperSpec {
  readonly name: string;
  readonly id: number;
  readonly params: readonly HelperParam[];
  readonly returns: IntType | PointerType;
  /**
   * The result is a socket or null (RET_PTR_TO_SOCK*_OR_NULL), a reference the
   * kernel tracks until a `release` parameter takes it: the struct its fields
   * are read through is the one the helper's declaration returns.
   */
  readonly acquires?: boolean;
  /** First kernel with the helper, for messages. */
  readonly since: string;
  /**
   * The helper may move or resize the packet: the verifier then forgets every
   * packet pointer (bpf_helper_changes_pkt_data → clear_all_pkt_pointers).
   */
  readonly changesPacket?: boolean;
  /** gpl_only in the helper's proto: the kernel refuses it unless the license is GPL-compatible. */
  readonly gplOnly?: boolean;
}

const ctx: HelperParam = { kind: "ctx" };
const int = (type: IntType): HelperParam => ({ kind: "int", type });

export const helpers: ReadonlyMap<string, HelperSpec> = new Map(
  (
    [
      { name: "bpf_ktime_get_ns", id: 5, params: [], returns: u64, since: "4.1" },
      { name: "bpf_get_prandom_u32", id: 7, params: [], returns: u32, since: "4.1" },
      { name: "bpf_get_smp_processor_id", id: 8, params: [], returns: u32, since: "4.1" },
      // Returns XDP_REDIRECT, or XDP_ABORTED for flags other than 0 (an XDP program's u32 action).
      { name: "bpf_redirect", id: 23, params: [{ kind: "int", type: u32 }, { kind: "int", type: u64 }], returns: u32, since: "4.14" },
      { name: "bpf_get_numa_node_id", id: 42, params: [], returns: i32, since: "4.10" },
      { name: "bpf_xdp_adjust_head", id: 44, params: [ctx, { kind: "int", type: i32 }], returns: i64, since: "4.10", changesPacket: true },
      { name: "bpf_xdp_adjust_meta", id: 54, params: [ctx, { kind: "int", type: i32 }], returns: i64, since: "4.15", changesPacket: true },
      { name: "bpf_xdp_adjust_tail", id: 65, params: [ctx, { kind: "int", type: i32 }], returns: i64, since: "4.18", changesPacket: true },
      // Sums of 32-bit words, so both sizes must be multiples of 4; either buffer may be absent.
      {
        name: "bpf_csum_diff",
        id: 28,
        params: [
          { kind: "mem", access: "read", multipleOf: 4, nullable: true, packet: true },
          { kind: "size", type: u32 },
          { kind: "mem", access: "read", multipleOf: 4, nullable: true, packet: true },
          { kind: "size", type: u32 },
          int(u32),
        ],
        returns: i64,
        since: "4.6",
      },
      // struct bpf_fib_lookup is 64 bytes; the helper refuses another plen (-EINVAL).
      { name: "bpf_fib_lookup", id: 69, params: [ctx, { kind: "mem", access: "write", size: 64 }, { kind: "size", type: i32 }, int(u32)], returns: i64, since: "4.18", gplOnly: true },
      { name: "bpf_jiffies64", id: 118, params: [], returns: u64, since: "5.5" },
      { name: "bpf_ktime_get_boot_ns", id: 125, params: [], returns: u64, since: "5.8" },
      { name: "bpf_xdp_get_buff_len", id: 188, params: [ctx], returns: u64, since: "5.18" },
      // Copies between the packet (fragments included) and a buffer; the packet does not move
      // (neither is in bpf_helper_changes_pkt_data), so packet pointers stay valid.
      { name: "bpf_xdp_load_bytes", id: 189, params: [ctx, int(u32), { kind: "mem", access: "write" }, { kind: "size", type: u32 }], returns: i64, since: "5.18" },
      { name: "bpf_xdp_store_bytes", id: 190, params: [ctx, int(u32), { kind: "mem", access: "read" }, { kind: "size", type: u32 }], returns: i64, since: "5.18" },
      // mtu_len is in/out: the length to check (0: the packet's), then the device's MTU.
      // The tuple's size tells the family (12: IPv4, 36: IPv6); the kernel finds nothing for another.
      ...(
        [
          ["bpf_sk_lookup_tcp", 84, "4.20"],
          ["bpf_sk_lookup_udp", 85, "4.20"],
          ["bpf_skc_lookup_tcp", 99, "5.2"],
        ] as const
      ).map(([name, id, since]) => ({
        name,
        id,
        params: [ctx, { kind: "mem", access: "read", sizes: [12, 36] }, { kind: "size", type: u32 }, int(i64), int(u64)] satisfies HelperParam[],
        returns: mapValuePtr,
        acquires: true,
        since,
      })),
      { name: "bpf_sk_release", id: 86, params: [{ kind: "sock", release: true }], returns: i64, since: "4.20" },
      // Headers as the packet holds them (pkt_access), or copies; lengths are the headers' sizes.
      ...(
        [
          ["bpf_tcp_check_syncookie", 100, "5.2"],
          ["bpf_tcp_gen_syncookie", 110, "5.3"],
        ] as const
      ).map(([name, id, since]) => ({
        name,
        id,
        params: [{ kind: "sock" }, { kind: "mem", access: "read", packet: true }, { kind: "size", type: u32 }, { kind: "mem", access: "read", packet: true }, { kind: "size", type: u32 }] satisfies HelperParam[],
        returns: i64,
        since,
        // __cookie_v*_init_sequence() and its check are GPL.
        gplOnly: true,
      })),
      // Copies from any address without faulting (0, or a negative errno with the buffer zeroed);
      // the _str forms stop after a NUL and return the length with it. The address is a plain u64:
      // the kernel checks nothing of it (ARG_ANYTHING).
      ...(
        [
          ["bpf_probe_read_user", 112],
          ["bpf_probe_read_kernel", 113],
          ["bpf_probe_read_user_str", 114],
          ["bpf_probe_read_kernel_str", 115],
        ] as const
      ).map(([name, id]) => ({
        name,
        id,
        params: [{ kind: "mem", access: "write" }, { kind: "size", type: u32 }, int(u64)] satisfies HelperParam[],
        returns: i64,
        since: "5.5",
        gplOnly: true,
      })),
      // The running task's struct task_struct, as an address for the probe_read helpers.
      { name: "bpf_get_current_task", id: 35, params: [], returns: u64, since: "4.8", gplOnly: true },
      // The same task as the verifier's PTR_TO_BTF_ID (never null; its type is vmlinux's, so the
      // object's BTF need not name it): a register only passed on to helpers that take a task.
      { name: "bpf_get_current_task_btf", id: 158, params: [], returns: u64, since: "5.11", gplOnly: true },
      // The task's saved user registers (struct pt_regs, PTR_TO_BTF_ID), as an address to read from.
      { name: "bpf_task_pt_regs", id: 175, params: [{ kind: "task" }], returns: u64, since: "5.15", gplOnly: true },
      // Dynptrs (kernel/bpf/helpers.c): over a local buffer or map value, or a ring buffer
      // reservation of any size (a reference, ended by submit or discard even when the reservation
      // failed); read and write copy through any dynptr, fragments of the packet included.
      { name: "bpf_dynptr_from_mem", id: 197, params: [{ kind: "mem", access: "write", mapValue: true }, { kind: "size", type: u32 }, int(u64), { kind: "dynptr", uninit: true }], returns: i64, since: "5.19" },
      { name: "bpf_ringbuf_reserve_dynptr", id: 198, params: [{ kind: "ringbuf" }, int(u32), int(u64), { kind: "dynptr", uninit: true, acquire: true }], returns: i64, since: "5.19" },
      { name: "bpf_ringbuf_submit_dynptr", id: 199, params: [{ kind: "dynptr", release: true }, int(u64)], returns: i64, since: "5.19" },
      { name: "bpf_ringbuf_discard_dynptr", id: 200, params: [{ kind: "dynptr", release: true }, int(u64)], returns: i64, since: "5.19" },
      { name: "bpf_dynptr_read", id: 201, params: [{ kind: "mem", access: "write" }, { kind: "size", type: u32 }, { kind: "dynptr" }, int(u32), int(u64)], returns: i64, since: "5.19" },
      { name: "bpf_dynptr_write", id: 202, params: [{ kind: "dynptr" }, int(u32), { kind: "mem", access: "read" }, { kind: "size", type: u32 }, int(u64)], returns: i64, since: "5.19" },
      // NULL for a dynptr over the packet (the kernel gives only local and ring buffer ones' memory).
      { name: "bpf_dynptr_data", id: 203, params: [{ kind: "dynptr" }, int(u32), { kind: "sizeOfType", type: u32 }], returns: mapValuePtr, since: "5.19" },
      // SYN cookies without a listener (the XDP SYN proxy's): the IP header's fixed size, the TCP
      // header as long as `th_len`, which the kernel wants equal to its doff * 4 (-EINVAL otherwise).
      ...(
        [
          ["bpf_tcp_raw_gen_syncookie_ipv4", 204, 20],
          ["bpf_tcp_raw_gen_syncookie_ipv6", 205, 40],
        ] as const
      ).map(([name, id, ipSize]) => ({
        name,
        id,
        params: [{ kind: "mem", access: "read", size: ipSize, packet: true }, { kind: "mem", access: "read", packet: true }, { kind: "size", type: u32, written: { min: 20, max: 60 } }] satisfies HelperParam[],
        returns: i64,
        since: "6.0",
        // __cookie_v*_init_sequence() and __cookie_v*_check() are GPL.
        gplOnly: true,
      })),
      ...(
        [
          ["bpf_tcp_raw_check_syncookie_ipv4", 206, 20],
          ["bpf_tcp_raw_check_syncookie_ipv6", 207, 40],
        ] as const
      ).map(([name, id, ipSize]) => ({
        name,
        id,
        params: [{ kind: "mem", access: "read", size: ipSize, packet: true }, { kind: "mem", access: "read", size: 20, packet: true }] satisfies HelperParam[],
        returns: i64,
        since: "6.0",
        gplOnly: true,
      })),
      { name: "bpf_ktime_get_coarse_ns", id: 160, params: [], returns: u64, since: "5.11" },
      { name: "bpf_ktime_get_tai_ns", id: 208, params: [], returns: u64, since: "6.1" },
      { name: "bpf_check_mtu", id: 163, params: [ctx, int(u32), { kind: "mem", access: "write", size: 4 }, int(i32), int(u64)], returns: i64, since: "5.12", gplOnly: true },
    ] satisfies HelperSpec[]
  ).map((h) => [h.name, h]),
);

/**
 * Helpers on objects kept in map values (compiler/ir/kptrs.ts lowers their
 * calls): bpf_kptr_xchg moves an object into a kptr field and the old one
 * out (a reference the program then holds); bpf_this_cpu_ptr and
 * bpf_per_cpu_ptr give a CPU's copy of a per-CPU object read from a
 * `PercpuKptr` field (MEM_RCU | MEM_PERCPU; kernel/bpf/helpers.c).
 */
export const kptrHelpers: ReadonlyMap<string, HelperSpec> = new Map(
  (
    [
      { name: "bpf_kptr_xchg", id: 194, params: [{ kind: "kptr" }, { kind: "object", release: true }], returns: mapValuePtr, acquires: true, since: "6.4" },
      { name: "bpf_per_cpu_ptr", id: 153, params: [{ kind: "object" }, int(u32)], returns: mapValuePtr, since: "6.7" },
      { name: "bpf_this_cpu_ptr", id: 154, params: [{ kind: "object" }], returns: mapValuePtr, since: "6.7" },
    ] satisfies HelperSpec[]
  ).map((h) => [h.name, h]),
);
