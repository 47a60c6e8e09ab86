// Reads every field of the XDP context. `stamp` writes the receive queue
// and the metadata length into the frame; `meta_gate` drops frames whose
// metadata (put in front of the packet by an earlier program) says so; the
// devmap program tags frames with the device they leave from.
import { xdp, XdpAction, htonl, type be32, type u32 } from "tsxdp";

export const stamp = xdp((ctx) => {
  const { data, data_end, data_meta } = ctx;
  if (data + 14 > data_end) return XdpAction.DROP;
  // Zero bytes of metadata means data_meta equals data: nothing to read.
  const hasMeta = data_meta + 4 <= data;
  data.store<be32>(0, htonl(ctx.ingress_ifindex));
  data.store<be32>(4, htonl(ctx.rx_queue_index));
  data.store<be32>(8, htonl(hasMeta ? 4 : 0));
  return XdpAction.PASS;
});

export const meta_gate = xdp((ctx) => {
  const meta = ctx.data_meta;
  if (meta + 4 > ctx.data) return XdpAction.PASS;
  const verdict: u32 = meta.load<u32>(0);
  return verdict === 1 ? XdpAction.DROP : XdpAction.PASS;
});

export const tag_egress = xdp.devmap((ctx) => {
  const { data, data_end } = ctx;
  if (data + 4 > data_end) return XdpAction.DROP;
  data.store<be32>(0, htonl(ctx.egress_ifindex));
  return XdpAction.PASS;
});
