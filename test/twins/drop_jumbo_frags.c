// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/drop_jumbo_frags.ts: a multi-buffer aware program
 * (section xdp.frags) that drops frames longer than 1514 bytes, measured
 * over all fragments with bpf_xdp_get_buff_len().
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_FRAME 1514

SEC("xdp.frags")
int drop_jumbo(struct xdp_md *ctx)
{
	__u64 len = bpf_xdp_get_buff_len(ctx);

	return len > MAX_FRAME ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
