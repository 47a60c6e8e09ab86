// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/icmp_echo_responder.ts: answers IPv4 ICMP echo requests
 * with XDP_TX, fixing the ICMP checksum incrementally (RFC 1624).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* linux/icmp.h pulls in libc headers that a BPF target cannot build: the few bits needed. */
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

static __always_inline __u16 csum_replace(__u16 check, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~check + (__u16)~from + to;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int icmp_echo_responder(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct icmphdr *icmp;
	unsigned char tmp[ETH_ALEN];
	__u32 addr;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (iph->version != 4 || iph->protocol != IPPROTO_ICMP)
		return XDP_PASS;
	if (iph->ihl < 5)
		return XDP_PASS;
	icmp = (void *)iph + iph->ihl * 4;
	if ((void *)icmp + 8 > data_end)
		return XDP_PASS;
	if (icmp->type != ICMP_ECHO || icmp->code != 0)
		return XDP_PASS;

	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);

	addr = iph->saddr;
	iph->saddr = iph->daddr;
	iph->daddr = addr;

	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum = bpf_htons(csum_replace(bpf_ntohs(icmp->checksum), ICMP_ECHO << 8, ICMP_ECHOREPLY << 8));
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
