// SPDX-License-Identifier: GPL-2.0
/* C twin of examples/event_stream.ts: the same events through the same ring buffer. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define DISCARD_PORT 9
#define DROPPED 1
#define EXPIRING 2

struct event {
	__be32 saddr;
	__u32 len;
	__u8 kind;
	__u8 protocol;
	__be16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} events SEC(".maps");

SEC("xdp")
int event_stream(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = data + sizeof(*eth) + sizeof(*ip);
	struct event *e;
	__u32 len;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	len = bpf_xdp_get_buff_len(ctx);
	if (ip->ttl <= 1) {
		struct event copy = {
			.saddr = ip->saddr, .len = len, .kind = EXPIRING, .protocol = ip->protocol, .dport = 0,
		};
		bpf_ringbuf_output(&events, &copy, sizeof(copy), 0);
		return XDP_PASS;
	}
	if (*(__u8 *)ip != 0x45 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(DISCARD_PORT))
		return XDP_PASS;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_DROP;
	e->saddr = ip->saddr;
	e->len = len;
	e->kind = DROPPED;
	e->protocol = ip->protocol;
	e->dport = udp->dest;
	bpf_ringbuf_submit(e, 0);
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
