// The probe_read helpers and bpf_get_current_task: bytes and strings read
// from the running task's struct task_struct and from an address of the
// running process, into stack buffers, written back into the frame.
import { xdp, XdpAction, zeroed, u64, bpf_get_current_task, bpf_get_current_task_btf, bpf_task_pt_regs, bpf_probe_read_kernel, bpf_probe_read_kernel_str, bpf_probe_read_user, bpf_probe_read_user_str, type Cell, type FixedArray, type i64, type u32 } from "tsxdp";

/** The task's bytes at the offset in bytes 14..17: as a string (result at 16, bytes at 24) and as 8 bytes (result at 40, bytes at 48). */
export const kernel = xdp((ctx) => {
  const data = ctx.data;
  if (data + 56 > ctx.data_end) return XdpAction.PASS;
  const at = bpf_get_current_task() + u64(data.load<u32>(14));
  const text = zeroed<FixedArray<u64, 2>>();
  data.store<i64>(16, bpf_probe_read_kernel_str(text, at));
  data.store<u64>(24, text[0]);
  data.store<u64>(32, text[1]);
  const word: Cell<u64> = { value: 0 };
  data.store<i64>(40, bpf_probe_read_kernel(word, at));
  data.store<u64>(48, word.value);
  return XdpAction.TX;
});

/** The process's bytes at the address in bytes 14..21: 16 bytes (result at 22, bytes at 30) and a string of at most 8 (result at 46, bytes at 54). */
export const user = xdp((ctx) => {
  const data = ctx.data;
  if (data + 62 > ctx.data_end) return XdpAction.PASS;
  const addr = data.load<u64>(14);
  const bytes = zeroed<FixedArray<u64, 2>>();
  data.store<i64>(22, bpf_probe_read_user(bytes, addr));
  data.store<u64>(30, bytes[0]);
  data.store<u64>(38, bytes[1]);
  const text: Cell<u64> = { value: 0 };
  data.store<i64>(46, bpf_probe_read_user_str(text, addr));
  data.store<u64>(54, text.value);
  return XdpAction.TX;
});

/** The word at the offset in bytes 14..17 of the task's saved user registers (result at 16, word at 24), the task's pointer held in a const. */
export const regs = xdp((ctx) => {
  const data = ctx.data;
  if (data + 32 > ctx.data_end) return XdpAction.PASS;
  const task = bpf_get_current_task_btf();
  const word: Cell<u64> = { value: 0 };
  data.store<i64>(16, bpf_probe_read_kernel(word, bpf_task_pt_regs(task) + u64(data.load<u32>(14))));
  data.store<u64>(24, word.value);
  return XdpAction.TX;
});
