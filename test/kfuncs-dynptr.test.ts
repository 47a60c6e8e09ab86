/**
 * Dynptr kfuncs: test/kfuncs/dynptr.ts (an xdp.frags program that parses
 * Ethernet, IPv4 and UDP through bpf_dynptr_slice and reports through
 * bpf_dynptr_slice_rdwr) and its C twin run on the same frames under
 * BPF_PROG_TEST_RUN, small ones and multi-buffer ones larger than a page,
 * whose tail the kernel puts in fragments: the u32 the UDP port points at
 * is read in the linear part, across its end, in the fragments and past the
 * packet (null slice). Verdicts and bytes must be clang's, and the words
 * planted in the frames must come back.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import * as P from "./support/packets";

const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

/** A UDP frame of `length` bytes whose destination port is `at`, with `marker` planted at byte `at` when it fits. */
function frame(length: number, at: number, marker: number): Uint8Array {
  const payload = new Uint8Array(length - 42);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
  if (at + 4 <= length && at >= 42) new DataView(payload.buffer).setUint32(at - 42, marker, true);
  return P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol: P.IPPROTO_UDP, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] }, P.udp(40000, at, payload)));
}

interface Report {
  action: string;
  size: number;
  word: number;
  rdonly: number;
  isNull: number;
  payload: number;
  adjusted: number;
}

function report(r: { action: string; data: Uint8Array }): Report {
  const v = new DataView(r.data.buffer, r.data.byteOffset + 42, 24);
  return { action: r.action, size: v.getUint32(0, true), word: v.getUint32(4, true), rdonly: v.getUint32(8, true), isNull: v.getUint32(12, true), payload: v.getUint32(16, true), adjusted: v.getInt32(20, true) };
}

describe.skipIf(unavailable !== undefined && !inCI)(`headers through dynptrs, fragments included, against the C twin${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ours: LoadedObject;
  let theirs: LoadedObject;

  beforeAll(() => {
    if (unavailable) throw new Error(`dynptr tests cannot run in CI: ${unavailable}`);
    const r = compile({ file: "test/kfuncs/dynptr.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    ours = loadObject(r.object!);
    theirs = loadObject(compileC(fs.readFileSync("test/kfuncs/dynptr.c", "utf8")));
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  const both = (data: Uint8Array) => {
    const a = ours.program("parse").testRun({ data });
    const b = theirs.program("parse").testRun({ data });
    expect(`${a.action} ${Buffer.from(a.data).toString("hex")}`).toBe(`${b.action} ${Buffer.from(b.data).toString("hex")}`);
    return a;
  };

  // [frame length, offset of the word]: linear, across the linear part's end (about 3.5 KiB
  // into a frame larger than that), inside the fragments, and past the end.
  const cases: [number, number][] = [
    [142, 60],
    [142, 138],
    [1500, 1400],
    [6000, 100],
    [6000, 3518],
    [6000, 3522],
    [6000, 5000],
    [9000, 8996],
    [12000, 4096],
  ];

  it.each(cases)("a %i-byte frame, the word at %i: planted word read back, sizes, clang's bytes", (length, at) => {
    const marker = (0x5a000000 + at) >>> 0;
    const r = report(both(frame(length, at, marker)));
    expect(r).toEqual({ action: "TX", size: length, word: marker, rdonly: 0, isNull: 0, payload: length - 42, adjusted: 0 });
  });

  it("a word past the end: the slice is null", () => {
    for (const [length, at] of [[142, 140], [6000, 5998], [6000, 7000]] as const) {
      expect(report(both(frame(length, at, 0x11223344)))).toMatchObject({ action: "TX", word: 0xffffffff, size: length });
    }
  });

  it("unknown flags: a null dynptr (-EINVAL), is_null true, its size -EINVAL", () => {
    for (const length of [142, 6000]) {
      const data = frame(length, 60, 0);
      const a = ours.program("bad_flags").testRun({ data });
      const b = theirs.program("bad_flags").testRun({ data });
      const v = new DataView(a.data.buffer, a.data.byteOffset + 42, 12);
      expect([a.action, v.getInt32(0, true), v.getUint32(4, true), v.getInt32(8, true)]).toEqual(["TX", -22, 1, -22]);
      // clang takes the _Bool as zero-extended and stores the whole register, but the kernel's
      // native function sets only its low byte (x86's al): the twin's word is 1 in that byte only.
      const w = new DataView(b.data.buffer, b.data.byteOffset + 42, 12);
      expect([b.action, w.getInt32(0, true), w.getUint8(4), w.getInt32(8, true)]).toEqual(["TX", -22, 1, -22]);
      const rest = (d: Uint8Array) => Buffer.concat([d.subarray(0, 46), d.subarray(50)]).toString("hex");
      expect(rest(a.data)).toBe(rest(b.data));
    }
  });

  it("frames that are not UDP over IPv4, or too short for the headers", () => {
    const arp = P.ethernet({ proto: P.ETH_P_ARP, dst: P.macB, src: P.macA }, new Uint8Array(46));
    expect(both(arp).action).toBe("PASS");
    const icmp = P.ethernet({ proto: P.ETH_P_IP, dst: P.macB, src: P.macA }, P.ipv4({ protocol: P.IPPROTO_ICMP, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] }, P.icmpEcho()));
    expect(both(icmp).action).toBe("PASS");
    const short = P.truncate(frame(142, 60, 0), 38);
    expect(both(short).action).toBe("DROP");
    // The report needs 24 bytes after the UDP header in the packet: without them the writable slice is null.
    expect(both(P.truncate(frame(142, 60, 0), 60)).action).toBe("DROP");
  });
});
