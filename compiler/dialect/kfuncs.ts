/**
 * Kernel functions (kfuncs) an XDP program can use, declared as the kernel
 * declares them: the code generator emits each one called as an extern
 * function in `.ksyms` with this prototype in BTF, and libbpf resolves it
 * against /sys/kernel/btf/vmlinux, refusing a prototype that differs in
 * kind. A test checks every entry (names, parameter names and C types,
 * return type) against the running kernel's BTF. One table, one choke
 * point: the IR builder and the code generator read kfuncs from here only.
 *
 * The flags are the kernel's (KF_ACQUIRE, KF_RELEASE, KF_RET_NULL in the
 * BTF_ID_FLAGS of each kfunc set): they are not in BTF, so they are taken
 * from the kernel sources (net/netfilter/nf_conntrack_bpf.c,
 * kernel/bpf/helpers.c, net/core/xdp.c) and enforced at compile time.
 *
 * Parameter names matter to the verifier: `__sz` is the byte size of the
 * memory before it, `__szk` a constant size, `__k` a constant, `__opt` may
 * be NULL, `__uninit` a dynptr the call initialises, `__ign` ignored.
 */
import { InternalError } from "../diagnostics/diagnostic";
import type { HelperParam } from "./helpers";
import { type IntType, i32, i64, u16 as u16Type, u32 as u32Type, u64 as u64Type } from "../ir/types";

/** A C type as far as libbpf and the verifier compare them: integers by size and sign, pointers by what they point to. */
export type KfuncType =
  | { readonly kind: "void" }
  | { readonly kind: "int"; readonly type: IntType }
  | { readonly kind: "bool" }
  | { readonly kind: "struct" | "union" | "enum"; readonly name: string }
  | { readonly kind: "ptr"; readonly to: KfuncType; readonly const?: boolean }
  /** A function type (a callback's, behind a pointer). */
  | { readonly kind: "func"; readonly returns: KfuncType; readonly params: readonly KfuncType[] };

export interface KfuncParam {
  readonly name: string;
  readonly type: KfuncType;
}

/**
 * How the dialect's call passes one parameter: the context, an integer, a
 * local struct (`mem`, with the `size` after it filled in by the compiler),
 * or a reference a kfunc returned (`ref`: tested non-null, of the kernel
 * struct `struct`; `release`: the call releases it; `rcu`: KF_RCU, so also
 * the task a `bpf_iter_task` loop is at, RCU-protected).
 */
export type KfuncArg =
  | Extract<HelperParam, { kind: "ctx" | "int" | "mem" | "size" }>
  | { readonly kind: "ref"; readonly struct: string; readonly release?: boolean; readonly rcu?: boolean }
  /** A local `BpfDynptr` (16 bytes of stack that the kernel owns once initialised); `uninit`: the call initialises it. */
  | { readonly kind: "dynptr"; readonly uninit?: boolean }
  /**
   * A slice's buffer: a local `T`, or null; its size (the `size` after it) is
   * `T`'s, `T` the call's type argument or the buffer's type, and the result
   * is a `T` or null.
   */
  | { readonly kind: "buffer" }
  /** The call's type argument, a struct of the program, as its BTF id in the program's own BTF (a constant CO-RE relocation). */
  | { readonly kind: "typeId" }
  /** A pointer the kernel takes as any (`__ign`): the packet's, or a view's. */
  | { readonly kind: "anyPointer" }
  /** A vmlinux struct named by a string literal, as its id in vmlinux BTF (bpf_core_type_id_kernel: a CO-RE relocation). */
  | { readonly kind: "kernelTypeId" }
  /** An object one of the kfuncs `from` returned (tested non-null); `release`: the call frees it. */
  | { readonly kind: "object"; readonly from: readonly string[]; readonly release?: boolean }
  /** A parameter the kernel ignores (`__ign`): NULL. */
  | { readonly kind: "null" }
  /** A task's saved registers as `bpf_task_pt_regs` returned them (the verifier's PTR_TO_BTF_ID of struct pt_regs): the call, or a const holding it. */
  | { readonly kind: "ptRegs" }
  /** One of the file's maps, as clang passes `&map`: its address, which libbpf relocates (the verifier's CONST_PTR_TO_MAP). */
  | { readonly kind: "map" }
  /** A map value's `ListHead` or `RbRoot` field, its lock held; the objects it holds are its `T`s. */
  | { readonly kind: "graphRoot"; readonly graph: "list" | "rbtree" }
  /** A top-level function the kernel calls, compiled as a static subprogram (bpf_rbtree_add's `less`). */
  | { readonly kind: "callback" }
  /** A node `bpf_rbtree_first` returned: not owned, valid while the lock is held. */
  | { readonly kind: "nonOwning" };

