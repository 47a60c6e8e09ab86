/**
 * Socket lookups: BpfSockTuple and BpfSock are checked against the UAPI
 * header by clang-14; then test/helpers/sock.ts and its C twin
 * test/helpers/sock.c run (`tsxdp run` under `ip netns exec`, so
 * BPF_F_CURRENT_NETNS is that namespace: BPF_PROG_TEST_RUN runs on its
 * loopback) in a namespace where a child holds a listening TCP socket and
 * a bound UDP socket on 127.0.0.1 and on ::1: found (with the socket's
 * state, family, protocol and port) for their IPv4 and IPv6 tuples, not found for other ports, other protocols, and
 * in the test's own namespace; identical frames from both. The mistakes the
 * negative fixtures sock_*.ts make, written in C, are refused by the kernel.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import type { Layout } from "../compiler/ir/layout";
import { LoadError, loadObject } from "../compiler/loader/index";
import { compileC } from "./support/clang";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";
import { dialectLayout, member } from "./support/layouts";

const clang = which("clang-14");
const include = `/usr/include/${os.machine()}-linux-gnu`;

function buildC(file: string): Uint8Array | undefined {
  if (!clang) {
    if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-sock-c-"));
  try {
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", file, "-o", path.join(dir, "c.o")]);
    return new Uint8Array(fs.readFileSync(path.join(dir, "c.o")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!clang && !inCI)("BpfSockTuple and BpfSock are the UAPI structs", () => {
  test("every member at the UAPI offset and size, and the constants' values", () => {
    if (!clang) throw new Error("clang-14 is missing: .ci/run installs it");
    const tuple = dialectLayout("BpfSockTuple");
    const sock = dialectLayout("BpfSock");
    const lines = ["#include <linux/bpf.h>", `_Static_assert(sizeof(struct bpf_sock_tuple) == ${tuple.size}, "tuple size");`, `_Static_assert(sizeof(struct bpf_sock) == ${sock.size}, "sock size");`];
    const check = (struct: string, l: Layout, ours: string, theirs: string) => {
      const m = member(l, ours);
      lines.push(`_Static_assert(__builtin_offsetof(struct ${struct}, ${theirs}) == ${m.offset}, "${ours} offset");`);
      lines.push(`_Static_assert(sizeof(((struct ${struct} *)0)->${theirs}) == ${m.size}, "${ours} size");`);
    };
    for (const v of ["ipv4", "ipv6"]) for (const f of ["saddr", "daddr", "sport", "dport"]) check("bpf_sock_tuple", tuple, `${v}.${f}`, `${v}.${f}`);
    check("bpf_sock_tuple", tuple, "ipv4", "ipv4");
    check("bpf_sock_tuple", tuple, "ipv6", "ipv6");
    expect(sock.fields.size).toBe(14);
    for (const name of sock.fields.keys()) check("bpf_sock", sock, name, name);
    const dts = fs.readFileSync("runtime-types/index.d.ts", "utf8");
    const constants = [...dts.matchAll(/export declare const (BPF_TCP_\w+|BPF_F_CURRENT_NETNS): (-?\d+);/g)];
    expect(constants.length).toBe(13);
    for (const [, name, value] of constants) lines.push(`_Static_assert(${name} == ${value}, "${name}");`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-sock-layout-"));
    try {
      fs.writeFileSync(path.join(dir, "sock.c"), lines.join("\n") + "\n");
      const r = spawnSync(clang, ["-target", "bpf", "-fsyntax-only", ...(fs.existsSync(include) ? ["-I", include] : []), path.join(dir, "sock.c")], { encoding: "utf8" });
      expect(r.stderr, lines.join("\n")).toBe("");
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const NS_PREFIX = "tsxdp-sock-";
const ns = `${NS_PREFIX}${process.pid}`;
const TCP_PORT = 47701;
const UDP_PORT = 47702;

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

/** A child in the namespace holding the sockets until it is killed; resolves once they are bound. */
function holdSockets(): Promise<ChildProcess> {
  const script = `
    const net = require("node:net"), dgram = require("node:dgram");
    let bound = 0;
    const ready = () => ++bound === 4 && console.log("ready");
    net.createServer().listen(${TCP_PORT}, "127.0.0.1", ready);
    net.createServer().listen(${TCP_PORT}, "::1", ready);
    dgram.createSocket("udp4").bind(${UDP_PORT}, "127.0.0.1", ready);
    dgram.createSocket("udp6").bind(${UDP_PORT}, "::1", ready);`;
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`the socket holder exited (${code})`)));
  });
}

