// Benchmark of tsxdp against clang-14 on the examples: how long a build
// takes and how big and how expensive to verify the resulting programs are,
// next to the hand-written C twins in test/twins/. It prints figures only;
// nothing here passes or fails on a time.
//
//   npm run build && node scripts/bench.mjs
//
// The figures, per example (TS = tsxdp, C = clang-14 -O2 -g on the twin):
//   cold build     wall time of one `node dist/cli.js build <file> -o <tmp>.o`
//                  process (Node start-up, loading TypeScript and libLLVM,
//                  compiling, writing the object); median of 5 runs. The C
//                  column is one `clang-14 -O2 -g -target bpf -c` process.
//   warm compile() in-process compile() from dist/compiler.js after 3
//                  warm-up calls (TypeScript and libLLVM already loaded);
//                  median of 20 calls. No C equivalent.
//   ELF insns      bytes of the program's function in its ELF section / 8,
//                  i.e. instructions as the compiler emitted them (a 64-bit
//                  immediate load counts 2). It is the size of the function
//                  symbol, which equals the section size when a section holds
//                  one program (context_fields' `xdp` section holds two).
//   xlated insns   xlated_prog_len / 8 of the loaded program: the
//                  instructions after the verifier's rewrites (context
//                  accesses, dead code removal, helper inlining). Needs root.
//   JIT bytes      jited_prog_len: size of the native code. Needs root.
//   verified insns verified_insns: instructions the verifier processed while
//                  walking every path, the cost of proving the program safe.
//                  Needs root.
//   TS/C           ratio of the two columns; above 1 means tsxdp is bigger or
//                  slower.
//
// Machine, kernel, Node, clang-14 and the libLLVM tsxdp loaded are printed
// first, since every figure depends on them. tsxdp takes the newest libLLVM
// it finds, which may not be clang's: TSXDP_LLVM_VERSION=14 puts both sides on
// LLVM 14. The C side is built exactly as above, so with clang's default
// -mcpu (v1), while tsxdp defaults to v3.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, machine, release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const EXAMPLES = ["pass", "drop_non_ipv4", "drop_udp_port", "swap_macs_tx", "drop_jumbo_frags", "context_fields"];
const COLD_RUNS = 5;
const WARMUPS = 3;
const WARM_RUNS = 20;

const CLI = join(ROOT, "dist/cli.js");
const COMPILER = join(ROOT, "dist/compiler.js");
const LOADER = join(ROOT, "dist/loader.js");

for (const file of [CLI, COMPILER, LOADER]) {
  if (!existsSync(file)) {
    console.error(`bench: ${file} is missing; run \`npm run build\` first`);
    process.exit(2);
  }
}

const { compile, formatDiagnostics, llvmInUse } = await import(COMPILER);
const isRoot = process.getuid?.() === 0;
const tmp = mkdtempSync(join(tmpdir(), "tsxdp-bench-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

// ------------------------------------------------------------------ helpers

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function which(tool) {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return undefined;
}

function timeProcess(cmd, args) {
  const start = performance.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8" });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return ms;
}

/** Function symbols of an ELF64 little-endian object: name → { section, size }. */
function elfFunctions(bytes) {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const shstrndx = b.readUInt16LE(0x3e);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      nameOff: b.readUInt32LE(o),
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
    });
  }
  const str = (sec, off) => {
    const start = sec.offset + off;
    return b.toString("latin1", start, b.indexOf(0, start));
  };
  for (const s of sections) s.name = str(sections[shstrndx], s.nameOff);
  const functions = new Map();
  const SHT_SYMTAB = 2;
  const STT_FUNC = 2;
  for (const symtab of sections.filter((s) => s.type === SHT_SYMTAB)) {
    for (let o = symtab.offset; o + 24 <= symtab.offset + symtab.size; o += 24) {
      if ((b[o + 4] & 0xf) !== STT_FUNC) continue;
      const section = sections[b.readUInt16LE(o + 6)];
      functions.set(str(sections[symtab.link], b.readUInt32LE(o)), {
        section: section?.name ?? "?",
        size: Number(b.readBigUInt64LE(o + 16)),
        sectionSize: section?.size ?? 0,
      });
    }
  }
  return functions;
}

/** clang's -target bpf does not search the multiarch include dir that holds asm/types.h. */
function multiarchIncludes() {
  const dir = `/usr/include/${machine()}-linux-gnu`;
  return existsSync(dir) ? ["-I", dir] : [];
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The libLLVM tsxdp loads, as the compiler reports it. */
function llvmInfo() {
  try {
    const info = llvmInUse();
    return { text: `LLVM ${info.version} (${info.path})`, major: info.version };
  } catch (e) {
    return { text: `not found (${e instanceof Error ? e.message.split("\n")[0] : String(e)})` };
  }
}

// ------------------------------------------------------------- formatting

const COLS = [34, 12, 12, 8];

function row(cells) {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(COLS[0]) : String(c).padStart(COLS[i]))).join(" ");
}

const ms = (v) => (v === undefined ? "-" : `${v.toFixed(1)} ms`);
const num = (v) => (v === undefined ? "-" : String(v));
const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? "-" : (a / b).toFixed(2));

