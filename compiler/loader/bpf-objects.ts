/**
 * BPF kernel objects by id and by fd: the libbpf calls the attach side makes
 * (links, netlink XDP attach, pins, id iteration), typed, plus the queries
 * built on them (program info, the XDP links of a device, who pinned or holds
 * a link).
 *
 * Invariants: every fd taken here (by id, by pin path) is closed before the
 * function returns unless it is handed to the caller, who then owns it; the
 * libbpf calls return -errno (libbpf 1.x convention), never throw, and their
 * log goes to the caller's capture. Struct layouts are those of the libbpf
 * 1.1 headers and linux/bpf.h; test/attach.test.ts checks them with gcc.
 */
import fs from "node:fs";
import path from "node:path";
import koffi from "koffi";
import type { TypeObject } from "koffi";
import { BpfProgInfo, libbpf, libbpfLibrary } from "./libbpf";
import type { BpfProgInfoStruct } from "./libbpf";
import { closeFd } from "./libc";

// linux/bpf.h, linux/if_link.h
export const BPF_XDP = 37; // enum bpf_attach_type
export const BPF_LINK_TYPE_XDP = 6;
export const BPF_F_REPLACE = 1 << 2;
export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_HW_MODE = 1 << 3;
export const XDP_FLAGS_REPLACE = 1 << 4;

/** struct bpf_link_create_opts (bpf.h, 1.1): 64 bytes; the union's members are unused for XDP. */
export const BpfLinkCreateOpts: TypeObject = koffi.struct({
  sz: "size_t",
  flags: "uint32_t",
  iter_info: "void *",
  iter_info_len: "uint32_t",
  target_btf_id: "uint32_t",
  _union: koffi.array("uint64_t", 4),
});
/** struct bpf_link_update_opts (bpf.h, 1.1): 16 bytes. */
export const BpfLinkUpdateOpts: TypeObject = koffi.struct({
  sz: "size_t",
  flags: "uint32_t",
  old_prog_fd: "uint32_t",
});
/** struct bpf_xdp_attach_opts (libbpf.h, 1.1): 16 bytes (trailing `size_t :0`). */
export const BpfXdpAttachOpts: TypeObject = koffi.struct({
  sz: "size_t",
  old_prog_fd: "int",
  _pad: "int",
});
/** struct bpf_link_info (linux/bpf.h): the fields read here; the buffer given to the kernel is larger. */
export const LINK_INFO = { size: 64, type: 0, id: 4, prog_id: 8, xdp_ifindex: 16 } as const;

interface Bindings {
  bpf_link_create(progFd: number, targetFd: number, attachType: number, opts: Record<string, unknown>): number;
  bpf_link_update(linkFd: number, newProgFd: number, opts: Record<string, unknown>): number;
  bpf_link_detach(linkFd: number): number;
  bpf_xdp_attach(ifindex: number, progFd: number, flags: number, opts: Record<string, unknown>): number;
  bpf_xdp_detach(ifindex: number, flags: number, opts: Record<string, unknown>): number;
  bpf_obj_pin(fd: number, path: string): number;
  bpf_obj_get(path: string): number;
  bpf_prog_get_next_id(start: number, next: [number]): number;
  bpf_link_get_next_id(start: number, next: [number]): number;
  bpf_prog_get_fd_by_id(id: number): number;
  bpf_link_get_fd_by_id(id: number): number;
  bpf_program__set_ifindex(prog: bigint, ifindex: number): void;
  bpf_program__flags(prog: bigint): number;
  bpf_program__set_flags(prog: bigint, flags: number): number;
}

let bound: Bindings | undefined;

