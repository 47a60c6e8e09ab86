// The smallest program: every packet goes on to the network stack.
import { xdp, XdpAction } from "tsxdp";

export const pass = xdp(() => XdpAction.PASS);