// ------------------------------------------------------------------ header

const cpuModel =
  readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpus()[0]?.model ?? machine();
const clang = which("clang-14");
const clangVersion = clang ? spawnSync(clang, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0] : undefined;

console.log("tsxdp benchmark");
console.log(`  machine  ${cpuModel} (${cpus().length} CPUs, ${machine()})`);
console.log(`  kernel   Linux ${release()}`);
console.log(`  node     ${process.version}`);
const tsxdpLLVM = llvmInfo();
console.log(`  tsxdp    ${tsxdpLLVM.text}`);
console.log(`  clang    ${clangVersion ?? "clang-14 not found: no C columns"}`);
const clangMajor = Number(clangVersion?.match(/version (\d+)/)?.[1]);
if (tsxdpLLVM.major !== undefined && clangVersion !== undefined && tsxdpLLVM.major !== clangMajor) {
  console.log(`  note     different LLVMs on each side; TSXDP_LLVM_VERSION=${clangMajor} makes tsxdp use clang's`);
}
if (statSync(COMPILER).mtimeMs < newestMtime(join(ROOT, "compiler"))) {
  console.log("  warning  dist/ is older than compiler/: run `npm run build` to measure the current sources");
}
if (!isRoot) console.log("  note     not root: xlated, JIT and verified figures need root (BPF_PROG_LOAD) and are left out");
console.log(`  runs     cold builds: median of ${COLD_RUNS}; warm compile(): median of ${WARM_RUNS} after ${WARMUPS} warm-ups`);

let loadObject;
let loaderProblem;
if (isRoot) {
  try {
    ({ loadObject } = await import(LOADER));
  } catch (e) {
    loaderProblem = e instanceof Error ? e.message : String(e);
    console.log(`  note     the loader is unusable (${loaderProblem}): no kernel figures`);
  }
}

/** Per program: xlated insns, JIT bytes, verified insns; undefined when there is no kernel. */
function kernelFigures(source) {
  if (!loadObject) return new Map();
  const obj = loadObject(source);
  try {
    return new Map(
      obj.programs.map((p) => {
        const info = p.info();
        return [p.name, { xlated: info.xlatedProgLen / 8, jited: info.jitedProgLen, verified: info.verifiedInsns }];
      }),
    );
  } finally {
    obj.close();
  }
}

// -------------------------------------------------------------- examples

for (const example of EXAMPLES) {
  const file = join(ROOT, "examples", `${example}.ts`);
  const twin = join(ROOT, "test/twins", `${example}.c`);
  const hasTwin = clang !== undefined && existsSync(twin);

  const tsOut = join(tmp, `${example}.o`);
  const cold = [];
  for (let i = 0; i < COLD_RUNS; i++) cold.push(timeProcess(process.execPath, [CLI, "build", file, "-o", tsOut]));

  let result;
  for (let i = 0; i < WARMUPS; i++) result = compile({ file });
  if (!result.ok) {
    console.error(`bench: examples/${example}.ts does not compile:\n${formatDiagnostics(result.diagnostics, result.sources)}`);
    process.exit(1);
  }
  const warm = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const start = performance.now();
    compile({ file });
    warm.push(performance.now() - start);
  }

  const cOut = join(tmp, `${example}.c.o`);
  const cCold = [];
  if (hasTwin) {
    const args = ["-O2", "-g", "-target", "bpf", ...multiarchIncludes(), "-c", twin, "-o", cOut];
    for (let i = 0; i < COLD_RUNS; i++) cCold.push(timeProcess(clang, args));
  }

  const tsElf = elfFunctions(result.object);
  const cElf = hasTwin ? elfFunctions(readFileSync(cOut)) : new Map();
  const tsKernel = kernelFigures(result.object);
  const cKernel = hasTwin ? kernelFigures(cOut) : new Map();

  const coldTs = median(cold);
  const coldC = hasTwin ? median(cCold) : undefined;
  console.log();
  console.log(`${example} `.padEnd(COLS.reduce((a, b) => a + b + 1, -1), "-"));
  console.log(row(["", "TS", "C", "TS/C"]));
  console.log(row(["cold build", ms(coldTs), ms(coldC), ratio(coldTs, coldC)]));
  console.log(row(["warm compile()", ms(median(warm)), "-", "-"]));
  for (const { name, section } of result.programs) {
    const label = `${name} (${section})`;
    const tsInsns = tsElf.has(name) ? tsElf.get(name).size / 8 : undefined;
    const cInsns = cElf.has(name) ? cElf.get(name).size / 8 : undefined;
    console.log(label);
    console.log(row(["  ELF insns", num(tsInsns), num(cInsns), ratio(tsInsns, cInsns)]));
    if (!loadObject) continue;
    const t = tsKernel.get(name);
    const c = cKernel.get(name);
    console.log(row(["  xlated insns", num(t?.xlated), num(c?.xlated), ratio(t?.xlated, c?.xlated)]));
    console.log(row(["  JIT bytes", num(t?.jited), num(c?.jited), ratio(t?.jited, c?.jited)]));
    console.log(row(["  verified insns", num(t?.verified), num(c?.verified), ratio(t?.verified, c?.verified)]));
  }
}
