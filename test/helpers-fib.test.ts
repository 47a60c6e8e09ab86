/**
 * bpf_fib_lookup with a local `BpfFibLookup`: its layout (unions included)
 * and the BPF_FIB_* / BPF_MTU_CHK_* constants are checked against the UAPI
 * header by clang-14; then test/helpers/fib.ts and its C twin
 * test/helpers/fib.c run in a network namespace with two veths, a route and
 * a neighbour (`tsxdp run --ingress-ifindex` under `ip netns exec`, so the
 * lookup sees that namespace): SUCCESS with the egress device's ifindex and
 * MACs as `ip link` reports them, NO_NEIGH without a neighbour, NOT_FWDED
 * for a local address and for no route, identical frames from both.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";
import { dialectLayout, member } from "./support/layouts";

const clang = which("clang-14");

function buildC(file: string): Uint8Array | undefined {
  if (!clang) {
    if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-fib-c-"));
  try {
    const include = `/usr/include/${os.machine()}-linux-gnu`;
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", file, "-o", path.join(dir, "c.o")]);
    return new Uint8Array(fs.readFileSync(path.join(dir, "c.o")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!clang && !inCI)("BpfFibLookup is struct bpf_fib_lookup", () => {
  test("every member at the UAPI offset and size, and the constants' values", () => {
    if (!clang) throw new Error("clang-14 is missing: .ci/run installs it");
    const l = dialectLayout("BpfFibLookup");
    const members: Record<string, string> = {
      family: "family",
      l4_protocol: "l4_protocol",
      sport: "sport",
      dport: "dport",
      "len.tot_len": "tot_len",
      "len.mtu_result": "mtu_result",
      ifindex: "ifindex",
      "flow.tos": "tos",
      "flow.flowinfo": "flowinfo",
      "flow.rt_metric": "rt_metric",
      "src.ipv4": "ipv4_src",
      "src.ipv6": "ipv6_src",
      "dst.ipv4": "ipv4_dst",
      "dst.ipv6": "ipv6_dst",
      "vlanOrTable.vlan.h_vlan_proto": "h_vlan_proto",
      "vlanOrTable.vlan.h_vlan_TCI": "h_vlan_TCI",
      "vlanOrTable.tbid": "tbid",
      smac: "smac",
      dmac: "dmac",
    };
    const lines = ["#include <linux/bpf.h>", `_Static_assert(sizeof(struct bpf_fib_lookup) == ${l.size}, "size");`];
    for (const [ours, theirs] of Object.entries(members)) {
      const m = member(l, ours);
      lines.push(`_Static_assert(__builtin_offsetof(struct bpf_fib_lookup, ${theirs}) == ${m.offset}, "${ours} offset");`);
      lines.push(`_Static_assert(sizeof(((struct bpf_fib_lookup *)0)->${theirs}) == ${m.size}, "${ours} size");`);
    }
    const dts = fs.readFileSync("runtime-types/index.d.ts", "utf8");
    const constants = [...dts.matchAll(/export declare const (BPF_(?:FIB|MTU)_\w+): (\d+);/g)];
    expect(constants.length).toBeGreaterThan(12);
    for (const [, name, value] of constants) lines.push(`_Static_assert(${name} == ${value}, "${name}");`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-fib-layout-"));
    try {
      fs.writeFileSync(path.join(dir, "fib.c"), lines.join("\n") + "\n");
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      const r = spawnSync(clang, ["-target", "bpf", "-fsyntax-only", ...(fs.existsSync(include) ? ["-I", include] : []), path.join(dir, "fib.c")], { encoding: "utf8" });
      expect(r.stderr, lines.join("\n")).toBe("");
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const NS_PREFIX = "tsxdp-fib-";
const ns = `${NS_PREFIX}${process.pid}`;

function inNs(cmd: string, ...args: string[]): string {
  return execFileSync("ip", ["netns", "exec", ns, cmd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Namespaces of earlier runs whose process is gone. */