/** Call parameters the compiler fills in, not written in the dialect's call. */
export const implicitArgs: ReadonlySet<KfuncArg["kind"]> = new Set(["size", "typeId", "null"]);

export interface KfuncSpec {
  readonly name: string;
  /** The dialect's name when it is not the kernel's (bpf_experimental.h's macro names). */
  readonly spelled?: string;
  readonly params: readonly KfuncParam[];
  /** Callable from the dialect under its own name, its parameters passed so (one per kernel parameter). */
  readonly call?: readonly KfuncArg[];
  readonly returns: KfuncType;
  /** KF_ACQUIRE: the result is a reference the program must release on every path. */
  readonly acquires?: boolean;
  /** KF_RELEASE: the call releases the reference passed as its first parameter. */
  readonly releases?: boolean;
  /** KF_RET_NULL: the result may be NULL and must be tested before use. */
  readonly nullable?: boolean;
  /** Only in programs loaded bound to a device (BPF_F_XDP_DEV_BOUND_ONLY); the driver supplies the body. */
  readonly deviceBound?: boolean;
  /** First kernel with the kfunc usable from XDP, for messages. */
  readonly since: string;
  /** Only in kernels built with this option: absent from the others' BTF, where libbpf cannot resolve it and the load fails. */
  readonly requires?: string;
  /** KF_DESTRUCTIVE: the kernel loads a program calling it only with CAP_SYS_BOOT. */
  readonly destructive?: boolean;
}

const void_: KfuncType = { kind: "void" };
const bool: KfuncType = { kind: "bool" };
const int: KfuncType = { kind: "int", type: i32 };
const u16: KfuncType = { kind: "int", type: u16Type };
const u32: KfuncType = { kind: "int", type: u32Type };
const u64: KfuncType = { kind: "int", type: u64Type };
const s64: KfuncType = { kind: "int", type: i64 };
const struct = (name: string): KfuncType => ({ kind: "struct", name });
const ptr = (to: KfuncType): KfuncType => ({ kind: "ptr", to });
const constPtr = (to: KfuncType): KfuncType => ({ kind: "ptr", to, const: true });
const p = (name: string, type: KfuncType): KfuncParam => ({ name, type });