export function bpf(): Bindings {
  if (bound) return bound;
  libbpf(); // installs the print callback first
  const lib = libbpfLibrary();
  const next = koffi.inout(koffi.pointer("uint32_t"));
  bound = {
    bpf_link_create: lib.func("bpf_link_create", "int", ["int", "int", "int", koffi.pointer(BpfLinkCreateOpts)]),
    bpf_link_update: lib.func("bpf_link_update", "int", ["int", "int", koffi.pointer(BpfLinkUpdateOpts)]),
    bpf_link_detach: lib.func("bpf_link_detach", "int", ["int"]),
    bpf_xdp_attach: lib.func("bpf_xdp_attach", "int", ["int", "int", "uint32_t", koffi.pointer(BpfXdpAttachOpts)]),
    bpf_xdp_detach: lib.func("bpf_xdp_detach", "int", ["int", "uint32_t", koffi.pointer(BpfXdpAttachOpts)]),
    bpf_obj_pin: lib.func("bpf_obj_pin", "int", ["int", "const char *"]),
    bpf_obj_get: lib.func("bpf_obj_get", "int", ["const char *"]),
    bpf_prog_get_next_id: lib.func("bpf_prog_get_next_id", "int", ["uint32_t", next]),
    bpf_link_get_next_id: lib.func("bpf_link_get_next_id", "int", ["uint32_t", next]),
    bpf_prog_get_fd_by_id: lib.func("bpf_prog_get_fd_by_id", "int", ["uint32_t"]),
    bpf_link_get_fd_by_id: lib.func("bpf_link_get_fd_by_id", "int", ["uint32_t"]),
    bpf_program__set_ifindex: lib.func("bpf_program__set_ifindex", "void", ["void *", "uint32_t"]),
    bpf_program__flags: lib.func("bpf_program__flags", "uint32_t", ["void *"]),
    bpf_program__set_flags: lib.func("bpf_program__set_flags", "int", ["void *", "uint32_t"]),
  };
  return bound;
}

export const linkCreateOpts = (flags: number) => ({ sz: koffi.sizeof(BpfLinkCreateOpts), flags, iter_info: null, iter_info_len: 0, target_btf_id: 0, _union: [0n, 0n, 0n, 0n] });
export const linkUpdateOpts = (oldProgFd: number | undefined) => ({ sz: koffi.sizeof(BpfLinkUpdateOpts), flags: oldProgFd !== undefined ? BPF_F_REPLACE : 0, old_prog_fd: oldProgFd ?? 0 });
export const xdpAttachOpts = (oldProgFd: number | undefined) => ({ sz: koffi.sizeof(BpfXdpAttachOpts), old_prog_fd: oldProgFd ?? 0, _pad: 0 });

/** Runs `fn` with an fd and always closes it. */
export function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}

export interface ProgramIdentity {
  id: number;
  name: string;
  tag: string;
}

export function programInfoByFd(fd: number): ProgramIdentity | undefined {
  const size = koffi.sizeof(BpfProgInfo);
  const buf = Buffer.alloc(size);
  if (libbpf().bpf_obj_get_info_by_fd(fd, buf, [size]) < 0) return undefined;
  const raw = koffi.decode(buf, BpfProgInfo) as BpfProgInfoStruct;
  return { id: raw.id, name: raw.name, tag: Buffer.from(raw.tag).toString("hex") };
}

/** An fd for program `id`, or -errno (ENOENT once it is gone). */
export function programFdById(id: number): number {
  return bpf().bpf_prog_get_fd_by_id(id);
}

export function programInfoById(id: number): ProgramIdentity | undefined {
  const fd = programFdById(id);
  return fd < 0 ? undefined : withFd(fd, programInfoByFd);
}

/** Ids of every loaded program (BPF_PROG_GET_NEXT_ID), for leak checks. */
export function loadedProgramIds(): number[] {
  const ids: number[] = [];
  const next: [number] = [0];
  for (let id = 0; bpf().bpf_prog_get_next_id(id, next) === 0; id = next[0]) ids.push(next[0]);
  return ids;
}

export interface LinkInfo {
  id: number;
  type: number;
  progId: number;
  /** for XDP links: the device, in the namespace the link was made in */
  ifindex: number;
}

