/**
 * Attaching XDP programs to network devices, detaching them, and saying
 * what is attached where.
 *
 * Two methods, as the kernel offers them:
 * - a BPF link (BPF_LINK_CREATE, the default): the program stays while the
 *   link lives, i.e. while a process holds its fd or it is pinned in bpffs;
 *   the kernel never lets a link replace anything (dev_xdp_attach).
 * - netlink (IFLA_XDP through libbpf's bpf_xdp_attach): the device holds the
 *   program until someone detaches it.
 *
 * Invariants:
 * - Never replaces an attached program unless asked: by default netlink
 *   attaches carry XDP_FLAGS_UPDATE_IF_NOEXIST and links are exclusive
 *   anyway. `replace` swaps atomically, compare-and-swap on the program that
 *   was expected (bpf_link_update with BPF_F_REPLACE, or netlink
 *   XDP_FLAGS_REPLACE with old_prog_fd); `force` removes what is there.
 * - Never leaves a device half-configured: what can be checked without
 *   touching the device (pin path, program kind, offload support, the veth
 *   MTU rule) is checked first; when a step after the attach fails (pinning),
 *   the attach is undone; when `force` removed programs and the new attach
 *   then fails, the removed programs are put back (through netlink).
 * - Errors name the cause and the fix (AttachError), never a bare errno.
 */
import {
  bpf,
  linkCreateOpts,
  linkHolders,
  linkUpdateOpts,
  programFdById,
  programInfoByFd,
  programInfoById,
  scanPins,
  withFd,
  xdpAttachOpts,
  xdpLinks,
  inspectPin,
  linkInfoByFd,
  BPF_XDP,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_HW_MODE,
  XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
} from "./bpf-objects";
import type { Holder, LinkInfo, PinnedObject } from "./bpf-objects";
import { BpffsError, preparePinPath } from "./bpffs";
import { captureLibbpfLog, errnoName, libbpf, LibbpfLog } from "./libbpf";
import { closeFd } from "./libc";
import { findDevice, listDevices, receiveOffloads, vethPeer, xdpFeatures } from "./netdev";
import type { DeviceInfo, ReceiveOffloads, XdpFeatures, XdpMode } from "./netdev";
import fs from "node:fs";

export type { XdpMode } from "./netdev";
export type AttachMethod = "link" | "netlink";

/** What went wrong, for exit codes: `program` is the user's object; the rest is the machine. */
export type AttachErrorKind = "program" | "device" | "busy" | "privilege" | "environment";

export class AttachError extends Error {
  constructor(
    message: string,
    readonly kind: AttachErrorKind,
    readonly errno?: number,
  ) {
    super(message);
    this.name = "AttachError";
  }
  get code(): string | undefined {
    return this.errno !== undefined ? errnoName(this.errno) : undefined;
  }
}

/** The program to attach: a loaded program (LoadedProgram fits). */
export interface AttachableProgram {
  readonly name: string;
  readonly section: string;
  readonly fd: number;
}

export interface AttachOptions {
  /** device name or ifindex, in the caller's network namespace */
  device: string | number;
  /** default "native": never falls back to generic silently */
  mode?: XdpMode;
  /** default "link"; with `replace`, the existing attachment's method is used */
  method?: AttachMethod;
  /** bpffs path: pins the link (method link) or the program (method netlink) */
  pin?: string;
  /** swap the attached program atomically (the one attached now, or `expectedProgId`) */
  replace?: boolean;
  expectedProgId?: number;
  /** remove whatever is attached (in this mode, and in the exclusive native/generic other one) first */
  force?: boolean;
}

/** One program on a device, as `status` shows it. */
export interface AttachedProgram {
  mode: XdpMode;
  progId: number;
  name: string;
  tag: string;
  method: AttachMethod;
  linkId?: number;
  /** bpffs paths of the link (method link) or of the program */
  pinned: string[];
  /** processes holding the link open (for an unpinned link, what keeps it attached) */
  holders: Holder[];
}

export interface DeviceStatus {
  name: string;
  ifindex: number;
  mtu: number;
  kind?: string;
  /** undefined when the kernel cannot say (no `netdev` genetlink family) */
  features?: XdpFeatures;
  programs: AttachedProgram[];
}

