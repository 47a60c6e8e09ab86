/**
 * Lists and red-black trees of `bpf_obj_new` objects kept in map values
 * (bpf_list_push_front/back, bpf_list_pop_front/back, bpf_rbtree_add with a
 * `less` callback, bpf_rbtree_first, bpf_rbtree_remove): a queue of packet
 * records kept across runs, and flows ordered by key, taken out least
 * first. Run under BPF_PROG_TEST_RUN against clang-14 twins, the frames and
 * the values' counters read back after every run. The kernel's refusals
 * (no lock held, an object used after the list took it, a popped object
 * kept, a lent node used after the unlock) are compile-time errors, and the
 * kernel is shown refusing the same C.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import { rng } from "./support/packets";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const imports = `import { xdp, XdpAction, ArrayMap, u8, u32, u64, SpinLock, ListHead, ListNode, RbRoot, RbNode, bpf_obj_new, bpf_obj_drop, bpf_spin_lock, bpf_spin_unlock, bpf_list_push_front, bpf_list_push_back, bpf_list_pop_front, bpf_list_pop_back, bpf_rbtree_add, bpf_rbtree_first, bpf_rbtree_remove, bpf_percpu_obj_new, bpf_percpu_obj_drop, zeroed, i64, type ValueRef } from "tsxdp";

interface Rec {
  stamp: u64;
  node: ListNode;
  tag: u32;
}
interface Queue {
  lock: SpinLock;
  head: ListHead<Rec, "node">;
  size: u32;
}
interface Flow {
  key: u64;
  bytes: u32;
  node: RbNode;
}
interface Tree {
  lock: SpinLock;
  root: RbRoot<Flow, "node">;
  size: u32;
}
const queues = new ArrayMap<Queue>({ maxEntries: 2 });
const trees = new ArrayMap<Tree>({ maxEntries: 1 });

function before(a: Flow, b: Flow): boolean {
  return a.key < b.key;
}

interface Count {
  n: u32;
}
function dropFirst(key: u32, q: ValueRef<Queue>, st: Count): i64 {
  bpf_spin_lock(q.value.lock);
  const r = bpf_list_pop_front(q.value.head);
  if (!r) {
    bpf_spin_unlock(q.value.lock);
    return 0;
  }
  q.value.size -= 1;
  bpf_spin_unlock(q.value.lock);
  st.n += r.tag;
  bpf_obj_drop(r);
  return 0;
}
`;

// Byte 0 says what to do: 1 and 3 push a record of bytes 8..16 and 4..8 at the back or the front
// of queue (byte 1 & 1), 2 and 4 pop one from the front or the back into those bytes (TX; DROP
// when empty). The tree: 5 adds a flow keyed by bytes 8..16, 6 takes the least out into the
// frame, 7 reads the least without taking it.
const source = `${imports}
export const fifo = xdp((ctx) => {
  const data = ctx.data;
  if (data + 16 > ctx.data_end) return XdpAction.ABORTED;
  const q = queues.lookup(u32(data.load<u8>(1) & 1));
  if (!q) return XdpAction.ABORTED;
  const op = data.load<u8>(0);
  if (op === 1 || op === 3) {
    const r = bpf_obj_new<Rec>();
    if (!r) return XdpAction.ABORTED;
    r.stamp = data.load<u64>(8);
    r.tag = data.load<u32>(4);
    bpf_spin_lock(q.value.lock);
    if (op === 1) bpf_list_push_back(q.value.head, r);
    else bpf_list_push_front(q.value.head, r);
    q.value.size += 1;
    bpf_spin_unlock(q.value.lock);
    return XdpAction.PASS;
  }
  if (op === 2) {
    bpf_spin_lock(q.value.lock);
    const r = bpf_list_pop_front(q.value.head);
    bpf_spin_unlock(q.value.lock);
    if (!r) return XdpAction.DROP;
    data.store<u64>(8, r.stamp);
    data.store<u32>(4, r.tag);
    bpf_obj_drop(r);
    bpf_spin_lock(q.value.lock);
    q.value.size -= 1;
    bpf_spin_unlock(q.value.lock);
    return XdpAction.TX;
  }
  if (op === 4) {
    bpf_spin_lock(q.value.lock);
    const r = bpf_list_pop_back(q.value.head);
    if (!r) {
      bpf_spin_unlock(q.value.lock);
      return XdpAction.DROP;
    }
    q.value.size -= 1;
    bpf_spin_unlock(q.value.lock);
    data.store<u64>(8, r.stamp);
    data.store<u32>(4, r.tag);
    bpf_obj_drop(r);
    return XdpAction.TX;
  }
  if (op === 6) {
    // One record out of every queue, from a forEach callback: the tags summed.
    const st = zeroed<Count>();
    queues.forEach(dropFirst, st);
    data.store<u32>(4, st.n);
    return XdpAction.TX;
  }
  return XdpAction.PASS;
});

export const flows = xdp((ctx) => {
  const data = ctx.data;
  if (data + 16 > ctx.data_end) return XdpAction.ABORTED;
  const t = trees.lookup(0);
  if (!t) return XdpAction.ABORTED;
  const op = data.load<u8>(0);
  if (op === 5) {
    const f = bpf_obj_new<Flow>();
    if (!f) return XdpAction.ABORTED;
    f.key = data.load<u64>(8);
    f.bytes = data.load<u32>(4);
    bpf_spin_lock(t.value.lock);
    bpf_rbtree_add(t.value.root, f, before);
    t.value.size += 1;
    bpf_spin_unlock(t.value.lock);
    return XdpAction.PASS;
  }
  if (op === 6) {
    bpf_spin_lock(t.value.lock);
    const least = bpf_rbtree_first(t.value.root);
    if (!least) {
      bpf_spin_unlock(t.value.lock);
      return XdpAction.DROP;
    }
    const f = bpf_rbtree_remove(t.value.root, least);
    if (!f) {
      bpf_spin_unlock(t.value.lock);
      return XdpAction.ABORTED;
    }
    t.value.size -= 1;
    bpf_spin_unlock(t.value.lock);
    data.store<u64>(8, f.key);
    data.store<u32>(4, f.bytes);
    bpf_obj_drop(f);
    return XdpAction.TX;
  }
  if (op === 7) {
    let key: u64 = 0;
    bpf_spin_lock(t.value.lock);
    const least = bpf_rbtree_first(t.value.root);
    if (least) key = least.key;
    bpf_spin_unlock(t.value.lock);
    data.store<u64>(8, key);
    return XdpAction.TX;
  }
  return XdpAction.PASS;
});
`;

const header = `
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
/* UAPI linux/bpf.h of 6.2 and later, as this kernel sizes them (Debian 12's headers are 6.1's) */
struct bpf_list_head { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_list_node { __u64 __opaque[3]; } __attribute__((aligned(8)));
struct bpf_rb_root { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_rb_node { __u64 __opaque[4]; } __attribute__((aligned(8)));
extern void *bpf_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;
extern void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;
extern int bpf_list_push_front_impl(struct bpf_list_head *head, struct bpf_list_node *node, void *meta__ign, __u64 off) __ksym;
extern int bpf_list_push_back_impl(struct bpf_list_head *head, struct bpf_list_node *node, void *meta__ign, __u64 off) __ksym;
extern struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head) __ksym;
extern struct bpf_list_node *bpf_list_pop_back(struct bpf_list_head *head) __ksym;
extern int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node, bool (less)(struct bpf_rb_node *a, const struct bpf_rb_node *b), void *meta__ign, __u64 off) __ksym;
extern struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) __ksym;
extern struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym;
/* bpf_experimental.h's */
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(__builtin_btf_type_id(*(type *)0, 0), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
#define bpf_list_push_front(head, node) bpf_list_push_front_impl(head, node, NULL, 0)
#define bpf_list_push_back(head, node) bpf_list_push_back_impl(head, node, NULL, 0)
#define bpf_rbtree_add(head, node, less) bpf_rbtree_add_impl(head, node, less, NULL, 0)
#define container_of(ptr, type, member) ((type *)((void *)(ptr) - __builtin_offsetof(type, member)))
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))
char LICENSE[] SEC("license") = "GPL";
struct Rec { __u64 stamp; struct bpf_list_node node; __u32 tag; };
struct Queue { struct bpf_spin_lock lock; struct bpf_list_head head __contains(Rec, node); __u32 size; };
struct Flow { __u64 key; __u32 bytes; struct bpf_rb_node node; };
struct Tree { struct bpf_spin_lock lock; struct bpf_rb_root root __contains(Flow, node); __u32 size; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct Queue);
} queues SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct Tree);
} trees SEC(".maps");
struct Count { __u32 n; };
static long dropFirst(struct bpf_map *map, __u32 *key, struct Queue *q, struct Count *st)
{
	bpf_spin_lock(&q->lock);
	struct bpf_list_node *n = bpf_list_pop_front(&q->head);
	if (!n) {
		bpf_spin_unlock(&q->lock);
		return 0;
	}
	q->size -= 1;
	bpf_spin_unlock(&q->lock);
	struct Rec *r = container_of(n, struct Rec, node);
	st->n += r->tag;
	bpf_obj_drop(r);
	return 0;
}
static bool before(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return container_of(a, struct Flow, node)->key < container_of(b, struct Flow, node)->key;
}
`;

const twin = `${header}
SEC("xdp")
int fifo(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 16 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	__u32 k = *(__u8 *)(data + 1) & 1;
	struct Queue *q = bpf_map_lookup_elem(&queues, &k);
	if (!q)
		return XDP_ABORTED;
	__u8 op = *(__u8 *)data;
	if (op == 1 || op == 3) {
		struct Rec *r = bpf_obj_new(struct Rec);
		if (!r)
			return XDP_ABORTED;
		r->stamp = *(__u64 *)(data + 8);
		r->tag = *(__u32 *)(data + 4);
		bpf_spin_lock(&q->lock);
		if (op == 1)
			bpf_list_push_back(&q->head, &r->node);
		else
			bpf_list_push_front(&q->head, &r->node);
		q->size += 1;
		bpf_spin_unlock(&q->lock);
		return XDP_PASS;
	}
	if (op == 2) {
		bpf_spin_lock(&q->lock);
		struct bpf_list_node *n = bpf_list_pop_front(&q->head);
		bpf_spin_unlock(&q->lock);
		if (!n)
			return XDP_DROP;
		struct Rec *r = container_of(n, struct Rec, node);
		*(__u64 *)(data + 8) = r->stamp;
		*(__u32 *)(data + 4) = r->tag;
		bpf_obj_drop(r);
		bpf_spin_lock(&q->lock);
		q->size -= 1;
		bpf_spin_unlock(&q->lock);
		return XDP_TX;
	}
	if (op == 4) {
		bpf_spin_lock(&q->lock);
		struct bpf_list_node *n = bpf_list_pop_back(&q->head);
		if (!n) {
			bpf_spin_unlock(&q->lock);
			return XDP_DROP;
		}
		q->size -= 1;
		bpf_spin_unlock(&q->lock);
		struct Rec *r = container_of(n, struct Rec, node);
		*(__u64 *)(data + 8) = r->stamp;
		*(__u32 *)(data + 4) = r->tag;
		bpf_obj_drop(r);
		return XDP_TX;
	}
	if (op == 6) {
		struct Count st = {0};
		bpf_for_each_map_elem(&queues, dropFirst, &st, 0);
		*(__u32 *)(data + 4) = st.n;
		return XDP_TX;
	}
	return XDP_PASS;
}