export function linkInfoByFd(fd: number): LinkInfo | undefined {
  const buf = Buffer.alloc(LINK_INFO.size);
  if (libbpf().bpf_obj_get_info_by_fd(fd, buf, [LINK_INFO.size]) < 0) return undefined;
  const type = buf.readUInt32LE(LINK_INFO.type);
  return { id: buf.readUInt32LE(LINK_INFO.id), type, progId: buf.readUInt32LE(LINK_INFO.prog_id), ifindex: type === BPF_LINK_TYPE_XDP ? buf.readUInt32LE(LINK_INFO.xdp_ifindex) : 0 };
}

/**
 * Every live XDP link (BPF_LINK_GET_NEXT_ID). A link records only an ifindex,
 * not its namespace, so callers match on (ifindex, program id) together.
 */
export function xdpLinks(): LinkInfo[] {
  const out: LinkInfo[] = [];
  const next: [number] = [0];
  for (let id = 0; bpf().bpf_link_get_next_id(id, next) === 0; id = next[0]) {
    const fd = bpf().bpf_link_get_fd_by_id(next[0]);
    if (fd < 0) continue; // released between the two calls
    const info = withFd(fd, linkInfoByFd);
    if (info && info.type === BPF_LINK_TYPE_XDP && info.ifindex !== 0) out.push(info);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Who holds what: bpffs pins and process fds, found through fdinfo.

/** The `key:\tvalue` lines of an fdinfo file. */
function fdinfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

export interface PinnedObject {
  path: string;
  kind: "link" | "prog" | "map" | "other";
  /** link id for links, program id for programs */
  id: number;
}

/** Where bpffs is mounted in our mount namespace. */
export function bpffsMounts(): string[] {
  try {
    return fs
      .readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f[2] === "bpf" && f[1] !== undefined)
      .map((f) => f[1]!.replace(/\\040/g, " "));
  } catch {
    return [];
  }
}

/** What a pinned path holds, from the fdinfo of an fd opened on it. */
export function inspectPin(pinPath: string): PinnedObject | undefined {
  const fd = bpf().bpf_obj_get(pinPath);
  if (fd < 0) return undefined;
  return withFd(fd, (f) => {
    let info: Map<string, string>;
    try {
      info = fdinfo(fs.readFileSync(`/proc/self/fdinfo/${f}`, "utf8"));
    } catch {
      return { path: pinPath, kind: "other" as const, id: 0 };
    }
    if (info.has("link_id")) return { path: pinPath, kind: "link" as const, id: Number(info.get("link_id")) };
    if (info.has("prog_id")) return { path: pinPath, kind: "prog" as const, id: Number(info.get("prog_id")) };
    if (info.has("map_id")) return { path: pinPath, kind: "map" as const, id: Number(info.get("map_id")) };
    return { path: pinPath, kind: "other" as const, id: 0 };
  });
}

/**
 * Every pinned link and program under the bpffs mounts, a bounded walk
 * (depth 4, 5000 entries) so a huge bpffs cannot stall `status`.
 */
export function scanPins(): PinnedObject[] {
  const out: PinnedObject[] = [];
  let budget = 5000;
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (--budget < 0) return;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < 4) walk(p, depth + 1);
      } else if (e.isFile()) {
        const o = inspectPin(p);
        if (o && (o.kind === "link" || o.kind === "prog")) out.push(o);
      }
    }
  };
  for (const m of bpffsMounts()) walk(m, 1);
  return out;
}

export interface Holder {
  pid: number;
  command: string;
}

/** Processes holding an fd to link `linkId` (what keeps an unpinned link alive). */
export function linkHolders(linkIds: ReadonlySet<number>): Map<number, Holder[]> {
  const out = new Map<number, Holder[]>();
  if (linkIds.size === 0) return out;
  let pids: string[];
  try {
    pids = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== "anon_inode:bpf_link") continue;
        const id = Number(fdinfo(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8")).get("link_id"));
        if (!linkIds.has(id)) continue;
        let command = "";
        try {
          command = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
        } catch {
          /* exited meanwhile */
        }
        const list = out.get(id) ?? [];
        if (!list.some((h) => h.pid === Number(pid))) list.push({ pid: Number(pid), command });
        out.set(id, list);
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return out;
}