export interface Attachment {
  readonly device: { name: string; ifindex: number };
  readonly mode: XdpMode;
  readonly method: AttachMethod;
  readonly program: { id: number; name: string; tag: string };
  readonly linkId?: number;
  readonly pinned?: string;
  /** programs this attach replaced or removed */
  readonly replaced: AttachedProgram[];
  /** true when only this process's link fd keeps the program attached: closing it detaches */
  readonly heldByProcess: boolean;
  /**
   * Removes the program from the device (a link: LINK_DETACH and its pin;
   * netlink: only if the device still runs this program). False when there
   * was nothing left to remove (replaced or detached by someone else).
   */
  detach(): boolean;
  /** releases this process's fds; an unpinned link made by this attach detaches with them */
  close(): void;
}

const MODE_FLAGS: Record<XdpMode, number> = { native: XDP_FLAGS_DRV_MODE, generic: XDP_FLAGS_SKB_MODE, offload: XDP_FLAGS_HW_MODE };
const ENOLINK = 67;
const EPERM = 1, ENOENT = 2, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22, ENOSPC = 28, ERANGE = 34, EOPNOTSUPP = 95, ENOTCONN = 107, EACCES = 13;

const PRIVILEGE_FIX = "run as root, or grant CAP_BPF and CAP_NET_ADMIN (and CAP_SYS_ADMIN to mount bpffs)";

function describe(errno: number): string {
  let text = `error ${errno}`;
  try {
    text = libbpf().strerror(errno);
  } catch {
    /* libbpf missing: the name is enough */
  }
  const name = errnoName(errno);
  return name ? `${text} [${name}]` : text;
}

// ---------------------------------------------------------------------------
// Device state

function resolveDevice(device: string | number): DeviceInfo {
  if (typeof device === "string" && /^\d+$/.test(device)) device = Number(device);
  const dev = findDevice(device);
  if (!dev) {
    throw new AttachError(`no network device '${String(device)}' in this network namespace (see: ip link)`, "device", ENODEV);
  }
  return dev;
}

interface Context {
  links: LinkInfo[];
  pins?: PinnedObject[];
}

function describeAttached(dev: DeviceInfo, ctx: Context, withHolders: boolean): AttachedProgram[] {
  const out: AttachedProgram[] = [];
  for (const mode of ["native", "generic", "offload"] as const) {
    const progId = dev.xdp[mode];
    if (progId === 0) continue;
    const info = programInfoById(progId);
    // An XDP link names only an ifindex; with the program id as well a link
    // made in another namespace cannot be mistaken for ours.
    const link = ctx.links.find((l) => l.ifindex === dev.ifindex && l.progId === progId);
    const pinned = (ctx.pins ?? []).filter((p) => (link ? p.kind === "link" && p.id === link.id : p.kind === "prog" && p.id === progId)).map((p) => p.path);
    const entry: AttachedProgram = { mode, progId, name: info?.name ?? "?", tag: info?.tag ?? "", method: link ? "link" : "netlink", pinned, holders: [] };
    if (link) entry.linkId = link.id;
    out.push(entry);
  }
  if (withHolders) {
    const ids = new Set(out.flatMap((p) => (p.linkId !== undefined ? [p.linkId] : [])));
    const holders = linkHolders(ids);
    for (const p of out) if (p.linkId !== undefined) p.holders = holders.get(p.linkId) ?? [];
  }
  return out;
}

function summary(p: AttachedProgram): string {
  const how =
    p.method === "link"
      ? `BPF link ${p.linkId}${p.pinned.length ? ` pinned at ${p.pinned.join(", ")}` : p.holders.length ? ` held by ${p.holders.map((h) => `pid ${h.pid}`).join(", ")}` : ""}`
      : `netlink${p.pinned.length ? `, program pinned at ${p.pinned.join(", ")}` : ""}`;
  return `program ${p.progId} '${p.name}' (${p.mode}, ${how})`;
}

/** What is attached to a device, per mode. */
export function attachedPrograms(device: string | number): AttachedProgram[] {
  const dev = resolveDevice(device);
  return describeAttached(dev, { links: xdpLinks(), pins: scanPins() }, true);
}

