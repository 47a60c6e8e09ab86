/**
 * Redirects: the redirect maps (DevMap, DevMapHash, CpuMap, XskMap) compile
 * to BTF-defined maps of the right kernel types and load; `redirect` and
 * `lookup` pass the verifier where the kernel allows them; and a DevMap
 * really forwards: frames sent into veth pair 1 leave through veth pair 2,
 * whose ifindex userspace put into the map.
 *
 * Network: pair 1 (a1 here, b1 in ns1) and pair 2 (a2 here, b2 in ns2), from
 * test/support/netns.ts. The program runs on a1 and redirects to a2; b2 runs
 * an XDP program (examples/pass.ts) because veth only accepts redirected
 * frames (veth_xdp_xmit) on a peer with NAPI on, which an XDP program turns
 * on. An AF_PACKET socket on b2 sees what arrives. Everything is removed in
 * afterAll, also when a test fails.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { attachXdp, type LoadedObject, loadObject, u32Key, u64Value } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import { cleanupLeftovers, createPair, ipBytes, macBytes, type Pair, rawExchange, removePins, trafficScript, udpReceiver } from "./support/netns";
import * as P from "./support/packets";

const cli = path.resolve("dist/cli.js");

function build(source: string, name = "prog"): Uint8Array {
  const r = compile({ source, fileName: `${name}.ts` });
  if (!r.ok || !r.object) throw new Error(`${name} did not compile:\n${formatDiagnostics(r.diagnostics, r.sources)}`);
  return r.object;
}

function diagnose(source: string): string[] {
  const r = compile({ source, fileName: "prog.ts" });
  return r.diagnostics.map((d) => d.code);
}

const header = `import { xdp, XdpAction, DevMap, DevMapHash, CpuMap, XskMap, RedirectFlags, bpf_redirect, type u32 } from "tsxdp";\n`;

const kinds = [
  { cls: "DevMap", type: 14, typeName: "devmap", lookup: true },
  { cls: "DevMapHash", type: 25, typeName: "devmap_hash", lookup: true },
  { cls: "CpuMap", type: 16, typeName: "cpumap", lookup: false },
  { cls: "XskMap", type: 17, typeName: "xskmap", lookup: true },
] as const;

function programFor(cls: string, lookup: boolean): string {
  return (
    header +
    `const m = new ${cls}({ maxEntries: 4 });\n` +
    `export const prog = xdp((ctx) => {\n` +
    (lookup ? `  const e = m.lookup(1);\n  if (e && e.value === 77) return XdpAction.DROP;\n` : "") +
    `  return m.redirect(ctx.rx_queue_index & 3, XdpAction.PASS);\n` +
    `});\n`
  );
}

describe("redirect maps: declarations and refusals", () => {
  test.each(kinds)("$cls compiles with no type arguments to a map of type $type", ({ cls, lookup }) => {
    const r = compile({ source: programFor(cls, lookup), fileName: "prog.ts" });
    expect(formatDiagnostics(r.diagnostics, r.sources)).toBe("");
    expect(r.ok).toBe(true);
  });

  test("redirect lowers to bpf_redirect_map (helper 51) with the key by value and the flags", () => {
    const r = compile({ source: programFor("DevMap", false), fileName: "prog.ts", emitAsm: true });
    if (!r.assembly) throw new Error("no assembly");
    expect(r.ok).toBe(true);
    expect(r.assembly).toMatch(/call bpf_redirect_map|call 51\b/);
    expect(r.assembly).not.toMatch(/call bpf_map_lookup_elem|call 1\b/);
  });

  test("type arguments are refused (TSX3001 or TypeScript's own)", () => {
    expect(diagnose(header + "const m = new DevMap<u32>({ maxEntries: 4 });\nexport const prog = xdp(() => m.redirect(0));\n").length).toBeGreaterThan(0);
  });

  test("update and delete are not there on redirect maps; lookup not on CpuMap (the editor refuses them)", () => {
    expect(diagnose(header + "const m = new DevMap({ maxEntries: 4 });\nexport const prog = xdp(() => { m.update(0, 1); return XdpAction.PASS; });\n")).toContain("TS2339");
    expect(diagnose(header + "const m = new CpuMap({ maxEntries: 4 });\nexport const prog = xdp(() => (m.lookup(0) ? XdpAction.DROP : XdpAction.PASS));\n")).toContain("TS2339");
  });

  test("a DevMap entry is read-only: a write is TS2540 (Readonly), atomicAdd TSX3003", () => {
    const write = header + "const m = new DevMap({ maxEntries: 4 });\nexport const prog = xdp(() => { const e = m.lookup(0); if (e) e.value = 3; return XdpAction.PASS; });\n";
    expect(diagnose(write)).toContain("TS2540");
    const add = `import { xdp, XdpAction, DevMap, atomicAdd } from "tsxdp";\nconst m = new DevMap({ maxEntries: 4 });\nexport const prog = xdp(() => { const e = m.lookup(0); if (e) atomicAdd(e, 1); return XdpAction.PASS; });\n`;
    expect(diagnose(add)).toContain("TSX3003");
  });

  test("RedirectFlags are the kernel's BPF_F_BROADCAST and BPF_F_EXCLUDE_INGRESS; bpf_redirect is helper 23", () => {
    const src = header + "const m = new DevMap({ maxEntries: 4 });\nexport const prog = xdp((ctx) => (ctx.rx_queue_index === 9 ? bpf_redirect(ctx.ingress_ifindex, 0) : m.redirect(0, RedirectFlags.BROADCAST | RedirectFlags.EXCLUDE_INGRESS | XdpAction.DROP)));\n";
    expect(diagnose(src)).toEqual([]);
  });
});

describe.skipIf(skipKernel)("redirect maps in the kernel", () => {
  const objects: LoadedObject[] = [];
  afterAll(() => {
    for (const o of objects) o.close();
  });

  test.each(kinds)("$cls loads as a $typeName map with BTF, and the program passes the verifier", ({ cls, typeName, lookup }) => {
    const obj = loadObject(build(programFor(cls, lookup)));
    objects.push(obj);
    expect(obj.map("m").info()).toMatchObject({ typeName, keySize: 4, valueSize: 4, maxEntries: 4 });
    // libbpf creates these map types without key/value BTF (the kernel has no use for it), as for clang's objects.
    expect(obj.map("m").info()).toMatchObject({ btfKeyTypeId: 0, btfValueTypeId: 0 });
    // With no entry, the fallback action in the flags' low bits.
    expect(obj.program("prog").testRun({ data: new Uint8Array(64) }).action).toBe("PASS");
  });

  test("bpf_redirect and broadcast flags pass the verifier", () => {
    const src = header + "const m = new DevMapHash({ maxEntries: 4 });\nexport const prog = xdp((ctx) => (ctx.rx_queue_index === 9 ? bpf_redirect(ctx.ingress_ifindex, 0) : m.redirect(0, RedirectFlags.BROADCAST | RedirectFlags.EXCLUDE_INGRESS | XdpAction.DROP)));\n";
    const obj = loadObject(build(src));
    objects.push(obj);
    // BROADCAST ignores the key and looks nothing up: REDIRECT even with the map empty.
    expect(obj.program("prog").testRun({ data: new Uint8Array(64) }).action).toBe("REDIRECT");
  });

  test.skipIf(!which("bpftool") && !inCI)("bpftool shows the four map types; the object's BTF defines them", () => {
    const bpftool = which("bpftool");
    if (!bpftool) throw new Error("bpftool is missing: .ci/run installs it");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-redirect-"));
    const pin = `/sys/fs/bpf/tsxdp-redirect-${process.pid}`;
    try {
      const src =
        header +
        "const devs = new DevMap({ maxEntries: 4 });\nconst hashed = new DevMapHash({ maxEntries: 4 });\nconst cpus = new CpuMap({ maxEntries: 4 });\nconst socks = new XskMap({ maxEntries: 4 });\n" +
        "export const prog = xdp((ctx) => { const q = ctx.rx_queue_index;\n  if (q === 1) return hashed.redirect(0, XdpAction.PASS);\n  if (q === 2) return cpus.redirect(0, XdpAction.PASS);\n  if (q === 3) return socks.redirect(q, XdpAction.PASS);\n  return devs.redirect(0, XdpAction.PASS); });\n";
      fs.writeFileSync(path.join(dir, "r.o"), build(src));
      fs.rmSync(pin, { recursive: true, force: true });
      execFileSync(bpftool, ["prog", "loadall", path.join(dir, "r.o"), pin, "pinmaps", `${pin}/maps`]);
      for (const [name, type] of [["devs", "devmap"], ["hashed", "devmap_hash"], ["cpus", "cpumap"], ["socks", "xskmap"]] as const) {
        const show = JSON.parse(execFileSync(bpftool, ["map", "show", "pinned", `${pin}/maps/${name}`, "--json"], { encoding: "utf8" })) as { type: string; btf_id?: number; bytes_key: number; bytes_value: number };
        expect(show.type, name).toBe(type);
        expect([show.bytes_key, show.bytes_value], name).toEqual([4, 4]);
      }
      const btf = execFileSync(bpftool, ["btf", "dump", "file", path.join(dir, "r.o")], { encoding: "utf8" });
      // The definitions are BTF in the object (libbpf reads type, key, value, max_entries from it).
      expect(btf).toMatch(/DATASEC '\.maps' size=\d+ vlen=4/);
      for (const name of ["devs", "hashed", "cpus", "socks"]) expect(btf).toMatch(new RegExp(`VAR '${name}'`));
      expect(btf).toMatch(/'type' type_id=\d+ bits_offset=0/);
      // An entry written through bpftool: the DevMap forwards to lo (ifindex 1).
      execFileSync(bpftool, ["map", "update", "pinned", `${pin}/maps/devs`, "key", "0", "0", "0", "0", "value", "1", "0", "0", "0"]);
      const entry = JSON.parse(execFileSync(bpftool, ["map", "lookup", "pinned", `${pin}/maps/devs`, "key", "0", "0", "0", "0", "--json"], { encoding: "utf8" })) as { value: string[] };
      expect(entry.value.map((b) => Number(b))).toEqual([1, 0, 0, 0]);
    } finally {
      fs.rmSync(pin, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skipKernel)("redirect end to end: frames into veth pair 1 leave through veth pair 2", () => {
  const pairs: Pair[] = [];
  const objects: LoadedObject[] = [];
  let dir: string | undefined;

  beforeAll(() => {
    cleanupLeftovers();
  });
  afterAll(() => {
    for (const o of objects) o.close();
    for (const p of pairs) p.remove();
    removePins();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** An AF_PACKET listener on `dev` in `ns` for `ms`; resolves to the frames (hex) it saw. */
  function listen(ns: string, dev: string, ms: number): Promise<string[]> {
    // traffic.mjs's raw mode, sending nothing (count 0), only listening.
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, trafficScript, "raw", dev, "00", "0", String(ms)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => (out += d));
    return new Promise((resolve, reject) => {
      child.once("exit", (code) => {
        if (code !== 0) return reject(new Error(`listener exited with ${code}`));
        resolve((JSON.parse(out.trim().split("\n").pop()!) as { received: string[] }).received);
      });
    });
  }

  test("examples/redirect_devmap.ts forwards raw frames a1 → a2, delivered on b2; an empty entry passes", async () => {
    const one = createPair();
    pairs.push(one);
    const two = createPair();
    pairs.push(two);

    // NAPI on b2 (inside its namespace): an XDP program there, attached by the CLI.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-redirect-e2e-"));
    const pass = compile({ file: path.resolve("examples/pass.ts") });
    fs.writeFileSync(path.join(dir, "pass.o"), pass.object!);
    const peer = spawnSync("ip", ["netns", "exec", two.ns, process.execPath, cli, "attach", path.join(dir, "pass.o"), "--dev", two.b, "--netlink"], { encoding: "utf8" });
    expect(peer.status, peer.stderr).toBe(0);

    const r = compile({ file: path.resolve("examples/redirect_devmap.ts") });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    const obj = loadObject(r.object!);
    objects.push(obj);
    const ifindexA2 = (JSON.parse(execFileSync("ip", ["-j", "link", "show", two.a], { encoding: "utf8" })) as { ifindex: number }[])[0]!.ifindex;
    obj.map("ports").update(u32Key(0), u32Key(ifindexA2));
    const attached = attachXdp(obj.program("redirect_devmap"), { device: one.a });
    try {
      // Not IPv4 (a made-up EtherType): entry 0, which holds a2.
      const frame = P.ethernet({ dst: macBytes(one.macA), src: macBytes(one.macB), proto: 0x88b5 }, Uint8Array.from({ length: 46 }, (_, i) => i));
      const hex = Buffer.from(frame).toString("hex");
      const before = two.stats("b");
      const heard = listen(two.ns, two.b, 2500);
      await new Promise((res) => setTimeout(res, 700));
      const echoed = rawExchange(one.ns, one.b, frame, 7, 300);
      const received = await heard;
      expect(received.filter((f) => f === hex).length).toBe(7);
      expect(two.stats("b").rxPackets - before.rxPackets).toBeGreaterThanOrEqual(7);
      // Nothing came back on pair 1.
      expect(echoed.filter((f) => f === hex).length).toBe(0);

      // An IPv4 frame whose destination ends in .5: entry 5 is empty, so the fallback, PASS.
      const ipFrame = P.ethernet({ dst: macBytes(one.macA), src: macBytes(one.macB), proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: ipBytes(one.ipB), dst: [198, 18, 0, 5] }, P.udp(40000, 9, new Uint8Array(8))));
      const ipHex = Buffer.from(ipFrame).toString("hex");
      const heard2 = listen(two.ns, two.b, 1500);
      await new Promise((res) => setTimeout(res, 700));
      rawExchange(one.ns, one.b, ipFrame, 3, 200);
      expect((await heard2).filter((f) => f === ipHex).length).toBe(0);
    } finally {
      attached.detach();
    }
  });
});

