// C twin of syncookie.ts.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int syncookie(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = data + 34;
	if ((void *)(ip + 1) > data_end || (void *)(tcp + 1) > data_end || ip->protocol != IPPROTO_TCP || data + 62 > data_end)
		return XDP_PASS;

	struct bpf_sock_tuple tuple;
	__builtin_memset(&tuple, 0, sizeof(tuple));
	tuple.ipv4.saddr = ip->saddr;
	tuple.ipv4.daddr = ip->daddr;
	tuple.ipv4.sport = tcp->source;
	tuple.ipv4.dport = tcp->dest;
	struct bpf_sock *sk = bpf_skc_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return XDP_DROP;
	if (sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		return XDP_PASS;
	}
	__s64 r;
	if (tcp->syn)
		r = bpf_tcp_gen_syncookie(sk, ip, sizeof(*ip), tcp, sizeof(*tcp));
	else
		r = bpf_tcp_check_syncookie(sk, ip, sizeof(*ip), tcp, sizeof(*tcp));
	bpf_sk_release(sk);
	*(__u32 *)(data + 54) = (__u32)r;
	*(__u32 *)(data + 58) = (__u32)(r >> 32);
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
