// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/redirect_devmap.ts: forwards frames through a DEVMAP
 * whose entries userspace writes. An IPv4 frame picks the entry from the
 * low three bits of its destination address's last byte, anything else
 * takes entry 0; an empty entry falls back to XDP_PASS (the low bits of
 * bpf_redirect_map's flags).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

SEC("xdp")
int redirect_devmap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 port = 0;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_IP) && data + 34 <= data_end)
		port = ((__u8 *)data)[33] & 7;
	return bpf_redirect_map(&ports, port, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
