/**
 * An AF_XDP socket for tests, by raw syscalls through koffi (no libxdp, so
 * nothing loads an XDP program behind the test's back): a UMEM of 4 KiB
 * chunks, its fill and completion rings, an RX ring, bound in copy mode
 * (XDP_COPY) to one queue of one device. Layouts are include/uapi/linux/if_xdp.h.
 *
 * Invariants: every chunk starts in the fill ring and goes back there once
 * its frame is read; `close()` unmaps everything and closes the fd (which
 * also takes the socket out of every XSKMAP), is idempotent, and runs on
 * every failure path of `openXsk` itself.
 */
import koffi from "koffi";
import type { LibraryHandle } from "koffi";

const AF_XDP = 44;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_XDP = 283;
const XDP_MMAP_OFFSETS = 1;
const XDP_RX_RING = 2;
const XDP_UMEM_REG = 4;
const XDP_UMEM_FILL_RING = 5;
const XDP_UMEM_COMPLETION_RING = 6;
const XDP_STATISTICS = 7;
const XDP_COPY = 1 << 1;
const XDP_PGOFF_RX_RING = 0;
const XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
const XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_POPULATE = 0x8000;
const MAP_FAILED = 0xffffffffffffffffn;

const CHUNK = 4096;
const FRAMES = 64;
const RING = 64; // entries of each ring, a power of two

type Fn = ReturnType<LibraryHandle["func"]>;
let libc: Record<"socket" | "close" | "setsockopt" | "getsockopt" | "bind" | "mmap" | "munmap", Fn> | undefined;

function c(): NonNullable<typeof libc> {
  if (!libc) {
    const lib = koffi.load("libc.so.6");
    libc = {
      socket: lib.func("socket", "int", ["int", "int", "int"]),
      close: lib.func("close", "int", ["int"]),
      setsockopt: lib.func("setsockopt", "int", ["int", "int", "int", "void *", "uint32_t"]),
      getsockopt: lib.func("getsockopt", "int", ["int", "int", "int", "void *", "void *"]),
      bind: lib.func("bind", "int", ["int", "void *", "uint32_t"]),
      mmap: lib.func("mmap", "void *", ["void *", "size_t", "int", "int", "int", "int64_t"]),
      munmap: lib.func("munmap", "int", ["void *", "size_t"]),
    };
  }
  return libc;
}

