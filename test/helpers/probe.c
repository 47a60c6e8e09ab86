// C twin of probe.ts.
#include <linux/bpf.h>
struct task_struct;
#include <bpf/bpf_helpers.h>

SEC("xdp") int kernel(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 56 > end) return XDP_PASS;
	__u64 at = bpf_get_current_task() + *(__u32 *)(data + 14);
	__u64 text[2] = {};
	*(long *)(data + 16) = bpf_probe_read_kernel_str(text, sizeof(text), (void *)at);
	*(__u64 *)(data + 24) = text[0];
	*(__u64 *)(data + 32) = text[1];
	__u64 word = 0;
	*(long *)(data + 40) = bpf_probe_read_kernel(&word, sizeof(word), (void *)at);
	*(__u64 *)(data + 48) = word;
	return XDP_TX;
}

SEC("xdp") int user(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 62 > end) return XDP_PASS;
	__u64 addr = *(__u64 *)(data + 14);
	__u64 bytes[2] = {};
	*(long *)(data + 22) = bpf_probe_read_user(bytes, sizeof(bytes), (void *)addr);
	*(__u64 *)(data + 30) = bytes[0];
	*(__u64 *)(data + 38) = bytes[1];
	__u64 text = 0;
	*(long *)(data + 46) = bpf_probe_read_user_str(&text, sizeof(text), (void *)addr);
	*(__u64 *)(data + 54) = text;
	return XDP_TX;
}

SEC("xdp") int regs(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 32 > end) return XDP_PASS;
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 word = 0;
	*(long *)(data + 16) = bpf_probe_read_kernel(&word, sizeof(word), (void *)(bpf_task_pt_regs(task) + *(__u32 *)(data + 14)));
	*(__u64 *)(data + 24) = word;
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
