// Benchmark of tsxdp against clang-14 on the examples: how long a build
// takes, how big and how expensive to verify the resulting programs are, and
// how long they run per packet, next to the hand-written C twins in
// test/twins/. It prints figures only; nothing here passes or fails on a time.
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
//   ns/packet      the kernel's mean run time (BPF_PROG_TEST_RUN's duration)
//                  over repeat = 100000 runs of one representative frame, the
//                  one through the program's deepest path (PACKETS below; the
//                  same bytes for TS and C); median of 5 such test runs, TS
//                  and C alternating. The kernel reports whole nanoseconds,
//                  so for programs of a few nanoseconds the ratio is coarse.
//                  The kernel runs all repeats on one buffer without
//                  restoring it: a program that rewrites the frame sees its
//                  own output from the second run on (vlan_pop pops one tag,
//                  then finds none; icmp_echo_responder then sees a reply;
//                  ipip_encap then sees the tunnel header, not for the
//                  tunnel; tcp_mss_clamp then walks the options to an MSS of
//                  1400). The verdicts of the first and of the last run are
//                  printed beside the frame. Needs root; programs the
//                  kernel cannot test-run (xdp/devmap) show "-".
//   TS/C           ratio of the two columns; above 1 means tsxdp is bigger or
//                  slower.
//
// A last line gives, over every program that has both figures, the median
// TS/C ratio of xlated instructions and of ns/packet.
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
const EXAMPLES = [
  "pass",
  "drop_non_ipv4",
  "drop_udp_port",
  "drop_udp_port_options",
  "swap_macs_tx",
  "icmp_echo_responder",
  "vlan_pop",
  "drop_jumbo_frags",
  "context_fields",
  "ipv6_hop_limit",
  "ipv6_ext_headers",
  "ipip_encap",
  "tcp_mss_clamp",
];
const COLD_RUNS = 5;
const TIMED_RUNS = 5;
const REPEAT = 100_000;
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

// ------------------------------------------------------------------ packets
// One frame per program, through its deepest path. Built here (the test
// builders are TypeScript); checksums are valid where a program reads them.

const bytes = (...parts) => Uint8Array.from(parts.flatMap((p) => [...p]));

