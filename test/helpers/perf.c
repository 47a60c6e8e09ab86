// C twin of perf.ts: the same records through bpf_perf_event_output.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct Sample {
	__be32 saddr;
	__u32 len;
	__be16 proto;
	__u8 tag;
	__u8 flag;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 64);
} marks SEC(".maps");

SEC("xdp") int sample(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 24 > end) return XDP_PASS;
	struct Sample s = { .saddr = *(__be32 *)(data + 14), .len = bpf_xdp_get_buff_len(ctx), .proto = *(__be16 *)(data + 12), .tag = *(__u8 *)(data + 18), .flag = *(__u8 *)(data + 19) };
	long rc = bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s));
	if (*(__u8 *)(data + 22) == 1) rc = bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s));
	*(long *)(data + 16) = rc;
	return XDP_TX;
}

SEC("xdp") int mark(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 28 > end) return XDP_PASS;
	__u32 m = *(__u32 *)(data + 14);
	long rc = bpf_perf_event_output(ctx, &marks, *(__u8 *)(data + 18), &m, sizeof(m));
	*(long *)(data + 20) = rc;
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
