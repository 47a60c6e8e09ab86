/**
 * bpf_probe_read_kernel/_user and their _str forms, and
 * bpf_get_current_task, run in the kernel: test/helpers/probe.ts and its C
 * twin test/helpers/probe.c read the running task's `comm` (its offset in
 * struct task_struct taken from the kernel's BTF) and bytes of this
 * process (a buffer allocated here); both must return the same results and
 * bytes, and those must be the thread's name as /proc shows it and the
 * buffer's contents. A bad address is no fault: -EFAULT, the buffer zeroed.
 * bpf_get_current_task_btf and bpf_task_pt_regs: the saved user registers
 * of the task running the test hold the system call it is in, bpf(2).
 */
import fs from "node:fs";
import koffi from "koffi";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { type LoadedObject, loadObject } from "../compiler/loader/index";
import { BTF_KIND, BtfTypes } from "../compiler/object/btf-types";
import { compileC, clang } from "./support/clang";
import { inCI, skipKernel } from "./support/kernel";

const EFAULT = -14;

/** Where struct task_struct keeps `comm`, by the running kernel's BTF. */
function commOffset(): number {
  const btf = new BtfTypes(new Uint8Array(fs.readFileSync("/sys/kernel/btf/vmlinux")));
  const task = btf.types.find((t) => t.kind === BTF_KIND.STRUCT && t.name === "task_struct");
  const comm = task?.members?.find((m) => m.name === "comm");
  if (!comm) throw new Error("no task_struct.comm in /sys/kernel/btf/vmlinux");
  return comm.bitOffset / 8;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Where struct pt_regs keeps the number of the system call being made, and the number of bpf(2), on this machine. */
function syscallSlot(): { offset: number; bpf: number } | undefined {
  const field = { x64: ["orig_ax", 321], arm64: ["syscallno", 280] }[process.arch as string] as [string, number] | undefined;
  if (!field) return undefined;
  const btf = new BtfTypes(new Uint8Array(fs.readFileSync("/sys/kernel/btf/vmlinux")));
  const regs = btf.types.find((t) => t.kind === BTF_KIND.STRUCT && t.name === "pt_regs");
  const m = regs?.members?.find((x) => x.name === field[0]);
  return m ? { offset: m.bitOffset / 8, bpf: field[1] } : undefined;
}

describe.skipIf(skipKernel)("probe_read helpers and bpf_get_current_task against their C twin", () => {
  const objects: LoadedObject[] = [];
  beforeAll(() => {
    const r = compile({ file: "test/helpers/probe.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    objects.push(loadObject(r.object!));
    if (clang) objects.push(loadObject(compileC(fs.readFileSync("test/helpers/probe.c", "utf8"))));
    else if (inCI) throw new Error("clang-14 is missing: .ci/run installs it");
  });
  afterAll(() => {
    for (const o of objects) o.close();
  });

  test("the running task's comm, as a string and as 8 bytes, is this thread's name", () => {
    const name = fs.readFileSync("/proc/thread-self/comm", "utf8").replace(/\n$/, "");
    const padded = Buffer.alloc(16);
    padded.write(name, "latin1");
    const f = new Uint8Array(56);
    Buffer.from(f.buffer).writeUInt32LE(commOffset(), 14);
    for (const obj of objects) {
      const run = obj.program("kernel").testRun({ data: f });
      expect(run.action).toBe("TX");
      const out = Buffer.from(run.data);
      expect(Number(out.readBigInt64LE(16))).toBe(name.length + 1);
      expect(hex(out.subarray(24, 40))).toBe(hex(padded));
      expect(Number(out.readBigInt64LE(40))).toBe(0);
      expect(hex(out.subarray(48, 56))).toBe(hex(padded.subarray(0, 8)));
    }
  });

  test("the task's saved user registers (bpf_get_current_task_btf, bpf_task_pt_regs) hold the system call being made: bpf(2)", () => {
    const slot = syscallSlot();
    if (!slot) throw new Error(`no known pt_regs system call field for ${process.arch}`);
    const f = new Uint8Array(32);
    Buffer.from(f.buffer).writeUInt32LE(slot.offset, 14);
    for (const obj of objects) {
      const out = Buffer.from(obj.program("regs").testRun({ data: f }).data);
      expect(Number(out.readBigInt64LE(16))).toBe(0);
      expect(Number(out.readBigUInt64LE(24))).toBe(slot.bpf);
    }
  });

  test("bytes and a string of this process, read at their address; a bad address gives -EFAULT and zeroes", () => {
    const mem = koffi.alloc("uint8_t", 32);
    try {
      const view = new Uint8Array(koffi.view(mem, 32));
      const address = BigInt(koffi.address(mem));
      const cases: { addr: bigint; bytes: number[] }[] = [
        { addr: address, bytes: [...Buffer.from("tsxdp\0"), ...Array.from({ length: 26 }, (_, i) => 0x40 + i)] },
        { addr: address + 8n, bytes: [...Buffer.from("0123456789abcdefghijklmnopqrstu")] },
        { addr: 8n, bytes: [] },
      ];
      for (const { addr, bytes } of cases) {
        view.fill(0);
        view.set(bytes);
        const at = Number(addr - address);
        const f = new Uint8Array(62);
        Buffer.from(f.buffer).writeBigUInt64LE(addr, 14);
        for (const obj of objects) {
          const out = Buffer.from(obj.program("user").testRun({ data: f }).data);
          if (bytes.length === 0) {
            expect([out.readBigInt64LE(22), out.readBigInt64LE(46)].map(Number)).toEqual([EFAULT, EFAULT]);
            expect(hex(out.subarray(30, 46)) + hex(out.subarray(54, 62))).toBe("00".repeat(24));
            continue;
          }
          expect(Number(out.readBigInt64LE(22))).toBe(0);
          expect(hex(out.subarray(30, 46))).toBe(hex(view.subarray(at, at + 16)));
          // The string: up to its NUL, or 7 bytes and a NUL put there by the helper.
          const nul = view.subarray(at, at + 8).indexOf(0);
          const len = nul >= 0 ? nul : 7;
          const want = Buffer.alloc(8);
          want.set(view.subarray(at, at + len));
          expect(Number(out.readBigInt64LE(46))).toBe(len + 1);
          expect(hex(out.subarray(54, 62))).toBe(hex(want));
        }
      }
    } finally {
      koffi.free(mem);
    }
  });
});