SEC("xdp")
int flows(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 16 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	__u32 k = 0;
	struct Tree *t = bpf_map_lookup_elem(&trees, &k);
	if (!t)
		return XDP_ABORTED;
	__u8 op = *(__u8 *)data;
	if (op == 5) {
		struct Flow *f = bpf_obj_new(struct Flow);
		if (!f)
			return XDP_ABORTED;
		f->key = *(__u64 *)(data + 8);
		f->bytes = *(__u32 *)(data + 4);
		bpf_spin_lock(&t->lock);
		bpf_rbtree_add(&t->root, &f->node, before);
		t->size += 1;
		bpf_spin_unlock(&t->lock);
		return XDP_PASS;
	}
	if (op == 6) {
		bpf_spin_lock(&t->lock);
		struct bpf_rb_node *least = bpf_rbtree_first(&t->root);
		if (!least) {
			bpf_spin_unlock(&t->lock);
			return XDP_DROP;
		}
		struct bpf_rb_node *n = bpf_rbtree_remove(&t->root, least);
		if (!n) {
			bpf_spin_unlock(&t->lock);
			return XDP_ABORTED;
		}
		t->size -= 1;
		bpf_spin_unlock(&t->lock);
		struct Flow *f = container_of(n, struct Flow, node);
		*(__u64 *)(data + 8) = f->key;
		*(__u32 *)(data + 4) = f->bytes;
		bpf_obj_drop(f);
		return XDP_TX;
	}
	if (op == 7) {
		__u64 key = 0;
		bpf_spin_lock(&t->lock);
		struct bpf_rb_node *least = bpf_rbtree_first(&t->root);
		if (least)
			key = (container_of(least, struct Flow, node))->key;
		bpf_spin_unlock(&t->lock);
		*(__u64 *)(data + 8) = key;
		return XDP_TX;
	}
	return XDP_PASS;
}
`;

// One object in two places: a struct with a Refcount and two nodes, pushed to a list and, as a
// second reference, added to a tree. 8 adds one keyed by bytes 8..16; 9 takes the oldest out of
// the list (it stays in the tree) into the frame; 10 reads the tree's least key.
const both = `${imports}
import { Refcount, bpf_refcount_acquire } from "tsxdp";
interface Both {
  key: u64;
  ref: Refcount;
  lnode: ListNode;
  rnode: RbNode;
}
interface Index {
  lock: SpinLock;
  order: ListHead<Both, "lnode">;
  sorted: RbRoot<Both, "rnode">;
}
const indexes = new ArrayMap<Index>({ maxEntries: 1 });

