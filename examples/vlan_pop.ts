// Removes the outer 802.1Q/802.1ad tag of a frame: the MAC addresses move
// four bytes forward over the tag, then bpf_xdp_adjust_head drops the four
// bytes in front. Frames without a tag pass unchanged.
import { xdp, XdpAction, bpf_xdp_adjust_head, htons, type be16, type u32 } from "tsxdp";

const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;

export const vlan_pop = xdp((ctx) => {
  const data = ctx.data;
  if (data + 18 > ctx.data_end) return XdpAction.PASS;
  const tpid = data.load<be16>(12);
  if (tpid !== htons(ETH_P_8021Q) && tpid !== htons(ETH_P_8021AD)) return XdpAction.PASS;

  // Both addresses, 12 bytes, read before any is overwritten.
  const a = data.load<u32>(0);
  const b = data.load<u32>(4);
  const c = data.load<u32>(8);
  data.store<u32>(4, a);
  data.store<u32>(8, b);
  data.store<u32>(12, c);

  // `data` is dead after this call: the kernel forgets packet pointers when the packet moves.
  if (bpf_xdp_adjust_head(ctx, 4) !== 0) return XdpAction.ABORTED;
  return XdpAction.PASS;
});