/**
 * XDP state of the devices of this namespace: with `device`, that device
 * (also without programs); otherwise every device running an XDP program.
 */
export function xdpStatus(opts: { device?: string | number; all?: boolean } = {}): DeviceStatus[] {
  const devices = opts.device !== undefined ? [resolveDevice(opts.device)] : listDevices();
  const chosen = devices.filter((d) => opts.device !== undefined || opts.all === true || d.xdp.native + d.xdp.generic + d.xdp.offload > 0);
  if (chosen.length === 0) return [];
  const features = xdpFeatures();
  const anyPrograms = chosen.some((d) => d.xdp.native + d.xdp.generic + d.xdp.offload > 0);
  const ctx: Context = anyPrograms ? { links: xdpLinks(), pins: scanPins() } : { links: [] };
  return chosen.map((d) => {
    const s: DeviceStatus = { name: d.name, ifindex: d.ifindex, mtu: d.mtu, programs: describeAttached(d, ctx, true) };
    if (d.kind !== undefined) s.kind = d.kind;
    const f = features?.get(d.ifindex);
    if (f) s.features = f;
    return s;
  });
}

// ---------------------------------------------------------------------------
// Diagnosis

/** veth's rule (veth_xdp_set): without frags the peer's MTU must fit one page after headroom and skb_shared_info. */
export const VETH_XDP_MAX_MTU = 4096 - 256 - 320 - 14;

export interface AttachFacts {
  device: DeviceInfo;
  peer?: DeviceInfo | undefined;
  features?: XdpFeatures | undefined;
  offloads?: ReceiveOffloads | undefined;
  program: { name: string; section: string };
  mode: XdpMode;
}

const isFrags = (section: string) => section.startsWith("xdp.frags");

function gatherFacts(dev: DeviceInfo, program: AttachableProgram, mode: XdpMode): AttachFacts {
  const quiet = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return {
    device: dev,
    peer: quiet(() => vethPeer(dev)),
    features: quiet(() => xdpFeatures()?.get(dev.ifindex)),
    offloads: quiet(() => receiveOffloads(dev.name)),
    program: { name: program.name, section: program.section },
    mode,
  };
}

/** Offload needs the driver's hw-offload feature; known before even loading the program for the device. */
export function offloadRefusal(device: string | number): AttachError | undefined {
  const dev = resolveDevice(device);
  const features = xdpFeatures()?.get(dev.ifindex);
  if (!features || features.offload) return undefined;
  return new AttachError(
    `device ${dev.name} cannot run offloaded XDP programs: its driver does not report hw-offload (xdp-features: ${features.names.join(" ") || "none"}); use --mode native${features.native ? "" : " or --mode generic"}`,
    "device",
    EOPNOTSUPP,
  );
}

/** Refusals decided before the device is touched. */
export function checkBeforeAttach(f: AttachFacts): AttachError | undefined {
  const { device: dev, program: prog } = f;
  const kind = /^xdp(\.frags)?\/(devmap|cpumap)/.exec(prog.section)?.[2];
  if (kind) {
    return new AttachError(
      `program '${prog.name}' is a ${kind} program (section ${prog.section}): it runs from a ${kind} entry, not on a device; attach a program declared with xdp(…) or xdp.frags(…)`,
      "program",
      EINVAL,
    );
  }
  if (f.mode === "offload" && f.features && !f.features.offload) {
    return new AttachError(
      `device ${dev.name} cannot run offloaded XDP programs: its driver does not report hw-offload (xdp-features: ${f.features.names.join(" ") || "none"}); use --mode native${f.features.native ? "" : " or --mode generic"}`,
      "device",
      EOPNOTSUPP,
    );
  }
  if (f.mode === "native" && !isFrags(prog.section) && f.peer && f.peer.mtu > VETH_XDP_MAX_MTU) {
    return new AttachError(
      `cannot attach '${prog.name}' to ${dev.name} in native mode: its veth peer ${f.peer.name} has MTU ${f.peer.mtu}, above ${VETH_XDP_MAX_MTU}, the most veth allows for an XDP program without frags; ` +
        `fix: ip link set dev ${f.peer.name} mtu ${VETH_XDP_MAX_MTU} (or lower), or declare the program with xdp.frags(…) (section xdp.frags)`,
      "device",
      ERANGE,
    );
  }
  return undefined;
}

