// SPDX-License-Identifier: GPL-2.0
/* C twin of test/fixtures/positive/value_maps.ts: the same commands on the same queue, stack and bloom filter. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sample {
	__be32 saddr;
	__u32 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, struct sample);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} lifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 256);
	__type(value, __be32);
	__uint(map_extra, 3);
	__uint(map_flags, BPF_F_ZERO_SEED);
} seen SEC(".maps");

SEC("xdp")
int value_maps(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sample s;
	__u32 arg, v;
	__be32 addr;
	__u8 cmd;

	if (data + 16 > data_end)
		return XDP_ABORTED;
	cmd = *(__u8 *)data;
	arg = *(__u32 *)(data + 4);
	addr = *(__be32 *)(data + 8);
	switch (cmd) {
	case 0:
		s.saddr = addr;
		s.len = arg;
		return bpf_map_push_elem(&recent, &s, BPF_EXIST) == 0 ? XDP_PASS : XDP_ABORTED;
	case 1:
	case 2:
		if ((cmd == 1 ? bpf_map_pop_elem(&recent, &s) : bpf_map_peek_elem(&recent, &s)) != 0)
			return XDP_DROP;
		*(__be32 *)(data + 8) = s.saddr;
		*(__u32 *)(data + 12) = s.len;
		return XDP_TX;
	case 3:
		return bpf_map_push_elem(&lifo, &arg, 0) == 0 ? XDP_PASS : XDP_DROP;
	case 4:
		if (bpf_map_pop_elem(&lifo, &v) != 0)
			return XDP_DROP;
		*(__u32 *)(data + 12) = v;
		return XDP_TX;
	case 5:
		return bpf_map_push_elem(&seen, &addr, 0) == 0 ? XDP_PASS : XDP_ABORTED;
	case 6:
		return bpf_map_peek_elem(&seen, &addr) == 0 ? XDP_DROP : XDP_PASS;
	}
	return XDP_ABORTED;
}

char _license[] SEC("license") = "GPL";
