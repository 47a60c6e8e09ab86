/**
 * RINGBUF end to end: examples/event_stream.ts and its C twin run the same
 * frames through BPF_PROG_TEST_RUN; userspace reads the events back from
 * each object's ring (compiler/loader/ringbuf.ts over libbpf's
 * ring_buffer API). Both must give the same verdicts and the same record
 * bytes, which must also be the events this test computes from the frames.
 * Then the paths a program can take with a reservation, and a C control
 * showing that the kernel itself refuses a leaked one.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { LoadError, type LoadedObject, loadObject, openRingBuffer, type RingBufferReader, type RingRecord } from "../compiler/loader/index";
import { inCI, skipKernel, which } from "./support/kernel";
import * as P from "./support/packets";

const clang = which("clang-14");
const include = `/usr/include/${os.machine()}-linux-gnu`;

function buildC(source: string, out: string): void {
  execFileSync(clang!, ["-O2", "-g", "-target", "bpf", ...(fs.existsSync(include) ? ["-I", include] : []), "-c", source, "-o", out]);
}

interface Expected {
  action: "PASS" | "DROP";
  event?: { saddr: string; len: number; kind: number; protocol: number; dport: number };
}

/** IPv4 with this TTL and protocol (UDP to `port`, or TCP), with `extra` payload bytes. */
function ipv4Frame(src: number[], ttl: number, proto: number, port: number, extra: number): Uint8Array {
  const l4 = proto === P.IPPROTO_UDP ? P.udp(40000, port, new Uint8Array(extra)) : P.tcp(40000, port);
  const f = P.ethernet({ proto: P.ETH_P_IP }, P.ipv4({ protocol: proto, src }, l4));
  f[14 + 8] = ttl;
  return f;
}

function frames(): { data: Uint8Array; want: Expected }[] {
  const next = P.rng(0xe7e7);
  const out: { data: Uint8Array; want: Expected }[] = [];
  for (let i = 0; i < 240; i++) {
    const src = [10, 0, next() % 4, 1 + (next() % 200)];
    const ttl = [0, 1, 2, 64][next() % 4]!;
    const proto = next() % 3 === 0 ? P.IPPROTO_TCP : P.IPPROTO_UDP;
    const port = next() % 2 === 0 ? 9 : 53;
    const kind = next() % 8;
    let data = ipv4Frame(src, ttl, proto, port, next() % 64);
    if (kind === 0) data = P.ethernet({ proto: P.ETH_P_IPV6 }, new Uint8Array(48));
    if (kind === 1) data = P.truncate(data, 14 + 10 + (next() % 20));
    if (kind === 2 && proto === P.IPPROTO_UDP) data = P.truncate(data, 34 + (next() % 4));
    out.push({ data, want: expected(data) });
  }
  return out;
}

/** What the program must do with `f`, computed here from the bytes. */
function expected(f: Uint8Array): Expected {
  const isIpv4 = f.length >= 34 && f[12] === 0x08 && f[13] === 0x00;
  if (!isIpv4) return { action: "PASS" };
  const saddr = `0x${Buffer.from(f.slice(26, 30)).toString("hex")}`;
  const protocol = f[23]!;
  if (f[22]! <= 1) return { action: "PASS", event: { saddr, len: f.length, kind: 2, protocol, dport: 0 } };
  if (f[14] !== 0x45 || protocol !== P.IPPROTO_UDP || f.length < 42 || f[36] !== 0 || f[37] !== 9) return { action: "PASS" };
  return { action: "DROP", event: { saddr, len: f.length, kind: 1, protocol, dport: 9 } };
}

/** A decoded Event as the BTF decoder gives it, in the shape of `Expected["event"]`. */
function plain(r: RingRecord): Expected["event"] {
  const v = r.value as { saddr: { be: string }; len: number; kind: number; protocol: number; dport: { host: number } };
  return { saddr: v.saddr.be, len: v.len, kind: v.kind, protocol: v.protocol, dport: v.dport.host };
}