/** The explanation of a refused attach: the likely cause from the device's facts, and the fix. */
export function explainAttachFailure(errno: number, f: AttachFacts, kernelMessage?: string): AttachError {
  const { device: dev, program: prog } = f;
  const said = kernelMessage ? ` (kernel: ${kernelMessage})` : "";
  const head = `cannot attach '${prog.name}' to ${dev.name} in ${f.mode} mode: ${describe(errno)}${said}`;
  const frags = isFrags(prog.section);
  const offloadFix = (o: ReceiveOffloads) =>
    [o.lro ? "lro" : "", o.groHw ? "rx-gro-hw" : ""].filter(Boolean);
  if (errno === EPERM || errno === EACCES) return new AttachError(`${head}; ${PRIVILEGE_FIX}`, "privilege", errno);
  if (errno === ENODEV) return new AttachError(`${head}; the device disappeared`, "device", errno);
  if (errno === ENOTCONN) return new AttachError(`${head}; the veth has no peer (its other end was deleted)`, "device", errno);
  if (errno === ENOSPC && dev.kind === "veth") {
    return new AttachError(`${head}; veth needs at least as many rx queues as its peer has tx queues: recreate the pair with matching numrxqueues/numtxqueues`, "device", errno);
  }
  if (f.mode === "offload" && (errno === EOPNOTSUPP || errno === EINVAL)) {
    return new AttachError(`${head}; the device cannot offload this program: use --mode native or --mode generic`, "device", errno);
  }
  const causes: string[] = [];
  const on = f.offloads ? offloadFix(f.offloads) : [];
  if (on.length > 0 && f.mode === "native") causes.push(`${on.join(" and ")} ${on.length > 1 ? "are" : "is"} on, which drivers refuse with XDP: ethtool -K ${dev.name} ${on.map((x) => `${x} off`).join(" ")}`);
  if (!frags && f.mode === "native" && (errno === EINVAL || errno === ERANGE || errno === EOPNOTSUPP)) {
    const peer = f.peer;
    if (peer && peer.mtu > VETH_XDP_MAX_MTU) {
      causes.push(`the veth peer ${peer.name} has MTU ${peer.mtu}, above ${VETH_XDP_MAX_MTU}, the most for XDP without frags: ip link set dev ${peer.name} mtu ${VETH_XDP_MAX_MTU}, or declare the program with xdp.frags(…)`);
    } else if (errno === ERANGE && dev.kind === "veth") {
      causes.push(`the veth peer's MTU is above ${VETH_XDP_MAX_MTU}, the most for XDP without frags: lower it, or declare the program with xdp.frags(…)`);
    } else if (dev.mtu > 1500) {
      causes.push(
        `${dev.name} has MTU ${dev.mtu}; drivers take XDP programs without frags only up to a driver-specific MTU (often 1500 to 4096): ip link set dev ${dev.name} mtu 1500, or declare the program with xdp.frags(…)`,
      );
    }
  }
  if (errno === EBUSY && !frags) {
    causes.push(`if the device splits headers from data (ethtool -g ${dev.name}: tcp-data-split), it needs a frags-aware program: declare it with xdp.frags(…), or ethtool -G ${dev.name} tcp-data-split off`);
  }
  if (errno === EOPNOTSUPP && f.mode === "native") {
    causes.push(
      f.features && !f.features.native
        ? `the driver of ${dev.name} has no native XDP (xdp-features: ${f.features.names.join(" ") || "none"}): use --mode generic`
        : `the driver of ${dev.name} may not support native XDP: try --mode generic`,
    );
  }
  if (causes.length === 0) return new AttachError(head, errno === EINVAL || errno === EOPNOTSUPP ? "device" : "environment", errno);
  return new AttachError(`${head}\n${causes.map((c) => `  likely cause: ${c}`).join("\n")}`, "device", errno);
}