interface Found {
  action: string;
  state: number;
  family: number;
  protocol: number;
  port: number;
}

describe.skipIf(skipKernel)("socket lookups in a namespace with a listener and a bound UDP socket, against the C twin", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-sock-"));
  let c: Uint8Array | undefined;
  let holder: ChildProcess | undefined;
  beforeAll(async () => {
    removeLeftovers();
    execFileSync("ip", ["netns", "add", ns]);
    inNs("ip", "link", "set", "lo", "up");
    holder = await holdSockets();
    const r = compile({ file: "test/helpers/sock.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "ts.o"), r.object!);
    c = buildC("test/helpers/sock.c");
    if (c) fs.writeFileSync(path.join(dir, "c.o"), c);
  });
  afterAll(() => {
    if (holder?.pid) holder.kill();
    spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const runIn = (where: "ns" | "here", obj: string, prog: string, frame: Uint8Array): { action: string; output: string } => {
    const args = [path.resolve("dist/cli.js"), "run", path.join(dir, obj), "--prog", prog, "--packet", Buffer.from(frame).toString("hex"), "--json"];
    const out = where === "ns" ? inNs(process.execPath, ...args) : execFileSync(process.execPath, args, { encoding: "utf8" });
    const [r] = JSON.parse(out) as { action: string; output: string }[];
    return { action: r!.action, output: r!.output };
  };

  const send = (prog: string, protocol: number, dport: number, where: "ns" | "here" = "ns"): Found => {
    const l4 = protocol === P.IPPROTO_TCP ? P.concat(P.tcp(40000, dport), new Uint8Array(16)) : P.udp(40000, dport, new Uint8Array(28));
    const frame = P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol, src: [127, 0, 0, 1], dst: [127, 0, 0, 1] }, l4));
    const ours = runIn(where, "ts.o", prog, frame);
    if (c) expect(runIn(where, "c.o", prog, frame)).toEqual(ours);
    const out = Buffer.from(ours.output, "hex");
    return { action: ours.action, state: out.readUInt32LE(54), family: out.readUInt32LE(58), protocol: out.readUInt32LE(62), port: out.readUInt32LE(66) };
  };

  test("bpf_sk_lookup_tcp finds the listener: LISTEN, AF_INET, TCP, its port in host order", () => {
    expect(send("lookup", P.IPPROTO_TCP, TCP_PORT)).toEqual({ action: "PASS", state: 10, family: 2, protocol: 6, port: TCP_PORT });
  });

  test("bpf_sk_lookup_udp finds the bound socket: CLOSE (UDP's state), AF_INET, UDP", () => {
    expect(send("lookup", P.IPPROTO_UDP, UDP_PORT)).toEqual({ action: "PASS", state: 7, family: 2, protocol: 17, port: UDP_PORT });
  });

  test("bpf_skc_lookup_tcp finds the listener too (no protocol to read)", () => {
    expect(send("lookup_skc", P.IPPROTO_TCP, TCP_PORT)).toEqual({ action: "PASS", state: 10, family: 2, protocol: 0, port: TCP_PORT });
  });

  const send6 = (protocol: number, dport: number): Found => {
    const l4 = protocol === P.IPPROTO_TCP ? P.concat(P.tcp(40000, dport), new Uint8Array(16)) : P.udp(40000, dport, new Uint8Array(28));
    const loopback = [...new Array(15).fill(0), 1];
    const frame = P.ethernet({ proto: P.ETH_P_IPV6, dst: P.macB, src: P.macA }, P.ipv6({ nextHeader: protocol, src: loopback, dst: loopback }, l4));
    const ours = runIn("ns", "ts.o", "lookup6", frame);
    if (c) expect(runIn("ns", "c.o", "lookup6", frame)).toEqual(ours);
    const out = Buffer.from(ours.output, "hex");
    return { action: ours.action, state: out.readUInt32LE(74), family: out.readUInt32LE(78), protocol: out.readUInt32LE(82), port: out.readUInt32LE(86) };
  };

  test("an IPv6 tuple (tuple.ipv6) finds the sockets on ::1: AF_INET6", () => {
    expect(send6(P.IPPROTO_TCP, TCP_PORT)).toEqual({ action: "PASS", state: 10, family: 10, protocol: 6, port: TCP_PORT });
    expect(send6(P.IPPROTO_UDP, UDP_PORT)).toEqual({ action: "PASS", state: 7, family: 10, protocol: 17, port: UDP_PORT });
    expect(send6(P.IPPROTO_TCP, TCP_PORT + 10).action).toBe("DROP");
    expect(send6(P.IPPROTO_UDP, TCP_PORT).action).toBe("DROP");
  });

  test("nothing for a port without a socket, for the other protocol, or in another namespace", () => {
    expect(send("lookup", P.IPPROTO_TCP, TCP_PORT + 10).action).toBe("DROP");
    expect(send("lookup", P.IPPROTO_UDP, TCP_PORT).action).toBe("DROP");
    expect(send("lookup", P.IPPROTO_TCP, UDP_PORT).action).toBe("DROP");
    expect(send("lookup_skc", P.IPPROTO_TCP, UDP_PORT).action).toBe("DROP");
    // BPF_F_CURRENT_NETNS is the runner's namespace (its loopback), where nothing listens.
    expect(send("lookup", P.IPPROTO_TCP, TCP_PORT, "here").action).toBe("DROP");
  });
});