describe.skipIf(skipKernel)("ring buffer: examples/event_stream.ts against its C twin", () => {
  let dir: string;
  const objects: { obj: LoadedObject; ring: RingBufferReader }[] = [];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-ringbuf-"));
    const r = compile({ file: "examples/event_stream.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    const ts = loadObject(r.object!, { name: "event_stream" });
    objects.push({ obj: ts, ring: openRingBuffer(ts, "events") });
    if (clang) {
      buildC("test/twins/event_stream.c", path.join(dir, "c.o"));
      const c = loadObject(path.join(dir, "c.o"));
      objects.push({ obj: c, ring: openRingBuffer(c, "events") });
    } else if (inCI) {
      throw new Error("clang-14 is missing: .ci/run installs it");
    }
  });
  afterAll(() => {
    for (const { obj, ring } of objects) {
      ring.close();
      obj.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the ring is a RINGBUF of 16 KiB, and the TypeScript object names its record type", () => {
    for (const { obj } of objects) expect(obj.map("events").info()).toMatchObject({ typeName: "ringbuf", keySize: 0, valueSize: 0, maxEntries: 16384 });
    expect(objects[0]!.ring.recordType).toBe("struct Event");
    if (objects[1]) expect(objects[1].ring.recordType).toBeUndefined();
  });

  test("each frame gets the same verdict from both, and exactly its expected event, read from userspace", () => {
    const list = frames();
    let events = 0;
    for (const { data, want } of list) {
      const records = objects.map(({ obj, ring }) => {
        const run = obj.program("event_stream").testRun({ data });
        expect(run.action).toBe(want.action);
        expect(Buffer.from(run.data).equals(Buffer.from(data))).toBe(true);
        return ring.consume();
      });
      expect(records[0]!.map(plain)).toEqual(want.event ? [want.event] : []);
      if (records[1]) expect(records[1].map((r) => Buffer.from(r.bytes).toString("hex"))).toEqual(records[0]!.map((r) => Buffer.from(r.bytes).toString("hex")));
      if (want.event) events++;
    }
    const kinds = new Set(list.map((f) => f.want.event?.kind));
    expect(kinds).toEqual(new Set([undefined, 1, 2]));
    expect(events).toBeGreaterThan(60);
  });

  test("a full ring loses events, never verdicts, and both lose the same ones", () => {
    const frame = ipv4Frame([10, 9, 9, 9], 64, P.IPPROTO_UDP, 9, 0);
    const hex = (r: RingRecord) => Buffer.from(r.bytes).toString("hex");
    let first: string | undefined;
    const counts = objects.map(({ obj, ring }) => {
      for (let i = 0; i < 1000; i++) expect(obj.program("event_stream").testRun({ data: frame }).action).toBe("DROP");
      const records = ring.consume();
      // The TypeScript object's records decode to the event; the C twin's are the same bytes.
      first ??= hex(records[0]!);
      for (const r of records) {
        if (r.value !== undefined) expect(plain(r)).toEqual(expected(frame).event);
        expect(hex(r)).toBe(first);
      }
      return records.length;
    });
    // 12-byte records with the ring's 8-byte headers, 8-aligned: fewer than 1000 fit in 16 KiB.
    expect(counts[0]).toBeGreaterThan(500);
    expect(counts[0]).toBeLessThan(1000);
    if (counts[1] !== undefined) expect(counts[1]).toBe(counts[0]);
    for (const { ring } of objects) expect(ring.consume()).toEqual([]);
  });

  test("poll waits for records and returns those that arrived", () => {
    const { obj, ring } = objects[0]!;
    expect(ring.poll(10)).toEqual([]);
    obj.program("event_stream").testRun({ data: ipv4Frame([10, 1, 1, 1], 1, P.IPPROTO_TCP, 80, 0) });
    expect(ring.poll(1000).map(plain)).toEqual([{ saddr: "0x0a010101", len: 54, kind: 2, protocol: P.IPPROTO_TCP, dport: 0 }]);
  });
});

describe.skipIf(skipKernel)("ring buffer reservations on every path", () => {
  test("discarded, submitted under the null test, and output: the kernel loads it and the reader gets exactly the submitted records", () => {
    const r = compile({ file: "test/fixtures/positive/ringbuf_paths.ts" });
    expect(r.ok, formatDiagnostics(r.diagnostics, r.sources)).toBe(true);
    const obj = loadObject(r.object!);
    const ring = openRingBuffer(obj, "events", { type: "__u32" });
    try {
      const run = (mode: number) => {
        const frame = new Uint8Array(14).fill(0);
        frame[0] = mode;
        const action = obj.program("ringbuf_paths").testRun({ data: frame }).action;
        return [action, ring.consume().map((rec) => rec.value)];
      };
      expect(run(0)).toEqual(["PASS", [0, 100, 200]]);
      expect(run(1)).toEqual(["PASS", [101, 200]]);
      expect(run(2)).toEqual(["DROP", [2]]);
      expect(run(7)).toEqual(["PASS", [7, 107, 200]]);
    } finally {
      ring.close();
      obj.close();
    }
  });

  test.skipIf(!clang && !inCI)("control: the kernel refuses a C program that can return or tail-call holding a reservation", () => {
    if (!clang) throw new Error("clang-14 is missing: .ci/run installs it");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-ringbuf-leak-"));
    try {
      const source = path.join(dir, "leak.c");
      fs.writeFileSync(
        source,
        [
          "#include <linux/bpf.h>",
          "#include <bpf/bpf_helpers.h>",
          "struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(\".maps\");",
          'SEC("xdp") int leak(struct xdp_md *ctx) {',
          "  __u32 *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);",
          "  if (!e) return XDP_PASS;",
          "  *e = ctx->ingress_ifindex;",
          "  if (ctx->rx_queue_index == 0) return XDP_DROP;",
          "  bpf_ringbuf_submit(e, 0);",
          "  return XDP_PASS;",
          "}",
          'char _license[] SEC("license") = "GPL";',
        ].join("\n"),
      );
      buildC(source, path.join(dir, "leak.o"));
      let error: unknown;
      try {
        loadObject(path.join(dir, "leak.o")).close();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LoadError);
      expect((error as LoadError).verifierLog).toMatch(/Unreleased reference/);
      // The same program in TypeScript is refused before the kernel sees it.
      const ts = compile({ file: "test/fixtures/negative/ringbuf_leak.ts" });
      expect(ts.ok).toBe(false);
      expect(ts.diagnostics.map((d) => d.code)).toEqual(["TSX3004"]);

      // A tail call while holding one: refused by the kernel, and by us.
      const tail = path.join(dir, "tail.c");
      fs.writeFileSync(
        tail,
        [
          "#include <linux/bpf.h>",
          "#include <bpf/bpf_helpers.h>",
          "struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(\".maps\");",
          "struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 1); __uint(key_size, 4); __uint(value_size, 4); } next SEC(\".maps\");",
          'SEC("xdp") int prog(struct xdp_md *ctx) {',
          "  __u32 *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);",
          "  if (!e) return XDP_PASS;",
          "  *e = 1;",
          "  bpf_tail_call(ctx, &next, 0);",
          "  bpf_ringbuf_submit(e, 0);",
          "  return XDP_PASS;",
          "}",
          'char _license[] SEC("license") = "GPL";',
        ].join("\n"),
      );
      buildC(tail, path.join(dir, "tail.o"));
      error = undefined;
      try {
        loadObject(path.join(dir, "tail.o")).close();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LoadError);
      expect((error as LoadError).verifierLog).toMatch(/tail_call would lead to reference leak/);
      const tsTail = compile({ file: "test/fixtures/negative/ringbuf_tail_call.ts" });
      expect(tsTail.diagnostics.map((d) => d.code)).toEqual(["TSX3004"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
