/**
 * examples/protocol_counters.ts and its C twin count the same frames: IPv4
 * and IPv6 (bare, behind an 802.1Q or 802.1ad tag, cut short) of several
 * protocols, and frames that are not IP. Both must pass every frame and hold
 * the same per-CPU counters, whose sums over the CPUs must be the packets
 * and bytes this test counts from the frames itself.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject, u32Key, u64Value } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");
const PROTOCOLS = [P.IPPROTO_TCP, P.IPPROTO_UDP, P.IPPROTO_ICMP, 47, 58, 132];

interface Frame {
  data: Uint8Array;
  /** the protocol it counts under, when it is whole IP */
  protocol?: number;
}

function frames(): Frame[] {
  const next = P.rng(0x9c0de);
  const out: Frame[] = [];
  for (let i = 0; i < 400; i++) {
    const protocol = PROTOCOLS[next() % PROTOCOLS.length]!;
    const payload = new Uint8Array(8 + (next() % 200));
    const v6 = next() % 2 === 0;
    const tag = next() % 3; // none, 802.1Q, 802.1ad
    const vlans: [number, number][] = tag === 0 ? [] : [[tag === 1 ? P.ETH_P_8021Q : P.ETH_P_8021AD, 1 + (next() % 4000)]];
    const ip = v6 ? P.ipv6({ nextHeader: protocol }, payload) : P.ipv4({ protocol, options: next() % 5 === 0 ? [1, 1, 1, 0] : [] }, payload);
    const frame = P.ethernet({ proto: v6 ? P.ETH_P_IPV6 : P.ETH_P_IP, vlans }, ip);
    const kind = next() % 10;
    if (kind === 0) {
      // Cut inside the IP header: not counted.
      const l3 = 14 + vlans.length * 4;
      out.push({ data: P.padTo(P.truncate(frame, l3 + (next() % (v6 ? 40 : 20))), 14) });
    } else if (kind === 1) out.push({ data: P.ethernet({ proto: P.ETH_P_ARP, vlans }, new Uint8Array(28)) });
    else out.push({ data: frame, protocol });
  }
  // Two tags: the outer one is looked through, the inner is not an IP ethertype.
  out.push({ data: P.ethernet({ proto: P.ETH_P_IP, vlans: [[P.ETH_P_8021AD, 1], [P.ETH_P_8021Q, 2]] }, P.ipv4({ protocol: P.IPPROTO_UDP }, P.udp(1, 2))) });
  return out;
}

/** Packets and bytes of `protocol`, summed over the CPUs. */
function counts(obj: LoadedObject, protocol: number): [bigint, bigint] {
  const values = obj.map("byProtocol").lookupPerCpu(u32Key(protocol))!;
  expect(values.length).toBe(obj.map("byProtocol").cpus);
  let packets = 0n;
  let bytes = 0n;
  for (const v of values) {
    packets += u64Value(v.slice(0, 8));
    bytes += u64Value(v.slice(8, 16));
  }
  return [packets, bytes];
}

describe.skipIf(skipKernel)("examples/protocol_counters.ts: per-CPU counters summed, against its C twin and the frames", () => {
  let dir: string;
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-protocols-"));
    const r = compile({ file: "examples/protocol_counters.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!, { name: "protocols_ts" }));
    if (clang) {
      const include = `/usr/include/${os.machine()}-linux-gnu`;
      const out = path.join(dir, "c.o");
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", "test/twins/protocol_counters.c", "-o", out]);
      objects.push(loadObject(out));
    } else if (inCI) {
      throw new Error("clang-14 is missing: .ci/run installs it");
    }
  });
  afterAll(() => {
    for (const obj of objects) obj.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("every frame passes; each protocol's packets and bytes are the frames'", () => {
    const list = frames();
    const want = new Map<number, [bigint, bigint]>();
    for (const f of list) {
      if (f.protocol === undefined) continue;
      const [n, b] = want.get(f.protocol) ?? [0n, 0n];
      want.set(f.protocol, [n + 1n, b + BigInt(f.data.length)]);
    }
    for (const f of list) for (const obj of objects) expect(obj.program("protocol_counters").testRun({ data: f.data }).action).toBe("PASS");
    expect([...want.keys()].sort((a, b) => a - b)).toEqual([...PROTOCOLS].sort((a, b) => a - b));
    expect(list.length - [...want.values()].reduce((n, [p]) => n + Number(p), 0)).toBeGreaterThan(40);
    for (const obj of objects) {
      expect(obj.map("byProtocol").info()).toMatchObject({ typeName: "percpu_array", keySize: 4, valueSize: 16, maxEntries: 256 });
      for (let protocol = 0; protocol < 256; protocol++) expect(counts(obj, protocol), `protocol ${protocol}`).toEqual(want.get(protocol) ?? [0n, 0n]);
    }
  });
});