function checksum(data) {
  let sum = 0;
  for (let i = 0; i < data.length; i += 2) sum += (data[i] << 8) + (data[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function ethernet(proto, payload, vlans = []) {
  const tags = vlans.flatMap(([tpid, vid]) => [tpid >> 8, tpid & 0xff, vid >> 8, vid & 0xff]);
  return bytes([2, 0, 0, 0, 0, 0x0a, 2, 0, 0, 0, 0, 0x0b], tags, [proto >> 8, proto & 0xff], payload);
}

function ipv4(protocol, dst, payload, options = []) {
  const total = 20 + options.length + payload.length;
  const h = [0x45 + options.length / 4, 0, total >> 8, total & 0xff, 0x12, 0x34, 0x40, 0, 64, protocol, 0, 0, 10, 0, 0, 1, ...dst, ...options];
  const sum = checksum(h);
  h[10] = sum >> 8;
  h[11] = sum & 0xff;
  return bytes(h, payload);
}

function udp(dport, payloadLength = 18) {
  const length = 8 + payloadLength;
  return bytes([0x9c, 0x40, dport >> 8, dport & 0xff, length >> 8, length & 0xff, 0, 0], new Uint8Array(payloadLength));
}

/** A SYN with these options (a multiple of 4 bytes), its checksum valid for the IPv4 addresses 10.0.0.1 > 10.0.0.2. */
function tcpSyn(options) {
  const seg = [0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, (5 + options.length / 4) << 4, 0x02, 0xfa, 0xf0, 0, 0, 0, 0, ...options];
  const sum = checksum([10, 0, 0, 1, 10, 0, 0, 2, 0, 6, seg.length >> 8, seg.length & 0xff, ...seg]);
  seg[16] = sum >> 8;
  seg[17] = sum & 0xff;
  return Uint8Array.from(seg);
}

function ipv6(nextHeader, hopLimit, payload) {
  const addr = (last) => [0xfd, ...new Array(14).fill(0), last];
  return bytes([0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, nextHeader, hopLimit], addr(1), addr(2), payload);
}

/** IPv6 extension headers of these types (44 is a first fragment, the others 8 bytes long), then `upper`. */
function extChain(types, upper) {
  return types.flatMap((type, i) => {
    const next = types[i + 1] ?? upper;
    return type === 44 ? [next, 0, 0, 1, 0, 0, 0, 7] : [next, 0, 1, 1, 1, 1, 1, 1];
  });
}

function echoRequest() {
  const icmp = [8, 0, 0, 0, 0x42, 0x42, 0, 7, 0, 1, 2, 3, 4, 5, 6, 7];
  const sum = checksum(icmp);
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  return Uint8Array.from(icmp);
}

const pad = (frame, length) => (frame.length >= length ? frame : bytes(frame, new Uint8Array(length - frame.length)));
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;

/** program name → { what, data, ctxIn? }. */
const PACKETS = {
  pass: { what: "IPv4/UDP", data: ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(53))) },
  drop_non_ipv4: { what: "802.1Q-tagged IPv4", data: ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(53)), [[ETH_P_8021Q, 100]]) },
  drop_udp_port: { what: "IPv4/UDP to port 9", data: ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(9))) },
  drop_udp_port_options: { what: "IPv4 with 4 bytes of options, UDP to port 9", data: ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(9), [1, 1, 1, 0])) },
  swap_macs_tx: { what: "IPv4/UDP", data: ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(53))) },
  icmp_echo_responder: { what: "ICMP echo request", data: ethernet(ETH_P_IP, ipv4(1, [10, 0, 0, 2], echoRequest())) },
  vlan_pop: { what: "802.1Q-tagged IPv4", data: ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(53)), [[ETH_P_8021Q, 100]]) },
  drop_jumbo: { what: "1515-byte IPv4/UDP", data: pad(ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(53, 1515 - 42))), 1515) },
  stamp: { what: "IPv4/UDP, 4 bytes of metadata, ifindex 1", data: bytes([0, 0, 0, 0], ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(53)))), ctxIn: { ingressIfindex: 1, rxQueueIndex: 0, dataMeta: 4 } },
  meta_gate: { what: "IPv4/UDP, metadata 1", data: bytes([1, 0, 0, 0], ethernet(ETH_P_IP, ipv4(17, [10, 0, 0, 2], udp(53)))), ctxIn: { dataMeta: 4 } },
  ipv6_hop_limit: { what: "802.1Q-tagged IPv6, hop limit 1", data: ethernet(ETH_P_IPV6, ipv6(17, 1, udp(53, 8)), [[ETH_P_8021Q, 100]]) },
  ipv6_ext_headers: {
    what: "IPv6, 6 extension headers, UDP to port 9",
    data: ethernet(ETH_P_IPV6, ipv6(0, 64, bytes(extChain([0, 60, 43, 60, 44, 60], 17), udp(9, 8)))),
  },
  ipip_encap: { what: "IPv4/UDP to 192.0.2.7", data: ethernet(ETH_P_IP, ipv4(17, [192, 0, 2, 7], udp(53))) },
  tcp_mss_clamp: {
    what: "TCP SYN, MSS 1460 after SACK-permitted, timestamps, window scale",
    data: ethernet(ETH_P_IP, ipv4(6, [10, 0, 0, 2], tcpSyn([4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 1, 2, 4, 5, 0xb4, 0, 0, 0]))),
  },
};

// ------------------------------------------------------------- formatting

const COLS = [34, 12, 12, 8];

function row(cells) {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(COLS[0]) : String(c).padStart(COLS[i]))).join(" ");
}

