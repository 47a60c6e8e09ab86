/**
 * Fields of a kernel object read through CO-RE: a conntrack entry's
 * `status` and `mark` (test/kfuncs/ct-fields.ts), which the program
 * declares at offsets 0 and 8 and libbpf relocates to the running kernel's
 * (far from those in struct nf_conn). In a fresh namespace (`tsxdp run`
 * under `ip netns exec`) C inserts an entry and writes its mark; our read
 * and the C twin's (clang's `preserve_access_index`) then give the same
 * bytes: the status bits the kernel set and the mark C wrote.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { kernelFields } from "../compiler/dialect/kfuncs";
import { compile, formatDiagnostics } from "../compiler/index";
import { BTF_KIND, BtfTypes } from "../compiler/object/btf-types";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const vmlinux = "/sys/kernel/btf/vmlinux";
const clang = which("clang-14");
const include = `/usr/include/${os.machine()}-linux-gnu`;

describe.skipIf(!fs.existsSync(vmlinux) && !inCI)("the kernel struct fields programs read are the kernel's", () => {
  test.each([...kernelFields])("struct %s: each field there, an integer of its size", (struct, fields) => {
    const btf = new BtfTypes(fs.readFileSync(vmlinux));
    const kernel = btf.types.find((t) => t.kind === BTF_KIND.STRUCT && t.name === struct)!;
    expect(kernel).toBeDefined();
    // Nested anonymous structs and unions hold fields too (xdp_buff's frame_sz): libbpf looks through them.
    const member = (t: ReturnType<BtfTypes["type"]>, name: string): { type: number } | undefined => {
      for (const m of t.members ?? []) {
        if (m.name === name) return m;
        const inner = m.name === "" ? member(btf.resolve(m.type).type, name) : undefined;
        if (inner) return inner;
      }
      return undefined;
    };
    for (const f of fields) {
      const m = member(kernel, f.name);
      expect(m, `${struct}.${f.name}`).toBeDefined();
      const t = btf.resolve(m!.type).type;
      // A pointer field (a css's cgroup) points to the kernel struct the table names.
      if (f.pointsTo) expect([t.kind, btf.resolve(t.type).type.name], `${struct}.${f.name}`).toEqual([BTF_KIND.PTR, f.pointsTo]);
      else expect([t.kind, t.size], `${struct}.${f.name}`).toEqual([BTF_KIND.INT, f.type.bits / 8]);
    }
  });
});

const NS_PREFIX = "tsxdp-ctf-";
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

const IPS_SEEN_REPLY = 2n;
const IPS_CONFIRMED = 8n;

describe.skipIf(skipKernel)("conntrack status and mark read through CO-RE, against the C twin", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-ctf-"));
  beforeAll(() => {
    if (!clang) throw new Error("clang-14 is missing: .ci/run installs it");
    removeLeftovers();
    execFileSync("ip", ["netns", "add", ns]);
    const r = compile({ file: "test/kfuncs/ct-fields.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "ts.o"), r.object!);
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/kfuncs/ct-fields.c", "-o", path.join(dir, "c.o")]);
  });
  afterAll(() => {
    spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (obj: "ts.o" | "c.o", prog: string, sport: number, mark = 0) => {
    const payload = new Uint8Array(28);
    new DataView(payload.buffer).setUint32(24, mark, true);
    const frame = P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol: P.IPPROTO_UDP, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] }, P.udp(sport, 5353, payload)));
    const out = inNs(process.execPath, path.resolve("dist/cli.js"), "run", path.join(dir, obj), "--prog", prog, "--packet", Buffer.from(frame).toString("hex"), "--json");
    const [r] = JSON.parse(out) as { action: string; output: string }[];
    const bytes = Buffer.from(r!.output, "hex");
    return { action: r!.action, status: bytes.readBigUInt64LE(54), mark: bytes.readUInt32LE(62) };
  };
  /** Both objects' reads of the same entry, which must agree. */
  const read = (sport: number) => {
    const ours = run("ts.o", "ct_read", sport);
    expect(run("c.o", "ct_read", sport)).toEqual(ours);
    return ours;
  };

  test("no entry: both drop", () => {
    expect(read(41001)).toEqual({ action: "DROP", status: 0n, mark: 0 });
  });

  test("an inserted entry: the status bits the kernel keeps, and mark 0", () => {
    expect(run("c.o", "ct_insert", 41001).action).toBe("TX");
    const r = read(41001);
    expect(r.action).toBe("PASS");
    expect(r.status & (IPS_SEEN_REPLY | IPS_CONFIRMED)).toBe(IPS_SEEN_REPLY | IPS_CONFIRMED);
    expect(r.mark).toBe(0);
  });

  test("the mark C writes is the mark both read, each time it changes", () => {
    for (const mark of [0x1234, 0xdeadbeef, 7]) {
      expect(run("c.o", "ct_mark", 41001, mark).action).toBe("TX");
      expect(read(41001).mark).toBe(mark);
    }
    expect(run("c.o", "ct_insert", 41002).action).toBe("TX");
    expect(read(41002).mark).toBe(0);
  });
});