function byKey(a: Both, b: Both): boolean {
  return a.key < b.key;
}

export const both = xdp((ctx) => {
  const data = ctx.data;
  if (data + 16 > ctx.data_end) return XdpAction.ABORTED;
  const x = indexes.lookup(0);
  if (!x) return XdpAction.ABORTED;
  const op = data.load<u8>(0);
  if (op === 8) {
    const o = bpf_obj_new<Both>();
    if (!o) return XdpAction.ABORTED;
    o.key = data.load<u64>(8);
    const again = bpf_refcount_acquire(o);
    if (!again) {
      bpf_obj_drop(o);
      return XdpAction.ABORTED;
    }
    bpf_spin_lock(x.value.lock);
    bpf_list_push_back(x.value.order, o);
    bpf_rbtree_add(x.value.sorted, again, byKey);
    bpf_spin_unlock(x.value.lock);
    return XdpAction.PASS;
  }
  if (op === 9) {
    bpf_spin_lock(x.value.lock);
    const o = bpf_list_pop_front(x.value.order);
    bpf_spin_unlock(x.value.lock);
    if (!o) return XdpAction.DROP;
    data.store<u64>(8, o.key);
    bpf_obj_drop(o);
    return XdpAction.TX;
  }
  if (op === 10) {
    let key: u64 = 0;
    bpf_spin_lock(x.value.lock);
    const least = bpf_rbtree_first(x.value.sorted);
    if (least) key = least.key;
    bpf_spin_unlock(x.value.lock);
    data.store<u64>(8, key);
    return XdpAction.TX;
  }
  return XdpAction.PASS;
});
`;

const bothTwin = `
struct bpf_refcount { __u32 __opaque[1]; } __attribute__((aligned(4)));
extern void *bpf_refcount_acquire_impl(void *p__refcounted_kptr, void *meta__ign) __ksym;
struct Both { __u64 key; struct bpf_refcount ref; struct bpf_list_node lnode; struct bpf_rb_node rnode; };
struct Index { struct bpf_spin_lock lock; struct bpf_list_head order __contains(Both, lnode); struct bpf_rb_root sorted __contains(Both, rnode); };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct Index);
} indexes SEC(".maps");
static bool byKey(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return container_of(a, struct Both, rnode)->key < container_of(b, struct Both, rnode)->key;
}
SEC("xdp")
int both(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	if (data + 16 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	__u32 k = 0;
	struct Index *x = bpf_map_lookup_elem(&indexes, &k);
	if (!x)
		return XDP_ABORTED;
	__u8 op = *(__u8 *)data;
	if (op == 8) {
		struct Both *o = bpf_obj_new(struct Both);
		if (!o)
			return XDP_ABORTED;
		o->key = *(__u64 *)(data + 8);
		struct Both *again = bpf_refcount_acquire_impl(o, NULL);
		if (!again) {
			bpf_obj_drop(o);
			return XDP_ABORTED;
		}
		bpf_spin_lock(&x->lock);
		bpf_list_push_back(&x->order, &o->lnode);
		bpf_rbtree_add(&x->sorted, &again->rnode, byKey);
		bpf_spin_unlock(&x->lock);
		return XDP_PASS;
	}
	if (op == 9) {
		bpf_spin_lock(&x->lock);
		struct bpf_list_node *n = bpf_list_pop_front(&x->order);
		bpf_spin_unlock(&x->lock);
		if (!n)
			return XDP_DROP;
		struct Both *o = container_of(n, struct Both, lnode);
		*(__u64 *)(data + 8) = o->key;
		bpf_obj_drop(o);
		return XDP_TX;
	}
	if (op == 10) {
		__u64 key = 0;
		bpf_spin_lock(&x->lock);
		struct bpf_rb_node *least = bpf_rbtree_first(&x->sorted);
		if (least)
			key = container_of(least, struct Both, rnode)->key;
		bpf_spin_unlock(&x->lock);
		*(__u64 *)(data + 8) = key;
		return XDP_TX;
	}
	return XDP_PASS;
}
`;

/**
 * Keeps struct Rec and struct Flow in a C program's BTF, as the compiler does for the structs a
 * list or tree holds: without them the kernel refuses the BTF of the maps whose tags name them.
 */
const keep = `asm volatile("" :: "r"(__builtin_btf_type_id(*(struct Rec *)0, 0)), "r"(__builtin_btf_type_id(*(struct Flow *)0, 0)));`;

/** What the kernel's verifier says of a C program with `body` (empty when it loads). */
function load(body: string, kept = true, top = ""): string {
  try {
    loadObject(compileC(`${header}\n${top}\nSEC("xdp")\nint prog(struct xdp_md *ctx)\n{\n\t${kept ? keep : ""}\n\t__u32 k = 0;\n\tstruct Queue *q = bpf_map_lookup_elem(&queues, &k);\n\tstruct Tree *t = bpf_map_lookup_elem(&trees, &k);\n\tif (!q || !t)\n\t\treturn XDP_PASS;\n\t${body}\n}\n`)).close();
  } catch (e) {
    if (e instanceof LoadError) return e.verifierLog;
    throw e;
  }
  return "";
}

/** The diagnostics of a program with `body`, after the lookups of a queue `q` and a tree `t`. */
function refusal(body: string): string[] {
  const r = compile({
    source: `${imports}\nexport const prog = xdp((ctx) => {\n  const q = queues.lookup(0);\n  const t = trees.lookup(0);\n  if (!q || !t) return XdpAction.PASS;\n  ${body}\n});\n`,
    fileName: "graph_refused.ts",
  });
  expect(r.ok).toBe(false);
  return r.diagnostics.map((d) => `${d.code} ${d.message}`);
}

const u32le = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

describe.skipIf(unavailable !== undefined && !inCI)(`bpf_list_* and bpf_rbtree_*${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`list and tree tests cannot run in CI: ${unavailable}`);
    const r = compile({ source, fileName: "graphs.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(twin));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  /** One run of both: the verdict and the frame, and the value's counter. */
  function run(program: string, frame: Uint8Array): string[] {
    return [ours, theirs].map((o) => {
      const r = o.program(program).testRun({ data: frame });
      const map = program === "fifo" ? "queues" : "trees";
      const size = Buffer.from(o.map(map).lookup(u32le(program === "fifo" ? frame[1]! & 1 : 0))!).readUInt32LE(program === "fifo" ? 24 : 24);
      return `${r.action} ${Buffer.from(r.data).toString("hex")} size=${size}`;
    });
  }

  function frame(op: number, random: () => number): Uint8Array {
    const data = new Uint8Array(16 + (random() % 8));
    for (let i = 0; i < data.length; i++) data[i] = random() & 0xff;
    data[0] = op;
    return data;
  }

  it("a queue kept across runs: records come back in the order a C twin gives them, front and back, and from a forEach callback", () => {
    const random = rng(4);
    const verdicts = new Set<string>();
    const taken: string[] = [];
    let drained = 0;
    for (let n = 0; n < 300; n++) {
      const f = frame([1, 1, 2, 3, 4, 6][random() % 6]!, random);
      const [a, b] = run("fifo", f);
      expect(a).toBe(b);
      verdicts.add(a!.split(" ")[0]!);
      if (a!.startsWith("TX")) taken.push(a!.slice(3, 35));
      if (f[0] === 6 && a!.slice(11, 19) !== "00000000") drained++;
    }
    expect(drained).toBeGreaterThan(5);
    expect([...verdicts].sort()).toEqual(["DROP", "PASS", "TX"]);
    // Not the frames sent back unchanged: what came out was stored by earlier runs.
    expect(new Set(taken).size).toBeGreaterThan(20);
  });

  it("a list pops what was pushed: FIFO at the back, LIFO at the front", () => {
    const push = (op: number, stamp: number) => {
      const f = new Uint8Array(16);
      f[0] = op;
      f[1] = 1;
      new DataView(f.buffer).setUint32(8, stamp, true);
      return ours.program("fifo").testRun({ data: f }).action;
    };
    const pop = (op: number) => {
      const f = new Uint8Array(16);
      f[0] = op;
      f[1] = 1;
      const r = ours.program("fifo").testRun({ data: f });
      return r.action === "TX" ? new DataView(r.data.buffer, r.data.byteOffset).getUint32(8, true) : r.action;
    };
    while (pop(2) !== "DROP");
    for (const s of [10, 11, 12]) expect(push(1, s)).toBe("PASS");
    expect(push(3, 9)).toBe("PASS");
    expect([pop(2), pop(4), pop(2), pop(2), pop(2)]).toEqual([9, 12, 10, 11, "DROP"]);
  });

  it("a tree gives its least flow first, as the C twin's, whatever order they came in", () => {
    const random = rng(7);
    const verdicts = new Set<string>();
    for (let n = 0; n < 300; n++) {
      // Adds more often than takes: the tree grows to drain at the end.
      const f = frame([5, 5, 5, 6, 7][random() % 5]!, random);
      const [a, b] = run("flows", f);
      expect(a).toBe(b);
      verdicts.add(`${f[0]} ${a!.split(" ")[0]}`);
    }
    expect([...verdicts].sort()).toEqual(expect.arrayContaining(["5 PASS", "6 TX", "7 TX"]));
    // Drained, the keys come out sorted.
    const keys: bigint[] = [];
    for (;;) {
      const f = new Uint8Array(16);
      f[0] = 6;
      const r = ours.program("flows").testRun({ data: f });
      if (r.action !== "TX") break;
      keys.push(new DataView(r.data.buffer, r.data.byteOffset).getBigUint64(8, true));
    }
    expect(keys.length).toBeGreaterThan(10);
    expect(keys).toEqual([...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
  });

  it("a counted object in a list and a tree at once: the list keeps arrival order, the tree key order, as the C twin's", () => {
    const r = compile({ source: both, fileName: "graph_both.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    // The twin keeps struct Rec and Flow (named by the other maps' tags) in its BTF as the compiler does.
    const objects = [loadObject(r.object!), loadObject(compileC(`${header}${bothTwin.replace("__u32 k = 0;", `${keep}\n\t__u32 k = 0;`)}`))];
    try {
      const random = rng(11);
      const seen = new Set<string>();
      for (let n = 0; n < 200; n++) {
        const f = frame([8, 8, 9, 10][random() % 4]!, random);
        const [a, b] = objects.map((o) => {
          const t = o.program("both").testRun({ data: f });
          return `${t.action} ${Buffer.from(t.data).toString("hex")}`;
        });
        expect(a).toBe(b);
        seen.add(`${f[0]} ${a!.split(" ")[0]}`);
      }
      expect([...seen].sort()).toEqual(expect.arrayContaining(["10 TX", "8 PASS", "9 TX"]));
    } finally {
      for (const o of objects) o.close();
    }
  });

  it("a list call without the lock: TSX3030, and refused by the kernel in C", () => {
    expect(refusal("const r = bpf_obj_new<Rec>(); if (!r) return XdpAction.PASS; bpf_list_push_back(q.value.head, r); return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX3030 `bpf_list_push_back` needs the lock/),
    ]);
    expect(load("struct Rec *r = bpf_obj_new(struct Rec); if (!r) return XDP_PASS; bpf_list_push_back(&q->head, &r->node); return XDP_PASS;")).toContain("bpf_spin_lock at off=0 must be held for bpf_list_head");
  });

  it("an object used after the list took it: TSX3021, and refused by the kernel in C once unlocked", () => {
    expect(refusal("const r = bpf_obj_new<Rec>(); if (!r) return XdpAction.PASS; bpf_spin_lock(q.value.lock); bpf_list_push_back(q.value.head, r); bpf_spin_unlock(q.value.lock); r.tag = 1; return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX3021 /),
    ]);
    expect(load("struct Rec *r = bpf_obj_new(struct Rec); if (!r) return XDP_PASS; bpf_spin_lock(&q->lock); bpf_list_push_back(&q->head, &r->node); bpf_spin_unlock(&q->lock); r->tag = 1; return XDP_PASS;")).toMatch(/R\d+ invalid mem access 'scalar'/);
  });

  it("a popped object kept: TSX3020, and Unreleased reference from the kernel in C", () => {
    expect(refusal("bpf_spin_lock(q.value.lock); const r = bpf_list_pop_front(q.value.head); bpf_spin_unlock(q.value.lock); if (!r) return XdpAction.PASS; return XdpAction.DROP;")).toEqual([
      expect.stringMatching(/^TSX3020 .*`bpf_list_pop_front`/),
    ]);
    expect(load("bpf_spin_lock(&q->lock); struct bpf_list_node *n = bpf_list_pop_front(&q->head); bpf_spin_unlock(&q->lock); if (!n) return XDP_PASS; return XDP_DROP;")).toContain("Unreleased reference");
  });

  it("a lent node read after the unlock: TSX3031, and refused by the kernel in C", () => {
    expect(refusal("bpf_spin_lock(t.value.lock); const f = bpf_rbtree_first(t.value.root); bpf_spin_unlock(t.value.lock); if (!f) return XdpAction.PASS; return f.key > 5 ? XdpAction.DROP : XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX3031 /),
    ]);
    expect(load("bpf_spin_lock(&t->lock); struct bpf_rb_node *n = bpf_rbtree_first(&t->root); bpf_spin_unlock(&t->lock); if (!n) return XDP_PASS; return (container_of(n, struct Flow, node))->key > 5 ? XDP_DROP : XDP_PASS;")).toMatch(/R\d+ invalid mem access 'scalar'/);
  });

  it("a list under another value's lock: TSX3030, and refused by the kernel in C", () => {
    expect(refusal("const q1 = queues.lookup(1); if (!q1) return XdpAction.PASS; bpf_spin_lock(q.value.lock); const r = bpf_list_pop_front(q1.value.head); bpf_spin_unlock(q.value.lock); if (r) bpf_obj_drop(r); return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX3030 the lock taken at line \d+ is not the one beside this list/),
    ]);
    expect(
      load("__u32 one = 1; struct Queue *q1 = bpf_map_lookup_elem(&queues, &one); if (!q1) return XDP_PASS; bpf_spin_lock(&q->lock); struct bpf_list_node *n = bpf_list_pop_front(&q1->head); bpf_spin_unlock(&q->lock); if (n) bpf_obj_drop(container_of(n, struct Rec, node)); return XDP_PASS;"),
    ).toContain("held lock and object are not in the same allocation");
  });

  it("a tree's order that calls a helper: TSX3009, and refused by the kernel in C", () => {
    const r = compile({
      source: `${imports}\nimport { bpf_ktime_get_ns } from "tsxdp";\nfunction late(a: Flow, b: Flow): boolean {\n  return bpf_ktime_get_ns() > 0 && a.key < b.key;\n}\nexport const prog = xdp((ctx) => {\n  const t = trees.lookup(0);\n  if (!t) return XdpAction.PASS;\n  const f = bpf_obj_new<Flow>();\n  if (!f) return XdpAction.PASS;\n  bpf_spin_lock(t.value.lock);\n  bpf_rbtree_add(t.value.root, f, late);\n  bpf_spin_unlock(t.value.lock);\n  return XdpAction.PASS;\n});\n`,
      fileName: "graph_late.ts",
    });
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([expect.stringMatching(/^TSX3009 `late` orders a tree for `bpf_rbtree_add`/)]);
    const late = "static bool late(struct bpf_rb_node *a, const struct bpf_rb_node *b)\n{\n\treturn bpf_ktime_get_ns() > 0 && container_of(a, struct Flow, node)->key < container_of(b, struct Flow, node)->key;\n}\n";
    expect(load("struct Flow *f = bpf_obj_new(struct Flow); if (!f) return XDP_PASS; bpf_spin_lock(&t->lock); bpf_rbtree_add(&t->root, &f->node, late); bpf_spin_unlock(&t->lock); return XDP_PASS;", true, late)).toContain(
      "function calls are not allowed while holding a lock",
    );
  });

  it("a per-CPU object with a list node: refused at compile time, and by the kernel in C", () => {
    expect(refusal("const p = bpf_percpu_obj_new<Rec>(); if (p) bpf_percpu_obj_drop(p); return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TSX2011 `Rec` holds a .* list or tree field/),
    ]);
    const percpu =
      "extern void *bpf_percpu_obj_new_impl(__u64 local_type_id__k, void *meta__ign) __ksym;\nextern void bpf_percpu_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym;\n";
    expect(load("struct Rec *p = bpf_percpu_obj_new_impl(__builtin_btf_type_id(*(struct Rec *)0, 0), NULL); if (p) bpf_percpu_obj_drop_impl(p, NULL); return XDP_PASS;", true, percpu)).toContain(
      "bpf_percpu_obj_new type ID argument must not contain special fields",
    );
  });

  it("a list of one struct given another: refused by TypeScript's own check", () => {
    expect(refusal("const f = bpf_obj_new<Flow>(); if (!f) return XdpAction.PASS; bpf_spin_lock(q.value.lock); bpf_list_push_back(q.value.head, f); bpf_spin_unlock(q.value.lock); return XdpAction.PASS;")).toEqual([
      expect.stringMatching(/^TS2345 Argument of type 'Flow' is not assignable/),
    ]);
  });

  it("the structs a list or tree holds are in BTF when only the map names them: the kernel takes the maps", () => {
    const r = compile({ source: `${imports}\nexport const sizes = xdp((ctx) => {\n  const q = queues.lookup(0);\n  if (!q) return XdpAction.PASS;\n  return q.value.size > 3 ? XdpAction.DROP : XdpAction.PASS;\n});\n`, fileName: "graph_sizes.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    const o = loadObject(r.object!);
    try {
      expect(o.program("sizes").info().btfId).toBeGreaterThan(0);
      expect(o.program("sizes").testRun({ data: new Uint8Array(16) }).action).toBe("PASS");
    } finally {
      o.close();
    }
    // The same C without the structs' ids: BTF refused, and with it the map's lock.
    expect(load("bpf_spin_lock(&q->lock); q->size += 1; bpf_spin_unlock(&q->lock); return XDP_PASS;", false)).toContain("has to have BTF");
    expect(load("bpf_spin_lock(&q->lock); q->size += 1; bpf_spin_unlock(&q->lock); return XDP_PASS;")).toBe("");
  });
});
