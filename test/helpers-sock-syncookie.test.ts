/**
 * SYN cookies: test/helpers/syncookie.ts and its C twin test/helpers/syncookie.c
 * run (`tsxdp run` under `ip netns exec`) in a namespace with
 * net.ipv4.tcp_syncookies=2 and a real listener, found by
 * bpf_skc_lookup_tcp. A SYN gets a cookie and the MSS it encodes from
 * bpf_tcp_gen_syncookie; an ACK acknowledging that cookie passes
 * bpf_tcp_check_syncookie, one with another cookie time gets -ENOENT,
 * in both programs whichever made the cookie; no listener, no lookup.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");
const NS_PREFIX = "tsxdp-syncookie-";
const ns = `${NS_PREFIX}${process.pid}`;
const PORT = 47711;
const ENOENT = 2;

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

function listen(): Promise<ChildProcess> {
  const script = `require("node:net").createServer().listen(${PORT}, "127.0.0.1", () => console.log("ready"));`;
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`the listener exited (${code})`)));
  });
}

/** An IPv4 TCP segment without options from 127.0.0.1:40000, and 8 bytes for the program's answer. */
function segment(dport: number, flags: number, seq: number, ack: number): Uint8Array {
  const tcp = P.tcp(40000, dport, flags);
  new DataView(tcp.buffer).setUint32(4, seq);
  new DataView(tcp.buffer).setUint32(8, ack);
  return P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol: P.IPPROTO_TCP, src: [127, 0, 0, 1], dst: [127, 0, 0, 1] }, P.concat(tcp, new Uint8Array(8))));
}

describe.skipIf(skipKernel)("bpf_tcp_gen_syncookie and bpf_tcp_check_syncookie on a real listener, against the C twin", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-syncookie-"));
  const objects = ["ts.o"];
  let holder: ChildProcess | undefined;
  beforeAll(async () => {
    removeLeftovers();
    execFileSync("ip", ["netns", "add", ns]);
    inNs("ip", "link", "set", "lo", "up");
    inNs("sysctl", "-qw", "net.ipv4.tcp_syncookies=2");
    holder = await listen();
    const r = compile({ file: "test/helpers/syncookie.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "ts.o"), r.object!);
    if (!clang) {
      if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
      return;
    }
    const include = `/usr/include/${os.machine()}-linux-gnu`;
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/helpers/syncookie.c", "-o", path.join(dir, "c.o")]);
    objects.push("c.o");
  });
  afterAll(() => {
    if (holder?.pid) holder.kill();
    spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (obj: string, frame: Uint8Array): { action: string; result: bigint } => {
    const out = inNs(process.execPath, path.resolve("dist/cli.js"), "run", path.join(dir, obj), "--packet", Buffer.from(frame).toString("hex"), "--json");
    const [r] = JSON.parse(out) as { action: string; output: string }[];
    return { action: r!.action, result: Buffer.from(r!.output, "hex").readBigInt64LE(54) };
  };

  test("a SYN gets a cookie and the MSS it encodes (536: the SYN has no MSS option)", () => {
    for (const obj of objects) {
      const r = run(obj, segment(PORT, 0x02, 1000, 0));
      expect(r.action).toBe("TX");
      expect(r.result).toBeGreaterThanOrEqual(0n);
      expect(Number(r.result >> 32n)).toBe(536);
    }
  });

  test("the ACK of a cookie passes the check, a cookie of another time is -ENOENT, in both programs", () => {
    for (const maker of objects) {
      const cookie = Number(run(maker, segment(PORT, 0x02, 5000, 0)).result & 0xffffffffn);
      for (const checker of objects) {
        expect(run(checker, segment(PORT, 0x10, 5001, (cookie + 1) >>> 0))).toEqual({ action: "TX", result: 0n });
        // The top 8 bits are the cookie's minute: another one is out of date (the low bits only pick another MSS).
        expect(run(checker, segment(PORT, 0x10, 5001, ((cookie ^ 0x5a000000) + 1) >>> 0))).toEqual({ action: "TX", result: BigInt(-ENOENT) });
      }
    }
  });

  test("no listener, no lookup: DROP", () => {
    for (const obj of objects) expect(run(obj, segment(PORT + 1, 0x02, 1000, 0)).action).toBe("DROP");
  });
});
