// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/ipv6_ext_headers.ts: drops UDP datagrams to port 9 over
 * IPv6, walking up to 6 extension headers (hop-by-hop, routing, fragment,
 * destination options) to find the upper-layer header. Non-first fragments,
 * cut, malformed and longer chains pass.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define DROPPED_PORT 9
#define MAX_EXT_HEADERS 6

/* From include/net/ipv6.h, which is not UAPI. */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define IP6_OFFSET 0xfff8

struct ipv6_opt_hdr_generic {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

static __always_inline int is_ext_header(__u8 nexthdr)
{
	return nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING ||
	       nexthdr == NEXTHDR_FRAGMENT || nexthdr == NEXTHDR_DEST;
}

SEC("xdp")
int ipv6_ext_headers(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h = (void *)(eth + 1);
	struct udphdr *udph;
	void *hdr;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;

	nexthdr = ip6h->nexthdr;
	hdr = ip6h + 1;
#pragma unroll
	for (i = 0; i < MAX_EXT_HEADERS; i++) {
		struct ipv6_opt_hdr_generic *opt = hdr;
		__u32 len = 8;

		if (!is_ext_header(nexthdr))
			break;
		if (hdr + 8 > data_end)
			return XDP_PASS;
		if (nexthdr == NEXTHDR_FRAGMENT) {
			struct frag_hdr *fh = hdr;

			if (fh->frag_off & bpf_htons(IP6_OFFSET))
				return XDP_PASS;
		} else {
			len = (opt->hdrlen + 1) * 8;
		}
		nexthdr = opt->nexthdr;
		hdr += len;
	}
	if (nexthdr != IPPROTO_UDP)
		return XDP_PASS;
	udph = hdr;
	if ((void *)(udph + 1) > data_end)
		return XDP_PASS;
	return udph->dest == bpf_htons(DROPPED_PORT) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
