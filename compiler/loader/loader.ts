/**
 * Minimal BPF object loader over libbpf: open an ELF object (file or bytes),
 * load all of its programs, then expose them for BPF_PROG_TEST_RUN, info
 * queries and pinning.
 *
 * Design invariants:
 * - Ownership is all-or-nothing: `loadObject` either returns a LoadedObject
 *   that owns the libbpf object and every native buffer it needed, or it has
 *   already released all of them and throws. `close()` releases everything
 *   exactly once, so no kernel fd or native allocation can outlive it.
 * - Memory that libbpf keeps a pointer to across calls (the ELF image, the
 *   per-program verifier log buffers) is allocated with koffi.alloc, never
 *   taken from a JS buffer that V8 could move or collect.
 * - A failed load always carries the kernel's explanation: if the failing
 *   program's verifier log came back empty, the object is reopened and loaded
 *   once more at log level 1 purely to obtain it; if the log buffer was too
 *   small (ENOSPC), the load is retried with a larger buffer.
 */
import koffi from "koffi";
import { basename } from "node:path";
import {
  BPF_PROG_TYPE_XDP,
  BpfObjectOpenOpts,
  BpfProgInfo,
  BpfTestRunOpts,
  LibbpfLog,
  XdpMd,
  captureLibbpfLog,
  errnoName,
  libbpf,
} from "./libbpf";
import type { BpfProgInfoStruct, BpfTestRunOptsStruct, Ptr } from "./libbpf";
import { bpf } from "./bpf-objects";
import { collectMaps, findMap, u32Key } from "./maps";
import type { LoadedMap } from "./maps";
import { applyRodata, decodeRodata, rodataInitialValue, rodataLayout } from "./rodata";
import type { RodataValue } from "./rodata";
import type { Decoded } from "../object/btf-types";
import { kfuncs } from "../dialect/kfuncs";

export interface LoadOptions {
  /** kernel verifier log level for each program: 0 none (default; on failure the load is retried once at level 1 to get the log), 1, 2 */
  logLevel?: 0 | 1 | 2;
  /** object name shown by the kernel (default: derived from file name or "tsxdp") */
  name?: string;
  /** ifindex of the device that will run the programs offloaded (`attachXdp` mode "offload"): the kernel verifies and translates them for that device at load */
  offloadIfindex?: number;
  /**
   * ifindex of the device the programs will run on, bound to it
   * (BPF_F_XDP_DEV_BOUND_ONLY): they may then read the device's RX metadata
   * (`bpf_xdp_metadata_rx_hash`, `_rx_timestamp`, `_rx_vlan_tag`, which
   * otherwise return -EOPNOTSUPP) and attach to that device only, in native mode.
   */
  deviceBoundIfindex?: number;
  /**
   * `.rodata` variables (C `const volatile` globals, `config<T>()` in
   * TypeScript) to set between open and load, by name: a number or bigint
   * (range-checked for the variable's BTF type; `__beNN` typedefs take the
   * host-order value and store network order), a boolean, raw bytes of the
   * variable's exact size, or text as `tsxdp map set` parses it ("0x35",
   * "10.0.0.1" for a `__be32`, "hex:…"). A name the object lacks or a value
   * that does not fit throws RodataError (listing the variables) and loads nothing.
   */
  rodata?: Readonly<Record<string, RodataValue>>;
}

export interface ProgramInfo {
  id: number;
  name: string;
  type: number;
  tag: string;
  btfId: number;
  nrFuncInfo: number;
  nrLineInfo: number;
  nrJitedLineInfo: number;
  xlatedProgLen: number;
  jitedProgLen: number;
  verifiedInsns: number;
}

export interface TestRunOptions {
  data: Uint8Array;
  repeat?: number;
  /** default data.length + 512 */
  dataSizeOut?: number;
  /** `dataMeta` is the number of leading bytes of `data` handed to the program as metadata */
  ctxIn?: { ingressIfindex?: number; rxQueueIndex?: number; dataMeta?: number };
  flags?: number;
}

