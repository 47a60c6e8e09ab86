/**
 * Attaching for real: programs compiled from TypeScript are attached in
 * native mode to one end of a veth pair whose other end lives in a fresh
 * network namespace, and real traffic (UDP from sockets, ICMP echo from
 * ping, raw Ethernet frames through AF_PACKET) shows the effect: drops not
 * delivered, passes delivered, XDP_TX frames back on the peer. Then the
 * safety properties (no silent replacement, atomic replacement under steady
 * traffic, a killed loader leaves the device clean, pinned links outlive
 * their process, no fd or program leaks over 1000 cycles) and bad inputs,
 * each refused with a clear error and no change on the device.
 *
 * Invariants: every device, namespace and pin is named after this process
 * and removed in afterAll (and leftovers of dead runs first); without root
 * the kernel suites skip with the reason, under CI=true they fail instead.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import koffi from "koffi";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import {
  AttachError,
  attachXdp,
  checkBeforeAttach,
  detachXdp,
  explainAttachFailure,
  findDevice,
  loadedProgramIds,
  loadObject,
  u32Key,
  u64Value,
  VETH_XDP_MAX_MTU,
  xdpStatus,
} from "../compiler/loader/index";
import type { AttachFacts, DeviceInfo, LoadedObject, LoadedProgram } from "../compiler/loader/index";
import { bpf, programInfoById, xdpAttachOpts, BpfLinkCreateOpts, BpfLinkUpdateOpts, BpfXdpAttachOpts, BPF_XDP, BPF_LINK_TYPE_XDP, LINK_INFO, XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST, BPF_F_REPLACE } from "../compiler/loader/bpf-objects";
import { IFLA, IFLA_XDP_, RTM_GETLINK } from "../compiler/loader/netdev";
import { captureLibbpfLog, LibbpfLog } from "../compiler/loader/libbpf";
import { inCI, skipKernel, skipReason, which } from "./support/kernel";
import { cleanupLeftovers, createPair, inNs, ipBytes, macBytes, pinPath, rawExchange, removePins, udpReceiver, udpSend } from "./support/netns";
import type { Pair } from "./support/netns";
import * as P from "./support/packets";

const cli = path.resolve("dist/cli.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tsxdp(args: string[], opts: { prefix?: string[] } = {}) {
  const argv = [...(opts.prefix ?? []), process.execPath, cli, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function build(source: string, name: string): Uint8Array {
  const r = compile({ source, fileName: `${name}.ts` });
  if (!r.ok || !r.object) throw new Error(`${name} did not compile:\n${formatDiagnostics(r.diagnostics, r.sources)}`);
  return r.object;
}
const example = (name: string) => {
  const r = compile({ file: path.resolve("examples", `${name}.ts`) });
  if (!r.ok || !r.object) throw new Error(`examples/${name}.ts did not compile`);
  return r.object;
};
const passSource = (name: string) => `import { xdp, XdpAction } from "tsxdp";\nexport const ${name} = xdp(() => XdpAction.PASS);\n`;
const dropSource = `import { xdp, XdpAction } from "tsxdp";\nexport const drop_all = xdp(() => XdpAction.DROP);\n`;
/**
 * A PASS program that counts the datagrams of the replacement tests: IPv4
 * UDP to port 5005 whose payload carries traffic.mjs's "tsxd" mark, one
 * atomicAdd per datagram into its own object's `seen`.
 */
const countedSource = (name: string) => `import { xdp, XdpAction, ArrayMap, atomicAdd, htons, htonl, type be16, type be32, type u8, type u64 } from "tsxdp";
const seen = new ArrayMap<u64>({ maxEntries: 1 });
export const ${name} = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 50 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(0x0800) || data.load<u8>(14) !== 0x45 || data.load<u8>(23) !== 17) return XdpAction.PASS;
  if (data.load<be16>(36) !== htons(5005) || data.load<be32>(46) !== htonl(0x74737864)) return XdpAction.PASS;
  const c = seen.lookup(0);
  if (c) atomicAdd(c, 1);
  return XdpAction.PASS;
});
`;
const devmapSource = `import { xdp, XdpAction } from "tsxdp";\nexport const on_egress = xdp.devmap(() => XdpAction.PASS);\n`;

// ---------------------------------------------------------------------------
// Pure diagnosis: what no device here can show (LRO, hardware GRO).