const xdpMd = ptr(struct("xdp_md"));
const task = ptr(struct("task_struct"));
const cgroup = ptr(struct("cgroup"));
const css = ptr(struct("cgroup_subsys_state"));
const iter = p("it", ptr(struct("bpf_iter_num")));
const nfConn = ptr(struct("nf_conn"));
const nfConnInit = ptr(struct("nf_conn___init"));
const dynptr = constPtr(struct("bpf_dynptr"));
/** bpf_xdp_ct_lookup and bpf_xdp_ct_alloc: the tuple and the options each with its size. */
const ctParams = [p("xdp_ctx", xdpMd), p("bpf_tuple", ptr(struct("bpf_sock_tuple"))), p("tuple__sz", u32), p("opts", ptr(struct("bpf_ct_opts"))), p("opts__sz", u32)];
/** The tuple's size tells the family (12: IPv4, 36: IPv6); the options are NF_BPF_CT_OPTS_SZ (16) bytes, the kernel writes `error` into them. */
const ctCall: readonly KfuncArg[] = [{ kind: "ctx" }, { kind: "mem", access: "read", sizes: [12, 36] }, { kind: "size", type: u32Type }, { kind: "mem", access: "write", size: 16 }, { kind: "size", type: u32Type }];
const dynptrArg: KfuncArg = { kind: "dynptr" };
const dynptrOut: KfuncArg = { kind: "dynptr", uninit: true };
const sliceCall: readonly KfuncArg[] = [dynptrArg, { kind: "int", type: u32Type }, { kind: "buffer" }, { kind: "size", type: u32Type }];
const ref = (name: string, release?: boolean): KfuncArg => ({ kind: "ref", struct: name, ...(release ? { release } : {}) });
/** A task taken as KF_RCU: held, or a task loop's. */
const rcuTask: KfuncArg = { kind: "ref", struct: "task_struct", rcu: true };
const arg = (type: IntType): KfuncArg => ({ kind: "int", type });
/** A local `Cell` of that many bytes the kfunc writes its result into (no size follows). */
const out = (size: number): KfuncArg => ({ kind: "mem", access: "write", size });
const listHead = ptr(struct("bpf_list_head"));
const listNode = ptr(struct("bpf_list_node"));
const rbRoot = ptr(struct("bpf_rb_root"));
const rbNode = ptr(struct("bpf_rb_node"));
/** The kfuncs whose objects a program owns: what it may push into a list or add to a tree, or drop. */
const owners = ["bpf_obj_new_impl", "bpf_refcount_acquire_impl", "bpf_list_pop_front", "bpf_list_pop_back", "bpf_rbtree_remove"];
const listPush = [p("head", listHead), p("node", listNode), p("meta__ign", ptr(void_)), p("off", u64)];
const listPushCall: readonly KfuncArg[] = [{ kind: "graphRoot", graph: "list" }, { kind: "object", from: owners, release: true }, { kind: "null" }, { kind: "null" }];
const slice = [p("p", dynptr), p("offset", u32), p("buffer__opt", ptr(void_)), p("buffer__szk", u32)];