/** The call and errno of a failed syscall, as the test report should say it. */
export class XskError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: errno ${errno} (${errnoName(errno)})`);
  }
}

function errnoName(errno: number): string {
  const names: Record<number, string> = { 1: "EPERM", 12: "ENOMEM", 16: "EBUSY", 19: "ENODEV", 22: "EINVAL", 93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT" };
  return names[errno] ?? "?";
}

function socklen(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function check(call: string, rc: number): void {
  if (rc < 0) throw new XskError(call, koffi.errno());
}

/** A mapped ring: producer and consumer words, descriptors (8-byte addresses or 16-byte xdp_desc). */
interface Ring {
  producer: Uint32Array;
  consumer: Uint32Array;
  desc: DataView;
}

export interface XdpStatistics {
  rxDropped: bigint;
  rxInvalidDescs: bigint;
  rxRingFull: bigint;
  rxFillRingEmpty: bigint;
}

export interface XskSocket {
  readonly fd: number;
  /** Frames the RX ring holds now (their bytes), handing their chunks back to the fill ring. */
  receive(): Uint8Array[];
  /** Frames arriving until `count` are read or `ms` pass. */
  receiveFor(ms: number, count?: number): Promise<Uint8Array[]>;
  statistics(): XdpStatistics;
  close(): void;
}

/** An AF_XDP socket bound in copy mode to queue `queue` of `ifindex`, every chunk in the fill ring. */
export function openXsk(ifindex: number, queue = 0): XskSocket {
  const maps: { ptr: unknown; len: number }[] = [];
  let fd = -1;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const m of maps.reverse()) c().munmap(m.ptr, m.len);
    if (fd >= 0) c().close(fd);
  };
  const map = (call: string, len: number, prot: number, flags: number, mapFd: number, offset: number): ArrayBuffer => {
    const ptr = c().mmap(null, len, prot, flags, mapFd, offset);
    if (ptr === null || koffi.address(ptr) === MAP_FAILED) throw new XskError(call, koffi.errno());
    maps.push({ ptr, len });
    return koffi.view(ptr, len);
  };
  const setInt = (name: string, opt: number, value: number) => {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(value);
    check(`setsockopt(SOL_XDP, ${name}, ${value})`, c().setsockopt(fd, SOL_XDP, opt, v, 4) as number);
  };

  try {
    fd = c().socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0) as number;
    check("socket(AF_XDP, SOCK_RAW, 0)", fd);

    // The UMEM: page-aligned anonymous memory the kernel copies frames into.
    const umemLen = CHUNK * FRAMES;
    const umemPtr = c().mmap(null, umemLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (umemPtr === null || koffi.address(umemPtr) === MAP_FAILED) throw new XskError("mmap(UMEM)", koffi.errno());
    maps.push({ ptr: umemPtr, len: umemLen });
    const umem = new Uint8Array(koffi.view(umemPtr, umemLen));
    // struct xdp_umem_reg { u64 addr, len; u32 chunk_size, headroom, flags, tx_metadata_len; }
    const reg = Buffer.alloc(32);
    reg.writeBigUInt64LE(BigInt(koffi.address(umemPtr)), 0);
    reg.writeBigUInt64LE(BigInt(umemLen), 8);
    reg.writeUInt32LE(CHUNK, 16);
    check("setsockopt(SOL_XDP, XDP_UMEM_REG)", c().setsockopt(fd, SOL_XDP, XDP_UMEM_REG, reg, reg.length) as number);
    setInt("XDP_UMEM_FILL_RING", XDP_UMEM_FILL_RING, RING);
    setInt("XDP_UMEM_COMPLETION_RING", XDP_UMEM_COMPLETION_RING, RING);
    setInt("XDP_RX_RING", XDP_RX_RING, RING);

    // struct xdp_mmap_offsets: rx, tx, fr, cr, each { producer, consumer, desc, flags } (u64).
    const off = Buffer.alloc(128);
    check("getsockopt(SOL_XDP, XDP_MMAP_OFFSETS)", c().getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, off, socklen(off.length)) as number);
    const ring = (index: number, descSize: number, pgoff: number, name: string): Ring => {
      const base = index * 32;
      const [producer, consumer, desc] = [0, 8, 16].map((o) => Number(off.readBigUInt64LE(base + o))) as [number, number, number];
      const buf = map(`mmap(${name})`, desc + RING * descSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
      return { producer: new Uint32Array(buf, producer, 1), consumer: new Uint32Array(buf, consumer, 1), desc: new DataView(buf, desc, RING * descSize) };
    };
    const rx = ring(0, 16, XDP_PGOFF_RX_RING, "XDP_PGOFF_RX_RING");
    const fill = ring(2, 8, XDP_UMEM_PGOFF_FILL_RING, "XDP_UMEM_PGOFF_FILL_RING");
    // The completion ring is mapped only because bind wants it set up; nothing is sent.
    ring(3, 8, XDP_UMEM_PGOFF_COMPLETION_RING, "XDP_UMEM_PGOFF_COMPLETION_RING");

    const refill = (addrs: readonly bigint[]) => {
      let p = Atomics.load(fill.producer, 0);
      for (const a of addrs) {
        fill.desc.setBigUint64(((p & (RING - 1)) * 8), a, true);
        p = (p + 1) >>> 0;
      }
      // Descriptors first, then the producer (x86 keeps stores in order; Atomics says so anyway).
      Atomics.store(fill.producer, 0, p);
    };
    refill(Array.from({ length: Math.min(FRAMES, RING) }, (_, i) => BigInt(i * CHUNK)));

    // struct sockaddr_xdp { u16 family, flags; u32 ifindex, queue_id, shared_umem_fd; }
    const sa = Buffer.alloc(16);
    sa.writeUInt16LE(AF_XDP, 0);
    sa.writeUInt16LE(XDP_COPY, 2);
    sa.writeUInt32LE(ifindex, 4);
    sa.writeUInt32LE(queue, 8);
    check(`bind(AF_XDP, ifindex ${ifindex}, queue ${queue}, XDP_COPY)`, c().bind(fd, sa, sa.length) as number);

    const receive = (): Uint8Array[] => {
      if (closed) throw new Error("the AF_XDP socket is closed");
      const frames: Uint8Array[] = [];
      const done: bigint[] = [];
      let cons = Atomics.load(rx.consumer, 0);
      const prod = Atomics.load(rx.producer, 0);
      while (cons !== prod) {
        const at = (cons & (RING - 1)) * 16;
        const addr = rx.desc.getBigUint64(at, true); // struct xdp_desc { u64 addr; u32 len; u32 options; }
        const len = rx.desc.getUint32(at + 8, true);
        frames.push(umem.slice(Number(addr), Number(addr) + len));
        done.push(addr & ~BigInt(CHUNK - 1));
        cons = (cons + 1) >>> 0;
      }
      Atomics.store(rx.consumer, 0, cons);
      refill(done);
      return frames;
    };

    return {
      fd,
      receive,
      async receiveFor(ms: number, count = Infinity): Promise<Uint8Array[]> {
        const frames: Uint8Array[] = [];
        const end = Date.now() + ms;
        for (;;) {
          frames.push(...receive());
          if (frames.length >= count || Date.now() >= end) return frames;
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      statistics(): XdpStatistics {
        const s = Buffer.alloc(48);
        check("getsockopt(SOL_XDP, XDP_STATISTICS)", c().getsockopt(fd, SOL_XDP, XDP_STATISTICS, s, socklen(s.length)) as number);
        return { rxDropped: s.readBigUInt64LE(0), rxInvalidDescs: s.readBigUInt64LE(8), rxRingFull: s.readBigUInt64LE(24), rxFillRingEmpty: s.readBigUInt64LE(32) };
      },
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}
