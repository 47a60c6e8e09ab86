// Drops UDP to one port, chosen at load time: DROP_PORT and ENABLED are
// settings in .rodata (C's `const volatile`), which a loader changes before
// load without recompiling (`tsxdp run --set DROP_PORT=53`, or
// `loadObject(obj, { rodata: { DROP_PORT: 53 } })`). `seen` and `lastLen`
// are module-level state in .bss and .data, readable from userspace.
import { xdp, XdpAction, config, htons, type be16, type u16, type u8, type u64 } from "tsxdp";

const DROP_PORT = config<u16>(9);
const ENABLED = config<u8>(1);
let seen: u64 = 0;
let lastLen: u64 = 7;

export const udp_port_setting = xdp((ctx) => {
  seen += 1;
  const { data, data_end } = ctx;
  if (data + 42 > data_end) return XdpAction.PASS;
  lastLen = 42;
  if (ENABLED === 0) return XdpAction.PASS;
  return data.load<be16>(36) === htons(DROP_PORT) ? XdpAction.DROP : XdpAction.PASS;
});
