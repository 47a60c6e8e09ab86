// C twin of memory.ts.
#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int csum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 56 > data_end)
		return XDP_PASS;
	__be32 from[3] = { *(__be32 *)(data + 14), *(__be32 *)(data + 18), *(__be32 *)(data + 22) };
	__be32 to[2] = { *(__be32 *)(data + 26), *(__be32 *)(data + 30) };
	__s64 diff = bpf_csum_diff(from, sizeof(from), to, sizeof(to), *(__u32 *)(data + 34));
	__s64 sum = bpf_csum_diff(0, 0, from, sizeof(from), 0);
	*(__s64 *)(data + 40) = diff;
	*(__s64 *)(data + 48) = sum;
	return XDP_TX;
}

SEC("xdp")
int bytes(struct xdp_md *ctx)
{
	__u8 buf[16] = {};
	if (bpf_xdp_load_bytes(ctx, 14, buf, sizeof(buf)) != 0)
		return XDP_ABORTED;
	buf[0] += 1;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 14 > data_end)
		return XDP_DROP;
	if (bpf_xdp_store_bytes(ctx, 30, buf, sizeof(buf)) != 0)
		return XDP_ABORTED;
	*(__u8 *)data = buf[15];
	return XDP_TX;
}

SEC("xdp")
int mtu(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 22 > data_end)
		return XDP_PASS;
	__u32 len = *(__u32 *)(data + 14);
	long rc = bpf_check_mtu(ctx, 0, &len, *(__s32 *)(data + 18), 0);
	*(__u32 *)(data + 14) = len;
	*(__s32 *)(data + 18) = rc;
	return XDP_TX;
}

SEC("xdp")
int ipsum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + 14;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	ip->check = 0;
	__u32 s = bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*(__u16 *)&ip->check = ~s;
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
