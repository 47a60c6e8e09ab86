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
