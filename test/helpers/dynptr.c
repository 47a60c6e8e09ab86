// C twin of dynptr.ts: the dynptr helpers as bpf_helper_defs.h declares them.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;

struct word {
	__u32 value;
};

struct report {
	__s32 read;
	__u32 word;
	__s32 written;
	__u32 data;
};

SEC("xdp.frags")
int copy(struct xdp_md *ctx)
{
	struct bpf_dynptr dp;
	if (bpf_dynptr_from_xdp(ctx, 0, &dp) != 0)
		return XDP_ABORTED;
	struct ethhdr eth = {};
	if (bpf_dynptr_read(&eth, sizeof(eth), &dp, 0, 0) != 0)
		return XDP_DROP;
	if (eth.h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct udphdr udp = {};
	if (bpf_dynptr_read(&udp, sizeof(udp), &dp, 34, 0) != 0)
		return XDP_DROP;
	__u32 at = bpf_ntohs(udp.dest);
	struct word word = {};
	long read = bpf_dynptr_read(&word, sizeof(word), &dp, at, 0);
	struct word mark = { .value = word.value ^ 0xffffffff };
	long written = bpf_dynptr_write(&dp, at + 4, &mark, sizeof(mark), 0);
	struct word *direct = bpf_dynptr_data(&dp, 0, sizeof(struct word));
	struct report report = { .read = read, .word = word.value, .written = written, .data = direct ? 1 : 0 };
	if (bpf_dynptr_write(&dp, 42, &report, sizeof(report), 0) != 0)
		return XDP_DROP;
	return XDP_TX;
}

struct scratch {
	__u64 count;
	__u32 words[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

SEC("xdp")
int mem(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 62 > data_end)
		return XDP_DROP;
	struct word w = { .value = *(__u32 *)(data + 42) };
	__u32 key = 0;
	struct scratch *v = bpf_map_lookup_elem(&scratch, &key);
	if (!v)
		return XDP_ABORTED;
	struct bpf_dynptr dp;
	if (bpf_dynptr_from_mem(v, sizeof(*v), 0, &dp) != 0)
		return XDP_ABORTED;
	long wrote = bpf_dynptr_write(&dp, 4, &w, sizeof(w), 0);
	struct word *seen = bpf_dynptr_data(&dp, 4, sizeof(struct word));
	if (!seen)
		return XDP_ABORTED;
	seen->value += 1;
	struct word back = {};
	long tail = bpf_dynptr_read(&back, sizeof(back), &dp, 20, 0);
	long past = bpf_dynptr_read(&back, sizeof(back), &dp, 22, 0);
	struct bpf_dynptr fp;
	if (bpf_dynptr_from_mem(v->words, sizeof(v->words), 0, &fp) != 0)
		return XDP_ABORTED;
	bpf_dynptr_write(&fp, 12, &w, sizeof(w), 0);
	long beyond = bpf_dynptr_write(&fp, 14, &w, sizeof(w), 0);
	struct word got = {};
	bpf_dynptr_read(&got, sizeof(got), &dp, 4, 0);
	if (data + 62 > data_end)
		return XDP_DROP;
	*(__u32 *)(data + 42) = got.value;
	*(__s32 *)(data + 46) = wrote;
	*(__s32 *)(data + 50) = tail;
	*(__s32 *)(data + 54) = past;
	*(__s32 *)(data + 58) = beyond;
	return XDP_TX;
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} records SEC(".maps");

SEC("xdp")
int record(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 44 > data_end)
		return XDP_DROP;
	__u32 n = *(__u8 *)(data + 42);
	__u8 discard = *(__u8 *)(data + 43);
	struct bpf_dynptr dp;
	if (bpf_ringbuf_reserve_dynptr(&records, 4 + n * 4, 0, &dp) != 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return XDP_ABORTED;
	}
	struct word head = { .value = n };
	bpf_dynptr_write(&dp, 0, &head, sizeof(head), 0);
#pragma unroll
	for (__u32 i = 0; i < 8; i++) {
		if (i < n) {
			struct word w = { .value = (0x01010101 * (i + 1)) ^ n };
			bpf_dynptr_write(&dp, 4 + i * 4, &w, sizeof(w), 0);
		}
	}
	struct word *first = bpf_dynptr_data(&dp, 0, sizeof(struct word));
	if (first)
		first->value |= 0x100;
	if (discard != 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return XDP_DROP;
	}
	bpf_ringbuf_submit_dynptr(&dp, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
