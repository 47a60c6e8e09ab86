// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/drop_non_ipv4.ts: drops every frame that is not IPv4,
 * looking through one 802.1Q/802.1ad VLAN tag.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Not in the UAPI headers; every XDP code base declares its own. */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

SEC("xdp")
int drop_non_ipv4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;

	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vlh = (void *)(eth + 1);

		if ((void *)(vlh + 1) > data_end)
			return XDP_DROP;
		proto = vlh->h_vlan_encapsulated_proto;
	}
	return proto == bpf_htons(ETH_P_IP) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
