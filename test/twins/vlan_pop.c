// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/vlan_pop.ts: removes the outer 802.1Q/802.1ad tag by
 * moving the MAC addresses over it and dropping four bytes of headroom.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int vlan_pop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *w = data;
	__u16 tpid;
	__u32 a, b, c;

	if (data + 18 > data_end)
		return XDP_PASS;
	tpid = *(__u16 *)(data + 12);
	if (tpid != bpf_htons(0x8100) && tpid != bpf_htons(0x88a8))
		return XDP_PASS;

	a = w[0];
	b = w[1];
	c = w[2];
	w[1] = a;
	w[2] = b;
	w[3] = c;

	if (bpf_xdp_adjust_head(ctx, 4))
		return XDP_ABORTED;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