function busyError(dev: DeviceInfo, existing: AttachedProgram[], mode: XdpMode): AttachError {
  const list = existing.map(summary).join("; ");
  const sameMode = existing.some((p) => p.mode === mode);
  const fix = sameMode
    ? "use --replace to swap it atomically, or --force to remove it first"
    : `native and generic XDP cannot be attached at the same time: detach it (tsxdp detach --dev ${dev.name}) or use --force`;
  return new AttachError(`${dev.name} already runs XDP ${list}: ${fix}`, "busy", EBUSY);
}

// ---------------------------------------------------------------------------
// Attach

/** libbpf's netlink path prints the kernel's extended ack; it is the best explanation there is. */
function kernelMessage(log: LibbpfLog): string | undefined {
  const m = /Kernel error message: (.*)/.exec(log.text);
  return m?.[1]?.trim();
}

class AttachmentImpl implements Attachment {
  readonly device: { name: string; ifindex: number };
  private closed = false;
  constructor(
    dev: DeviceInfo,
    readonly mode: XdpMode,
    readonly method: AttachMethod,
    readonly program: { id: number; name: string; tag: string },
    /** our own reference to the program, for a compare-and-swap detach */
    private progFd: number,
    private linkFd: number,
    readonly linkId: number | undefined,
    readonly pinned: string | undefined,
    readonly replaced: AttachedProgram[],
    readonly heldByProcess: boolean,
  ) {
    this.device = { name: dev.name, ifindex: dev.ifindex };
  }

  detach(): boolean {
    if (this.closed) throw new Error(`detach(): the attachment of '${this.program.name}' to ${this.device.name} is closed`);
    const log = new LibbpfLog();
    if (this.method === "link") {
      const rc = captureLibbpfLog(log, () => bpf().bpf_link_detach(this.linkFd));
      // ENOLINK: the link was detached already (device gone, or someone else's detach).
      if (rc < 0 && -rc !== ENOLINK) throw new AttachError(`detaching link ${this.linkId} from ${this.device.name}: ${describe(-rc)}`, -rc === EPERM ? "privilege" : "environment", -rc);
      if (this.pinned) unpinIfSame(this.pinned, "link", this.linkId!);
      this.close();
      return rc === 0;
    }
    // REPLACE with our fd as the expected program: never removes a program someone swapped in since.
    const rc = captureLibbpfLog(log, () => bpf().bpf_xdp_detach(this.device.ifindex, MODE_FLAGS[this.mode] | XDP_FLAGS_REPLACE, xdpAttachOpts(this.progFd)));
    if (rc < 0 && -rc !== EEXIST && -rc !== ENODEV) throw new AttachError(`detaching '${this.program.name}' from ${this.device.name}: ${describe(-rc)}`, -rc === EPERM ? "privilege" : "environment", -rc);
    if (this.pinned) unpinIfSame(this.pinned, "prog", this.program.id);
    this.close();
    return rc === 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.linkFd);
    closeFd(this.progFd);
    this.linkFd = -1;
    this.progFd = -1;
  }
}

function unpinIfSame(pinPath: string, kind: "link" | "prog", id: number): void {
  const o = inspectPin(pinPath);
  if (o && o.kind === kind && o.id === id) fs.rmSync(pinPath, { force: true });
}

function pinFd(fd: number, pinPath: string): void {
  const rc = bpf().bpf_obj_pin(fd, pinPath);
  if (rc < 0) throw new AttachError(`pinning at ${pinPath}: ${describe(-rc)}`, -rc === EPERM ? "privilege" : "environment", -rc);
}

/** Removes one attached program whatever its method; returns an fd to it for a possible restore. */
function removeAttached(dev: DeviceInfo, p: AttachedProgram): number {
  const keep = programFdById(p.progId);
  if (p.method === "link") {
    const lfd = bpf().bpf_link_get_fd_by_id(p.linkId!);
    if (lfd >= 0) {
      const rc = withFd(lfd, (fd) => bpf().bpf_link_detach(fd));
      if (rc < 0 && -rc !== ENOLINK) throw new AttachError(`removing ${summary(p)} from ${dev.name}: ${describe(-rc)}`, -rc === EPERM ? "privilege" : "environment", -rc);
    }
    // A pin of a detached link keeps a dead link alive for nothing.
    for (const pin of p.pinned) unpinIfSame(pin, "link", p.linkId!);
  } else {
    const rc = bpf().bpf_xdp_detach(dev.ifindex, MODE_FLAGS[p.mode] | XDP_FLAGS_REPLACE, xdpAttachOpts(keep >= 0 ? keep : undefined));
    if (rc < 0 && -rc !== EEXIST) {
      closeFd(keep);
      throw new AttachError(`removing ${summary(p)} from ${dev.name}: ${describe(-rc)}`, -rc === EPERM ? "privilege" : "environment", -rc);
    }
  }
  return keep;
}

