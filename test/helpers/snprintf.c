// C twin of snprintf.ts.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp") int fmt(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 88 > end) return XDP_PASS;
	__u64 out[6] = {};
	__u64 a = *(__u32 *)(data + 16);
	__s64 b = *(__s32 *)(data + 20);
	__u64 c = *(__u64 *)(data + 24);
	__u64 port = bpf_ntohs(*(__be16 *)(data + 12));
	__u8 which = *(__u8 *)(data + 14);
	long n;
	if (which == 0) n = BPF_SNPRINTF((char *)out, sizeof(out), "a=%u b=%d c=%llx port=%u", a, b, c, port);
	else if (which == 1) n = BPF_SNPRINTF((char *)out, sizeof(out), "[%08x|%-6d|%+i|% d|%X] 100%%", a, b, b, b, a);
	else if (which == 2) n = BPF_SNPRINTF((char *)out, sizeof(out), "%lu-%lld-%llu-%lx-%li", c, c, c, c, b);
	else if (which == 3) n = bpf_snprintf((char *)out, sizeof(out), "no values", 0, 0);
	else n = BPF_SNPRINTF((char *)out, sizeof(out), "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", a, a, a, a, a, a, a, a, a, a, a, a);
	*(long *)(data + 32) = n;
	for (int i = 0; i < 6; i++) *(__u64 *)(data + 40 + 8 * i) = out[i];
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
