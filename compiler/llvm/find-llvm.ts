/**
 * Finds a libLLVM that this process can load and that has the BPF backend.
 *
 * Invariant: every shared library this module opens stays referenced for the
 * life of the process (see `openLibrary`). koffi unloads a library whose
 * handle is garbage-collected, and dlclose on libLLVM runs its static
 * destructors under live handles; keeping one handle per path also lets
 * llvm-c.ts reuse the probe's handle instead of opening the file twice.
 */
import fs from "node:fs";
import path from "node:path";
import koffi from "koffi";
import type { LibraryHandle } from "koffi";

export interface FoundLLVM {
  /** What to pass to dlopen: an absolute file when it could be resolved. */
  readonly path: string;
  /** Major version of the library (14, 15, …). */
  readonly version: number;
}

export interface FindLLVMOptions {
  /** Accept only this major version (tests use it to pin 14 or 15). */
  readonly version?: number;
  /** Defaults to process.env; tests pass their own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** One library that was tried, and why it was not taken. */
export interface Attempt {
  readonly candidate: string;
  readonly reason: string;
}

export const MIN_LLVM_VERSION = 14;
export const MAX_LLVM_VERSION = 21;

const INSTALL_HINT =
  "Install Debian's `libllvm14` (apt-get install libllvm14), or any libLLVM >= 14 built with the BPF target, " +
  "or set TSXDP_LIBLLVM to the path of such a libLLVM shared library.";

export class LLVMNotFoundError extends Error {
  readonly tried: readonly Attempt[];
  constructor(message: string, tried: readonly Attempt[]) {
    super(message);
    this.name = "LLVMNotFoundError";
    this.tried = tried;
  }
}

const libraries = new Map<string, LibraryHandle>();

/** Opens (once per name) and keeps a library for the life of the process. */
export function openLibrary(file: string): LibraryHandle {
  let lib = libraries.get(file);
  if (!lib) {
    lib = koffi.load(file);
    libraries.set(file, lib);
  }
  return lib;
}

/** Candidate file names for one major version, most specific first. */
export function candidatesFor(v: number): string[] {
  return [
    `libLLVM.so.${v}.1`,
    `libLLVM-${v}.so.1`,
    `libLLVM-${v}.so`,
    `libLLVM.so.${v}`,
    `/usr/lib/llvm-${v}/lib/libLLVM.so`,
    `/usr/lib/llvm-${v}/lib/libLLVM-${v}.so`,
  ];
}

export function findLLVM(options: FindLLVMOptions = {}): FoundLLVM {
  const env = options.env ?? process.env;
  const tried: Attempt[] = [];

  const explicit = env.TSXDP_LIBLLVM;
  if (explicit !== undefined && explicit !== "") {
    const r = probe(explicit);
    if ("reason" in r) {
      tried.push({ candidate: explicit, reason: r.reason });
      throw new LLVMNotFoundError(
        `TSXDP_LIBLLVM=${explicit} is not a usable libLLVM: ${r.reason}. ` +
          `Point TSXDP_LIBLLVM at a libLLVM >= ${MIN_LLVM_VERSION} built with the BPF target (on Debian: apt-get install libllvm14), or unset it to search the standard locations.`,
        tried,
      );
    }
    if (options.version !== undefined && r.version !== options.version) {
      tried.push({ candidate: explicit, reason: `is LLVM ${r.version}, not ${options.version}` });
      throw new LLVMNotFoundError(`TSXDP_LIBLLVM=${explicit} is LLVM ${r.version}, but LLVM ${options.version} was asked for.`, tried);
    }
    return r;
  }

  const versions = versionOrder(options.version, env.TSXDP_LLVM_VERSION);
  for (const v of versions) {
    for (const candidate of candidatesFor(v)) {
      // Checked before dlopen: cheaper, and a clearer reason than dlopen's.
      if (path.isAbsolute(candidate) && !fs.existsSync(candidate)) {
        tried.push({ candidate, reason: "no such file" });
        continue;
      }
      const r = probe(candidate, v);
      if ("reason" in r) {
        tried.push({ candidate, reason: r.reason });
      } else if (options.version !== undefined && r.version !== options.version) {
        // A name that lies about its version (a hand-made symlink) is fine
        // unless a specific version was asked for.
        tried.push({ candidate, reason: `is LLVM ${r.version}` });
      } else {
        return r;
      }
    }
  }

  const wanted = options.version !== undefined ? `LLVM ${options.version}` : `libLLVM ${MAX_LLVM_VERSION}..${MIN_LLVM_VERSION}`;
  const interesting = tried.filter((t) => t.reason !== "no such file" && !t.reason.startsWith("cannot load: cannot open shared object file"));
  const listed = tried.map((t) => t.candidate).join(", ");
  const details = interesting.length > 0 ? `\nFound but unusable:\n${interesting.map((t) => `  ${t.candidate}: ${t.reason}`).join("\n")}` : "";
  throw new LLVMNotFoundError(`No usable ${wanted} with the BPF target was found.\nTried: ${listed}.${details}\n${INSTALL_HINT}`, tried);
}

function versionOrder(only: number | undefined, preferred: string | undefined): number[] {
  if (only !== undefined) return [only];
  const all: number[] = [];
  for (let v = MAX_LLVM_VERSION; v >= MIN_LLVM_VERSION; v--) all.push(v);
  if (preferred === undefined || preferred === "") return all;
  const p = Number(preferred);
  // A typo here would otherwise silently pick another version.
  if (!Number.isInteger(p)) throw new Error(`TSXDP_LLVM_VERSION=${preferred} is not an LLVM major version (e.g. 14)`);
  return [p, ...all.filter((v) => v !== p)];
}

type ProbeResult = FoundLLVM | { reason: string };

/**
 * Loads `file` and checks that it is an LLVM with the BPF target, and which
 * major version it is. `hint` is the version the candidate's name promised.
 */
function probe(file: string, hint?: number): ProbeResult {
  let lib: LibraryHandle;
  try {
    lib = openLibrary(file);
  } catch (e) {
    return { reason: `cannot load: ${firstLine(e)}` };
  }
  if (!hasSymbol(lib, "LLVMContextCreate")) return { reason: "not a libLLVM (no LLVMContextCreate)" };
  if (!hasSymbol(lib, "LLVMInitializeBPFTarget")) return { reason: "built without the BPF target (no LLVMInitializeBPFTarget)" };

  const resolved = mappedFile(lib, "LLVMContextCreate") ?? file;
  const version = versionOf(lib, file, resolved, hint);
  if (version === undefined) return { reason: "cannot tell its version" };
  if (version < MIN_LLVM_VERSION) return { reason: `LLVM ${version} is too old (need >= ${MIN_LLVM_VERSION})` };
  return { path: resolved, version };
}

function hasSymbol(lib: LibraryHandle, name: string): boolean {
  try {
    return lib.symbol(name) != null;
  } catch {
    return false;
  }
}

function versionOf(lib: LibraryHandle, file: string, resolved: string, hint: number | undefined): number | undefined {
  // LLVMGetVersion exists from LLVM 16 on; it is the only authoritative source.
  if (hasSymbol(lib, "LLVMGetVersion")) {
    const getVersion = lib.func("LLVMGetVersion", "void", [koffi.out(koffi.pointer("unsigned int")), koffi.out(koffi.pointer("unsigned int")), koffi.out(koffi.pointer("unsigned int"))]);
    const major = [0];
    getVersion(major, [0], [0]);
    return major[0];
  }
  const named = versionFromName(resolved) ?? versionFromName(file) ?? hint;
  if (named !== undefined) return named;
  // A file called plain "libLLVM.so" somewhere: the C API itself tells 15
  // (opaque-pointer switch, 15 and 16 only) from 14.
  if (hasSymbol(lib, "LLVMContextSetOpaquePointers")) return 15;
  if (hasSymbol(lib, "LLVMCreatePassBuilderOptions")) return 14;
  return undefined;
}

/** Major version from names like libLLVM-14.so.1, libLLVM.so.18.1, /usr/lib/llvm-17/lib/libLLVM.so. */
export function versionFromName(file: string): number | undefined {
  const base = path.basename(file);
  const m = /^libLLVM-(\d+)/.exec(base) ?? /^libLLVM\.so\.(\d+)/.exec(base) ?? /\/llvm-(\d+)\//.exec(file);
  return m ? Number(m[1]) : undefined;
}

/** The file that actually holds `symbol`, read from the process's mappings (Linux). */
function mappedFile(lib: LibraryHandle, symbol: string): string | undefined {
  let addr: bigint;
  try {
    addr = BigInt(lib.symbol(symbol));
    const maps = fs.readFileSync("/proc/self/maps", "utf8");
    for (const line of maps.split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(\/.*)$/.exec(line);
      if (!m) continue;
      if (addr >= BigInt(`0x${m[1]}`) && addr < BigInt(`0x${m[2]}`)) return m[3];
    }
  } catch {
    // Not Linux, or no procfs: the name we loaded is good enough.
  }
  return undefined;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split("\n")[0] ?? msg).replace(/^Failed to load shared library: /, "");
}
