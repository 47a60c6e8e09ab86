// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/ipv6_hop_limit.ts: drops IPv6 packets whose hop limit
 * is 0 or 1, looking through one 802.1Q/802.1ad VLAN tag.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Not in the UAPI headers; every XDP code base declares its own. */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

SEC("xdp")
int ipv6_hop_limit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h = (void *)(eth + 1);
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vlh = (void *)(eth + 1);

		if ((void *)(vlh + 1) > data_end)
			return XDP_PASS;
		proto = vlh->h_vlan_encapsulated_proto;
		ip6h = (void *)(vlh + 1);
	}
	if (proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	if ((void *)(ip6h + 1) > data_end)
		return XDP_PASS;
	return ip6h->hop_limit <= 1 ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