export const kfuncs: ReadonlyMap<string, KfuncSpec> = new Map(
  (
    [
      // Open-coded number iterator (kernel/bpf/bpf_iter.c): new and destroy in pairs, next NULL at the end.
      { name: "bpf_iter_num_new", params: [iter, p("start", int), p("end", int)], returns: int, since: "6.4" },
      { name: "bpf_iter_num_next", params: [iter], returns: ptr(int), nullable: true, since: "6.4" },
      { name: "bpf_iter_num_destroy", params: [iter], returns: void_, since: "6.4" },

      // Conntrack (net/netfilter/nf_conntrack_bpf.c): lookup and alloc acquire, insert trades an
      // allocated entry for an inserted one, release ends either.
      { name: "bpf_xdp_ct_lookup", params: ctParams, call: ctCall, returns: nfConn, acquires: true, nullable: true, since: "5.18" },
      { name: "bpf_xdp_ct_alloc", params: ctParams, call: ctCall, returns: nfConnInit, acquires: true, nullable: true, since: "6.1" },
      { name: "bpf_ct_insert_entry", params: [p("nfct_i", nfConnInit)], call: [ref("nf_conn___init", true)], returns: nfConn, acquires: true, releases: true, nullable: true, since: "6.1" },
      { name: "bpf_ct_release", params: [p("nfct", nfConn)], call: [ref("nf_conn", true)], returns: void_, releases: true, since: "5.18" },
      { name: "bpf_ct_set_timeout", params: [p("nfct", nfConnInit), p("timeout", u32)], call: [ref("nf_conn___init"), arg(u32Type)], returns: void_, since: "6.1" },
      { name: "bpf_ct_change_timeout", params: [p("nfct", nfConn), p("timeout", u32)], call: [ref("nf_conn"), arg(u32Type)], returns: int, since: "6.1" },
      { name: "bpf_ct_set_status", params: [p("nfct", constPtr(struct("nf_conn___init"))), p("status", u32)], call: [ref("nf_conn___init"), arg(u32Type)], returns: int, since: "6.1" },
      { name: "bpf_ct_change_status", params: [p("nfct", nfConn), p("status", u32)], call: [ref("nf_conn"), arg(u32Type)], returns: int, since: "6.1" },
      // NAT of an allocated entry (net/netfilter/nf_nat_bpf.c): the address a 16-byte union nf_inet_addr
      // the verifier reads whole, the port in host order (the kernel swaps it; 0 keeps the port), the
      // manip a constant NF_NAT_MANIP_SRC or _DST (nf_nat_setup_info WARNs on another).
      {
        name: "bpf_ct_set_nat_info",
        params: [p("nfct", nfConnInit), p("addr", ptr({ kind: "union", name: "nf_inet_addr" })), p("port", int), p("manip", { kind: "enum", name: "nf_nat_manip_type" })],
        call: [ref("nf_conn___init"), { kind: "mem", access: "read", size: 16 }, arg(u16Type), arg(u32Type)],
        returns: int,
        since: "6.2",
      },

      // Dynptrs over the packet (kernel/bpf/helpers.c, net/core/filter.c): a slice is NULL when
      // out of range, so it must be tested.
      { name: "bpf_dynptr_from_xdp", params: [p("x", xdpMd), p("flags", u64), p("ptr__uninit", ptr(struct("bpf_dynptr")))], call: [{ kind: "ctx" }, arg(u64Type), dynptrOut], returns: int, since: "6.4" },
      { name: "bpf_dynptr_slice", params: slice, call: sliceCall, returns: ptr(void_), nullable: true, since: "6.4" },
      { name: "bpf_dynptr_slice_rdwr", params: slice, call: sliceCall, returns: ptr(void_), nullable: true, since: "6.4" },
      { name: "bpf_dynptr_adjust", params: [p("p", dynptr), p("start", u32), p("end", u32)], call: [dynptrArg, arg(u32Type), arg(u32Type)], returns: int, since: "6.5" },
      { name: "bpf_dynptr_is_null", params: [p("p", dynptr)], call: [dynptrArg], returns: bool, since: "6.5" },
      { name: "bpf_dynptr_is_rdonly", params: [p("p", dynptr)], call: [dynptrArg], returns: bool, since: "6.5" },
      { name: "bpf_dynptr_size", params: [p("p", dynptr)], call: [dynptrArg], returns: u32, since: "6.5" },
      { name: "bpf_dynptr_clone", params: [p("p", dynptr), p("clone__uninit", ptr(struct("bpf_dynptr")))], call: [dynptrArg, dynptrOut], returns: int, since: "6.5" },

      // RCU read-side sections (kernel/bpf/helpers.c): lock and unlock in pairs on every path.
      { name: "bpf_rcu_read_lock", params: [], call: [], returns: void_, since: "6.2" },
      { name: "bpf_rcu_read_unlock", params: [], call: [], returns: void_, since: "6.2" },

      // Tasks (kernel/bpf/helpers.c): from_pid and acquire take a reference (or NULL), release ends it.
      { name: "bpf_task_from_pid", params: [p("pid", int)], call: [arg(i32)], returns: task, acquires: true, nullable: true, since: "6.2" },
      { name: "bpf_task_acquire", params: [p("p", task)], call: [rcuTask], returns: task, acquires: true, nullable: true, since: "6.2" },
      { name: "bpf_task_release", params: [p("p", task)], call: [ref("task_struct", true)], returns: void_, releases: true, since: "6.2" },
      // Cgroups (kernel/bpf/helpers.c): from_id (cgroup v2), a task's cgroup v1 of a hierarchy,
      // acquire and ancestor take a reference (or NULL), release ends it.
      { name: "bpf_cgroup_from_id", params: [p("cgid", u64)], call: [arg(u64Type)], returns: cgroup, acquires: true, nullable: true, since: "6.2" },
      { name: "bpf_task_get_cgroup1", params: [p("task", task), p("hierarchy_id", int)], call: [rcuTask, arg(i32)], returns: cgroup, acquires: true, nullable: true, since: "6.8" },
      { name: "bpf_cgroup_acquire", params: [p("cgrp", cgroup)], call: [ref("cgroup")], returns: cgroup, acquires: true, nullable: true, since: "6.2" },
      { name: "bpf_cgroup_ancestor", params: [p("cgrp", cgroup), p("level", int)], call: [ref("cgroup"), arg(i32)], returns: cgroup, acquires: true, nullable: true, since: "6.2" },
      { name: "bpf_cgroup_release", params: [p("cgrp", cgroup)], call: [ref("cgroup", true)], returns: void_, releases: true, since: "6.2" },
      { name: "bpf_task_under_cgroup", params: [p("task", task), p("ancestor", cgroup)], call: [rcuTask, ref("cgroup")], returns: s64, since: "6.5" },
      // Open-coded task iterator (kernel/bpf/task_iter.c), the loop form `for (const t of bpf_iter_task(…))`:
      // new and destroy in pairs, next an RCU-protected task (not a reference) or NULL at the end.
      { name: "bpf_iter_task_new", params: [p("it", ptr(struct("bpf_iter_task"))), p("task__nullable", task), p("flags", u32)], returns: int, since: "6.7" },
      { name: "bpf_iter_task_next", params: [p("it", ptr(struct("bpf_iter_task")))], returns: task, nullable: true, since: "6.7" },
      { name: "bpf_iter_task_destroy", params: [p("it", ptr(struct("bpf_iter_task")))], returns: void_, since: "6.7" },
      // Open-coded VMA iterator (kernel/bpf/task_iter.c), `for (const v of bpf_iter_task_vma(task, addr))`: a task
      // held or walked (KF_RCU: trusted or RCU-protected, never NULL), its memory areas from addr on.
      { name: "bpf_iter_task_vma_new", params: [p("it", ptr(struct("bpf_iter_task_vma"))), p("task", task), p("addr", u64)], returns: int, since: "6.7" },
      { name: "bpf_iter_task_vma_next", params: [p("it", ptr(struct("bpf_iter_task_vma")))], returns: ptr(struct("vm_area_struct")), nullable: true, since: "6.7" },
      { name: "bpf_iter_task_vma_destroy", params: [p("it", ptr(struct("bpf_iter_task_vma")))], returns: void_, since: "6.7" },
      // Open-coded css iterator (kernel/bpf/cgroup_iter.c), `for (const c of bpf_iter_css(cgroup, order))`: from a
      // held cgroup's own css (KF_TRUSTED_ARGS), the css of each cgroup in a BPF_CGROUP_ITER_* order.
      { name: "bpf_iter_css_new", params: [p("it", ptr(struct("bpf_iter_css"))), p("start", css), p("flags", u32)], returns: int, since: "6.7" },
      { name: "bpf_iter_css_next", params: [p("it", ptr(struct("bpf_iter_css")))], returns: css, nullable: true, since: "6.7" },
      { name: "bpf_iter_css_destroy", params: [p("it", ptr(struct("bpf_iter_css")))], returns: void_, since: "6.7" },
      // The tasks of a css (kernel/bpf/task_iter.c): registered for every program type, but the verifier
      // lets only LSM, bpf_iter and sleepable programs make one (check_css_task_iter_allowlist): TSX4021.
      { name: "bpf_iter_css_task_new", params: [p("it", ptr(struct("bpf_iter_css_task"))), p("css", css), p("flags", u32)], returns: int, since: "6.7" },
      { name: "bpf_iter_css_task_next", params: [p("it", ptr(struct("bpf_iter_css_task")))], returns: task, nullable: true, since: "6.7" },
      { name: "bpf_iter_css_task_destroy", params: [p("it", ptr(struct("bpf_iter_css_task")))], returns: void_, since: "6.7" },

      // Device-bound RX metadata (net/core/xdp.c): the driver's implementation replaces the call.
      {
        name: "bpf_xdp_metadata_rx_hash",
        params: [p("ctx", constPtr(struct("xdp_md"))), p("hash", ptr(u32)), p("rss_type", ptr({ kind: "enum", name: "xdp_rss_hash_type" }))],
        call: [{ kind: "ctx" }, out(4), out(4)],
        returns: int,
        deviceBound: true,
        since: "6.3",
      },
      { name: "bpf_xdp_metadata_rx_timestamp", params: [p("ctx", constPtr(struct("xdp_md"))), p("timestamp", ptr(u64))], call: [{ kind: "ctx" }, out(8)], returns: int, deviceBound: true, since: "6.3" },
      { name: "bpf_xdp_metadata_rx_vlan_tag", params: [p("ctx", constPtr(struct("xdp_md"))), p("vlan_proto", ptr(u16)), p("vlan_tci", ptr(u16))], call: [{ kind: "ctx" }, out(2), out(2)], returns: int, deviceBound: true, since: "6.8" },

      // Objects of the program's own struct types in kernel memory (kernel/bpf/helpers.c), as
      // bpf_experimental.h's bpf_obj_new(T) / bpf_obj_drop(p): a new one is zeroed, or NULL, and
      // must be dropped on every path.
      { name: "bpf_obj_new_impl", spelled: "bpf_obj_new", params: [p("local_type_id__k", u64), p("meta__ign", ptr(void_))], call: [{ kind: "typeId" }, { kind: "null" }], returns: ptr(void_), acquires: true, nullable: true, since: "6.2" },
      { name: "bpf_obj_drop_impl", spelled: "bpf_obj_drop", params: [p("p__alloc", ptr(void_)), p("meta__ign", ptr(void_))], call: [{ kind: "object", from: owners, release: true }, { kind: "null" }], returns: void_, releases: true, since: "6.2" },
      // A second reference to an object with a `struct bpf_refcount` field, dropped on its own; NULL when the count was 0.
      {
        name: "bpf_refcount_acquire_impl",
        spelled: "bpf_refcount_acquire",
        params: [p("p__refcounted_kptr", ptr(void_)), p("meta__ign", ptr(void_))],
        call: [{ kind: "object", from: ["bpf_obj_new_impl", "bpf_refcount_acquire_impl"] }, { kind: "null" }],
        returns: ptr(void_),
        acquires: true,
        nullable: true,
        since: "6.4",
      },
      // Per-CPU objects (kernel/bpf/helpers.c): a struct of scalars of at most 512 bytes, one copy
      // per CPU. The verifier lets a program own one only to drop it: bpf_this_cpu_ptr and
      // bpf_per_cpu_ptr refuse an owned per-CPU pointer (MEM_ALLOC), so it is opaque here.
      { name: "bpf_percpu_obj_new_impl", spelled: "bpf_percpu_obj_new", params: [p("local_type_id__k", u64), p("meta__ign", ptr(void_))], call: [{ kind: "typeId" }, { kind: "null" }], returns: ptr(void_), acquires: true, nullable: true, since: "6.7" },
      { name: "bpf_percpu_obj_drop_impl", spelled: "bpf_percpu_obj_drop", params: [p("p__alloc", ptr(void_)), p("meta__ign", ptr(void_))], call: [{ kind: "object", from: ["bpf_percpu_obj_new_impl"], release: true }, { kind: "null" }], returns: void_, releases: true, since: "6.7" },

      // Lists and red-black trees of such objects (kernel/bpf/helpers.c, bpf_experimental.h), rooted
      // in a map value beside the SpinLock that guards them: push and add take ownership (the
      // verifier fills in meta and off), pop and remove hand an object back, first lends one.
      { name: "bpf_list_push_front_impl", spelled: "bpf_list_push_front", params: listPush, call: listPushCall, returns: int, since: "6.2" },
      { name: "bpf_list_push_back_impl", spelled: "bpf_list_push_back", params: listPush, call: listPushCall, returns: int, since: "6.2" },
      { name: "bpf_list_pop_front", params: [p("head", listHead)], call: [{ kind: "graphRoot", graph: "list" }], returns: listNode, acquires: true, nullable: true, since: "6.2" },
      { name: "bpf_list_pop_back", params: [p("head", listHead)], call: [{ kind: "graphRoot", graph: "list" }], returns: listNode, acquires: true, nullable: true, since: "6.2" },
      {
        name: "bpf_rbtree_add_impl",
        spelled: "bpf_rbtree_add",
        params: [p("root", rbRoot), p("node", rbNode), p("less", ptr({ kind: "func", returns: bool, params: [rbNode, constPtr(struct("bpf_rb_node"))] })), p("meta__ign", ptr(void_)), p("off", u64)],
        call: [{ kind: "graphRoot", graph: "rbtree" }, { kind: "object", from: owners, release: true }, { kind: "callback" }, { kind: "null" }, { kind: "null" }],
        returns: int,
        since: "6.3",
      },
      { name: "bpf_rbtree_first", params: [p("root", rbRoot)], call: [{ kind: "graphRoot", graph: "rbtree" }], returns: rbNode, nullable: true, since: "6.3" },
      { name: "bpf_rbtree_remove", params: [p("root", rbRoot), p("node", rbNode)], call: [{ kind: "graphRoot", graph: "rbtree" }, { kind: "nonOwning" }], returns: rbNode, acquires: true, nullable: true, since: "6.3" },

      // Exceptions (kernel/bpf/helpers.c): the program ends at once, all frames unwound; without an
      // exception callback the verifier's default one returns the cookie, here the XDP action.
      { name: "bpf_throw", params: [p("cookie", u64)], call: [arg(u64Type)], returns: void_, since: "6.7" },

      // A read-only view of memory as a vmlinux struct (kernel/bpf/helpers.c): an untrusted pointer
      // the verifier reads through with faults caught, each read checked against the struct's BTF.
      // Not KF_RET_NULL, but NULL for NULL: tested like a slice, which the verifier allows.
      {
        name: "bpf_rdonly_cast",
        params: [p("obj__ign", constPtr(void_)), p("btf_id__k", u32)],
        call: [{ kind: "anyPointer" }, { kind: "kernelTypeId" }],
        returns: ptr(void_),
        nullable: true,
        since: "6.2",
      },

      // Generic kfuncs an XDP program can call.
      // KF_DESTRUCTIVE (kernel/bpf/helpers.c, CONFIG_KEXEC_CORE only): panics the machine into its crash
      // kernel, or returns when none is loaded; the load needs CAP_SYS_BOOT.
      { name: "crash_kexec", params: [p("regs", ptr(struct("pt_regs")))], call: [{ kind: "ptRegs" }], returns: void_, destructive: true, requires: "CONFIG_KEXEC_CORE", since: "6.1" },
      // The kernel's struct xdp_buff behind the program's context: the verifier types the result as
      // that (trusted, never NULL), whatever the prototype says; its fields are read through CO-RE.
      { name: "bpf_cast_to_kern_ctx", params: [p("obj", ptr(void_))], call: [{ kind: "ctx" }], returns: ptr(void_), since: "6.2" },
      // The elements a map holds, summed over CPUs: the kernel counts them for the hash maps (array maps: 0).
      { name: "bpf_map_sum_elem_count", params: [p("map", constPtr(struct("bpf_map")))], call: [{ kind: "map" }], returns: s64, since: "6.6" },
    ] satisfies KfuncSpec[]
  ).map((k) => [k.name, k]),
);