/** Attaches `program` to a device; see AttachOptions and the invariants above. */
export function attachXdp(program: AttachableProgram, opts: AttachOptions): Attachment {
  const mode = opts.mode ?? "native";
  if (!(mode in MODE_FLAGS)) throw new AttachError(`unknown mode '${String(mode)}' (native, generic or offload)`, "environment", EINVAL);
  if (opts.replace && opts.force) throw new AttachError("--replace and --force exclude each other: --replace swaps atomically, --force removes first", "environment", EINVAL);
  if (program.fd < 0) throw new AttachError(`program '${program.name}' belongs to a closed object`, "program", EINVAL);
  const dev = resolveDevice(opts.device);
  const facts = gatherFacts(dev, program, mode);
  const early = checkBeforeAttach(facts);
  if (early) throw early;

  const pinPath = opts.pin !== undefined ? preparePin(opts.pin) : undefined;
  const existing = describeAttached(dev, { links: xdpLinks(), pins: scanPins() }, false);
  const sameMode = existing.filter((p) => p.mode === mode);
  // Native and generic exclude each other (dev_xdp_attach); offload coexists with both.
  const conflicting = existing.filter((p) => p.mode === mode || (mode !== "offload" && p.mode !== "offload"));

  if (opts.replace) return replaceAttached(program, dev, mode, opts, sameMode[0], pinPath, facts);
  if (conflicting.length > 0 && !opts.force) throw busyError(dev, conflicting, mode);

  const method = opts.method ?? "link";
  const newFd = program.fd;
  const removed: { entry: AttachedProgram; fd: number }[] = [];
  const log = new LibbpfLog();
  let rc: number;
  // A netlink attach over a netlink program in the same mode swaps atomically
  // by itself (no UPDATE_IF_NOEXIST); everything else is removed first.
  const atomicForce = opts.force === true && method === "netlink" && conflicting.length === 1 && conflicting[0]!.method === "netlink" && conflicting[0]!.mode === mode;
  try {
    if (opts.force && !atomicForce) {
      for (const p of conflicting) removed.push({ entry: p, fd: removeAttached(dev, p) });
    }
    if (method === "link") {
      rc = captureLibbpfLog(log, () => bpf().bpf_link_create(newFd, dev.ifindex, BPF_XDP, linkCreateOpts(MODE_FLAGS[mode])));
    } else {
      const flags = MODE_FLAGS[mode] | (atomicForce ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST);
      rc = captureLibbpfLog(log, () => bpf().bpf_xdp_attach(dev.ifindex, newFd, flags, xdpAttachOpts(undefined)));
    }
  } catch (e) {
    restore(dev, removed);
    throw e;
  }
  if (rc < 0) {
    restore(dev, removed);
    const errno = -rc;
    if (errno === EBUSY || errno === EEXIST) {
      const now = describeAttached(resolveDevice(dev.ifindex), { links: xdpLinks(), pins: scanPins() }, true);
      if (now.length > 0) throw busyError(dev, now, mode);
    }
    throw explainAttachFailure(errno, facts, kernelMessage(log));
  }
  for (const r of removed) closeFd(r.fd);

  const linkFd = method === "link" ? rc : -1;
  const info = programInfoByFd(newFd);
  const progFd = info ? programFdById(info.id) : -1;
  const linkId = linkFd >= 0 ? linkIdOf(linkFd) : undefined;
  const attachment = new AttachmentImpl(
    dev,
    mode,
    method,
    info ?? { id: 0, name: program.name, tag: "" },
    progFd,
    linkFd,
    linkId,
    pinPath,
    [...removed.map((r) => r.entry), ...(atomicForce ? conflicting : [])],
    method === "link" && pinPath === undefined,
  );
  if (pinPath !== undefined) {
    try {
      pinFd(method === "link" ? linkFd : newFd, pinPath);
    } catch (e) {
      // An attach without the pin that was asked for would outlive or
      // vanish unexpectedly; undo it.
      try {
        attachment.detach();
      } catch {
        attachment.close();
      }
      throw e;
    }
  }
  return attachment;
}

