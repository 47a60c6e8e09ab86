/**
 * Conntrack kfuncs: BpfCtOpts is the kernel's struct bpf_ct_opts (read from
 * /sys/kernel/btf/vmlinux); then test/kfuncs/conntrack.ts and its C twin
 * run (`tsxdp run` under `ip netns exec`, so BPF_F_CURRENT_NETNS is a fresh
 * namespace): an entry is not found before it is inserted, each object
 * inserts one (allocate, timeout, status, insert), and both objects then
 * find both entries, in the original direction for the tuple and in the
 * reply direction for the tuple reversed; inserting again fails.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { BTF_KIND, BtfTypes } from "../compiler/object/btf-types";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";
import { dialectLayout } from "./support/layouts";

const vmlinux = "/sys/kernel/btf/vmlinux";
const clang = which("clang-14");
const include = `/usr/include/${os.machine()}-linux-gnu`;

describe.skipIf(!fs.existsSync(vmlinux) && !inCI)("BpfCtOpts is the kernel's struct bpf_ct_opts", () => {
  test("every member at the kernel's offset and size, none missing", () => {
    const btf = new BtfTypes(fs.readFileSync(vmlinux));
    const kernel = btf.types.find((t) => t.kind === BTF_KIND.STRUCT && t.name === "bpf_ct_opts")!;
    expect(kernel).toBeDefined();
    const ours = dialectLayout("BpfCtOpts");
    expect(ours.size).toBe(kernel.size);
    const theirs = kernel.members!.map((m) => {
      const t = btf.resolve(m.type).type;
      const size = t.kind === BTF_KIND.ARRAY ? t.array!.nelems * btf.resolve(t.array!.type).type.size : t.size;
      return [m.name, { offset: m.bitOffset / 8, size }];
    });
    expect([...ours.fields].map(([name, f]) => [name, { offset: f.offset, size: f.size }])).toEqual(theirs);
  });
});

const NS_PREFIX = "tsxdp-ct-";
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

describe.skipIf(skipKernel)("conntrack entries inserted and looked up in a namespace, against the C twin", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-ct-"));
  beforeAll(() => {
    if (!clang) throw new Error("clang-14 is missing: .ci/run installs it");
    removeLeftovers();
    execFileSync("ip", ["netns", "add", ns]);
    const r = compile({ file: "test/kfuncs/conntrack.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "ts.o"), r.object!);
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/kfuncs/conntrack.c", "-o", path.join(dir, "c.o")]);
  });
  afterAll(() => {
    spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (obj: "ts.o" | "c.o", prog: string, sport: number, dport: number, reversed = false) => {
    const [src, dst] = reversed ? [[10, 0, 0, 2], [10, 0, 0, 1]] : [[10, 0, 0, 1], [10, 0, 0, 2]];
    const l4 = reversed ? P.udp(dport, sport, new Uint8Array(28)) : P.udp(sport, dport, new Uint8Array(28));
    const frame = P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol: P.IPPROTO_UDP, src, dst }, l4));
    const out = inNs(process.execPath, path.resolve("dist/cli.js"), "run", path.join(dir, obj), "--prog", prog, "--packet", Buffer.from(frame).toString("hex"), "--json");
    const [r] = JSON.parse(out) as { action: string; output: string }[];
    const bytes = Buffer.from(r!.output, "hex");
    return { action: r!.action, result: bytes.readInt32LE(54), dir: bytes.readUInt32LE(58) };
  };
  /** Both objects on the same frame, which must agree. */
  const lookup = (sport: number, dport: number, reversed = false) => {
    const ours = run("ts.o", "ct_lookup", sport, dport, reversed);
    expect(run("c.o", "ct_lookup", sport, dport, reversed)).toEqual(ours);
    return ours;
  };

  const ENOENT = 2;

  test("nothing before the insertions (opts.error is -ENOENT)", () => {
    expect(lookup(40001, 5353)).toEqual({ action: "DROP", result: -ENOENT, dir: 0 });
    expect(lookup(40002, 5353)).toEqual({ action: "DROP", result: -ENOENT, dir: 0 });
  });

  test("each object inserts its own entry", () => {
    expect(run("ts.o", "ct_insert", 40001, 5353)).toEqual({ action: "TX", result: 0, dir: 0 });
    expect(run("c.o", "ct_insert", 40002, 5353)).toEqual({ action: "TX", result: 0, dir: 0 });
  });

  test("both entries are found by both objects, in the original and in the reply direction", () => {
    for (const sport of [40001, 40002]) {
      expect(lookup(sport, 5353)).toEqual({ action: "PASS", result: 0, dir: 0 });
      expect(lookup(sport, 5353, true)).toEqual({ action: "PASS", result: 0, dir: 1 });
    }
    expect(lookup(40003, 5353).action).toBe("DROP");
  });

  test("inserting an existing entry fails for both", () => {
    const ours = run("ts.o", "ct_insert", 40002, 5353);
    expect(ours.action).toBe("DROP");
    expect(run("c.o", "ct_insert", 40001, 5353)).toEqual(ours);
  });
});
