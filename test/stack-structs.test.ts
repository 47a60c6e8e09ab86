/**
 * Structs as stack values, run in the kernel (BPF_PROG_TEST_RUN):
 * test/stack/flow_keys.ts against its C twin (a flow table keyed by a local
 * struct: same verdicts, and the same map keys byte for byte, padding
 * included), and a program whose local structs' fields (literals, spreads,
 * nested structs, FixedArrays, packed fields, a struct changed by a function)
 * are written into the packet, checked against values computed here from
 * the input frame.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");

function build(file: string, source?: string): Uint8Array {
  const r = source === undefined ? compile({ file }) : compile({ source, fileName: file });
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
  return r.object!;
}

function buildC(file: string): Uint8Array | undefined {
  if (!clang) {
    if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-stack-"));
  try {
    const include = `/usr/include/${os.machine()}-linux-gnu`;
    execFileSync(clang, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", file, "-o", path.join(dir, "c.o")]);
    return new Uint8Array(fs.readFileSync(path.join(dir, "c.o")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function flowFrames(): Uint8Array[] {
  const next = P.rng(0xf10e);
  const out: Uint8Array[] = [];
  for (let i = 0; i < 250; i++) {
    const kind = next() % 6;
    const a = [10, 0, 0, 1 + (next() % 3)];
    const b = [10, 0, 1, 1 + (next() % 2)];
    const port = 1000 + (next() % 4);
    let f: Uint8Array;
    if (kind <= 1) f = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: a, dst: b }, P.udp(port, 53, new Uint8Array(8 + (next() % 40)))));
    else if (kind === 2) f = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: b, dst: a }, P.udp(53, port, new Uint8Array(8 + (next() % 90)))));
    else if (kind === 3) f = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_TCP, src: a, dst: b }, P.tcp(port, 80)));
    else if (kind === 4) f = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: a, dst: b }, P.udp(port, 9)));
    else f = Uint8Array.from({ length: 14 + (next() % 40) }, () => next() & 0xff);
    if (next() % 7 === 0) f = f.slice(0, 14 + (next() % 28));
    out.push(f);
  }
  return out;
}

/** The table the program should build: key bytes (C layout, padding zero) → [packets, bytes]. */
function expectedFlows(frames: Uint8Array[]): Map<string, [bigint, bigint]> {
  const table = new Map<string, [bigint, bigint]>();
  for (const f of frames) {
    if (f.length < 42 || f[12] !== 0x08 || f[13] !== 0x00 || f[14] !== 0x45 || f[23] !== P.IPPROTO_UDP) continue;
    let src = [...f.slice(26, 30), ...f.slice(34, 36)];
    let dst = [...f.slice(30, 34), ...f.slice(36, 38)];
    if (src[4] === 0 && src[5] === 53) [src, dst] = [dst, src];
    // struct flow_key: proto, 3 bytes padding, then two 8-byte endpoints (addr, port, 2 bytes padding).
    const key = Buffer.from([f[23]!, 0, 0, 0, ...src.slice(0, 4), ...src.slice(4), 0, 0, ...dst.slice(0, 4), ...dst.slice(4), 0, 0]).toString("hex");
    const len = BigInt((f[16]! << 8) | f[17]!);
    const old = table.get(key) ?? [0n, 0n];
    table.set(key, [old[0] + 1n, old[1] + len]);
  }
  return table;
}

function flowTable(obj: LoadedObject): Map<string, [bigint, bigint]> {
  const m = obj.map("flows");
  const out = new Map<string, [bigint, bigint]>();
  for (const key of m.keys()) {
    const v = Buffer.from(m.lookup(key)!);
    out.set(Buffer.from(key).toString("hex"), [v.readBigUInt64LE(0), v.readBigUInt64LE(8)]);
  }
  return out;
}

describe.skipIf(skipKernel)("a flow table keyed by a local struct, against its C twin", () => {
  let tsObj: LoadedObject;
  let cObj: LoadedObject | undefined;
  beforeAll(() => {
    tsObj = loadObject(build("test/stack/flow_keys.ts"));
    const c = buildC("test/stack/flow_keys.c");
    cObj = c && loadObject(c);
  });
  afterAll(() => {
    tsObj?.close();
    cObj?.close();
  });

  test("the same frames build the same table, keys byte for byte with zero padding", () => {
    const frames = flowFrames();
    for (const f of frames) {
      expect(tsObj.program("flow_keys").testRun({ data: f }).action).toBe("PASS");
      if (cObj) expect(cObj.program("flow_keys").testRun({ data: f }).action).toBe("PASS");
    }
    const want = expectedFlows(frames);
    expect(want.size).toBeGreaterThan(6);
    const got = flowTable(tsObj);
    expect(got).toEqual(want);
    if (cObj) expect(flowTable(cObj)).toEqual(got);
    expect(tsObj.map("flows").info()).toMatchObject({ keySize: 20, valueSize: 16 });
  });
});