function linkIdOf(linkFd: number): number | undefined {
  return linkInfoByFd(linkFd)?.id;
}

function preparePin(pin: string): string {
  try {
    return preparePinPath(pin);
  } catch (e) {
    if (e instanceof BpffsError) throw new AttachError(e.message, e.errno === EPERM ? "privilege" : "environment", e.errno);
    throw e;
  }
}

/** After a failed forced attach: put back what was removed, through netlink (a link cannot be re-created for its owner). */
function restore(dev: DeviceInfo, removed: { entry: AttachedProgram; fd: number }[]): void {
  for (const r of removed) {
    if (r.fd >= 0) bpf().bpf_xdp_attach(dev.ifindex, r.fd, MODE_FLAGS[r.entry.mode] | XDP_FLAGS_UPDATE_IF_NOEXIST, xdpAttachOpts(undefined));
    closeFd(r.fd);
  }
}

function replaceAttached(
  program: AttachableProgram,
  dev: DeviceInfo,
  mode: XdpMode,
  opts: AttachOptions,
  current: AttachedProgram | undefined,
  pinPath: string | undefined,
  facts: AttachFacts,
): Attachment {
  if (!current) {
    throw new AttachError(`nothing is attached to ${dev.name} in ${mode} mode, so there is nothing to replace (attach without --replace)`, "device", ENOENT);
  }
  const expected = opts.expectedProgId ?? current.progId;
  if (expected !== current.progId) {
    throw new AttachError(`${dev.name} runs ${summary(current)}, not the expected program ${expected}: nothing replaced`, "busy", EEXIST);
  }
  if (opts.method !== undefined && opts.method !== current.method) {
    throw new AttachError(
      `${dev.name} runs ${summary(current)}; an atomic replace keeps its method (${current.method}), so drop ${opts.method === "netlink" ? "--netlink" : "the link request"} or use --force`,
      "busy",
      EBUSY,
    );
  }
  const oldFd = programFdById(expected);
  if (oldFd < 0) throw new AttachError(`program ${expected} went away while replacing it on ${dev.name}; check with: tsxdp status --dev ${dev.name}`, "busy", -oldFd);
  const log = new LibbpfLog();
  let linkFd = -1;
  try {
    let rc: number;
    if (current.method === "link") {
      linkFd = bpf().bpf_link_get_fd_by_id(current.linkId!);
      if (linkFd < 0) throw new AttachError(`link ${current.linkId} on ${dev.name} went away while replacing its program`, "busy", -linkFd);
      rc = captureLibbpfLog(log, () => bpf().bpf_link_update(linkFd, program.fd, linkUpdateOpts(oldFd)));
      // bpf_xdp_link_update answers EPERM when the link's program is not the expected one.
      if (rc === -EPERM && resolveDevice(dev.ifindex).xdp[mode] !== expected) {
        throw new AttachError(`${dev.name}'s link ${current.linkId} no longer runs program ${expected}: nothing replaced`, "busy", EEXIST);
      }
    } else {
      rc = captureLibbpfLog(log, () => bpf().bpf_xdp_attach(dev.ifindex, program.fd, MODE_FLAGS[mode] | XDP_FLAGS_REPLACE, xdpAttachOpts(oldFd)));
      if (rc === -EEXIST) throw new AttachError(`${dev.name} no longer runs program ${expected} (${kernelMessage(log) ?? "changed meanwhile"}): nothing replaced`, "busy", EEXIST);
    }
    if (rc < 0) throw explainAttachFailure(-rc, facts, kernelMessage(log));
  } catch (e) {
    closeFd(linkFd);
    throw e;
  } finally {
    closeFd(oldFd);
  }
  const info = programInfoByFd(program.fd) ?? { id: 0, name: program.name, tag: "" };
  const attachment = new AttachmentImpl(dev, mode, current.method, info, programFdById(info.id), linkFd, current.linkId, pinPath, [current], false);
  if (pinPath !== undefined) {
    try {
      pinFd(current.method === "link" ? linkFd : program.fd, pinPath);
    } catch (e) {
      attachment.close(); // the swap itself stands; only the extra pin failed
      throw e;
    }
  }
  return attachment;
}

