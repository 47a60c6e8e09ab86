// C twin of fib.ts.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2

SEC("xdp")
int fib(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || data + 44 > data_end)
		return XDP_PASS;

	struct bpf_fib_lookup params;
	__builtin_memset(&params, 0, sizeof(params));
	params.family = AF_INET;
	params.tos = ip->tos;
	params.l4_protocol = ip->protocol;
	params.tot_len = bpf_ntohs(ip->tot_len);
	params.ipv4_src = ip->saddr;
	params.ipv4_dst = ip->daddr;
	params.ifindex = ctx->ingress_ifindex;
	long rc = bpf_fib_lookup(ctx, &params, sizeof(params), 0);

	*(__u32 *)(data + 34) = rc;
	*(__u32 *)(data + 38) = params.ifindex;
	*(__u16 *)(data + 42) = params.mtu_result;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	__builtin_memcpy(eth->h_dest, params.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, params.smac, ETH_ALEN);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