describe.skipIf(skipKernel || (!clang && !inCI))("the kernel refuses in C what tsxdp refuses in the sock_* fixtures", () => {
  const c = (body: string) =>
    `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int prog(struct xdp_md *ctx) {\n  struct bpf_sock_tuple t;\n  __builtin_memset(&t, 0, sizeof(t));\n${body}\n}\nchar _license[] SEC("license") = "GPL";\n`;
  const cases: [string, string, string, RegExp][] = [
    [
      "sock_leak",
      "TSX3006",
      "  struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);\n  if (!sk) return XDP_PASS;\n  if (sk->state == BPF_TCP_LISTEN) return XDP_DROP;\n  bpf_sk_release(sk);\n  return XDP_PASS;",
      /Unreleased reference/,
    ],
    [
      "sock_released_read",
      "TSX3007",
      "  struct bpf_sock *sk = bpf_skc_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);\n  if (!sk) return XDP_PASS;\n  bpf_sk_release(sk);\n  return sk->state == 10 ? XDP_DROP : XDP_PASS;",
      /invalid mem access 'scalar'/,
    ],
    [
      "sock_released_twice",
      "TSX3007",
      "  struct bpf_sock *sk = bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);\n  if (!sk) return XDP_PASS;\n  bpf_sk_release(sk);\n  bpf_sk_release(sk);\n  return XDP_PASS;",
      /R1 type=scalar expected=sock_common/,
    ],
    [
      "sock_release_untested",
      "TSX3002",
      "  struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);\n  bpf_sk_release(sk);\n  return XDP_PASS;",
      /R1 type=sock_or_null/,
    ],
  ];
  test.each(cases)("%s: %s here, refused by the kernel in C", (fixture, code, body, refusal) => {
    const r = compile({ file: `test/fixtures/negative/${fixture}.ts` });
    expect(r.diagnostics.map((d) => d.code)).toEqual([code]);
    let error: unknown;
    try {
      loadObject(compileC(c(body))).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect(String((error as LoadError).message) + JSON.stringify(error)).toMatch(refusal);
  });
});