// ---------------------------------------------------------------------------
// Detach

export interface DetachOptions {
  device?: string | number;
  /** only this mode (default: every mode) */
  mode?: XdpMode;
  /** a pinned link (detached and unpinned) or pinned program (detached from the devices running it, unpinned) */
  pin?: string;
  /** refuse unless this program is the one attached */
  expectedProgId?: number;
}

export interface DetachResult {
  device?: string;
  detached: AttachedProgram[];
  unpinned: string[];
}

export function detachXdp(opts: DetachOptions): DetachResult {
  if (opts.pin !== undefined) return detachPinned(opts.pin, opts);
  if (opts.device === undefined) throw new AttachError("detach needs a device or a pin path", "environment", EINVAL);
  const dev = resolveDevice(opts.device);
  const attached = describeAttached(dev, { links: xdpLinks(), pins: scanPins() }, false).filter((p) => opts.mode === undefined || p.mode === opts.mode);
  if (opts.expectedProgId !== undefined && !attached.some((p) => p.progId === opts.expectedProgId)) {
    throw new AttachError(`${dev.name} does not run program ${opts.expectedProgId}${attached.length ? ` (it runs ${attached.map(summary).join("; ")})` : ""}: nothing detached`, "busy", ENOENT);
  }
  const result: DetachResult = { device: dev.name, detached: [], unpinned: [] };
  for (const p of attached) {
    if (opts.expectedProgId !== undefined && p.progId !== opts.expectedProgId) continue;
    closeFd(removeAttached(dev, p));
    result.detached.push(p);
    result.unpinned.push(...p.pinned.filter((x) => p.method === "link" && !fs.existsSync(x)));
  }
  return result;
}

function detachPinned(pinPath: string, opts: DetachOptions): DetachResult {
  const o = inspectPin(pinPath);
  if (!o) {
    const why = fs.existsSync(pinPath) ? "it is not a BPF object (or not on bpffs)" : "nothing is pinned there";
    throw new AttachError(`cannot detach ${pinPath}: ${why}`, "environment", ENOENT);
  }
  if (o.kind !== "link" && o.kind !== "prog") throw new AttachError(`cannot detach ${pinPath}: it is a pinned ${o.kind}, not a link or a program`, "environment", EINVAL);
  const devices = opts.device !== undefined ? [resolveDevice(opts.device)] : listDevices();
  const links = xdpLinks();
  const result: DetachResult = { detached: [], unpinned: [] };
  if (o.kind === "link") {
    const link = links.find((l) => l.id === o.id);
    const dev = link ? devices.find((d) => d.ifindex === link.ifindex && Object.values(d.xdp).includes(link.progId)) : undefined;
    if (dev) {
      const entry = describeAttached(dev, { links, pins: [o] }, false).find((p) => p.linkId === o.id);
      if (entry) result.detached.push(entry);
      result.device = dev.name;
    }
    const fd = bpf().bpf_obj_get(pinPath);
    if (fd >= 0) {
      const rc = withFd(fd, (f) => bpf().bpf_link_detach(f));
      if (rc < 0 && -rc !== ENOLINK) throw new AttachError(`detaching the link pinned at ${pinPath}: ${describe(-rc)}`, -rc === EPERM ? "privilege" : "environment", -rc);
    }
  } else {
    for (const dev of devices) {
      for (const p of describeAttached(dev, { links, pins: [o] }, false)) {
        if (p.progId !== o.id || p.method !== "netlink" || (opts.mode && p.mode !== opts.mode)) continue;
        closeFd(removeAttached(dev, p));
        result.detached.push(p);
        result.device = dev.name;
      }
    }
  }
  fs.rmSync(pinPath, { force: true });
  result.unpinned.push(pinPath);
  return result;
}

export { summary as describeAttachedProgram };
