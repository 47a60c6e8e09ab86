// SPDX-License-Identifier: GPL-2.0
/* C twin of examples/flow_counters.ts: the same counters in the same maps. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} byClass SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __be32);
	__type(value, __u64);
} bySource SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total SEC(".maps");

SEC("xdp")
int flow_counters(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0, cls;
	__u64 *all, *counter, *seen, one = 1;
	__be32 saddr;
	__be16 proto;

	all = bpf_map_lookup_elem(&total, &zero);
	if (all)
		__sync_fetch_and_add(all, 1);
	if (data + 14 > data_end)
		return XDP_PASS;
	proto = *(__be16 *)(data + 12);
	cls = proto == bpf_htons(ETH_P_IP) ? 0 : proto == bpf_htons(ETH_P_IPV6) ? 1 : 2;
	counter = bpf_map_lookup_elem(&byClass, &cls);
	if (counter)
		*counter += 1;
	if (cls != 0 || data + 34 > data_end)
		return XDP_PASS;

	saddr = *(__be32 *)(data + 26);
	seen = bpf_map_lookup_elem(&bySource, &saddr);
	if (seen)
		__sync_fetch_and_add(seen, 1);
	else
		bpf_map_update_elem(&bySource, &saddr, &one, BPF_NOEXIST);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