/** Each open-coded iterator's state, `__u64 __opaque[n]` as the kernel's uapi declares it: n. */
export const iteratorWords: Readonly<Record<string, bigint>> = { bpf_iter_num: 1n, bpf_iter_task: 3n, bpf_iter_task_vma: 1n, bpf_iter_css: 3n, bpf_iter_css_task: 1n };

/** A field of a kernel struct that programs read where the running kernel has it. */
export interface KernelField {
  readonly name: string;
  readonly type: IntType;
  /** In the program's own declaration of the struct; libbpf relocates it to the kernel's. */
  readonly offset: number;
  /** A pointer to this kernel struct (`type` is then u64): BTF declares it so, as CO-RE compares the kinds. */
  readonly pointsTo?: string;
  /** The program may write it too: the verifier allows a write to this field alone. */
  readonly writable?: boolean;
}

/**
 * Fields of kernel structs a reference's holder may read, as clang reads a
 * struct declared with `__attribute__((preserve_access_index))`: each read
 * is a CO-RE relocation against vmlinux BTF, so the program need not know
 * the kernel's layout (include/net/netfilter/nf_conntrack.h: `unsigned long
 * status`, `u32 mark`).
 */
export const kernelFields: ReadonlyMap<string, readonly KernelField[]> = new Map([
  [
    "nf_conn",
    [
      { name: "status", type: u64Type, offset: 0 },
      // The one field of nf_conn the verifier lets a program write (_nf_conntrack_btf_struct_access).
      { name: "mark", type: u32Type, offset: 8, writable: true },
    ],
  ],
  // include/linux/sched.h: `pid_t pid, tgid` (the thread's id and its process's).
  [
    "task_struct",
    [
      { name: "pid", type: i32, offset: 0 },
      { name: "tgid", type: i32, offset: 4 },
    ],
  ],
  // include/linux/cgroup-defs.h: `int level`, the depth below its hierarchy's root (0).
  ["cgroup", [{ name: "level", type: i32, offset: 0 }]],
  // include/linux/mm_types.h: `unsigned long vm_start, vm_end`, the area's first address and the one past it.
  [
    "vm_area_struct",
    [
      { name: "vm_start", type: u64Type, offset: 0 },
      { name: "vm_end", type: u64Type, offset: 8 },
    ],
  ],
  // include/linux/cgroup-defs.h: `struct cgroup *cgroup`, the cgroup a css belongs to (a cgroup's own css, `self`, is its first field).
  ["cgroup_subsys_state", [{ name: "cgroup", type: u64Type, offset: 0, pointsTo: "cgroup" }]],
  // include/net/xdp.h: `u32 frame_sz` (the buffer's size, headroom and tailroom included), `u32 flags` (XDP_FLAGS_*).
  [
    "xdp_buff",
    [
      { name: "frame_sz", type: u32Type, offset: 0 },
      { name: "flags", type: u32Type, offset: 4 },
    ],
  ],
]);

