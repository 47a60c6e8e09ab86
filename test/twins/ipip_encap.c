// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/ipip_encap.ts: encapsulates IPv4 packets to
 * 192.0.2.0/24 in an outer IPv4 header (IP-in-IP) from 203.0.113.1 to
 * 203.0.113.2, made room for with bpf_xdp_adjust_head, and sends them back
 * out with XDP_TX.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TUNNEL_PREFIX 0xc0000200 /* 192.0.2.0/24 */
#define TUNNEL_MASK 0xffffff00
#define OUTER_SRC 0xcb007101 /* 203.0.113.1 */
#define OUTER_DST 0xcb007102 /* 203.0.113.2 */
#define IP_DF 0x4000

static __always_inline __u16 ipv4_csum(struct iphdr *iph)
{
	__u16 *words = (__u16 *)iph;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < (int)sizeof(*iph) / 2; i++)
		sum += bpf_ntohs(words[i]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int ipip_encap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct iphdr *outer;
	struct ethhdr eth_copy;
	__u16 inner_len;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (iph->version != 4)
		return XDP_PASS;
	if ((bpf_ntohl(iph->daddr) & TUNNEL_MASK) != TUNNEL_PREFIX)
		return XDP_PASS;

	__builtin_memcpy(&eth_copy, eth, sizeof(eth_copy));
	inner_len = bpf_ntohs(iph->tot_len);

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	outer = (void *)(eth + 1);
	if ((void *)(outer + 1) > data_end)
		return XDP_ABORTED;

	__builtin_memcpy(eth, &eth_copy, sizeof(*eth));
	outer->version = 4;
	outer->ihl = 5;
	outer->tos = 0;
	outer->tot_len = bpf_htons(inner_len + sizeof(*outer));
	outer->id = 0;
	outer->frag_off = bpf_htons(IP_DF);
	outer->ttl = 64;
	outer->protocol = IPPROTO_IPIP;
	outer->check = 0;
	outer->saddr = bpf_htonl(OUTER_SRC);
	outer->daddr = bpf_htonl(OUTER_DST);
	outer->check = bpf_htons(ipv4_csum(outer));
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
