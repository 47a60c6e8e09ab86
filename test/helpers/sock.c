// C twin of sock.ts.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int lookup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *ports = data + 34;
	if ((void *)(ip + 1) > data_end || (void *)(ports + 1) > data_end || data + 70 > data_end)
		return XDP_PASS;

	struct bpf_sock_tuple tuple;
	__builtin_memset(&tuple, 0, sizeof(tuple));
	tuple.ipv4.saddr = ip->saddr;
	tuple.ipv4.daddr = ip->daddr;
	tuple.ipv4.sport = ports->source;
	tuple.ipv4.dport = ports->dest;
	if (ip->protocol == IPPROTO_TCP) {
		struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
		if (!sk)
			return XDP_DROP;
		*(__u32 *)(data + 54) = sk->state;
		*(__u32 *)(data + 58) = sk->family;
		*(__u32 *)(data + 62) = sk->protocol;
		*(__u32 *)(data + 66) = sk->src_port;
		bpf_sk_release(sk);
		return XDP_PASS;
	}
	if (ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	struct bpf_sock *sk = bpf_sk_lookup_udp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return XDP_DROP;
	*(__u32 *)(data + 54) = sk->state;
	*(__u32 *)(data + 58) = sk->family;
	*(__u32 *)(data + 62) = sk->protocol;
	*(__u32 *)(data + 66) = sk->src_port;
	bpf_sk_release(sk);
	return XDP_PASS;
}

SEC("xdp")
int lookup_skc(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *ports = data + 34;
	if ((void *)(ip + 1) > data_end || (void *)(ports + 1) > data_end || data + 70 > data_end)
		return XDP_PASS;

	struct bpf_sock_tuple tuple;
	__builtin_memset(&tuple, 0, sizeof(tuple));
	tuple.ipv4.saddr = ip->saddr;
	tuple.ipv4.daddr = ip->daddr;
	tuple.ipv4.sport = ports->source;
	tuple.ipv4.dport = ports->dest;
	if (ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	struct bpf_sock *skc = bpf_skc_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!skc)
		return XDP_DROP;
	*(__u32 *)(data + 54) = skc->state;
	*(__u32 *)(data + 58) = skc->family;
	*(__u32 *)(data + 62) = 0;
	*(__u32 *)(data + 66) = skc->src_port;
	bpf_sk_release(skc);
	return XDP_PASS;
}

SEC("xdp")
int lookup6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct udphdr *ports = data + 54;
	if ((void *)(ip6 + 1) > data_end || (void *)(ports + 1) > data_end || data + 90 > data_end)
		return XDP_PASS;

	struct bpf_sock_tuple tuple;
	__builtin_memset(&tuple, 0, sizeof(tuple));
	__builtin_memcpy(tuple.ipv6.saddr, &ip6->saddr, 16);
	__builtin_memcpy(tuple.ipv6.daddr, &ip6->daddr, 16);
	tuple.ipv6.sport = ports->source;
	tuple.ipv6.dport = ports->dest;
	struct bpf_sock *sk;
	if (ip6->nexthdr == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
	else if (ip6->nexthdr == IPPROTO_UDP)
		sk = bpf_sk_lookup_udp(ctx, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
	else
		return XDP_PASS;
	if (!sk)
		return XDP_DROP;
	*(__u32 *)(data + 74) = sk->state;
	*(__u32 *)(data + 78) = sk->family;
	*(__u32 *)(data + 82) = sk->protocol;
	*(__u32 *)(data + 86) = sk->src_port;
	bpf_sk_release(sk);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