export type XdpActionName = "ABORTED" | "DROP" | "PASS" | "TX" | "REDIRECT" | `UNKNOWN(${number})`;

export interface TestRunResult {
  retval: number;
  action: XdpActionName;
  /** output packet, exactly data_size_out bytes */
  data: Uint8Array;
  durationNs: number;
  /**
   * With `ctxIn` (and not live frames): how many leading bytes of `data` are
   * metadata after the run, which bpf_xdp_adjust_meta() may have changed
   * (ctx_out, filled by xdp_convert_buff_to_md() in net/bpf/test_run.c).
   */
  dataMeta?: number;
}

export interface LoadedProgram {
  readonly name: string;
  readonly section: string;
  /** the program fd; -1 once the object is closed */
  readonly fd: number;
  /** verifier log of a successful load (empty unless logLevel > 0) */
  readonly verifierLog: string;
  info(): ProgramInfo;
  testRun(opts: TestRunOptions): TestRunResult;
  pin(path: string): void;
}

export interface LoadedObject {
  readonly programs: readonly LoadedProgram[];
  /** throws if absent */
  program(name: string): LoadedProgram;
  /** every map of the object, the internal ones (.rodata/.data/.bss) included, named as libbpf names them */
  readonly maps: readonly LoadedMap[];
  /** by libbpf name, or an internal map by its section (".bss"); throws if absent */
  map(name: string): LoadedMap;
  /** the `.rodata` variables as loaded, decoded by BTF like `tsxdp map dump` (empty when there are none) */
  rodata(): Record<string, Decoded>;
  readonly libbpfLog: string;
  close(): void;
}

export class LoadError extends Error {
  readonly errno: number;
  readonly libbpfLog: string;
  readonly verifierLog: string;
  readonly program?: string;
  /** Kfuncs the object calls that the running kernel's BTF lacks: libbpf refused the load before the verifier saw it. */
  readonly missingKfuncs: readonly string[];

  constructor(
    message: string,
    details: { errno: number; libbpfLog: string; verifierLog: string; program?: string | undefined; missingKfuncs?: readonly string[] },
  ) {
    super(message);
    this.name = "LoadError";
    this.errno = details.errno;
    this.libbpfLog = details.libbpfLog;
    this.verifierLog = details.verifierLog;
    if (details.program !== undefined) this.program = details.program;
    this.missingKfuncs = details.missingKfuncs ?? [];
  }
}

/** A failed bpf() operation after a successful load (test run, info, pin). */
export class BpfError extends Error {
  readonly errno: number;
  /** symbolic errno, e.g. "EINVAL" */
  readonly code: string | undefined;

