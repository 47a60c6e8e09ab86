/**
 * Programs in DEVMAP and CPUMAP entries: a map declared with
 * `programs: true` has the kernel's 8-byte entries (struct bpf_devmap_val,
 * struct bpf_cpumap_val), `LoadedMap.updateEntry` puts a program of the
 * object into an entry, and the kernel runs it: on egress for a DEVMAP (the
 * frames arrive changed on the far side), on the target CPU for a CPUMAP
 * (what it drops never reaches the socket). The DEVMAP case runs the same
 * traffic through a clang-14 twin (test/fixtures/loader/xdp_devmap_prog.c)
 * and expects the same frames and counts; the CPUMAP case runs its twin
 * (test/twins/cpumap_redirect.c) through the same checks: the program is
 * examples/cpumap_redirect.ts.
 *
 * Network (test/support/netns.ts): pair 1 (a1 here, b1 in ns1), pair 2 (a2
 * here, b2 in ns2); b2 runs examples/pass.ts so veth accepts redirected
 * frames (NAPI). Everything is removed in afterAll.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { attachXdp, BpfError, type LoadedObject, loadObject, u32Key, u64Value } from "../compiler/loader/index";
import { BTF_KIND, BtfTypes } from "../compiler/object/btf-types";
import { readElf } from "../compiler/object/elf";
import { inCI, skipKernel, which } from "./support/kernel";
import { cleanupLeftovers, createPair, ipBytes, macBytes, type Pair, rawExchange, trafficScript, udpReceiver } from "./support/netns";
import * as P from "./support/packets";

const cli = path.resolve("dist/cli.js");
const clang = which("clang-14");

function build(source: string, name = "prog"): Uint8Array {
  const r = compile({ source, fileName: `${name}.ts` });
  if (!r.ok || !r.object) throw new Error(`${name} did not compile:\n${formatDiagnostics(r.diagnostics, r.sources)}`);
  return r.object;
}

function codes(source: string): string[] {
  return compile({ source, fileName: "prog.ts" }).diagnostics.map((d) => d.code);
}

/** The TypeScript side of test/fixtures/loader/xdp_devmap_prog.c. */
const devmapSource = `import { xdp, XdpAction, DevMap, ArrayMap, atomicAdd, htons, type be16, type u8, type u32, type u64 } from "tsxdp";

const ports = new DevMap({ maxEntries: 4, programs: true });
/** 0: frames stamped and passed; 1: frames dropped on egress. */
const egress_seen = new ArrayMap<u64>({ maxEntries: 2 });

export const forward = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 > data_end) return XdpAction.PASS;
  if (data.load<be16>(12) !== htons(0x88b5)) return XdpAction.PASS;
  // Forward only once the entry runs a program.
  const entry = ports.lookup(0);
  if (!entry || entry.value.prog_id === 0) return XdpAction.PASS;
  return ports.redirect(0, XdpAction.PASS);
});

export const stamp = xdp.devmap((ctx) => {
  const { data, data_end } = ctx;
  if (data + 19 > data_end) return XdpAction.DROP;
  data.store<u32>(14, ctx.egress_ifindex);
  const drop = data.load<u8>(18) === 0xdd;
  const c = egress_seen.lookup(drop ? 1 : 0);
  if (c) atomicAdd(c, 1);
  return drop ? XdpAction.DROP : XdpAction.PASS;
});
`;

/** examples/cpumap_redirect.ts: to_cpu redirects to CPU 0, where on_cpu counts and filters. */
const cpumapSource = fs.readFileSync(path.resolve("examples/cpumap_redirect.ts"), "utf8");

