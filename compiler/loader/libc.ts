/**
 * The few libc calls the attach side needs and Node does not offer: netlink
 * and ioctl sockets, close(2) for kernel fds, mount(2)/statfs(2) for bpffs.
 *
 * Invariants: nothing is opened at import time (like libbpf.ts); every call
 * returns the raw result plus errno read immediately after it, before any
 * other native call can overwrite it; callers own the fds they get and close
 * them with `closeFd`.
 */
import koffi from "koffi";
import type { LibraryHandle } from "koffi";

type KoffiFunction = ReturnType<LibraryHandle["func"]>;

interface Libc {
  socket: KoffiFunction;
  close: KoffiFunction;
  sendto: KoffiFunction;
  recv: KoffiFunction;
  setsockopt: KoffiFunction;
  ioctl: KoffiFunction;
  mount: KoffiFunction;
  statfs: KoffiFunction;
}

let libc: Libc | undefined;

function bind(): Libc {
  const lib = koffi.load("libc.so.6");
  return {
    socket: lib.func("socket", "int", ["int", "int", "int"]),
    close: lib.func("close", "int", ["int"]),
    sendto: lib.func("sendto", "intptr_t", ["int", "void *", "size_t", "int", "void *", "uint32_t"]),
    recv: lib.func("recv", "intptr_t", ["int", "void *", "size_t", "int"]),
    setsockopt: lib.func("setsockopt", "int", ["int", "int", "int", "void *", "uint32_t"]),
    // ioctl is variadic in glibc; declared as such so the call follows the variadic ABI.
    ioctl: lib.func("int ioctl(int, unsigned long, ...)"),
    mount: lib.func("mount", "int", ["const char *", "const char *", "const char *", "unsigned long", "void *"]),
    statfs: lib.func("statfs", "int", ["const char *", "void *"]),
  };
}

function c(): Libc {
  libc ??= bind();
  return libc;
}

export interface SysResult {
  rc: number;
  errno: number;
}

function call(fn: () => number | bigint): SysResult {
  const rc = Number(fn());
  return { rc, errno: rc < 0 ? koffi.errno() : 0 };
}

export const AF_INET = 2;
export const AF_NETLINK = 16;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;

export function socket(domain: number, type: number, protocol: number): SysResult {
  return call(() => c().socket(domain, type | SOCK_CLOEXEC, protocol) as number);
}

export function closeFd(fd: number): void {
  if (fd >= 0) c().close(fd);
}

/** A receive timeout, so a kernel that never answers cannot hang the CLI. */
export function setReceiveTimeout(fd: number, seconds: number): SysResult {
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(seconds), 0);
  return call(() => c().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length) as number);
}

/** Extended acks carry the kernel's text for a refusal; strict checking makes dumps honour filters. */
export function setNetlinkOptions(fd: number): void {
  const one = Buffer.alloc(4);
  one.writeInt32LE(1, 0);
  c().setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  c().setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4);
}

/** Sends one message to the kernel (netlink address pid 0). */
export function sendToKernel(fd: number, message: Buffer): SysResult {
  const sa = Buffer.alloc(12); // struct sockaddr_nl: family, pad, pid 0, groups 0
  sa.writeUInt16LE(AF_NETLINK, 0);
  return call(() => c().sendto(fd, message, message.length, 0, sa, sa.length) as bigint);
}

export function receive(fd: number, buffer: Buffer): SysResult {
  return call(() => c().recv(fd, buffer, buffer.length, 0) as bigint);
}

export function ioctlPtr(fd: number, request: number, arg: Buffer): SysResult {
  return call(() => c().ioctl(fd, request, "void *", arg) as number);
}

export function mountFs(source: string, target: string, fstype: string): SysResult {
  return call(() => c().mount(source, target, fstype, 0, null) as number);
}

/** f_type of the filesystem holding `path` (struct statfs starts with a long f_type). */
export function filesystemType(path: string): { type: bigint; errno: number } {
  const buf = Buffer.alloc(256);
  const r = call(() => c().statfs(path, buf) as number);
  return { type: r.rc === 0 ? buf.readBigInt64LE(0) : -1n, errno: r.errno };
}