  constructor(operation: string, errno: number, hint?: string) {
    super(`${operation}: ${describeErrno(errno)}${hint ? ` (${hint})` : ""}`);
    this.name = "BpfError";
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

const EINVAL = 22;
const ENOSPC = 28;
const ETH_HLEN = 14;
const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
/** prog_flags: an XDP program bound to the device of prog_ifindex, not offloaded to it (uapi/linux/bpf.h). */
const BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6;

/** First verifier log buffer per program; grown on ENOSPC up to the kernel's cap. */
const INITIAL_LOG_SIZE = 1 << 20;
const MAX_LOG_SIZE = 256 << 20;
const LOG_GROWTH = 8;

const XDP_ACTIONS = ["ABORTED", "DROP", "PASS", "TX", "REDIRECT"] as const;

function describeErrno(errno: number): string {
  const name = errnoName(errno);
  let text: string;
  try {
    text = libbpf().strerror(errno);
  } catch {
    text = `error ${errno}`;
  }
  return name ? `${text} [${name}, errno ${errno}]` : `${text} [errno ${errno}]`;
}

function deriveObjectName(path: string): string {
  const base = basename(path);
  const dot = base.indexOf(".");
  const stem = (dot > 0 ? base.slice(0, dot) : base).replace(/[^A-Za-z0-9_]/g, "_");
  return stem || "tsxdp";
}

function readCString(ptr: Ptr): string {
  return koffi.decode.string(ptr);
}

function allocBytes(size: number): Ptr {
  return koffi.alloc("uint8_t", Math.max(1, size)) as Ptr;
}

function nativeBytes(ptr: Ptr, size: number): Uint8Array {
  return new Uint8Array(koffi.view(ptr, size));
}

// ---------------------------------------------------------------------------
// One load attempt

interface NativeProgram {
  ptr: Ptr;
  name: string;
  section: string;
  type: number;
  logBuf: Ptr;
}

interface AttemptConfig {
  source: string | Uint8Array;
  objectName: string;
  logLevel: number;
  logSize: number;
  offloadIfindex: number | undefined;
  deviceBoundIfindex: number | undefined;
  rodata: Readonly<Record<string, RodataValue>> | undefined;
}

type Attempt =
  | {
      ok: true;
      obj: Ptr;
      elfCopy: Ptr | null;
      programs: { ptr: Ptr; name: string; section: string; type: number; fd: number; verifierLog: string }[];
      log: LibbpfLog;
    }
  | {
      ok: false;
      errno: number;
      log: LibbpfLog;
      program: string | undefined;
      verifierLog: string;
      /** some program's log filled its whole buffer */
      logFull: boolean;
      /** failed in open (bad ELF, missing file) rather than in load */
      atOpen: boolean;
    };

function attemptLoad(cfg: AttemptConfig): Attempt {
  const lb = libbpf();
  const log = new LibbpfLog();
  const openOpts = { sz: koffi.sizeof(BpfObjectOpenOpts), object_name: cfg.objectName };

  let elfCopy: Ptr | null = null;
  let obj: Ptr | null = null;
  const natives: NativeProgram[] = [];
  const freeLogs = () => {
    for (const p of natives) koffi.free(p.logBuf);
    natives.length = 0;
  };
  const releaseAll = () => {
    if (obj !== null) captureLibbpfLog(log, () => lb.bpf_object__close(obj!));
    obj = null;
    freeLogs();
    if (elfCopy !== null) koffi.free(elfCopy);
    elfCopy = null;
  };

  try {
    const source = cfg.source;
    if (typeof source !== "string") {
      // libelf parses the image in place; a copy we own cannot be moved,
      // resized or reused by the caller while libbpf still looks at it.
      elfCopy = allocBytes(source.length);
      nativeBytes(elfCopy, source.length).set(source);
    }
    const copy = elfCopy;
    // libbpf 1.x reports open failures as NULL + errno; read errno right
    // after the call, before any other native call can overwrite it.
    const opened = captureLibbpfLog(log, () => {
      const o =
        typeof source === "string"
          ? lb.bpf_object__open_file(source, openOpts)
          : lb.bpf_object__open_mem(copy!, source.length, openOpts);
      return { o, errno: o === null ? lb.errno() : 0 };
    });
    if (opened.o === null) {
      releaseAll();
      return { ok: false, errno: opened.errno || EINVAL, log, program: undefined, verifierLog: "", logFull: false, atOpen: true };
    }
    const handle: Ptr = opened.o;
    obj = handle;

    for (let p = lb.bpf_object__next_program(handle, null); p !== null; p = lb.bpf_object__next_program(handle, p)) {
      const native: NativeProgram = {
        ptr: p,
        name: lb.bpf_program__name(p),
        section: lb.bpf_program__section_name(p),
        type: lb.bpf_program__type(p),
        logBuf: allocBytes(cfg.logSize),
      };
      natives.push(native);
      // An empty string marks "no log" for programs the kernel never wrote to.
      nativeBytes(native.logBuf, 1)[0] = 0;
      // Even at level 0 the buffer is installed: libbpf reloads a failing
      // program at level 1 into it, which is how the verifier log is kept.
      let rc = lb.bpf_program__set_log_buf(p, native.logBuf, cfg.logSize);
      if (rc === 0) rc = lb.bpf_program__set_log_level(p, cfg.logLevel);
      if (rc < 0) throw new BpfError(`configuring the verifier log of program '${native.name}'`, -rc);
      if (cfg.offloadIfindex !== undefined) bpf().bpf_program__set_ifindex(p, cfg.offloadIfindex);
      if (cfg.deviceBoundIfindex !== undefined) {
        bpf().bpf_program__set_ifindex(p, cfg.deviceBoundIfindex);
        rc = bpf().bpf_program__set_flags(p, bpf().bpf_program__flags(p) | BPF_F_XDP_DEV_BOUND_ONLY);
        if (rc < 0) throw new BpfError(`binding program '${native.name}' to a device`, -rc);
      }
    }
    // Between open and load: the only moment libbpf lets .rodata change.
    if (cfg.rodata !== undefined) captureLibbpfLog(log, () => applyRodata(handle, cfg.rodata!));

    const rc = captureLibbpfLog(log, () => lb.bpf_object__load(handle));
    if (rc === 0) {
      const programs = natives.map((n) => ({
        ptr: n.ptr,
        name: n.name,
        section: n.section,
        type: n.type,
        fd: lb.bpf_program__fd(n.ptr),
        verifierLog: cfg.logLevel > 0 ? readCString(n.logBuf) : "",
      }));
      // libbpf only writes the log buffers while loading, and an object can
      // be loaded only once, so they can go now rather than live until close.
      freeLogs();
      const loaded = { ok: true as const, obj: handle, elfCopy: copy, programs, log };
      obj = null;
      elfCopy = null;
      return loaded;
    }

    const failed = findFailingProgram(log, natives);
    const verifierLog = failed ? readCString(failed.logBuf) : "";
    const logFull = natives.some((n) => Buffer.byteLength(readCString(n.logBuf)) >= cfg.logSize - 2);
    releaseAll();
    return { ok: false, errno: -rc, log, program: failed?.name, verifierLog, logFull, atOpen: false };
  } catch (e) {
    releaseAll();
    throw e;
  }
}

/**
 * libbpf stops at the first program the kernel refuses and names it in a
 * warning; at log level 0 that program is also the only one with a log.
 */
function findFailingProgram(log: LibbpfLog, natives: NativeProgram[]): NativeProgram | undefined {
  const warnings = log.warningText;
  const named = [...warnings.matchAll(/prog '([^']+)'/g)].map((m) => m[1]);
  for (let i = named.length - 1; i >= 0; i--) {
    const hit = natives.find((n) => n.name === named[i]);
    if (hit) return hit;
  }
  return natives.find((n) => readCString(n.logBuf) !== "");
}

/** The verifier's reason for a rejection: the last lines before its statistics. */
function verifierReason(text: string): string[] {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  let end = lines.length;
  while (end > 0 && /^(processed \d+ insns|verification time|stack depth)/.test(lines[end - 1]!)) end--;
  return lines.slice(Math.max(0, end - 2), end);
}

// ---------------------------------------------------------------------------
// Public API

export function loadObject(source: string | Uint8Array, opts: LoadOptions = {}): LoadedObject {
  if (typeof source !== "string" && !(source instanceof Uint8Array)) {
    throw new TypeError("loadObject: source must be a file path or the object's bytes");
  }
  const logLevel = opts.logLevel ?? 0;
  if (logLevel !== 0 && logLevel !== 1 && logLevel !== 2) {
    throw new RangeError(`loadObject: logLevel must be 0, 1 or 2 (got ${String(logLevel)})`);
  }
  const objectName = opts.name ?? (typeof source === "string" ? deriveObjectName(source) : "tsxdp");

  if (opts.rodata !== undefined && (opts.rodata === null || typeof opts.rodata !== "object")) {
    throw new TypeError("loadObject: rodata must be an object of variable names to values");
  }
  const bound = opts.deviceBoundIfindex;
  if (bound !== undefined && (!Number.isInteger(bound) || bound <= 0 || opts.offloadIfindex !== undefined)) {
    throw new RangeError("loadObject: deviceBoundIfindex is a device's ifindex (a positive integer), and not with offloadIfindex");
  }
  let cfg: AttemptConfig = { source, objectName, logLevel, logSize: INITIAL_LOG_SIZE, offloadIfindex: opts.offloadIfindex, deviceBoundIfindex: bound, rodata: opts.rodata };
  let attempt = attemptLoad(cfg);

  // Truncated logs make the kernel fail the load itself with ENOSPC.
  while (!attempt.ok && attempt.errno === ENOSPC && attempt.logFull && cfg.logSize < MAX_LOG_SIZE) {
    cfg = { ...cfg, logSize: Math.min(cfg.logSize * LOG_GROWTH, MAX_LOG_SIZE) };
    attempt = attemptLoad(cfg);
  }

  if (attempt.ok) return new Loaded(attempt.obj, attempt.elfCopy, attempt.programs, attempt.log);

  let { verifierLog, program } = attempt;
  let libbpfLog = attempt.log.text;
  if (!attempt.atOpen && verifierLog === "" && logLevel === 0) {
    // Only to explain the failure: the errno reported stays the original one.
    const retry = attemptLoad({ ...cfg, logLevel: 1 });
    if (!retry.ok && retry.verifierLog !== "") {
      verifierLog = retry.verifierLog;
      program = retry.program ?? program;
      libbpfLog += retry.log.text;
    } else if (retry.ok) {
      closeQuietly(retry);
    }
  }

  const errno = attempt.errno;
  const what = attempt.atOpen ? "cannot open BPF object" : "cannot load BPF object";
  const subject = typeof source === "string" ? `${what} '${source}'` : `${what} '${objectName}'`;
  // libbpf resolves kfuncs against the kernel's BTF before loading: its bare errno would not say which one.
  const missingKfuncs = [...new Set([...libbpfLog.matchAll(/extern \(func ksym\) '([^']+)': not found in kernel or module BTFs/g)].map((m) => m[1]!))];
  const reason =
    missingKfuncs.length > 0
      ? missingKfuncs.map((k) => `the running kernel has no kfunc '${k}' (not in its BTF${kfuncs.get(k)?.requires ? `: it is built without ${kfuncs.get(k)!.requires}` : ""})`).join("; ")
      : describeErrno(errno);
  const message =
    `${subject}${program !== undefined ? `, program '${program}'` : ""}: ${reason}` +
    verifierReason(verifierLog).map((line) => `\n  verifier: ${line}`).join("");
  throw new LoadError(message, { errno, libbpfLog, verifierLog, program, missingKfuncs });
}

function closeQuietly(attempt: Extract<Attempt, { ok: true }>): void {
  const lb = libbpf();
  captureLibbpfLog(attempt.log, () => lb.bpf_object__close(attempt.obj));
  if (attempt.elfCopy !== null) koffi.free(attempt.elfCopy);
}

class Loaded implements LoadedObject {
  readonly programs: readonly LoadedProgram[];
  readonly maps: readonly LoadedMap[];
  private obj: Ptr | null;
  private elfCopy: Ptr | null;
  private readonly log: LibbpfLog;

  constructor(
    obj: Ptr,
    elfCopy: Ptr | null,
    programs: { ptr: Ptr; name: string; section: string; type: number; fd: number; verifierLog: string }[],
    log: LibbpfLog,
  ) {
    this.obj = obj;
    this.elfCopy = elfCopy;
    this.log = log;
    this.programs = Object.freeze(programs.map((p) => new Program(this, p.ptr, p.name, p.section, p.type, p.fd, p.verifierLog)));
    try {
      this.maps = Object.freeze(collectMaps(this, obj));
    } catch (e) {
      // The caller never receives this object, so nobody else could close it.
      this.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.obj === null;
  }

  get libbpfLog(): string {
    return this.log.text;
  }

  /** Runs a libbpf call with its output appended to this object's log. */
  capture<T>(fn: () => T): T {
    return captureLibbpfLog(this.log, fn);
  }

  program(name: string): LoadedProgram {
    const found = this.programs.find((p) => p.name === name);
    if (!found) {
      const known = this.programs.map((p) => `'${p.name}'`).join(", ") || "none";
      throw new Error(`no program named '${name}' in this object (programs: ${known})`);
    }
    return found;
  }

  map(name: string): LoadedMap {
    return findMap(this.maps, this.obj, name);
  }

  rodata(): Record<string, Decoded> {
    if (this.obj === null) throw new Error("rodata(): the object is closed");
    const layout = rodataLayout(this.obj);
    if (layout === undefined) return {};
    // The kernel's frozen map is the truth; libbpf's copy is what it was created from.
    let bytes: Uint8Array | undefined;
    try {
      bytes = findMap(this.maps, this.obj, layout.mapName).lookup(u32Key(0));
    } catch {
      bytes = undefined;
    }
    bytes ??= rodataInitialValue(layout);
    return bytes === undefined ? {} : decodeRodata(layout, bytes);
  }

  close(): void {
    const obj = this.obj;
    if (obj === null) return;
    this.obj = null;
    this.capture(() => libbpf().bpf_object__close(obj));
    if (this.elfCopy !== null) koffi.free(this.elfCopy);
    this.elfCopy = null;
  }
}

class Program implements LoadedProgram {
  constructor(
    private readonly owner: Loaded,
    private readonly ptr: Ptr,
    readonly name: string,
    readonly section: string,
    private readonly progType: number,
    private readonly progFd: number,
    readonly verifierLog: string,
  ) {}

  get fd(): number {
    return this.owner.closed ? -1 : this.progFd;
  }

  private liveFd(operation: string): number {
    if (this.owner.closed) throw new Error(`${operation}: program '${this.name}' belongs to a closed object`);
    return this.progFd;
  }

  info(): ProgramInfo {
    const fd = this.liveFd("info()");
    const size = koffi.sizeof(BpfProgInfo);
    // Zeroed on purpose: non-zero pointer/count fields would ask the kernel
    // to copy instruction dumps into memory we never provided.
    const buf = Buffer.alloc(size);
    const len: [number] = [size];
    const rc = this.owner.capture(() => libbpf().bpf_obj_get_info_by_fd(fd, buf, len));
    if (rc < 0) throw new BpfError(`bpf_obj_get_info_by_fd(program '${this.name}')`, -rc);
    const raw = koffi.decode(buf, BpfProgInfo) as BpfProgInfoStruct;
    return {
      id: raw.id,
      name: raw.name,
      type: raw.type,
      tag: Buffer.from(raw.tag).toString("hex"),
      btfId: raw.btf_id,
      nrFuncInfo: raw.nr_func_info,
      nrLineInfo: raw.nr_line_info,
      nrJitedLineInfo: raw.nr_jited_line_info,
      xlatedProgLen: raw.xlated_prog_len,
      jitedProgLen: raw.jited_prog_len,
      verifiedInsns: raw.verified_insns,
    };
  }

  testRun(opts: TestRunOptions): TestRunResult {
    const fd = this.liveFd("testRun()");
    const operation = `test run of program '${this.name}'`;
    const data = opts.data;
    if (!(data instanceof Uint8Array)) throw new TypeError(`${operation}: data must be a Uint8Array`);
    const isXdp = this.progType === BPF_PROG_TYPE_XDP;
    if (isXdp && data.length < ETH_HLEN) {
      throw new BpfError(operation, EINVAL, `XDP test runs need at least ${ETH_HLEN} bytes (ETH_HLEN), got ${data.length}`);
    }
    const flags = opts.flags ?? 0;
    // Live-frame mode sends packets for real; the kernel refuses an output buffer then.
    const live = isXdp && (flags & BPF_F_TEST_XDP_LIVE_FRAMES) !== 0;
    // Headroom for programs that grow the frame (adjust_head/adjust_tail).
    // Multi-buffer frames are copied back whole (linear part + frags), so the
    // default stays proportional to the input rather than one page.
    const outCap = live ? 0 : (opts.dataSizeOut ?? data.length + 512);
    if (!Number.isInteger(outCap) || outCap < 0) throw new RangeError(`${operation}: dataSizeOut must be a non-negative integer`);

    let inPtr: Ptr | null = null;
    let outPtr: Ptr | null = null;
    let ctxPtr: Ptr | null = null;
    let ctxOutPtr: Ptr | null = null;
    try {
      inPtr = allocBytes(data.length);
      nativeBytes(inPtr, data.length).set(data);
      if (outCap > 0) outPtr = allocBytes(outCap);
      if (opts.ctxIn) {
        ctxPtr = allocBytes(koffi.sizeof(XdpMd));
        // The kernel's convention: `data` is the metadata length, `data_end`
        // the whole input, `data_meta` must be zero.
        koffi.encode(ctxPtr, XdpMd, {
          data: opts.ctxIn.dataMeta ?? 0,
          data_end: data.length,
          data_meta: 0,
          ingress_ifindex: opts.ctxIn.ingressIfindex ?? 0,
          rx_queue_index: opts.ctxIn.rxQueueIndex ?? 0,
          egress_ifindex: 0,
        });
        // The kernel refuses ctx_out with live frames, and fills it only when a ctx_in was given.
        if (!live) ctxOutPtr = allocBytes(koffi.sizeof(XdpMd));
      }
      const runOpts: BpfTestRunOptsStruct = {
        sz: koffi.sizeof(BpfTestRunOpts),
        data_in: inPtr,
        data_out: outPtr,
        data_size_in: data.length,
        data_size_out: outCap,
        ctx_in: ctxPtr,
        ctx_out: ctxOutPtr,
        ctx_size_in: ctxPtr !== null ? koffi.sizeof(XdpMd) : 0,
        ctx_size_out: ctxOutPtr !== null ? koffi.sizeof(XdpMd) : 0,
        retval: 0,
        repeat: opts.repeat ?? 1,
        duration: 0,
        flags,
        cpu: 0,
        batch_size: 0,
      };
      const rc = this.owner.capture(() => libbpf().bpf_prog_test_run_opts(fd, runOpts));
      if (rc < 0) {
        const errno = -rc;
        let hint: string | undefined;
        if (errno === ENOSPC) hint = `output of ${runOpts.data_size_out} bytes does not fit dataSizeOut=${outCap}`;
        throw new BpfError(operation, errno, hint);
      }
      const outLen = Math.min(runOpts.data_size_out, outCap);
      const out = outPtr !== null && outLen > 0 ? nativeBytes(outPtr, outLen).slice() : new Uint8Array(0);
      const retval = runOpts.retval;
      return {
        retval,
        action: isXdp && retval < XDP_ACTIONS.length ? XDP_ACTIONS[retval]! : `UNKNOWN(${retval})`,
        data: out,
        durationNs: runOpts.duration,
        ...(ctxOutPtr !== null ? { dataMeta: (koffi.decode(ctxOutPtr, XdpMd) as { data: number }).data } : {}),
      };
    } finally {
      if (inPtr !== null) koffi.free(inPtr);
      if (outPtr !== null) koffi.free(outPtr);
      if (ctxPtr !== null) koffi.free(ctxPtr);
      if (ctxOutPtr !== null) koffi.free(ctxOutPtr);
    }
  }

  pin(path: string): void {
    this.liveFd("pin()");
    const rc = this.owner.capture(() => libbpf().bpf_program__pin(this.ptr, path));
    if (rc < 0) throw new BpfError(`pinning program '${this.name}' at '${path}'`, -rc);
  }
}
