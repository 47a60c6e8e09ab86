// C twin of ct-nat.ts: the same programs, the same offsets.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct nf_conn {
	unsigned long status;
	__u32 mark;
} __attribute__((preserve_access_index));
struct nf_conn___init {};

// include/linux/netfilter.h
union nf_inet_addr {
	__u32 all[4];
	__be32 ip;
	__be32 ip6[4];
};
enum nf_nat_manip_type {
	NF_NAT_MANIP_SRC,
	NF_NAT_MANIP_DST,
};

struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

extern struct nf_conn___init *bpf_xdp_ct_alloc(struct xdp_md *, struct bpf_sock_tuple *, __u32, struct bpf_ct_opts *, __u32) __ksym;
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *, struct bpf_sock_tuple *, __u32, struct bpf_ct_opts *, __u32) __ksym;
extern struct nf_conn *bpf_ct_insert_entry(struct nf_conn___init *) __ksym;
extern void bpf_ct_release(struct nf_conn *) __ksym;
extern void bpf_ct_set_timeout(struct nf_conn___init *, __u32) __ksym;
extern int bpf_ct_set_nat_info(struct nf_conn___init *, union nf_inet_addr *, int port, enum nf_nat_manip_type) __ksym;

#define PARSE(ctx)                                                                                           \
	void *data = (void *)(long)ctx->data;                                                                    \
	void *data_end = (void *)(long)ctx->data_end;                                                            \
	struct ethhdr *eth = data;                                                                               \
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))                                 \
		return XDP_PASS;                                                                                     \
	struct iphdr *ip = (void *)(eth + 1);                                                                    \
	struct udphdr *ports = data + 34;                                                                        \
	if ((void *)(ip + 1) > data_end || (void *)(ports + 1) > data_end || ip->protocol != IPPROTO_UDP ||      \
	    data + 70 > data_end)                                                                                \
		return XDP_PASS;                                                                                     \
	struct bpf_sock_tuple tuple;                                                                             \
	__builtin_memset(&tuple, 0, sizeof(tuple));                                                              \
	tuple.ipv4.saddr = ip->saddr;                                                                            \
	tuple.ipv4.daddr = ip->daddr;                                                                            \
	tuple.ipv4.sport = ports->source;                                                                        \
	tuple.ipv4.dport = ports->dest;                                                                          \
	struct bpf_ct_opts opts;                                                                                 \
	__builtin_memset(&opts, 0, sizeof(opts));                                                                \
	opts.netns_id = BPF_F_CURRENT_NETNS;                                                                     \
	opts.l4proto = IPPROTO_UDP;

static __always_inline int nat(struct xdp_md *ctx, enum nf_nat_manip_type manip)
{
	PARSE(ctx)
	struct nf_conn___init *ct = bpf_xdp_ct_alloc(ctx, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (!ct)
		return XDP_DROP;
	bpf_ct_set_timeout(ct, 30000);
	union nf_inet_addr addr;
	__builtin_memset(&addr, 0, sizeof(addr));
	addr.ip = *(__be32 *)(data + 54);
	*(int *)(data + 62) = bpf_ct_set_nat_info(ct, &addr, *(__u16 *)(data + 58), manip);
	struct nf_conn *inserted = bpf_ct_insert_entry(ct);
	if (!inserted)
		return XDP_DROP;
	bpf_ct_release(inserted);
	return XDP_TX;
}

SEC("xdp")
int ct_snat(struct xdp_md *ctx)
{
	return nat(ctx, NF_NAT_MANIP_SRC);
}

SEC("xdp")
int ct_dnat(struct xdp_md *ctx)
{
	return nat(ctx, NF_NAT_MANIP_DST);
}

SEC("xdp")
int ct_find(struct xdp_md *ctx)
{
	PARSE(ctx)
	struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (!ct) {
		*(int *)(data + 54) = opts.error;
		return XDP_DROP;
	}
	*(__u32 *)(data + 58) = opts.dir;
	*(__u32 *)(data + 62) = ct->mark;
	bpf_ct_release(ct);
	return XDP_PASS;
}

SEC("xdp")
int ct_set_mark(struct xdp_md *ctx)
{
	PARSE(ctx)
	struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (!ct)
		return XDP_DROP;
	ct->mark = *(__u32 *)(data + 66);
	bpf_ct_release(ct);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
