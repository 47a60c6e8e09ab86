// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/drop_udp_port.ts: drops UDP datagrams to port 9 (discard)
 * over IPv4; everything else passes, IPv4 headers with options included.
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
int drop_udp_port(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *udph;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	/* Fixed offsets: only option-less IPv4 headers are looked into. */
	iph = (void *)(eth + 1);
	udph = (void *)(iph + 1);
	if ((void *)(udph + 1) > data_end)
		return XDP_PASS;
	if (iph->version != 4 || iph->ihl != 5)
		return XDP_PASS;
	if (iph->protocol != IPPROTO_UDP)
		return XDP_PASS;

	return udph->dest == bpf_htons(DROPPED_PORT) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