/**
 * CPUMAP: the program on a (this namespace) sends UDP datagrams to port 5101
 * through CpuMap entry 0 (CPU 0, qsize 192: a 4-byte bpf_cpumap_val, qsize
 * only, which the kernel accepts for a map of value_size 4). The kernel's
 * cpumap kthread for CPU 0 builds the skbs and hands them to the network
 * stack, where a UDP socket here receives them. Entries 1 and 2 stay empty:
 * port 5102 redirects to entry 1 with the fallback PASS (delivered by the
 * ordinary path), port 5103 to entry 2 with the fallback DROP (nothing
 * arrives). A map counts what `redirect` answered: XDP_REDIRECT or the fallback.
 */
const cpumapSource = `import { xdp, XdpAction, CpuMap, ArrayMap, atomicAdd, htons, type be16, type u8, type u64 } from "tsxdp";

const cpus = new CpuMap({ maxEntries: 4 });
/** 0: redirect answered XDP_REDIRECT; 1: it answered the fallback action. */
const verdicts = new ArrayMap<u64>({ maxEntries: 2 });

function count(action: XdpAction): XdpAction {
  const c = verdicts.lookup(action === XdpAction.REDIRECT ? 0 : 1);
  if (c) atomicAdd(c, 1);
  return action;
}

export const to_cpu = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 42 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(0x0800)) return XdpAction.PASS;
  if (data.load<u8>(14) !== 0x45 || data.load<u8>(23) !== 17) return XdpAction.PASS;
  const port = data.load<be16>(36);
  if (port === htons(5101)) return count(cpus.redirect(0, XdpAction.DROP));
  if (port === htons(5102)) return count(cpus.redirect(1, XdpAction.PASS));
  if (port === htons(5103)) return count(cpus.redirect(2, XdpAction.DROP));
  return XdpAction.PASS;
});
`;

