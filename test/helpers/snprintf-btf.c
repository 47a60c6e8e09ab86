// C twin of snprintf-btf.ts.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

SEC("xdp") int show(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 208 > end) return XDP_PASS;
	struct iphdr ip = *(struct iphdr *)(data + 14);
	struct ethhdr eth = *(struct ethhdr *)data;
	__u64 out[20] = {};
	long n;
	__u8 which = *(__u8 *)(data + 40);
	if (which == 0) {
		struct btf_ptr p = { .ptr = &ip, .type_id = bpf_core_type_id_kernel(struct iphdr) };
		n = bpf_snprintf_btf((char *)out, sizeof(out), &p, sizeof(p), 0);
	} else if (which == 1) {
		struct btf_ptr p = { .ptr = &ip, .type_id = bpf_core_type_id_kernel(struct iphdr) };
		n = bpf_snprintf_btf((char *)out, sizeof(out), &p, sizeof(p), 1);
	} else {
		struct btf_ptr p = { .ptr = &eth, .type_id = bpf_core_type_id_kernel(struct ethhdr) };
		n = bpf_snprintf_btf((char *)out, sizeof(out), &p, sizeof(p), 3);
	}
	*(long *)(data + 40) = n;
	for (int i = 0; i < 20; i++) *(__u64 *)(data + 48 + 8 * i) = out[i];
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
