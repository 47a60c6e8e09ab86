// C twin of flow_keys.ts.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct endpoint {
	__be32 addr;
	__be16 port;
};

struct flow_key {
	__u8 proto;
	struct endpoint src;
	struct endpoint dst;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

static __always_inline void canonical(struct flow_key *key)
{
	if (key->src.port == bpf_htons(53)) {
		struct endpoint e = key->src;
		key->src = key->dst;
		key->dst = e;
	}
}

SEC("xdp")
int flow_keys(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || *(__u8 *)ip != 0x45 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;

	struct flow_key key;
	__builtin_memset(&key, 0, sizeof(key));
	key.proto = ip->protocol;
	key.src.addr = ip->saddr;
	key.src.port = udp->source;
	key.dst.addr = ip->daddr;
	key.dst.port = udp->dest;
	canonical(&key);
	struct flow_stats *stats = bpf_map_lookup_elem(&flows, &key);
	if (stats) {
		stats->packets += 1;
		stats->bytes += bpf_ntohs(ip->tot_len);
		return XDP_PASS;
	}
	struct flow_stats fresh = { .packets = 1, .bytes = bpf_ntohs(ip->tot_len) };
	bpf_map_update_elem(&flows, &key, &fresh, BPF_NOEXIST);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
