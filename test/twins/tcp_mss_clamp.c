// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/tcp_mss_clamp.ts: clamps the MSS option of IPv4 TCP SYN
 * segments to 1400, walking up to 10 options, and updates the TCP checksum
 * incrementally (RFC 1624).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* From include/net/tcp.h, which is not UAPI. */
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOLEN_MSS 4

#define MAX_MSS 1400
#define MAX_OPTION_STEPS 10

static __always_inline __u16 csum_replace(__u16 check, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~check + (__u16)~from + to;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int tcp_mss_clamp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct tcphdr *tcph;
	__u8 *opt;
	__u32 opts_len, walked = 0;
	int i;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (iph->version != 4 || iph->protocol != IPPROTO_TCP)
		return XDP_PASS;
	if (iph->ihl < 5)
		return XDP_PASS;
	tcph = (void *)iph + iph->ihl * 4;
	if ((void *)(tcph + 1) > data_end)
		return XDP_PASS;
	if (!tcph->syn)
		return XDP_PASS;
	if (tcph->doff <= 5)
		return XDP_PASS;
	opts_len = tcph->doff * 4 - sizeof(*tcph);

	opt = (__u8 *)(tcph + 1);
	/* Not unrolled by clang: the verifier walks the bounded loop itself (kernel 5.3 and later). */
	for (i = 0; i < MAX_OPTION_STEPS; i++) {
		__u8 kind, len;

		if (walked >= opts_len)
			break;
		if (opt + 1 > (__u8 *)data_end)
			break;
		kind = opt[0];
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			opt++;
			walked++;
			continue;
		}
		if (walked + 2 > opts_len || opt + 2 > (__u8 *)data_end)
			break;
		len = opt[1];
		if (len < 2 || walked + len > opts_len)
			break;
		if (kind == TCPOPT_MSS && len == TCPOLEN_MSS) {
			__be16 *mssp = (__be16 *)(opt + 2);
			__u16 mss, from, to;

			if (opt + TCPOLEN_MSS > (__u8 *)data_end)
				break;
			mss = bpf_ntohs(*mssp);
			if (mss > MAX_MSS) {
				*mssp = bpf_htons(MAX_MSS);
				/* An option at an odd offset straddles two checksum words. */
				from = (walked & 1) ? __builtin_bswap16(mss) : mss;
				to = (walked & 1) ? __builtin_bswap16(MAX_MSS) : MAX_MSS;
				tcph->check = bpf_htons(csum_replace(bpf_ntohs(tcph->check), from, to));
			}
			break;
		}
		opt += len;
		walked += len;
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
