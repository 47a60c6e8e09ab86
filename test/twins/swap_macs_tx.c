// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/swap_macs_tx.ts: swaps the destination and source MAC
 * addresses and sends the frame back out of the device it came in on.
 * The swap is the kernel's samples/bpf idiom (xdp2_kern.c): three 16-bit
 * words each way, which needs no alignment beyond the frame's own.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

static __always_inline void swap_src_dst_mac(void *data)
{
	unsigned short *p = data;
	unsigned short dst[3];

	dst[0] = p[0];
	dst[1] = p[1];
	dst[2] = p[2];
	p[0] = p[3];
	p[1] = p[4];
	p[2] = p[5];
	p[3] = dst[0];
	p[4] = dst[1];
	p[5] = dst[2];
}

SEC("xdp")
int swap_macs_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;

	swap_src_dst_mac(data);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
