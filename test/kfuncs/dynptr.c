// C twin of dynptr.ts: the kfuncs declared as the kernel's selftests do.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *p, __u32 offset, void *buffer__opt, __u32 buffer__szk) __ksym;
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *p, __u32 offset, void *buffer__opt, __u32 buffer__szk) __ksym;
extern __u32 bpf_dynptr_size(const struct bpf_dynptr *p) __ksym;
extern int bpf_dynptr_adjust(const struct bpf_dynptr *p, __u32 start, __u32 end) __ksym;
extern int bpf_dynptr_clone(const struct bpf_dynptr *p, struct bpf_dynptr *clone__uninit) __ksym;
extern _Bool bpf_dynptr_is_null(const struct bpf_dynptr *p) __ksym;
extern _Bool bpf_dynptr_is_rdonly(const struct bpf_dynptr *p) __ksym;

struct report {
	__u32 size;
	__u32 word;
	__u32 rdonly;
	__u32 is_null;
	__u32 payload;
	__u32 adjusted;
};

SEC("xdp.frags")
int parse(struct xdp_md *ctx)
{
	struct bpf_dynptr dp;
	if (bpf_dynptr_from_xdp(ctx, 0, &dp) != 0)
		return XDP_ABORTED;
	struct ethhdr eth_buf = {};
	struct ethhdr *eth = bpf_dynptr_slice(&dp, 0, &eth_buf, sizeof(eth_buf));
	if (!eth)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr ip_buf = {};
	struct iphdr *ip = bpf_dynptr_slice(&dp, 14, &ip_buf, sizeof(ip_buf));
	if (!ip || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	struct udphdr udp_buf = {};
	struct udphdr *udp = bpf_dynptr_slice(&dp, 34, &udp_buf, sizeof(udp_buf));
	if (!udp)
		return XDP_DROP;
	__u32 at = bpf_ntohs(udp->dest);

	__u32 word_buf = 0;
	__u32 *word = bpf_dynptr_slice(&dp, at, &word_buf, sizeof(word_buf));
	__u32 value = word ? *word : 0xffffffff;

	struct report *out = bpf_dynptr_slice_rdwr(&dp, 42, NULL, sizeof(*out));
	if (!out)
		return XDP_DROP;
	__u32 size = bpf_dynptr_size(&dp);
	out->size = size;
	out->word = value;
	out->rdonly = bpf_dynptr_is_rdonly(&dp) ? 1 : 0;
	out->is_null = bpf_dynptr_is_null(&dp) ? 1 : 0;

	struct bpf_dynptr payload;
	if (bpf_dynptr_clone(&dp, &payload) != 0)
		return XDP_ABORTED;
	out->adjusted = bpf_dynptr_adjust(&payload, 42, size);
	out->payload = bpf_dynptr_size(&payload);
	return XDP_TX;
}

SEC("xdp.frags")
int bad_flags(struct xdp_md *ctx)
{
	struct bpf_dynptr dp;
	int made = bpf_dynptr_from_xdp(ctx, 1, &dp);
	_Bool is_null = bpf_dynptr_is_null(&dp);
	__u32 size = bpf_dynptr_size(&dp);
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 54 > data_end)
		return XDP_DROP;
	*(__u32 *)(data + 42) = made;
	*(__u32 *)(data + 46) = is_null ? 1 : 0;
	*(__u32 *)(data + 50) = size;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