const ms = (v) => (v === undefined ? "-" : `${v.toFixed(1)} ms`);
const ns = (v) => (v === undefined ? "-" : `${v} ns`);
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
if (isRoot) console.log(`           ns/packet: median of ${TIMED_RUNS} test runs of repeat ${REPEAT}`);

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
function kernelInfo(obj) {
  return new Map(
    obj.programs.map((p) => {
      const info = p.info();
      return [p.name, { xlated: info.xlatedProgLen / 8, jited: info.jitedProgLen, verified: info.verifiedInsns }];
    }),
  );
}

function actionOf(prog, packet, repeat) {
  try {
    return prog.testRun({ data: packet.data, repeat, ...(packet.ctxIn ? { ctxIn: packet.ctxIn } : {}) }).action;
  } catch (e) {
    return `error (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
  }
}

/**
 * ns/packet of the program `name` in both objects (c may be undefined), TS
 * and C runs alternating; undefined for a side the kernel cannot test-run.
 */
function timePrograms(name, ts, c) {
  const packet = PACKETS[name];
  if (packet === undefined) return { packet };
  const sides = [ts, c].map((obj) => obj?.programs.find((p) => p.name === name));
  const verdicts = sides.map((p) => (p ? `first run ${actionOf(p, packet, 1)}, last ${actionOf(p, packet, REPEAT)}` : undefined));
  const runnable = sides.map((p, i) => p !== undefined && !verdicts[i].includes("error"));
  const times = [[], []];
  for (let run = 0; run < TIMED_RUNS; run++) {
    sides.forEach((p, i) => {
      if (!runnable[i]) return;
      const r = p.testRun({ data: packet.data, repeat: REPEAT, ...(packet.ctxIn ? { ctxIn: packet.ctxIn } : {}) });
      times[i].push(r.durationNs);
    });
  }
  return {
    packet,
    verdicts,
    ts: runnable[0] ? median(times[0]) : undefined,
    c: runnable[1] ? median(times[1]) : undefined,
  };
}

/** TS/C ratios per program, for the summary. */
const ratios = { xlated: [], ns: [] };

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
  const tsObj = loadObject ? loadObject(result.object) : undefined;
  let cObj;
  try {
    cObj = loadObject && hasTwin ? loadObject(cOut) : undefined;
  } catch (e) {
    tsObj?.close();
    throw e;
  }
  try {
    report(example, result, { cold, warm, cCold, hasTwin, tsElf, cElf, tsObj, cObj });
  } finally {
    tsObj?.close();
    cObj?.close();
  }
}

function report(example, result, { cold, warm, cCold, hasTwin, tsElf, cElf, tsObj, cObj }) {
  const tsKernel = tsObj ? kernelInfo(tsObj) : new Map();
  const cKernel = cObj ? kernelInfo(cObj) : new Map();

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
    const timed = timePrograms(name, tsObj, cObj);
    if (timed.packet) {
      console.log(row(["  ns/packet", ns(timed.ts), ns(timed.c), ratio(timed.ts, timed.c)]));
      const [tv, cv] = timed.verdicts;
      const verdicts = cv === undefined || cv === tv ? `TS and C: ${tv}` : `TS: ${tv}; C: ${cv}`;
      console.log(`    ${timed.packet.what}, ${timed.packet.data.length} bytes (${verdicts})`);
    } else {
      console.log(row(["  ns/packet", "-", "-", "-"]));
    }
    if (t?.xlated !== undefined && c?.xlated) ratios.xlated.push(t.xlated / c.xlated);
    if (timed.ts !== undefined && timed.c) ratios.ns.push(timed.ts / timed.c);
  }
}

console.log();
if (loadObject) {
  const summary = (values) => (values.length ? `${median(values).toFixed(2)} (${values.length} programs)` : "-");
  console.log(`summary: median TS/C  xlated insns ${summary(ratios.xlated)}, ns/packet ${summary(ratios.ns)}`);
} else {
  console.log("summary: no kernel figures (needs root)");
}