describe("programs: true on DevMap, DevMapHash and CpuMap", () => {
  test("compiles; a DevMap lookup reads the entry's ifindex and prog_id", () => {
    expect(codes(devmapSource)).toEqual([]);
    expect(codes(cpumapSource)).toEqual([]);
    const hashed = `import { xdp, XdpAction, DevMapHash } from "tsxdp";\nconst m = new DevMapHash({ maxEntries: 4, programs: true });\nexport const p = xdp(() => { const e = m.lookup(7); return e && e.value.ifindex === 3 ? XdpAction.DROP : XdpAction.PASS; });\n`;
    expect(codes(hashed)).toEqual([]);
  });

  test.skipIf(!clang && !inCI)("the map's value in BTF is an 8-byte struct bpf_devmap_val starting with the ifindex, as clang-14 writes it", () => {
    if (!clang) throw new Error("clang-14 is missing");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-devmap-btf-"));
    try {
      const multiarch = spawnSync(clang, ["-print-multiarch"], { encoding: "utf8" }).stdout.trim() || "x86_64-linux-gnu";
      const twin = path.join(dir, "twin.o");
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", "-I", `/usr/include/${multiarch}`, "-c", path.resolve("test/fixtures/loader/xdp_devmap_prog.c"), "-o", twin]);
      /** The map's `value` member: a pointer to the value type. */
      const valueType = (object: Uint8Array) => {
        const elf = readElf(object);
        const btf = new BtfTypes(elf.contents(elf.section(".BTF")!));
        const v = btf.types.find((t) => t.kind === BTF_KIND.VAR && t.name === "ports")!;
        const member = btf.resolve(v.type).type.members!.find((m) => m.name === "value")!;
        const t = btf.resolve(btf.type(member.type).type).type;
        return { name: t.name, kind: t.kind, size: t.size, first: { name: t.members![0]!.name, offset: t.members![0]!.bitOffset, type: btf.typeName(t.members![0]!.type) } };
      };
      const ours = valueType(build(devmapSource));
      const theirs = valueType(new Uint8Array(fs.readFileSync(twin)));
      expect(ours).toEqual({ name: "bpf_devmap_val", kind: BTF_KIND.STRUCT, size: 8, first: { name: "ifindex", offset: 0, type: "__u32" } });
      expect(ours).toEqual(theirs);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("without programs: true a lookup is the ifindex; programs must be a boolean; not on XskMap", () => {
    expect(codes(`import { xdp, XdpAction, DevMap } from "tsxdp";\nconst m = new DevMap({ maxEntries: 4, programs: false });\nexport const p = xdp(() => { const e = m.lookup(0); return e && e.value === 3 ? XdpAction.DROP : XdpAction.PASS; });\n`)).toEqual([]);
    expect(codes(`import { xdp, XdpAction, DevMap } from "tsxdp";\nconst m = new DevMap({ maxEntries: 4, programs: true });\nexport const p = xdp(() => { const e = m.lookup(0); return e && e.value === 3 ? XdpAction.DROP : XdpAction.PASS; });\n`).length).toBeGreaterThan(0);
    const notBool = `import { xdp, XdpAction, DevMap } from "tsxdp";\nconst on: boolean = true;\nconst m = new DevMap({ maxEntries: 4, programs: on });\nexport const p = xdp(() => m.redirect(0, XdpAction.PASS));\n`;
    expect(codes(notBool)).toContain("TSX3001");
    const xsk = `import { xdp, XdpAction, XskMap } from "tsxdp";\nconst m = new XskMap({ maxEntries: 4, programs: true });\nexport const p = xdp(() => m.redirect(0, XdpAction.PASS));\n`;
    expect(codes(xsk).length).toBeGreaterThan(0);
  });
});

describe.skipIf(skipKernel)("updateEntry and lookupEntry in the kernel", () => {
  const objects: LoadedObject[] = [];
  afterAll(() => {
    for (const o of objects) o.close();
  });

  test("value_size 8; the entry holds the program's id; wrong programs are refused before the kernel", () => {
    const obj = loadObject(build(devmapSource + "export const plain = xdp(() => XdpAction.PASS);\nexport const cpu_side = xdp.cpumap(() => XdpAction.PASS);\n"));
    objects.push(obj);
    const ports = obj.map("ports");
    expect(ports.info()).toMatchObject({ typeName: "devmap", keySize: 4, valueSize: 8 });
    ports.updateEntry(0, { ifindex: 1 });
    expect(ports.lookupEntry(0)).toEqual({ ifindex: 1, programId: 0 });
    ports.updateEntry(0, { ifindex: 1, program: "stamp" });
    expect(ports.lookupEntry(0)).toEqual({ ifindex: 1, programId: obj.program("stamp").info().id });
    // Raw bytes agree: ifindex, then the id where the fd was written.
    expect(Array.from(ports.lookup(u32Key(0))!.subarray(0, 4))).toEqual([1, 0, 0, 0]);
    // A LoadedProgram works as well as a name.
    ports.updateEntry(1, { ifindex: 1, program: obj.program("stamp") });
    expect(ports.lookupEntry(1)!.programId).toBe(obj.program("stamp").info().id);
    expect(ports.lookupEntry(3)).toBeUndefined();

    const refused = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(BpfError);
        return (e as Error).message;
      }
      throw new Error("expected a BpfError");
    };
    expect(refused(() => ports.updateEntry(2, { ifindex: 1, program: "plain" }))).toMatch(/section xdp\) cannot run from devmap 'ports'.*BPF_XDP_DEVMAP.*xdp\.devmap/);
    expect(refused(() => ports.updateEntry(2, { ifindex: 1, program: "cpu_side" }))).toMatch(/section xdp\/cpumap\).*xdp\.devmap/);
    // A bare fd is not checked here: the kernel refuses, and the message says why.
    expect(refused(() => ports.updateEntry(2, { ifindex: 1, program: { fd: obj.program("plain").fd } }))).toMatch(/kernel refused the program.*BPF_XDP_DEVMAP/);
    expect(ports.lookupEntry(2)).toBeUndefined();
    expect(refused(() => ports.updateEntry(2, { qsize: 5 } as never))).toMatch(/has `ifindex`, not `qsize`/);
    expect(refused(() => obj.map("egress_seen").updateEntry(0, { ifindex: 1 }))).toMatch(/use update\(\)/);
    expect(() => ports.updateEntry(2, { ifindex: 1, program: "nope" })).toThrow(/no program named 'nope'/);
  });

  test("a map without programs: true takes the ifindex alone and refuses a program", () => {
    const obj = loadObject(build(`import { xdp, XdpAction, DevMap } from "tsxdp";\nconst m = new DevMap({ maxEntries: 4 });\nexport const p = xdp(() => m.redirect(0, XdpAction.PASS));\nexport const e = xdp.devmap(() => XdpAction.PASS);\n`));
    objects.push(obj);
    const m = obj.map("m");
    m.updateEntry(0, { ifindex: 1 });
    expect(m.lookupEntry(0)).toEqual({ ifindex: 1, programId: 0 });
    expect(() => m.updateEntry(1, { ifindex: 1, program: "e" })).toThrow(/holds no programs \(value_size 4\): declare it with `programs: true`/);
  });

  test("a CpuMap entry takes an xdp.cpumap program and refuses an xdp.devmap one", () => {
    const obj = loadObject(build(cpumapSource + "export const dev_side = xdp.devmap(() => XdpAction.PASS);\n"));
    objects.push(obj);
    const cpus = obj.map("cpus");
    expect(cpus.info()).toMatchObject({ typeName: "cpumap", valueSize: 8 });
    cpus.updateEntry(0, { qsize: 64, program: "on_cpu" });
    expect(cpus.lookupEntry(0)).toEqual({ qsize: 64, programId: obj.program("on_cpu").info().id });
    expect(() => cpus.updateEntry(1, { qsize: 64, program: "dev_side" })).toThrow(/cannot run from cpumap 'cpus'.*BPF_XDP_CPUMAP/);
  });
});

