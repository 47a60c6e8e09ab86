// C twin of raw_syncookie.ts.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int raw_syncookie(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__s64 r;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + 14;
		struct tcphdr *th = data + 34;
		if (data + 102 > data_end)
			return XDP_PASS;
		if (th->syn)
			r = bpf_tcp_raw_gen_syncookie_ipv4(ip, th, th->doff * 4);
		else
			r = bpf_tcp_raw_check_syncookie_ipv4(ip, th);
		*(__u32 *)(data + 94) = (__u32)r;
		*(__u32 *)(data + 98) = (__u32)(r >> 32);
		return XDP_TX;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip = data + 14;
		struct tcphdr *th = data + 54;
		if (data + 122 > data_end)
			return XDP_PASS;
		if (th->syn)
			r = bpf_tcp_raw_gen_syncookie_ipv6(ip, th, th->doff * 4);
		else
			r = bpf_tcp_raw_check_syncookie_ipv6(ip, th);
		*(__u32 *)(data + 114) = (__u32)r;
		*(__u32 *)(data + 118) = (__u32)(r >> 32);
		return XDP_TX;
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
