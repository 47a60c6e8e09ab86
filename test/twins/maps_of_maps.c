// SPDX-License-Identifier: GPL-2.0
/* C twin of test/fixtures/positive/maps_of_maps.ts: per-tenant counters in a hash of maps, per-source counts in an array of maps. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct tenant {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
};

struct shard {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __be32);
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 16);
	__type(key, __u16);
	__array(values, struct tenant);
} tenants SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct shard);
} shards SEC(".maps");

struct tenant tenantA SEC(".maps");
struct tenant tenantB SEC(".maps");
struct shard shard0 SEC(".maps");
struct shard shard1 SEC(".maps");

SEC("xdp")
int tenant_counters(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;

	if (data + 42 > data_end)
		return XDP_PASS;
	if (*(__be16 *)(p + 12) != bpf_htons(ETH_P_IP) || p[14] != 0x45 || p[23] != 17)
		return XDP_PASS;

	__u32 index = p[29] & 3;
	void *shard = bpf_map_lookup_elem(&shards, &index);
	if (shard) {
		__be32 saddr = *(__be32 *)(p + 26);
		__u64 *seen = bpf_map_lookup_elem(shard, &saddr);
		if (seen) {
			__sync_fetch_and_add(seen, 1);
		} else {
			__u64 one = 1;
			bpf_map_update_elem(shard, &saddr, &one, BPF_NOEXIST);
		}
	}

	__u16 port = bpf_ntohs(*(__be16 *)(p + 36));
	void *counters = bpf_map_lookup_elem(&tenants, &port);
	if (!counters)
		return XDP_DROP;
	__u32 k = 0;
	__u64 *frames = bpf_map_lookup_elem(counters, &k);
	if (frames)
		__sync_fetch_and_add(frames, 1);
	k = 1;
	__u64 *bytes = bpf_map_lookup_elem(counters, &k);
	if (bytes)
		__sync_fetch_and_add(bytes, bpf_ntohs(*(__be16 *)(p + 16)));
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
