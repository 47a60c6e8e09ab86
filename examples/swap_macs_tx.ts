// Reflects every Ethernet frame: swaps the destination and source MAC
// addresses and sends the frame back out of the device it came in on.
import { xdp, XdpAction, type u16, type u32 } from "tsxdp";

export const swap_macs_tx = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 > data_end) return XdpAction.DROP;

  const dstHigh = data.load<u32>(0);
  const dstLow = data.load<u16>(4);
  const srcHigh = data.load<u32>(6);
  const srcLow = data.load<u16>(10);
  data.store<u32>(0, srcHigh);
  data.store<u16>(4, srcLow);
  data.store<u32>(6, dstHigh);
  data.store<u16>(10, dstLow);
  return XdpAction.TX;
});
