// C twin of ct-fields.ts, with what it reads set up by C: `ct_insert` inserts
// the tuple's entry (status SEEN_REPLY), `ct_mark` writes the u32 at offset
// 66 into its mark (the kernel lets XDP programs write nf_conn's mark).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// The fields read, at the running kernel's offsets through CO-RE.
struct nf_conn {
	unsigned long status;
	__u32 mark;
} __attribute__((preserve_access_index));
struct nf_conn___init {};

struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

#define IPS_SEEN_REPLY 2

extern struct nf_conn___init *bpf_xdp_ct_alloc(struct xdp_md *, struct bpf_sock_tuple *, __u32, struct bpf_ct_opts *, __u32) __ksym;
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *, struct bpf_sock_tuple *, __u32, struct bpf_ct_opts *, __u32) __ksym;
extern struct nf_conn *bpf_ct_insert_entry(struct nf_conn___init *) __ksym;
extern void bpf_ct_release(struct nf_conn *) __ksym;
extern void bpf_ct_set_timeout(struct nf_conn___init *, __u32) __ksym;
extern int bpf_ct_set_status(const struct nf_conn___init *, __u32) __ksym;

#define PARSE(ctx)                                                                                           \
	void *data = (void *)(long)ctx->data;                                                                    \
	void *data_end = (void *)(long)ctx->data_end;                                                            \
	struct ethhdr *eth = data;                                                                               \
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))                                 \
		return XDP_PASS;                                                                                     \
	struct iphdr *ip = (void *)(eth + 1);                                                                    \
	struct udphdr *ports = data + 34;                                                                        \
	if ((void *)(ip + 1) > data_end || (void *)(ports + 1) > data_end || data + 70 > data_end ||             \
	    ip->protocol != IPPROTO_UDP)                                                                         \
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

SEC("xdp")
int ct_insert(struct xdp_md *ctx)
{
	PARSE(ctx)
	struct nf_conn___init *ct = bpf_xdp_ct_alloc(ctx, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (!ct)
		return XDP_DROP;
	bpf_ct_set_timeout(ct, 30000);
	bpf_ct_set_status(ct, IPS_SEEN_REPLY);
	struct nf_conn *inserted = bpf_ct_insert_entry(ct);
	if (!inserted)
		return XDP_DROP;
	bpf_ct_release(inserted);
	return XDP_TX;
}

SEC("xdp")
int ct_mark(struct xdp_md *ctx)
{
	PARSE(ctx)
	struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (!ct)
		return XDP_DROP;
	ct->mark = *(__u32 *)(data + 66);
	bpf_ct_release(ct);
	return XDP_TX;
}

SEC("xdp")
int ct_read(struct xdp_md *ctx)
{
	PARSE(ctx)
	struct nf_conn *ct = bpf_xdp_ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (!ct)
		return XDP_DROP;
	*(__u64 *)(data + 54) = ct->status;
	*(__u32 *)(data + 62) = ct->mark;
	bpf_ct_release(ct);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
