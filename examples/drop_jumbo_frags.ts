// A frags-aware program (section xdp.frags): it may see frames spread over
// several buffers, so it asks the kernel for the whole length instead of
// measuring data..data_end, and drops frames longer than a standard
// Ethernet frame (1514 bytes without the FCS).
import { xdp, XdpAction, bpf_xdp_get_buff_len } from "tsxdp";

const MAX_FRAME = 1514;

export const drop_jumbo = xdp.frags((ctx) => {
  const length = bpf_xdp_get_buff_len(ctx);
  return length > MAX_FRAME ? XdpAction.DROP : XdpAction.PASS;
});
