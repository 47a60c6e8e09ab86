/**
 * Conntrack NAT and marks (test/kfuncs/ct-nat.ts and its C twin):
 * `bpf_ct_set_nat_info` rewrites an allocated entry's source or destination
 * (address and port, the port in host order as the kernel takes it), and a
 * looked-up entry's `mark` is written through CO-RE. In a fresh namespace
 * (`tsxdp run` under `ip netns exec`), the kernel's own tables show the
 * NAT: the entry is found again by the rewritten reply tuple (opts.dir
 * REPLY), not by the plain one; and a mark either side writes is the mark
 * both read. Our objects and the clang-14 twin's give the same results.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");
const include = `/usr/include/${os.machine()}-linux-gnu`;
const NS_PREFIX = "tsxdp-ctnat-";
const ns = `${NS_PREFIX}${process.pid}`;

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

type Addr = readonly [number, number, number, number];
const A: Addr = [10, 0, 0, 1];
const B: Addr = [10, 0, 0, 2];
const SNAT: Addr = [192, 0, 2, 7];
const DNAT: Addr = [192, 0, 2, 9];
const IP_CT_DIR_REPLY = 1;
const ENOENT = 2;

describe.skipIf(skipKernel)("bpf_ct_set_nat_info and NfConn.mark writes, against the C twin", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-ctnat-"));
  beforeAll(() => {
    if (!clang) throw new Error(`clang-14 is missing: .ci/run installs it${inCI ? "" : " (apt-get install clang-14)"}`);
    removeLeftovers();
    execFileSync("ip", ["netns", "add", ns]);
    const r = compile({ file: "test/kfuncs/ct-nat.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "ts.o"), r.object!);
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/kfuncs/ct-nat.c", "-o", path.join(dir, "c.o")]);
  });
  afterAll(() => {
    spawnSync("ip", ["netns", "del", ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** One run of `prog` on a UDP packet src:sport → dst:dport whose payload carries a NAT address and port and a mark. */
  const run = (obj: "ts.o" | "c.o", prog: string, src: Addr, sport: number, dst: Addr, dport: number, arg: { addr?: Addr; port?: number; mark?: number } = {}) => {
    const payload = new Uint8Array(28);
    payload.set(arg.addr ?? [0, 0, 0, 0], 12);
    const v = new DataView(payload.buffer);
    v.setUint16(16, arg.port ?? 0, true);
    v.setUint32(24, arg.mark ?? 0, true);
    const frame = P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol: P.IPPROTO_UDP, src: [...src], dst: [...dst] }, P.udp(sport, dport, payload)));
    const out = execFileSync("ip", ["netns", "exec", ns, process.execPath, path.resolve("dist/cli.js"), "run", path.join(dir, obj), "--prog", prog, "--packet", Buffer.from(frame).toString("hex"), "--json"], { encoding: "utf8" });
    const [r] = JSON.parse(out) as { action: string; output: string }[];
    const bytes = Buffer.from(r!.output, "hex");
    return { action: r!.action, error: bytes.readInt32LE(54), dir: bytes.readUInt32LE(58), word: bytes.readInt32LE(62) };
  };
  /** Both objects' lookups of a tuple, which must agree. */
  const find = (src: Addr, sport: number, dst: Addr, dport: number) => {
    const ours = run("ts.o", "ct_find", src, sport, dst, dport);
    expect(run("c.o", "ct_find", src, sport, dst, dport)).toEqual(ours);
    return ours;
  };

  test.each([
    ["ours", "ts.o", 41001, 6000],
    ["the C twin's", "c.o", 41002, 6001],
  ] as const)("SNAT set up by %s: the reply comes back to the new source address and port", (_, obj, sport, port) => {
    const r = run(obj, "ct_snat", A, sport, B, 5353, { addr: SNAT, port });
    expect([r.action, r.word]).toEqual(["TX", 0]);
    expect(find(A, sport, B, 5353)).toMatchObject({ action: "PASS", dir: 0 });
    expect(find(B, 5353, SNAT, port)).toMatchObject({ action: "PASS", dir: IP_CT_DIR_REPLY });
    expect(find(B, 5353, A, sport)).toMatchObject({ action: "DROP", error: -ENOENT });
  });

  test.each([
    ["ours", "ts.o", 41003, 7000],
    ["the C twin's", "c.o", 41004, 7001],
  ] as const)("DNAT set up by %s: the reply comes from the new destination", (_, obj, sport, port) => {
    const r = run(obj, "ct_dnat", A, sport, B, 5353, { addr: DNAT, port });
    expect([r.action, r.word]).toEqual(["TX", 0]);
    expect(find(DNAT, port, A, sport)).toMatchObject({ action: "PASS", dir: IP_CT_DIR_REPLY });
    expect(find(B, 5353, A, sport)).toMatchObject({ action: "DROP", error: -ENOENT });
  });

  test("port 0 keeps the port: only the address is rewritten, by both", () => {
    for (const [obj, sport] of [
      ["ts.o", 41005],
      ["c.o", 41006],
    ] as const) {
      expect(run(obj, "ct_snat", A, sport, B, 5353, { addr: SNAT }).action).toBe("TX");
      expect(find(B, 5353, SNAT, sport)).toMatchObject({ action: "PASS", dir: IP_CT_DIR_REPLY });
    }
  });

  test("the mark we write is the mark both read, and the C twin's write is what we read", () => {
    for (const mark of [0x1234, -0x21524111, 7]) {
      expect(run("ts.o", "ct_set_mark", A, 41001, B, 5353, { mark }).action).toBe("TX");
      expect(find(A, 41001, B, 5353)).toMatchObject({ action: "PASS", word: mark });
      // The same entry, found by its reply tuple.
      expect(find(B, 5353, SNAT, 6000).word).toBe(mark);
    }
    expect(run("c.o", "ct_set_mark", A, 41003, B, 5353, { mark: 99 }).action).toBe("TX");
    expect(find(A, 41003, B, 5353).word).toBe(99);
    expect(run("ts.o", "ct_set_mark", A, 49999, B, 5353, { mark: 1 }).action).toBe("DROP");
  });

  test("NAT on an inserted entry, a manip that is not a constant: refused at compile time", () => {
    const source = fs.readFileSync("test/kfuncs/ct-nat.ts", "utf8");
    const codes = (from: string, to: string) => {
      expect(source).toContain(from);
      return compile({ source: source.replace(from, to), fileName: "ct_nat_refused.ts" }).diagnostics.map((d) => d.code);
    };
    // TypeScript's own error: an NfConn is not an NfConnInit (the kernel refuses it too).
    expect(codes("bpf_ct_release(inserted);\n  return XdpAction.TX;\n});\n\nexport const ct_dnat", "bpf_ct_set_nat_info(inserted, zeroed<NfInetAddr>(), 0, NF_NAT_MANIP_SRC);\n  bpf_ct_release(inserted);\n  return XdpAction.TX;\n});\n\nexport const ct_dnat")).toEqual(["TS2345"]);
    expect(codes("data.load<u16>(58), NF_NAT_MANIP_SRC)", "data.load<u16>(58), data.load<u16>(60) === 0 ? NF_NAT_MANIP_SRC : NF_NAT_MANIP_DST)")).toEqual(["TSX2010"]);
  });
});