describe("attach diagnosis (no kernel)", () => {
  const device = (over: Partial<DeviceInfo> = {}): DeviceInfo => ({
    ifindex: 7, name: "eth9", mtu: 1500, maxMtu: 9000, kind: undefined, link: undefined, peerNetnsId: undefined,
    xdp: { native: 0, generic: 0, offload: 0 }, stats: undefined, ...over,
  });
  const facts = (over: Partial<AttachFacts> = {}): AttachFacts => ({ device: device(), program: { name: "p", section: "xdp" }, mode: "native", ...over });

  test("LRO and hardware GRO left on are named, with the ethtool fix", () => {
    const e = explainAttachFailure(22, facts({ offloads: { lro: true, groHw: true, gro: true } }));
    expect(e.message).toContain("cannot attach 'p' to eth9 in native mode");
    expect(e.message).toContain("lro and rx-gro-hw are on");
    expect(e.message).toContain("ethtool -K eth9 lro off rx-gro-hw off");
    expect(e.kind).toBe("device");
  });

  test("an MTU above the driver's single-buffer limit names the MTU and both fixes", () => {
    const e = explainAttachFailure(22, facts({ device: device({ mtu: 9000 }) }));
    expect(e.message).toMatch(/eth9 has MTU 9000.*ip link set dev eth9 mtu 1500, or declare the program with xdp\.frags/);
    // a frags-aware program is not told to become one
    expect(explainAttachFailure(22, facts({ device: device({ mtu: 9000 }), program: { name: "p", section: "xdp.frags" } })).message).not.toContain("xdp.frags(");
  });

  test("EPERM is a privilege problem; EOPNOTSUPP without native XDP suggests generic mode", () => {
    expect(explainAttachFailure(1, facts()).kind).toBe("privilege");
    expect(explainAttachFailure(1, facts()).message).toContain("CAP_BPF and CAP_NET_ADMIN");
    const f = { bits: 0, names: [], native: false, redirectTarget: false, frags: false, offload: false, zeroCopyMaxSegments: undefined };
    expect(explainAttachFailure(95, facts({ features: f })).message).toContain("--mode generic");
  });

  test("devmap programs and offload without hw-offload are refused before touching the device", () => {
    expect(checkBeforeAttach(facts({ program: { name: "on_egress", section: "xdp/devmap" } }))?.kind).toBe("program");
    const f = { bits: 35, names: ["basic" as const, "redirect" as const, "rx-sg" as const], native: true, redirectTarget: false, frags: true, offload: false, zeroCopyMaxSegments: undefined };
    expect(checkBeforeAttach(facts({ mode: "offload", features: f }))?.message).toContain("cannot run offloaded XDP programs");
    expect(checkBeforeAttach(facts())).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------
// Layouts and constants against the installed headers.

const gcc = which("gcc");
describe.skipIf(!gcc && !inCI)(`attach structs and constants match the headers${gcc ? "" : " (skipped: gcc is not installed)"}`, () => {
  test("libbpf opts, bpf_link_info, IFLA_*, XDP_FLAGS_*", () => {
    if (!gcc) throw new Error("gcc is missing");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-attach-layout-"));
    try {
      const checks: [string, string, number][] = [
        ["sizeof(struct bpf_link_create_opts)", "", koffi.sizeof(BpfLinkCreateOpts)],
        ["offsetof(struct bpf_link_create_opts, flags)", "", koffi.offsetof(BpfLinkCreateOpts, "flags")],
        ["offsetof(struct bpf_link_create_opts, iter_info)", "", koffi.offsetof(BpfLinkCreateOpts, "iter_info")],
        ["offsetof(struct bpf_link_create_opts, target_btf_id)", "", koffi.offsetof(BpfLinkCreateOpts, "target_btf_id")],
        ["sizeof(struct bpf_link_update_opts)", "", koffi.sizeof(BpfLinkUpdateOpts)],
        ["offsetof(struct bpf_link_update_opts, old_prog_fd)", "", koffi.offsetof(BpfLinkUpdateOpts, "old_prog_fd")],
        ["sizeof(struct bpf_xdp_attach_opts)", "", koffi.sizeof(BpfXdpAttachOpts)],
        ["offsetof(struct bpf_xdp_attach_opts, old_prog_fd)", "", koffi.offsetof(BpfXdpAttachOpts, "old_prog_fd")],
        ["offsetof(struct bpf_link_info, id)", "", LINK_INFO.id],
        ["offsetof(struct bpf_link_info, prog_id)", "", LINK_INFO.prog_id],
        ["offsetof(struct bpf_link_info, xdp.ifindex)", "", LINK_INFO.xdp_ifindex],
        ["BPF_XDP", "", BPF_XDP],
        ["BPF_LINK_TYPE_XDP", "", BPF_LINK_TYPE_XDP],
        ["BPF_F_REPLACE", "", BPF_F_REPLACE],
        ["XDP_FLAGS_UPDATE_IF_NOEXIST", "", XDP_FLAGS_UPDATE_IF_NOEXIST],
        ["XDP_FLAGS_SKB_MODE", "", XDP_FLAGS_SKB_MODE],
        ["XDP_FLAGS_DRV_MODE", "", XDP_FLAGS_DRV_MODE],
        ["XDP_FLAGS_HW_MODE", "", XDP_FLAGS_HW_MODE],
        ["XDP_FLAGS_REPLACE", "", XDP_FLAGS_REPLACE],
        ["RTM_GETLINK", "", RTM_GETLINK],
        ...Object.entries(IFLA).map(([k, v]) => [`IFLA_${k}`, "", v] as [string, string, number]),
        ...Object.entries(IFLA_XDP_).map(([k, v]) => [`IFLA_XDP_${k}`, "", v] as [string, string, number]),
      ];
      const c = [
        "#include <stdio.h>", "#include <stddef.h>", "#include <linux/bpf.h>", "#include <linux/if_link.h>", "#include <linux/rtnetlink.h>",
        "#include <bpf/libbpf.h>", "#include <bpf/bpf.h>",
        "int main(void) {",
        ...checks.map(([expr]) => `  printf("%ld\\n", (long)(${expr}));`),
        "  return 0;", "}",
      ].join("\n");
      fs.writeFileSync(path.join(dir, "c.c"), c);
      execFileSync(gcc, ["-o", path.join(dir, "c"), path.join(dir, "c.c")]);
      const values = execFileSync(path.join(dir, "c"), { encoding: "utf8" }).trim().split("\n").map(Number);
      expect(checks.map(([expr, , v]) => [expr, v])).toEqual(checks.map(([expr], i) => [expr, values[i]]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------

const kernelTitle = (t: string) => (skipKernel ? `${t} (skipped: ${skipReason})` : t);

describe.skipIf(skipKernel)(kernelTitle("attach with real traffic"), () => {
  let dir: string;
  const objects = new Map<string, LoadedObject>();
  const pairs: Pair[] = [];
  const files: Record<string, string> = {};
  const program = (name: string): LoadedProgram => objects.get(name)!.programs[0]!;
  const pair = (opts?: { mtuB?: number }) => {
    const p = createPair(opts);
    pairs.push(p);
    return p;
  };
  const xdpOf = (dev: string) => findDevice(dev)!.xdp;
  const clean = { native: 0, generic: 0, offload: 0 };

  beforeAll(() => {
    if (!which("ip")) throw new Error("ip (iproute2) is missing: scripts/install-system-deps.sh installs it");
    cleanupLeftovers();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-attach-"));
    fs.chmodSync(dir, 0o755); // the unprivileged child reads objects from here
    const sources: Record<string, Uint8Array> = {
      pass: example("pass"),
      pass_b: build(passSource("pass_b"), "pass_b"),
      drop_all: build(dropSource, "drop_all"),
      swap_macs_tx: example("swap_macs_tx"),
      drop_udp_port: example("drop_udp_port"),
      drop_jumbo: example("drop_jumbo_frags"),
      devmap: build(devmapSource, "devmap"),
      counted_a: build(countedSource("counted_a"), "counted_a"),
      counted_b: build(countedSource("counted_b"), "counted_b"),
    };
    for (const [name, bytes] of Object.entries(sources)) {
      files[name] = path.join(dir, `${name}.o`);
      fs.writeFileSync(files[name]!, bytes);
      fs.chmodSync(files[name]!, 0o644);
      if (name !== "devmap") objects.set(name, loadObject(bytes, { name: name.slice(0, 15) }));
    }
  });

  afterAll(() => {
    for (const p of pairs) p.remove();
    for (const o of objects.values()) o.close();
    removePins();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("PASS: UDP datagrams and ping get through; the link goes when closed", async () => {
    const p = pair();
    const a = attachXdp(program("pass"), { device: p.a });
    try {
      expect(a.method).toBe("link");
      expect(a.mode).toBe("native");
      expect(xdpOf(p.a).native).toBe(a.program.id);
      const rx = await udpReceiver(p.ipA, 5001, 300, 5000);
      await udpSend(p.ns, p.ipA, 5001, 50, 1000);
      const r = await rx.result();
      expect(r.unique).toBe(50);
      expect(inNs(p.ns, "ping", ["-c", "3", "-i", "0.2", "-W", "2", p.ipA])).toContain("3 received");
    } finally {
      a.close();
    }
    expect(xdpOf(p.a)).toEqual(clean);
  });

  test("DROP: nothing is delivered, ping fails, the frames are counted at the device", async () => {
    const p = pair();
    const a = attachXdp(program("drop_all"), { device: p.a });
    try {
      const before = p.stats("a");
      const rx = await udpReceiver(p.ipA, 5002, 300, 1500);
      await udpSend(p.ns, p.ipA, 5002, 50, 1000);
      const r = await rx.result();
      expect(r.total).toBe(0);
      const ping = spawnSync("ip", ["netns", "exec", p.ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", p.ipA], { encoding: "utf8" });
      expect(ping.status).not.toBe(0);
      expect(ping.stdout).toContain("0 received");
      // veth counts what its XDP program saw as received, the drops included.
      expect(p.stats("a").rxPackets - before.rxPackets).toBeGreaterThanOrEqual(52);
    } finally {
      a.detach();
    }
    expect(xdpOf(p.a)).toEqual(clean);
    expect(inNs(p.ns, "ping", ["-c", "1", "-W", "2", p.ipA])).toContain("1 received");
  });

  test("drop_udp_port.ts: UDP to port 9 is dropped, other ports pass", async () => {
    const p = pair();
    const a = attachXdp(program("drop_udp_port"), { device: p.a, method: "netlink" });
    try {
      const nine = await udpReceiver(p.ipA, 9, 300, 2500);
      const other = await udpReceiver(p.ipA, 5003, 300, 5000);
      await Promise.all([udpSend(p.ns, p.ipA, 9, 30, 1000), udpSend(p.ns, p.ipA, 5003, 30, 1000)]);
      expect((await nine.result()).total).toBe(0);
      expect((await other.result()).unique).toBe(30);
    } finally {
      a.detach();
    }
    expect(xdpOf(p.a)).toEqual(clean);
  });

  test("XDP_TX (swap_macs_tx.ts): raw frames come back to the peer with the MACs swapped", () => {
    const p = pair();
    // veth delivers XDP_TX frames to a peer only when the peer runs NAPI,
    // which an XDP program on it turns on: attached there by the CLI, inside its namespace.
    const peer = tsxdp(["attach", files.pass!, "--dev", p.b, "--netlink"], { prefix: ["ip", "netns", "exec", p.ns] });
    expect(peer.code, peer.stderr).toBe(0);
    const a = attachXdp(program("swap_macs_tx"), { device: p.a });
    try {
      const frame = P.ethernet(
        { dst: macBytes(p.macA), src: macBytes(p.macB), proto: P.ETH_P_IP },
        P.ipv4({ protocol: P.IPPROTO_UDP, src: ipBytes(p.ipB), dst: ipBytes(p.ipA) }, P.udp(40000, 7, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))),
      );
      const swapped = Buffer.from(P.concat(frame.slice(6, 12), frame.slice(0, 6), frame.slice(12))).toString("hex");
      const received = rawExchange(p.ns, p.b, frame, 5, 500);
      expect(received.filter((f) => f.startsWith(swapped)).length).toBe(5);
    } finally {
      a.detach();
    }
  });

  for (const method of ["link", "netlink"] as const) {
    test(`atomic replacement (${method === "link" ? "link update" : "netlink REPLACE"}) under steady traffic: every datagram exactly once`, async () => {
      const p = pair();
      const first = attachXdp(program("pass"), { device: p.a, method });
      const N = 3000;
      let swaps = 0;
      try {
        const rx = await udpReceiver(p.ipA, 5004, 400, 20000);
        let sending = true;
        const sent = udpSend(p.ns, p.ipA, 5004, N, 500).finally(() => (sending = false));
        await sleep(100);
        const ids = [program("pass").info().id, program("pass_b").info().id];
        while (sending) {
          const next = swaps % 2 === 0 ? "pass_b" : "pass";
          const r = attachXdp(program(next), { device: p.a, replace: true, expectedProgId: ids[swaps % 2] });
          expect(r.method).toBe(method);
          if (method === "link") expect(r.linkId).toBe(first.linkId); // the same link, another program
          r.close();
          swaps++;
          await sleep(40);
        }
        await sent;
        const result = await rx.result();
        expect(swaps).toBeGreaterThanOrEqual(10);
        expect(result.duplicates).toEqual([]);
        expect(result.total).toBe(N);
        expect(result.unique).toBe(N);
      } finally {
        // `first` expects its own program; after the swaps the device may run
        // the other one, which only a detach by device removes.
        first.close();
        detachXdp({ device: p.a });
      }
      expect(xdpOf(p.a)).toEqual(clean);
    });
  }

  for (const method of ["link", "netlink"] as const) {
    test(`atomic replacement (${method === "link" ? "link update" : "netlink REPLACE"}) counted by both programs: old + new == received == sent`, async () => {
      const p = pair();
      const names = ["counted_a", "counted_b"] as const;
      const seen = names.map((n) => objects.get(n)!.map("seen"));
      for (const m of seen) m.update(u32Key(0), new Uint8Array(8)); // both tests share the objects
      const first = attachXdp(program("counted_a"), { device: p.a, method });
      const N = 2000;
      let swaps = 0;
      try {
        const rx = await udpReceiver(p.ipA, 5005, 400, 15000);
        let sending = true;
        const sent = udpSend(p.ns, p.ipA, 5005, N, 500).finally(() => (sending = false));
        await sleep(100);
        const ids = names.map((n) => program(n).info().id);
        while (sending) {
          const r = attachXdp(program(names[(swaps + 1) % 2]!), { device: p.a, replace: true, expectedProgId: ids[swaps % 2] });
          expect(r.method).toBe(method);
          if (method === "link") expect(r.linkId).toBe(first.linkId);
          r.close();
          swaps++;
          await sleep(40);
        }
        await sent;
        const result = await rx.result();
        const [a, b] = seen.map((m) => Number(u64Value(m.lookup(u32Key(0))!)));
        expect(swaps).toBeGreaterThanOrEqual(6);
        expect(result.duplicates).toEqual([]);
        expect(result.total).toBe(N);
        // Every datagram ran through exactly one of the two programs: none counted twice, none missed.
        expect(a! + b!).toBe(N);
        expect(a).toBeGreaterThan(0);
        expect(b).toBeGreaterThan(0);
      } finally {
        first.close();
        detachXdp({ device: p.a });
      }
      expect(xdpOf(p.a)).toEqual(clean);
    });
  }

  test("attaching over an attached program is refused without --force, the old program stays", () => {
    const p = pair();
    const old = attachXdp(program("pass"), { device: p.a, method: "netlink" });
    try {
      const id = old.program.id;
      for (const method of ["link", "netlink"] as const) {
        const e = (() => {
          try {
            attachXdp(program("drop_all"), { device: p.a, method });
          } catch (x) {
            return x;
          }
        })();
        expect(e).toBeInstanceOf(AttachError);
        expect((e as AttachError).kind).toBe("busy");
        expect((e as AttachError).message).toContain(`already runs XDP program ${id} 'pass' (native, netlink)`);
        expect((e as AttachError).message).toContain("--replace");
        expect(xdpOf(p.a).native).toBe(id);
      }
      // generic mode cannot join a native program either
      expect(() => attachXdp(program("drop_all"), { device: p.a, mode: "generic" })).toThrow(/native and generic XDP cannot be attached at the same time/);
      const cli1 = tsxdp(["attach", files.drop_all!, "--dev", p.a, "--netlink"]);
      expect(cli1.code).toBe(2);
      expect(cli1.stderr).toContain("already runs XDP program");
      expect(cli1.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(xdpOf(p.a).native).toBe(id);
      // --force replaces it; the status shows the new one
      const forced = tsxdp(["attach", files.drop_all!, "--dev", p.a, "--netlink", "--force", "--json"]);
      expect(forced.code, forced.stderr).toBe(0);
      const out = JSON.parse(forced.stdout) as { program: { id: number; name: string }; replaced: { progId: number }[] };
      expect(out.program.name).toBe("drop_all");
      expect(out.replaced.map((r) => r.progId)).toEqual([id]);
      expect(xdpOf(p.a).native).toBe(out.program.id);
      // --force with a link over a netlink program: removed first, then linked
      const linked = attachXdp(program("pass"), { device: p.a, force: true });
      expect(linked.method).toBe("link");
      expect(linked.replaced.map((r) => [r.progId, r.method])).toEqual([[out.program.id, "netlink"]]);
      expect(xdpOf(p.a).native).toBe(linked.program.id);
      linked.detach();
    } finally {
      detachXdp({ device: p.a });
    }
    expect(xdpOf(p.a)).toEqual(clean);
  });

  test("a loader killed with SIGKILL while holding a link leaves the device clean", async () => {
    const p = pair();
    const child = spawn(process.execPath, [cli, "attach", files.pass!, "--dev", p.a], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      let err = "";
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      await new Promise<void>((resolve, reject) => {
        const ready = () => out.includes("attached") && err.includes("press Ctrl-C") && resolve();
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          ready();
        });
        child.stderr!.on("data", ready);
        child.once("exit", (code) => reject(new Error(`attach exited (${code}): ${err}`)));
      });
      expect(err).toContain("stays only while this process runs");
      const status = xdpStatus({ device: p.a })[0]!;
      expect(status.programs[0]!.method).toBe("link");
      expect(status.programs[0]!.holders.map((h) => h.pid)).toContain(child.pid);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      for (let i = 0; i < 100 && xdpOf(p.a).native !== 0; i++) await sleep(20);
      expect(xdpOf(p.a)).toEqual(clean);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test("Ctrl-C (SIGINT) on a foreground attach detaches and exits 0", async () => {
    const p = pair();
    const child = spawn(process.execPath, [cli, "attach", files.pass!, "--dev", p.a], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve) => child.stdout!.on("data", (d: Buffer) => d.toString().includes("attached") && resolve()));
    expect(xdpOf(p.a).native).not.toBe(0);
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(0);
    expect(err).toContain(`detached 'pass' from ${p.a}`);
    expect(xdpOf(p.a)).toEqual(clean);
  });

  test("a pinned link survives its process; status shows it; detach --pin removes both", () => {
    const p = pair();
    const pin = pinPath("link");
    const r = tsxdp(["attach", files.pass!, "--dev", p.a, "--pin", pin]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pinned at ${pin}`);
    expect(r.stderr).not.toContain("stays only while");
    expect(xdpOf(p.a).native).not.toBe(0);
    const s = JSON.parse(tsxdp(["status", "--dev", p.a, "--json"]).stdout) as { devices: { programs: { method: string; pinned: string[]; linkId: number }[]; features: { native: boolean; frags: boolean; offload: boolean; names: string[] } }[] };
    const prog = s.devices[0]!.programs[0]!;
    expect(prog.method).toBe("link");
    expect(prog.pinned).toEqual([pin]);
    const text = tsxdp(["status"]).stdout;
    expect(text).toContain(`${p.a} (ifindex`);
    expect(text).toMatch(new RegExp(`native\\s+program \\d+ 'pass' tag [0-9a-f]{16}\\s+BPF link ${prog.linkId}, pinned at ${pin}`));
    const d = tsxdp(["detach", "--pin", pin]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain(`detached program`);
    expect(fs.existsSync(pin)).toBe(false);
    expect(xdpOf(p.a)).toEqual(clean);
  });

  test("status shows the device's xdp-features (veth: native, redirect, frags; no offload)", () => {
    const p = pair();
    const r = tsxdp(["status", "--dev", p.a, "--json"]);
    expect(r.code).toBe(0);
    const f = (JSON.parse(r.stdout) as { devices: { features?: { native: boolean; frags: boolean; offload: boolean; names: string[] } }[] }).devices[0]!.features;
    expect(f, "this kernel (6.3+) reports xdp-features").toBeDefined();
    expect(f!.native).toBe(true);
    expect(f!.frags).toBe(true);
    expect(f!.offload).toBe(false);
    expect(f!.names).toContain("redirect");
    expect(tsxdp(["status", "--dev", p.a]).stdout).toMatch(/xdp-features: basic redirect .*\(native yes, redirect target (yes|no), frags yes, offload no\)/);
  });

  // Program ids are global and other test files may load programs meanwhile:
  // leaks are looked for among programs with a name unique to this run.
  const named = (name: string) => loadedProgramIds().filter((id) => programInfoById(id)?.name === name);
  const gone = async (name: string) => {
    // The kernel frees a program after an RCU grace period, not at close().
    for (let i = 0; i < 100 && named(name).length > 0; i++) await sleep(20);
    return named(name);
  };

  test("1000 attach/detach cycles leave no fd and no program behind", async () => {
    const p = pair();
    const holder = pair();
    const name = `cyc_${process.pid}`;
    const obj = loadObject(build(passSource(name), name));
    const prog = obj.programs[0]!;
    // The same program attached elsewhere keeps the kernel's XDP dispatcher
    // from being rebuilt (with an RCU grace period) on every cycle, which
    // would make this take half a minute; the cycles themselves are complete.
    const hold = attachXdp(prog, { device: holder.a, method: "netlink" });
    try {
      const fds = () => fs.readdirSync("/proc/self/fd").length;
      const fdsBefore = fds();
      for (let i = 0; i < 1000; i++) {
        const a = attachXdp(prog, { device: p.a, method: i % 4 === 3 ? "netlink" : "link" });
        expect(a.detach()).toBe(true);
      }
      expect(fds()).toBe(fdsBefore);
      expect(named(name)).toEqual([prog.info().id]);
      expect(xdpOf(p.a)).toEqual(clean);
    } finally {
      hold.detach();
      obj.close();
    }
    expect(await gone(name)).toEqual([]);
  });

  test("attach/detach through the CLI leave no program loaded", async () => {
    const p = pair();
    const name = `cli_${process.pid}`;
    const file = path.join(dir, `${name}.o`);
    fs.writeFileSync(file, build(passSource(name), name));
    for (const method of [["--netlink"], ["--pin", pinPath("cli")]]) {
      expect(tsxdp(["attach", file, "--dev", p.a, ...method]).code).toBe(0);
      expect(named(name)).toHaveLength(1);
      expect(tsxdp(["detach", "--dev", p.a]).code).toBe(0);
      expect(await gone(name)).toEqual([]);
    }
    expect(fs.existsSync(pinPath("cli"))).toBe(false);
  });

  describe("bad inputs: a clear error and no change on the device", () => {
    let p: Pair;
    beforeAll(() => {
      p = pair();
    });
    const unchanged = () => expect(xdpOf(p.a)).toEqual(clean);
    const refused = (args: string[], code: number, message: RegExp | string, prefix?: string[]) => {
      const r = tsxdp(args, prefix ? { prefix } : {});
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
      unchanged();
      return r;
    };

    test("a corrupt object, a truncated one, a non-BPF ELF", () => {
      const corrupt = path.join(dir, "corrupt.o");
      const good = fs.readFileSync(files.pass!);
      const bytes = Buffer.from(good);
      for (let i = 64; i < bytes.length; i += 7) bytes[i] ^= 0x5a;
      fs.writeFileSync(corrupt, bytes);
      refused(["attach", corrupt, "--dev", p.a], 1, /cannot (open|load) BPF object 'corrupt'/);
      const truncated = path.join(dir, "truncated.o");
      fs.writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
      refused(["attach", truncated, "--dev", p.a], 1, /cannot open BPF object 'truncated'/);
      refused(["attach", "/bin/true", "--dev", p.a], 1, /cannot open BPF object 'true'.*format invalid/);
      refused(["attach", path.join(dir, "missing.o"), "--dev", p.a], 2, /cannot read .*missing\.o: ENOENT/);
    });

    test("a missing program name, an object without a device program, a devmap program", () => {
      refused(["attach", files.pass!, "--dev", p.a, "--prog", "nope"], 2, /has no program or section 'nope' \(programs: pass \(xdp\)\)/);
      refused(["attach", files.devmap!, "--dev", p.a], 1, /has no XDP program to attach to a device \(programs: on_egress \(xdp\/devmap\)\)/);
      refused(["attach", files.devmap!, "--dev", p.a, "--prog", "on_egress"], 1, /is a devmap program \(section xdp\/devmap\)/);
    });

    test("an unknown device", () => {
      refused(["attach", files.pass!, "--dev", "tsxnosuchdev0"], 2, /no network device 'tsxnosuchdev0' in this network namespace/);
      refused(["detach", "--dev", "tsxnosuchdev0"], 2, /no network device 'tsxnosuchdev0'/);
      refused(["status", "--dev", "tsxnosuchdev0"], 2, /no network device 'tsxnosuchdev0'/);
      expect(() => attachXdp(program("pass"), { device: "tsxnosuchdev0" })).toThrow(AttachError);
    });

    test("no privileges (as nobody, without capabilities)", () => {
      const setpriv = which("setpriv");
      if (!setpriv) throw new Error("setpriv (util-linux) is missing");
      refused(["attach", files.pass!, "--dev", p.a], 2, /Operation not permitted.*\n.*needs root, or CAP_BPF and CAP_NET_ADMIN/, [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"]);
    });

    test("offload on a device that cannot, a non-frags program over a too-large veth MTU", () => {
      refused(["attach", files.pass!, "--dev", p.a, "--mode", "offload"], 2, /cannot run offloaded XDP programs: its driver does not report hw-offload/);
      const big = pair({ mtuB: VETH_XDP_MAX_MTU + 1 });
      const e = (() => {
        try {
          attachXdp(program("pass"), { device: big.a });
        } catch (x) {
          return x as AttachError;
        }
      })();
      expect(e?.message).toContain(`its veth peer ${big.b} has MTU ${VETH_XDP_MAX_MTU + 1}, above ${VETH_XDP_MAX_MTU}`);
      expect(e?.message).toContain(`ip link set dev ${big.b} mtu ${VETH_XDP_MAX_MTU}`);
      expect(e?.message).toContain("xdp.frags");
      expect(xdpOf(big.a)).toEqual(clean);
      // The kernel agrees at exactly this boundary (veth_xdp_set), asked directly past our check…
      const log = new LibbpfLog();
      const rc = captureLibbpfLog(log, () => bpf().bpf_xdp_attach(findDevice(big.a)!.ifindex, program("pass").fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, xdpAttachOpts(undefined)));
      expect(rc).toBe(-34); // ERANGE
      expect(log.text).toContain("Peer MTU is too large");
      expect(xdpOf(big.a)).toEqual(clean);
      // …a frags-aware program is fine there, and one byte less is fine for the plain one.
      attachXdp(program("drop_jumbo"), { device: big.a }).detach();
      inNs(big.ns, "ip", ["link", "set", big.b, "mtu", String(VETH_XDP_MAX_MTU)]);
      attachXdp(program("pass"), { device: big.a }).detach();
      expect(xdpOf(big.a)).toEqual(clean);
    });

    test("--replace with nothing attached, --force with --replace, an unknown mode", () => {
      refused(["attach", files.pass!, "--dev", p.a, "--replace"], 2, /nothing is attached to .* in native mode, so there is nothing to replace/);
      refused(["attach", files.pass!, "--dev", p.a, "--replace", "--force"], 2, /exclude each other/);
      refused(["attach", files.pass!, "--dev", p.a, "--mode", "turbo"], 2, /unknown --mode 'turbo'/);
    });

    test("bpffs absent: mounted at /sys/fs/bpf on demand (private mount namespace); elsewhere refused", () => {
      const unshare = which("unshare");
      if (!unshare) throw new Error("unshare (util-linux) is missing");
      const pin = "/sys/fs/bpf/tsxdp-attach-unshare";
      const script = [
        "umount /sys/fs/bpf 2>/dev/null; umount /sys/fs/bpf 2>/dev/null",
        "grep -q ' /sys/fs/bpf bpf ' /proc/mounts && { echo 'bpffs still mounted'; exit 9; }",
        `"${process.execPath}" "${cli}" attach "${files.pass}" --dev ${p.a} --pin ${pin} || exit $?`,
        "grep -q ' /sys/fs/bpf bpf ' /proc/mounts || { echo 'bpffs not mounted'; exit 8; }",
        `"${process.execPath}" "${cli}" status --dev ${p.a} | grep -q "pinned at ${pin}" || { echo 'status does not show the pin'; exit 7; }`,
        `"${process.execPath}" "${cli}" detach --pin ${pin} || exit $?`,
      ].join("\n");
      const r = spawnSync(unshare, ["-m", "--propagation", "private", "sh", "-c", script], { encoding: "utf8" });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`pinned at ${pin}`);
      unchanged();
      expect(fs.existsSync(pin)).toBe(false); // the host's bpffs never saw it
      const notBpffs = path.join(dir, "pins", "x");
      refused(["attach", files.pass!, "--dev", p.a, "--pin", notBpffs], 2, /is not on a bpf filesystem; pins live on bpffs/);
    });
  });
});