const semantics = `
import { xdp, XdpAction, zeroed, sizeof, htons, u16, u32, type Cell, type FixedArray, type Packed, type be32, type u8, type u64 } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, ETH_P_IP } from "tsxdp/net";

interface Inner { tag: u8; port: u16 }
interface Rec { kind: u8; inner: Inner; mac: FixedArray<u8, 6>; sum: u32 }
interface Wire extends Packed { flag: u8; addr: be32; more: u16 }

function ttlOf(h: Ipv4Hdr): u8 {
  return h.ttl;
}

function bump(r: Rec, by: u32): void {
  r.sum += by;
  r.inner.port = u16(r.inner.port + 1);
}

export const structs = xdp((ctx) => {
  const data = ctx.data;
  const eth = data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = data.header<Ipv4Hdr>(14);
  if (!ip) return XdpAction.PASS;
  if (data + 63 > ctx.data_end) return XdpAction.DROP;
  const copy: Ipv4Hdr = { ...ip, tos: 9 };
  copy.ttl = 1;
  const r: Rec = { ...zeroed<Rec>(), kind: ip.protocol, inner: { ...zeroed<Inner>(), port: 7 }, mac: eth.source };
  r.mac[0] = r.mac[5];
  bump(r, u32(ip.ttl));
  const z = zeroed<Rec>();
  const w: Wire = { ...zeroed<Wire>(), flag: 1, addr: ip.daddr };
  w.more = u16(w.flag) + 2;
  const bytes: FixedArray<u8, 4> = [0xa1, 0xb2, 0, 0];
  data.store<u8>(34, copy.ttl);
  data.store<u8>(35, ip.ttl);
  data.store<u16>(36, r.inner.port);
  data.store<u32>(38, r.sum);
  data.store<u8>(42, r.mac[0]);
  data.store<u8>(43, r.inner.tag);
  data.store<u8>(44, z.kind + z.inner.tag + z.mac[5]);
  data.store<u8>(45, r.mac[1]);
  data.store<be32>(46, w.addr);
  data.store<u16>(50, w.more);
  data.store<u8>(52, copy.tos);
  data.store<u8>(53, ip.tos);
  data.store<u8>(54, bytes[1]);
  data.store<u8>(55, bytes[3]);
  data.store<be32>(56, copy.saddr);
  data.store<u8>(60, sizeof<Rec>());
  data.store<u8>(61, sizeof<Cell<u64>>() + sizeof<FixedArray<u16, 3>>());
  data.store<u8>(62, ttlOf(ip) + ttlOf(copy));
  return XdpAction.TX;
});
`;

describe.skipIf(skipKernel)("local structs: fields, literals, spreads, nesting, arrays, functions", () => {
  let obj: LoadedObject;
  beforeAll(() => {
    obj = loadObject(build("structs.ts", semantics));
  });
  afterAll(() => obj?.close());

  test("every value lands where the program put it, and copies leave the packet alone", () => {
    const next = P.rng(0x57ac);
    for (let i = 0; i < 40; i++) {
      const src = Array.from({ length: 6 }, () => next() & 0xff);
      const f = P.ethernet({ proto: P.ETH_P_IP, src }, P.ipv4({ protocol: next() & 0xff, ttl: 1 + (next() % 250), src: [10, 0, next() & 0xff, 1], dst: [192, 168, next() & 0xff, next() & 0xff] }, new Uint8Array(30)));
      f[15] = next() & 0xff; // tos
      const { action, data } = obj.program("structs").testRun({ data: f });
      expect(action).toBe("TX");
      const want = Uint8Array.from(f);
      const view = new DataView(want.buffer);
      want[34] = 1;
      want[35] = f[22]!;
      view.setUint16(36, 8, true);
      view.setUint32(38, f[22]!, true);
      want[42] = src[5]!;
      want[43] = 0;
      want[44] = 0;
      want[45] = src[1]!;
      want.set(f.slice(30, 34), 46);
      view.setUint16(50, 3, true);
      want[52] = 9;
      want[53] = f[15]!;
      want[54] = 0xb2;
      want[55] = 0;
      want.set(f.slice(26, 30), 56);
      want[60] = 16;
      want[61] = 8 + 6;
      want[62] = (f[22]! + 1) & 0xff;
      expect(Buffer.from(data!).toString("hex")).toBe(Buffer.from(want).toString("hex"));
    }
  });
});

const looped = `
import { xdp, XdpAction, HashMap, type u32, type u64 } from "tsxdp";
interface Key { a: u64; b: u64; c: u32 }
const seen = new HashMap<Key, u64>({ maxEntries: 64 });
export const looped = xdp((ctx) => {
  let n: u64 = 0;
  const queue = ctx.rx_queue_index;
  for (let i = 0; i < 40; i++) {
    const k: Key = { a: i, b: queue, c: 7 };
    const v = seen.lookup(k);
    if (v) n += v.value;
  }
  return n === 5 ? XdpAction.DROP : XdpAction.PASS;
});
`;

describe.skipIf(skipKernel)("a struct declared in an unrolled loop", () => {
  test("takes one struct's stack, not one per iteration, and each iteration's key is its own", () => {
    // 40 live 24-byte keys would not fit in 512 bytes: this compiles only because the iterations share one.
    const obj = loadObject(build("looped.ts", looped));
    try {
      const key = (a: number) => {
        const k = Buffer.alloc(24);
        k.writeBigUInt64LE(BigInt(a), 0);
        k.writeUInt32LE(7, 16);
        return new Uint8Array(k);
      };
      const value = (v: number) => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(v));
        return new Uint8Array(b);
      };
      const run = () => obj.program("looped").testRun({ data: new Uint8Array(64) }).action;
      expect(run()).toBe("PASS");
      obj.map("seen").update(key(0), value(2));
      expect(run()).toBe("PASS");
      obj.map("seen").update(key(39), value(3));
      expect(run()).toBe("DROP");
      obj.map("seen").update(key(40), value(1));
      expect(run()).toBe("DROP");
    } finally {
      obj.close();
    }
  });
});
