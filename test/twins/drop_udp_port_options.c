// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/drop_udp_port_options.ts: drops UDP datagrams to port 9
 * over IPv4, finding the UDP header through the IHL field (options included).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define DROPPED_PORT 9

SEC("xdp")
int drop_udp_port_options(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *udph;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (iph->version != 4)
		return XDP_PASS;
	if (iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (iph->ihl < 5)
		return XDP_DROP;

	udph = (void *)iph + iph->ihl * 4;
	if ((void *)(udph + 1) > data_end)
		return XDP_PASS;
	return udph->dest == bpf_htons(DROPPED_PORT) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