function removeLeftovers(): void {
  for (const line of execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${NS_PREFIX}(\\d+)$`).exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      spawnSync("ip", ["netns", "del", name]);
    }
  }
}

interface RunResult {
  action: string;
  output: string;
}

describe.skipIf(skipKernel)("bpf_fib_lookup in a namespace with a route and a neighbour, against its C twin", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-fib-"));
  let b: { ifindex: number; address: string };
  let c: Uint8Array | undefined;
  beforeAll(() => {
    removeLeftovers();
    execFileSync("ip", ["netns", "add", ns]);
    inNs("ip", "link", "add", "fa", "address", "02:00:00:00:00:0a", "type", "veth", "peer", "name", "fb", "address", "02:00:00:00:00:0b");
    inNs("ip", "addr", "add", "10.1.0.1/24", "dev", "fa");
    inNs("ip", "addr", "add", "10.2.0.1/24", "dev", "fb");
    inNs("ip", "link", "set", "fa", "up");
    inNs("ip", "link", "set", "fb", "up");
    inNs("ip", "link", "set", "lo", "up");
    inNs("sysctl", "-qw", "net.ipv4.conf.all.forwarding=1");
    inNs("ip", "neigh", "replace", "10.2.0.2", "lladdr", "02:00:00:00:00:22", "dev", "fb", "nud", "permanent");
    const links = JSON.parse(inNs("ip", "-j", "link", "show", "fb")) as { ifindex: number; address: string }[];
    b = links[0]!;
    const r = compile({ file: "test/helpers/fib.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "ts.o"), r.object!);
    c = buildC("test/helpers/fib.c");
    if (c) fs.writeFileSync(path.join(dir, "c.o"), c);
  });
  afterAll(() => {
    spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (obj: string, frame: Uint8Array): RunResult => {
    const out = inNs(process.execPath, path.resolve("dist/cli.js"), "run", path.join(dir, obj), "--packet", Buffer.from(frame).toString("hex"), "--ingress-ifindex", "fa", "--json");
    const [r] = JSON.parse(out) as RunResult[];
    return { action: r!.action, output: r!.output };
  };

  const lookup = (dst: number[]) => {
    const frame = P.ethernet({ proto: P.ETH_P_IP, dst: [2, 0, 0, 0, 0, 0x0a], src: [2, 0, 0, 0, 0, 0x99] }, P.ipv4({ protocol: P.IPPROTO_UDP, src: [10, 1, 0, 2], dst }, P.udp(1234, 5678, new Uint8Array(16))));
    const ours = run("ts.o", frame);
    if (c) expect(run("c.o", frame)).toEqual(ours);
    const out = Buffer.from(ours.output, "hex");
    return { action: ours.action, frame, out, rc: out.readUInt32LE(34), ifindex: out.readUInt32LE(38) };
  };

  test("SUCCESS: the egress device's ifindex, its MAC as source, the neighbour's as destination", () => {
    const r = lookup([10, 2, 0, 2]);
    expect(r.rc).toBe(0);
    expect(r.action).toBe("TX");
    expect(r.ifindex).toBe(b.ifindex);
    expect([...r.out.subarray(0, 6)].map((x) => x.toString(16).padStart(2, "0")).join(":")).toBe("02:00:00:00:00:22");
    expect([...r.out.subarray(6, 12)].map((x) => x.toString(16).padStart(2, "0")).join(":")).toBe(b.address);
  });

  test("NO_NEIGH: a reachable address without a neighbour entry", () => {
    const r = lookup([10, 2, 0, 3]);
    expect(r.rc).toBe(7);
    expect(r.action).toBe("PASS");
    expect(r.ifindex).toBe(b.ifindex);
    expect(r.out.subarray(0, 12).toString("hex")).toBe(Buffer.from(r.frame.subarray(0, 12)).toString("hex"));
  });

  test("NOT_FWDED: an address of this host, and one without a route", () => {
    expect(lookup([10, 1, 0, 1]).rc).toBe(4);
    expect(lookup([192, 0, 2, 1]).rc).toBe(4);
  });
});
