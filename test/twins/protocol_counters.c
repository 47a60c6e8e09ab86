// SPDX-License-Identifier: GPL-2.0
/* C twin of examples/protocol_counters.ts: per-CPU packet and byte counts by IP protocol, through one VLAN tag. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NONE 256

struct counts {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct counts);
} byProtocol SEC(".maps");

static __always_inline __u32 protocol_at(__u8 *ip, void *end, __be16 ethertype)
{
	if (ethertype == bpf_htons(ETH_P_IP)) {
		if ((void *)(ip + 20) > end)
			return NONE;
		return ip[9];
	}
	if (ethertype == bpf_htons(ETH_P_IPV6)) {
		if ((void *)(ip + 40) > end)
			return NONE;
		return ip[6];
	}
	return NONE;
}

SEC("xdp")
int protocol_counters(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	__u32 protocol = NONE;

	if (data + 14 > data_end)
		return XDP_PASS;
	__be16 outer = *(__be16 *)(p + 12);
	if (outer == bpf_htons(ETH_P_8021Q) || outer == bpf_htons(ETH_P_8021AD)) {
		if (data + 18 <= data_end)
			protocol = protocol_at(p + 18, data_end, *(__be16 *)(p + 16));
	} else {
		protocol = protocol_at(p + 14, data_end, outer);
	}
	if (protocol == NONE)
		return XDP_PASS;
	struct counts *counts = bpf_map_lookup_elem(&byProtocol, &protocol);
	if (counts) {
		counts->packets += 1;
		counts->bytes += bpf_xdp_get_buff_len(ctx);
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