/**
 * Kfuncs of the sets the kernel registers for XDP that the verifier refuses
 * there all the same: why (its words), and what an XDP program uses instead.
 * The conntrack ones take a tc program's `struct __sk_buff` context; the css
 * task iterator is for LSM, bpf_iter and sleepable programs only
 * (check_css_task_iter_allowlist), by its kfuncs' names or the loop's.
 */
const skbContext = 'takes a tc program\'s `struct __sk_buff` context: the kernel refuses it in XDP programs ("arg#0 pointer type STRUCT __sk_buff must point to scalar")';
const cssTask = {
  why: 'walks the tasks of a cgroup: the kernel lets only LSM, bpf_iter and sleepable programs make this iterator ("css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs")',
  instead: "`for (const t of bpf_iter_task(BPF_TASK_ITER_ALL_PROCS))`, testing each task with `bpf_task_under_cgroup(t, cgroup)`",
};
export const kfuncsNotInXdp: ReadonlyMap<string, { readonly why: string; readonly instead: string }> = new Map([
  ["bpf_skb_ct_lookup", { why: skbContext, instead: "`bpf_xdp_ct_lookup(ctx, tuple, opts)`" }],
  ["bpf_skb_ct_alloc", { why: skbContext, instead: "`bpf_xdp_ct_alloc(ctx, tuple, opts)`" }],
  ["bpf_iter_css_task", cssTask],
  ["bpf_iter_css_task_new", cssTask],
  ["bpf_iter_css_task_next", cssTask],
  ["bpf_iter_css_task_destroy", cssTask],
]);

/** The kfuncs the dialect calls, by the name it spells them with. */
export const kfuncsBySpelling: ReadonlyMap<string, KfuncSpec> = new Map([...kfuncs.values()].map((k) => [k.spelled ?? k.name, k]));

/** The table's entry; a name not in it is a compiler bug, not the user's. */
export function kfunc(name: string): KfuncSpec {
  const k = kfuncs.get(name);
  if (!k) throw new InternalError(`no kfunc ${name} in the table`);
  return k;
}

/** Whether the field of kernel struct `kernel` at `offset` (in the program's declaration) may be written. */
export function kernelFieldWritable(kernel: string, offset: number): boolean {
  return kernelFields.get(kernel)?.some((f) => f.offset === offset && f.writable === true) ?? false;
}
