// SPDX-License-Identifier: GPL-2.0
/* C twin of examples/syn_flood_guard.ts: SYNs per IPv4 source per window in an LRU hash. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TCP_SYN 0x02
#define TCP_ACK 0x10

const volatile __u32 SYN_LIMIT = 16;
const volatile __u64 WINDOW_NS = 1000000000;

struct syn_window {
	__u64 start;
	__u32 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __be32);
	__type(value, struct syn_window);
} syns SEC(".maps");

SEC("xdp")
int syn_flood_guard(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 14 + 20 > data_end)
		return XDP_PASS;
	if (*(__be16 *)(data + 12) != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = data + 14;
	if (ip->version != 4 || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	__u32 ihl = ip->ihl;
	if (ihl < 5)
		return XDP_PASS;
	__u8 *tcp = data + 14 + ihl * 4;
	if ((void *)(tcp + 14) > data_end)
		return XDP_PASS;
	if ((tcp[13] & (TCP_SYN | TCP_ACK)) != TCP_SYN)
		return XDP_PASS;

	__be32 source = ip->saddr;
	__u64 now = bpf_ktime_get_ns();
	struct syn_window *seen = bpf_map_lookup_elem(&syns, &source);
	if (!seen) {
		struct syn_window fresh = { .start = now, .count = 1 };
		bpf_map_update_elem(&syns, &source, &fresh, BPF_ANY);
		return XDP_PASS;
	}
	if (now - seen->start > WINDOW_NS) {
		seen->start = now;
		seen->count = 1;
		return XDP_PASS;
	}
	seen->count += 1;
	return seen->count > SYN_LIMIT ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
