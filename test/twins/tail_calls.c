// SPDX-License-Identifier: GPL-2.0
/* C twin of test/fixtures/positive/tail_calls.ts: the same programs behind the same PROG_ARRAY. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 4);
} jump SEC(".maps");

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 2 > data_end)
		return XDP_ABORTED;
	bpf_tail_call(ctx, &jump, *(__u8 *)data);
	*(__u8 *)(data + 1) = 0xee;
	return XDP_PASS;
}

SEC("xdp")
int drop_it(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int bounce(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 3 > data_end)
		return XDP_ABORTED;
	*(__u8 *)(data + 1) = 0xbb;
	bpf_tail_call(ctx, &jump, *(__u8 *)(data + 2));
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