describe.skipIf(skipKernel)("a DEVMAP entry's program runs on egress: TypeScript and its C twin", () => {
  const pairs: Pair[] = [];
  const objects: LoadedObject[] = [];
  let dir: string | undefined;
  let one: Pair;
  let two: Pair;

  beforeAll(() => {
    cleanupLeftovers();
    one = createPair();
    pairs.push(one);
    two = createPair();
    pairs.push(two);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-devmap-prog-"));
    const pass = compile({ file: path.resolve("examples/pass.ts") });
    fs.writeFileSync(path.join(dir, "pass.o"), pass.object!);
    const peer = spawnSync("ip", ["netns", "exec", two.ns, process.execPath, cli, "attach", path.join(dir, "pass.o"), "--dev", two.b, "--netlink"], { encoding: "utf8" });
    if (peer.status !== 0) throw new Error(`attach on ${two.b}: ${peer.stderr}`);
  });
  afterAll(() => {
    for (const o of objects) o.close();
    for (const p of pairs) p.remove();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** An AF_PACKET listener on `dev` in `ns` for `ms`: the frames (hex) it saw. */
  function listen(ns: string, dev: string, ms: number): Promise<string[]> {
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

  async function send(frames: Uint8Array[]): Promise<string[]> {
    const heard = listen(two.ns, two.b, 2500);
    await new Promise((res) => setTimeout(res, 700));
    rawExchange(one.ns, one.b, frames, 1, 300);
    return heard;
  }

  /** The run both objects get; returns what b2 received and the counters. */
  async function run(obj: LoadedObject): Promise<{ received: string[]; counts: bigint[]; ifindex: number }> {
    const ifindexA2 = (JSON.parse(execFileSync("ip", ["-j", "link", "show", two.a], { encoding: "utf8" })) as { ifindex: number }[])[0]!.ifindex;
    const ports = obj.map("ports");
    const frame = (i: number, mark: number) => P.ethernet({ dst: macBytes(one.macA), src: macBytes(one.macB), proto: 0x88b5 }, Uint8Array.from({ length: 46 }, (_, j) => (j === 4 ? mark : j === 5 ? i : j)));
    const attached = attachXdp(obj.program("forward"), { device: one.a });
    try {
      // The entry without a program: `forward` sees prog_id 0 and passes.
      ports.updateEntry(0, { ifindex: ifindexA2 });
      expect(ports.lookupEntry(0)).toEqual({ ifindex: ifindexA2, programId: 0 });
      const before = await send([frame(0, 0), frame(1, 0)]);
      expect(before.filter((f) => f.startsWith(Buffer.from(frame(0, 0)).toString("hex").slice(0, 28)))).toEqual([]);

      ports.updateEntry(0, { ifindex: ifindexA2, program: "stamp" });
      expect(ports.lookupEntry(0)).toEqual({ ifindex: ifindexA2, programId: obj.program("stamp").info().id });
      const frames = [0, 1, 2, 3, 4].map((i) => frame(i, 0)).concat([5, 6, 7].map((i) => frame(i, 0xdd)));
      const received = (await send(frames)).filter((f) => f.slice(24, 28) === "88b5");
      const counts = [0, 1].map((k) => u64Value(obj.map("egress_seen").lookup(u32Key(k))!));
      return { received, counts, ifindex: ifindexA2 };
    } finally {
      attached.detach();
    }
  }

  function expected(ifindex: number): string[] {
    return [0, 1, 2, 3, 4].map((i) => {
      const f = P.ethernet({ dst: macBytes(one.macA), src: macBytes(one.macB), proto: 0x88b5 }, Uint8Array.from({ length: 46 }, (_, j) => (j === 4 ? 0 : j === 5 ? i : j)));
      new DataView(f.buffer, f.byteOffset).setUint32(14, ifindex, true);
      return Buffer.from(f).toString("hex");
    });
  }

  let tsResult: { received: string[]; counts: bigint[] } | undefined;

  test("TypeScript: the frames arrive on b2 stamped with a2's ifindex; the marked ones are dropped on egress", async () => {
    const obj = loadObject(build(devmapSource, "devmap_prog"));
    objects.push(obj);
    const r = await run(obj);
    expect(r.received).toEqual(expected(r.ifindex));
    expect(r.counts).toEqual([5n, 3n]);
    tsResult = r;
  });

  test.skipIf(!clang && !inCI)("the clang-14 twin gives the same frames and counts", async () => {
    if (!clang) throw new Error("clang-14 is missing");
    const multiarch = spawnSync(clang, ["-print-multiarch"], { encoding: "utf8" }).stdout.trim() || "x86_64-linux-gnu";
    const out = path.join(dir!, "twin.o");
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", "-I", `/usr/include/${multiarch}`, "-c", path.resolve("test/fixtures/loader/xdp_devmap_prog.c"), "-o", out]);
    const obj = loadObject(out);
    objects.push(obj);
    expect(obj.map("ports").info().valueSize).toBe(8);
    const r = await run(obj);
    expect(r.received).toEqual(expected(r.ifindex));
    expect(r.counts).toEqual([5n, 3n]);
    if (tsResult) expect(r.received).toEqual(tsResult.received);
  });
});

describe.skipIf(skipKernel)("a CPUMAP entry's program runs on the target CPU", () => {
  const pairs: Pair[] = [];
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    cleanupLeftovers();
  });
  afterAll(() => {
    for (const o of objects) o.close();
    for (const p of pairs) p.remove();
  });

  /** examples/cpumap_redirect.ts, or its clang-14 twin (test/twins/cpumap_redirect.c). */
  function cpumapObject(which: "TypeScript" | "C"): LoadedObject {
    if (which === "TypeScript") return loadObject(build(cpumapSource, "cpumap_prog"));
    if (!clang) throw new Error("clang-14 is missing");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-cpumap-twin-"));
    try {
      const multiarch = spawnSync(clang, ["-print-multiarch"], { encoding: "utf8" }).stdout.trim() || "x86_64-linux-gnu";
      const out = path.join(dir, "twin.o");
      execFileSync(clang, ["-O2", "-g", "-target", "bpf", "-I", `/usr/include/${multiarch}`, "-c", path.resolve("test/twins/cpumap_redirect.c"), "-o", out]);
      return loadObject(out);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  async function cpumapRun(which: "TypeScript" | "C"): Promise<void> {
    const p = createPair();
    pairs.push(p);
    const obj = cpumapObject(which);
    objects.push(obj);
    expect(obj.map("cpus").info()).toMatchObject({ typeName: "cpumap", valueSize: 8 });
    obj.map("cpus").updateEntry(0, { qsize: 192, program: "on_cpu" });
    const attached = attachXdp(obj.program("to_cpu"), { device: p.a });
    try {
      const N = 30;
      const passed = await udpReceiver(p.ipA, 5201, 300, 5000);
      const dropped = await udpReceiver(p.ipA, 5202, 300, 1500);
      // Raw frames with UDP checksum 0: see the CPUMAP test in test/redirect.test.ts.
      const frames: Uint8Array[] = [];
      for (let i = 0; i < N; i++) {
        for (const port of [5201, 5202]) {
          const payload = new Uint8Array(16);
          new DataView(payload.buffer).setUint32(0, i);
          new DataView(payload.buffer).setUint32(4, 0x7473_7864);
          frames.push(P.ethernet({ dst: macBytes(p.macA), src: macBytes(p.macB), proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: ipBytes(p.ipB), dst: ipBytes(p.ipA) }, P.udp(40000, port, payload))));
        }
      }
      rawExchange(p.ns, p.b, frames, 1, 50);
      const [a, b] = await Promise.all([passed.result(), dropped.result()]);
      expect(a.unique).toBe(N);
      expect(b.total).toBe(0);
      expect([0, 1].map((k) => u64Value(obj.map("on_cpu_seen").lookup(u32Key(k))!))).toEqual([BigInt(N), BigInt(N)]);
      // The entry is CPU 0: its program ran there.
      expect(u64Value(obj.map("ran_on").lookup(u32Key(0))!)).toBe(1n);
    } finally {
      attached.detach();
    }
  }

  test("TypeScript: datagrams to 5201 pass on CPU 0 and reach the socket; those to 5202 are dropped there and never arrive", () => cpumapRun("TypeScript"));
  test.skipIf(!clang && !inCI)("the clang-14 twin does the same", () => cpumapRun("C"));
});