describe.skipIf(skipKernel)("cpumap end to end: UDP redirected to CPU 0 reaches the socket", () => {
  const pairs: Pair[] = [];
  const objects: LoadedObject[] = [];

  beforeAll(() => {
    cleanupLeftovers();
  });
  afterAll(() => {
    for (const o of objects) o.close();
    for (const p of pairs) p.remove();
  });

  /** Names of the running cpumap kthreads ("cpumap/<cpu>/map:<id>"). */
  function cpumapThreads(): string[] {
    const names: string[] = [];
    for (const pid of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        if (comm.startsWith("cpumap/")) names.push(comm);
      } catch {
        // the process went away meanwhile
      }
    }
    return names;
  }

  test("CpuMap entry 0 (qsize 192) delivers the datagrams; empty entries take the fallback action", async () => {
    const p = createPair();
    pairs.push(p);
    const obj = loadObject(build(cpumapSource, "cpumap_prog"));
    objects.push(obj);
    const cpus = obj.map("cpus");
    expect(cpus.info()).toMatchObject({ typeName: "cpumap", keySize: 4, valueSize: 4, maxEntries: 4 });
    // struct bpf_cpumap_val { __u32 qsize; union { int fd; __u32 id; } bpf_prog; }: with value_size 4, only qsize.
    cpus.update(u32Key(0), u32Key(192));
    expect(cpus.lookup(u32Key(0))).toEqual(u32Key(192));
    // The entry started CPU 0's kthread for this map.
    expect(cpumapThreads()).toContain(`cpumap/0/map:${cpus.info().id}`);
    const verdicts = () => [0, 1].map((k) => u64Value(obj.map("verdicts").lookup(u32Key(k))!));

    const attached = attachXdp(obj.program("to_cpu"), { device: p.a });
    try {
      const N = 40;
      const viaCpu = await udpReceiver(p.ipA, 5101, 300, 5000);
      const fallbackPass = await udpReceiver(p.ipA, 5102, 300, 5000);
      const fallbackDrop = await udpReceiver(p.ipA, 5103, 300, 1500);
      // Raw frames (AF_PACKET) rather than a UDP socket in the namespace: a
      // socket's datagrams leave veth with CHECKSUM_PARTIAL (the checksum not
      // yet computed), which the skb the cpumap kthread builds from the
      // xdp_frame no longer says, so UDP would drop them (UdpInCsumErrors).
      // These carry UDP checksum 0 (none, valid over IPv4) and traffic.mjs's
      // numbered payload, so the receivers count them like any other.
      const frames: Uint8Array[] = [];
      for (let i = 0; i < N; i++) {
        for (const port of [5101, 5102, 5103]) {
          const payload = new Uint8Array(16);
          new DataView(payload.buffer).setUint32(0, i);
          new DataView(payload.buffer).setUint32(4, 0x7473_7864); // "tsxd"
          frames.push(P.ethernet({ dst: macBytes(p.macA), src: macBytes(p.macB), proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: ipBytes(p.ipB), dst: ipBytes(p.ipA) }, P.udp(40000, port, payload))));
        }
      }
      rawExchange(p.ns, p.b, frames, 1, 50);
      const [a, b, c] = await Promise.all([viaCpu.result(), fallbackPass.result(), fallbackDrop.result()]);
      expect(a.unique).toBe(N);
      expect(a.duplicates).toEqual([]);
      expect(b.unique).toBe(N);
      expect(c.total).toBe(0);
      // N redirects answered XDP_REDIRECT (port 5101), 2N the fallback (5102 and 5103).
      expect(verdicts()).toEqual([BigInt(N), BigInt(2 * N)]);
    } finally {
      attached.detach();
    }
  });
});
