// SPDX-License-Identifier: GPL-2.0
/*
 * C twin of examples/context_fields.ts: reads every field of struct xdp_md.
 * stamp writes the ingress ifindex, the receive queue and the metadata
 * length into the frame; meta_gate drops frames whose 4-byte metadata says
 * 1; tag_egress (run from a DEVMAP entry) writes the egress ifindex.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int stamp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *data_meta = (void *)(long)ctx->data_meta;
	__be32 *word = data;
	int has_meta;

	if (data + ETH_HLEN > data_end)
		return XDP_DROP;

	/* Without metadata data_meta equals data. */
	has_meta = data_meta + sizeof(__u32) <= data;
	word[0] = bpf_htonl(ctx->ingress_ifindex);
	word[1] = bpf_htonl(ctx->rx_queue_index);
	word[2] = bpf_htonl(has_meta ? 4 : 0);
	return XDP_PASS;
}

SEC("xdp")
int meta_gate(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	__u32 *meta = (void *)(long)ctx->data_meta;

	if ((void *)(meta + 1) > data)
		return XDP_PASS;
	return *meta == 1 ? XDP_DROP : XDP_PASS;
}

/* libbpf gives "xdp/devmap" the BPF_XDP_DEVMAP expected attach type, the
 * only one under which the verifier lets a program read egress_ifindex. */
SEC("xdp/devmap")
int tag_egress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__be32 *word = data;

	if ((void *)(word + 1) > data_end)
		return XDP_DROP;
	word[0] = bpf_htonl(ctx->egress_ifindex);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
