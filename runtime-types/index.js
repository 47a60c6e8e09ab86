// tsxdp programs are compiled to BPF with `tsxdp build`; nothing here runs in Node.
const notRunnable = () => {
  throw new Error("tsxdp programs are compiled to BPF with `tsxdp build`, not run by Node");
};
export const xdp = Object.assign(notRunnable, {
  frags: Object.assign(notRunnable, { devmap: notRunnable, cpumap: notRunnable }),
  devmap: notRunnable,
  cpumap: notRunnable,
});
export const XdpAction = Object.freeze({ ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4, 0: "ABORTED", 1: "DROP", 2: "PASS", 3: "TX", 4: "REDIRECT" });
export const license = notRunnable;
export const noinline = notRunnable;
export const globalFunction = notRunnable;
export const bpfLoop = notRunnable;
class BpfMap {
  constructor() {
    notRunnable();
  }
}
export class HashMap extends BpfMap {}
export class ArrayMap extends BpfMap {}
export class PerCpuHash extends BpfMap {}
export class PerCpuArray extends BpfMap {}
export class LruHash extends BpfMap {}
export class LruPerCpuHash extends BpfMap {}
export const UpdateFlags = Object.freeze({ ANY: 0, NOEXIST: 1, EXIST: 2 });
export class DevMap extends BpfMap {}
export class DevMapHash extends BpfMap {}
export class CpuMap extends BpfMap {}
export class XskMap extends BpfMap {}
export const RedirectFlags = Object.freeze({ BROADCAST: 8, EXCLUDE_INGRESS: 16, 8: "BROADCAST", 16: "EXCLUDE_INGRESS" });
