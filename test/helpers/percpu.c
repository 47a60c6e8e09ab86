// C twin of percpu.ts.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct Pair {
	__u32 a;
	__u32 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __be32);
	__type(value, struct Pair);
} pairs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp") int oncpu(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 48 > end) return XDP_PASS;
	__u32 index = *(__u8 *)(data + 14);
	__u32 cpu = *(__u8 *)(data + 15);
	__u64 *c = bpf_map_lookup_percpu_elem(&counts, &index, cpu);
	*(__u64 *)(data + 16) = c ? *c : 0xdeadbeef;
	__be32 k = *(__be32 *)(data + 24);
	struct Pair *p = bpf_map_lookup_percpu_elem(&pairs, &k, cpu);
	*(__u32 *)(data + 28) = p ? p->a : ~0U;
	*(__u32 *)(data + 32) = p ? p->b : ~0U;
	__u64 *r = bpf_map_lookup_percpu_elem(&recent, &index, cpu);
	*(__u64 *)(data + 40) = r ? *r : 0xdeadbeef;
	return XDP_TX;
}

SEC("xdp") int query(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 54 > end) return XDP_PASS;
	__u64 v = *(__u64 *)(data + 14);
	if (bpf_ringbuf_output(&events, &v, sizeof(v), 0) != 0) return XDP_DROP;
	*(__u64 *)(data + 22) = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	*(__u64 *)(data + 30) = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	*(__u64 *)(data + 38) = bpf_ringbuf_query(&events, BPF_RB_CONS_POS);
	*(__u64 *)(data + 46) = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
