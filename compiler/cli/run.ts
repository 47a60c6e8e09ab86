/**
 * `tsxdp run`: loads an object (compiling a .ts first), runs packets through
 * one of its programs with BPF_PROG_TEST_RUN and shows, per packet, the
 * verdict, the mean duration and the output frame in hex with its headers
 * decoded. A program the kernel refuses is shown against its source
 * (TSX5100, verifier-log.ts).
 *
 * Invariants: everything the command line or the inputs get wrong is found
 * before anything is loaded (exit 2, nothing touches the kernel); the object
 * is always closed, whatever a test run throws; the kernel's own limits on
 * the context are checked here with its rules, so the user reads why rather
 * than a bare EINVAL.
 */
import fs from "node:fs";
import path from "node:path";
import { EnvironmentError } from "../diagnostics/diagnostic";
import { toJson } from "../diagnostics/format";
import { compile } from "../driver";
import { InputError } from "../frontend/program";
import { LibbpfNotFoundError } from "../loader/libbpf";
import { BpfError, LoadError, loadObject } from "../loader/loader";
import { RodataError } from "../loader/rodata";
import type { LoadedObject, TestRunResult } from "../loader/loader";
import { explainRejection, formatRejection, rejectionDiagnostic } from "../loader/verifier-log";
import { ElfError, readElf } from "../object/elf";
import { cpuFlag, parseFlags, singleInput, UsageError } from "./args";
import { colorWanted, type Command, reportCompile } from "./command";
import { decodePacket, hexDump, type Layer, parseHex, toHex } from "./decode";
import { LINKTYPE_ETHERNET, PcapError, readPcap } from "./pcap";
import { takeSetFlags } from "./set-flags";

const help = `Usage: tsxdp run <file.o|file.ts> (--packet <hex> ... | --pcap <file>) [options]

Loads the object through libbpf (compiling <file.ts> first) and runs each
packet through one program with BPF_PROG_TEST_RUN. Prints, per packet, the
verdict, the mean duration in ns, the output packet as a hex dump with its
decoded headers (Ethernet, VLAN, ARP, IPv4, IPv6, UDP, TCP, ICMP), and
whether the program changed it. When the kernel verifier rejects the
program, prints where in the source (error TSX5100) and the end of its log.

Packets (at least one; run in the order given):
  --packet <hex>          one frame in hex; repeat for more. Spaces, colons
                          and a leading 0x are allowed. At least 14 bytes.
  --pcap <file>           every frame of a classic pcap file (Ethernet link
                          type; either byte order; micro- or nanosecond)

Options:
  --prog <name>           the program to run (needed when there are several)
  --repeat <n>            run each packet n times in the kernel; the
                          duration shown is the mean (default 1). The kernel
                          reuses one buffer, so the output is the packet as
                          the n-th run left it
  --meta <hex>            metadata in front of the packet (ctx->data_meta):
                          at most 32 bytes, a multiple of 4
  --ingress-ifindex <dev> ctx->ingress_ifindex: a device index or name
  --rx-queue <n>          ctx->rx_queue_index (needs --ingress-ifindex)
  --live                  live frames (BPF_F_TEST_XDP_LIVE_FRAMES) on the
                          --ingress-ifindex device: XDP_TX and XDP_REDIRECT
                          really transmit or redirect the frames, XDP_PASS
                          hands them to the network stack. The verdict and
                          the output packet are not returned in this mode.
  --log-level <0|1|2>     verifier log level (default 0: the log is fetched
                          at level 1 only when the load fails); 1 and 2 also
                          print the log of a successful load on stderr (at
                          level 1 the kernel keeps only the statistics then;
                          level 2 shows every instruction it walked)
  --set <NAME=VALUE>      set a .rodata variable before load (C \`const volatile\`
                          globals, config<T>() in TypeScript); repeatable. VALUE
                          as for \`tsxdp map set\`: a decimal or 0x integer
                          (host order for __be16/__be32, which also take a
                          dotted quad), true/false, an enumerator, hex:<bytes>
  --mcpu <vN>             BPF ISA version when compiling a .ts (default v3)
  --json                  print [{ index, action, retval, durationNs, input,
                          output, changed, decoded }] on stdout (hex strings;
                          index counts from 1, like pcap tools)
  --no-color              plain diagnostics (also: NO_COLOR=1)

Exit codes: 0 all packets ran, 1 the program has errors or the kernel
rejected it, 2 usage, unreadable input, or no privileges (loading needs root
or CAP_BPF and CAP_NET_ADMIN).`;

const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
const ETH_HLEN = 14;
/** xdp_metalen_invalid() (include/net/xdp.h): a multiple of 4, at most 32 bytes. */
const XDP_META_MAX = 32;
const SHF_EXECINSTR = 0x4n;
const STT_FUNC = 2;
const STB_GLOBAL = 1;

interface Packet {
  readonly data: Uint8Array;
  /** Where it came from, for people: "--packet 2", "trace.pcap frame 3". */
  readonly source: string;
}

export interface RunResultJson {
  index: number;
  source: string;
  action: string | null;
  retval: number | null;
  durationNs: number;
  input: string;
  output: string | null;
  changed: boolean | null;
  decoded: Layer[] | null;
  meta?: { input: string; output: string | null };
  live?: true;
}

export const runCommand: Command = {
  name: "run",
  usage: "run <file.o|file.ts> (--packet <hex>... | --pcap <file>) [--prog <name>] [--repeat <n>]\n            [--set NAME=VALUE]... [--meta <hex>] [--ingress-ifindex <dev>] [--rx-queue <n>] [--live] [--json]",
  help,
  run(argv) {
    // --packet repeats; the shared parser keeps one value per flag, so it is taken out first.
    const packetHex: string[] = [];
    const rest: string[] = [];
    const { rest: unset, rodata } = takeSetFlags(argv);
    for (let i = 0; i < unset.length; i++) {
      const a = unset[i]!;
      if (a === "--packet") {
        const v = unset[++i];
        if (v === undefined) throw new UsageError("--packet needs a value");
        packetHex.push(v);
      } else if (a.startsWith("--packet=")) packetHex.push(a.slice("--packet=".length));
      else rest.push(a);
    }
    const { flags, positionals, help: wantsHelp } = parseFlags("run", rest, {
      prog: "string",
      pcap: "string",
      repeat: "string",
      meta: "string",
      "ingress-ifindex": "string",
      "rx-queue": "string",
      live: "boolean",
      "log-level": "string",
      mcpu: "string",
      json: "boolean",
      "no-color": "boolean",
    });
    if (wantsHelp) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    const input = singleInput("run", positionals);
    const json = flags.json === true;
    const noColor = flags["no-color"] === true;
    const live = flags.live === true;
    const repeat = intFlag("--repeat", flags.repeat, 1, 1, 0xffffffff);
    const rxQueue = intFlag("--rx-queue", flags["rx-queue"], 0, 0, 0xffffffff);
    const logLevel = intFlag("--log-level", flags["log-level"], 0, 0, 2) as 0 | 1 | 2;
    const cpu = cpuFlag(flags.mcpu);

    let meta: Uint8Array = new Uint8Array(0);
    if (flags.meta !== undefined) {
      const m = parseHex(String(flags.meta));
      if (m === undefined) throw new UsageError(`--meta: '${String(flags.meta)}' is not hex bytes`);
      if (m.length % 4 !== 0 || m.length > XDP_META_MAX) throw new UsageError(`--meta: ${m.length} bytes; the kernel takes metadata of at most ${XDP_META_MAX} bytes, a multiple of 4`);
      meta = m;
    }
    // xdp_convert_md_to_buff() (net/bpf/test_run.c) refuses a queue without a device.
    if (flags["rx-queue"] !== undefined && flags["ingress-ifindex"] === undefined) throw new UsageError("--rx-queue needs --ingress-ifindex (the kernel takes a receive queue only with its device)");
    if (live && flags["ingress-ifindex"] === undefined) throw new UsageError("--live needs --ingress-ifindex: the device the frames arrive on and XDP_TX sends them from");

    const packets: Packet[] = packetHex.map((h, i) => {
      const data = parseHex(h);
      if (data === undefined) throw new UsageError(`--packet ${i + 1}: '${h.length > 40 ? `${h.slice(0, 40)}…` : h}' is not hex bytes`);
      return { data, source: `--packet ${i + 1}` };
    });
    if (flags.pcap !== undefined) packets.push(...readPcapPackets(String(flags.pcap)));
    if (packets.length === 0) throw new UsageError("'run' needs at least one packet: --packet <hex> or --pcap <file>");
    for (const p of packets) {
      if (p.data.length < ETH_HLEN) throw new UsageError(`${p.source} is ${p.data.length} bytes; XDP test runs need at least ${ETH_HLEN} (an Ethernet header)`);
    }
    const ifindex = flags["ingress-ifindex"] === undefined ? undefined : resolveDevice(String(flags["ingress-ifindex"]));
    if (ifindex !== undefined) checkRxQueue(ifindex, rxQueue);

    // The object and its program names, before anything is loaded.
    const isSource = /\.[cm]?tsx?$/.test(input);
    let bytes: Uint8Array;
    let programs: string[];
    if (isSource) {
      const result = compile({ file: input, cpu });
      if (!result.ok || !result.object) {
        reportCompile(result, { json, noColor });
        return 1;
      }
      bytes = result.object;
      programs = result.programs.map((p) => p.name);
    } else {
      try {
        bytes = fs.readFileSync(input);
      } catch (e) {
        throw new InputError(`cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      programs = objectPrograms(input, bytes);
    }
    const program = pickProgram(input, programs, flags.prog as string | undefined);

    let obj: LoadedObject;
    try {
      // An object file is loaded from its path, a compiled one from memory: libbpf's two ways in.
      const set = rodata !== undefined ? { rodata } : {};
      obj = isSource ? loadObject(bytes, { logLevel, name: objectName(input), ...set }) : loadObject(input, { logLevel, ...set });
    } catch (e) {
      if (e instanceof RodataError) throw new UsageError(`--set: ${e.message}`);
      return reportLoadFailure(e, bytes, { json, noColor });
    }
    const results: RunResultJson[] = [];
    try {
      const prog = obj.program(program);
      if (logLevel > 0 && prog.verifierLog !== "") process.stderr.write(`verifier log of '${program}' (level ${logLevel}):\n${prog.verifierLog.replace(/\n*$/, "\n")}`);
      // Always given, even empty: only with a ctx_in does the kernel return ctx_out, which tells where metadata ends.
      const ctxIn = { ...(ifindex !== undefined ? { ingressIfindex: ifindex.index, rxQueueIndex: rxQueue } : {}), dataMeta: meta.length };
      packets.forEach((p, i) => {
        const data = meta.length > 0 ? concat(meta, p.data) : p.data;
        let r: TestRunResult;
        try {
          r = prog.testRun({ data, repeat, flags: live ? BPF_F_TEST_XDP_LIVE_FRAMES : 0, ctxIn });
        } catch (e) {
          if (e instanceof BpfError) throw new EnvironmentError(`${p.source}: ${e.message}${testRunHint(e, live)}`);
          throw e;
        }
        results.push(resultJson(i + 1, p, meta, r, live));
      });
    } finally {
      obj.close();
    }

    if (json) {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      return 0;
    }
    const dev = ifindex ? ` on ${ifindex.name ?? `ifindex ${ifindex.index}`}` : "";
    process.stdout.write(`${program} in ${input}: ${packets.length} packet${packets.length === 1 ? "" : "s"}${live ? `, live frames${dev}` : dev}, repeat ${repeat}\n`);
    for (const r of results) process.stdout.write(`\n${formatResult(r, repeat)}\n`);
    return 0;
  },
};

function intFlag(name: string, value: string | boolean | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${name}: '${text}' is not an integer from ${min} to ${max}`);
  return Number(text);
}

function readPcapPackets(file: string): Packet[] {
  let raw: Uint8Array;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let pcap;
  try {
    pcap = readPcap(raw);
  } catch (e) {
    if (e instanceof PcapError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
  if (pcap.linkType !== LINKTYPE_ETHERNET) throw new InputError(`${file}: link type ${pcap.linkType} is not Ethernet (1); XDP programs see Ethernet frames`);
  return pcap.records.map((r, i) => ({ data: r.data, source: `${path.basename(file)} frame ${i + 1}` }));
}

/**
 * A device by index or by name, through sysfs, which shows the network
 * namespace it was mounted in (`ip netns exec` mounts the namespace's own).
 * The name is undefined when an index is not listed there: the kernel then
 * has the last word.
 */
function resolveDevice(text: string): { index: number; name?: string } {
  if (/^\d+$/.test(text)) {
    const index = Number(text);
    if (index < 1 || index > 0x7fffffff) throw new UsageError(`--ingress-ifindex: ${text} is not a device index`);
    let names: string[] = [];
    try {
      names = fs.readdirSync(SYS_NET);
    } catch {
      // no sysfs: the kernel checks the index
    }
    const name = names.find((n) => readSys(`${n}/ifindex`) === String(index));
    return name !== undefined ? { index, name } : { index };
  }
  if (!/^[^/\s]{1,15}$/.test(text)) throw new UsageError(`--ingress-ifindex: '${text}' is not a device index or name`);
  const index = readSys(`${text}/ifindex`);
  if (index === undefined) throw new UsageError(`--ingress-ifindex: no network device named '${text}' in this network namespace`);
  return { index: Number(index), name: text };
}

const SYS_NET = "/sys/class/net";

function readSys(rel: string): string | undefined {
  try {
    return fs.readFileSync(`${SYS_NET}/${rel}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** xdp_convert_md_to_buff() refuses a queue at or past the device's real_num_rx_queues, which sysfs lists as rx-N. */
function checkRxQueue(device: { index: number; name?: string }, queue: number): void {
  if (device.name === undefined) return;
  let count: number;
  try {
    count = fs.readdirSync(`${SYS_NET}/${device.name}/queues`).filter((q) => /^rx-\d+$/.test(q)).length;
  } catch {
    return;
  }
  if (count > 0 && queue >= count) throw new UsageError(`--rx-queue ${queue}: ${device.name} has ${count} receive queue${count === 1 ? "" : "s"} (0 to ${count - 1})`);
}

/**
 * Program names as libbpf will see them: global functions in executable
 * sections other than .text (bpf_object__init_progs() keeps .text functions
 * as subprograms).
 */
function objectPrograms(file: string, bytes: Uint8Array): string[] {
  try {
    const elf = readElf(bytes);
    return elf.symbols
      .filter((s) => {
        const section = elf.sections[s.sectionIndex];
        return s.type === STT_FUNC && s.bind === STB_GLOBAL && section !== undefined && (section.flags & SHF_EXECINSTR) !== 0n && section.name !== ".text";
      })
      .map((s) => s.name);
  } catch (e) {
    if (e instanceof ElfError) throw new InputError(`${file} is not a BPF object (${e.message}); give a .o file or a .ts program`);
    throw e;
  }
}

function pickProgram(input: string, programs: readonly string[], wanted: string | undefined): string {
  const list = programs.join(", ");
  if (wanted !== undefined) {
    if (!programs.includes(wanted)) throw new UsageError(`no program '${wanted}' in ${input} (programs: ${list || "none"})`);
    return wanted;
  }
  if (programs.length === 0) throw new InputError(`${input} has no programs`);
  if (programs.length > 1) throw new UsageError(`${input} has ${programs.length} programs (${list}): choose one with --prog <name>`);
  return programs[0]!;
}

function objectName(file: string): string {
  return path.basename(file).replace(/\..*$/, "").replace(/[^A-Za-z0-9_]/g, "_") || "tsxdp";
}

function reportLoadFailure(e: unknown, bytes: Uint8Array, opts: { json: boolean; noColor: boolean }): number {
  if (e instanceof LibbpfNotFoundError) throw new EnvironmentError(e.message);
  if (!(e instanceof LoadError)) throw e;
  const report = explainRejection(e, bytes);
  if (report === undefined) {
    const EPERM = 1;
    const hint = e.errno === EPERM ? "\nLoading BPF programs needs root, or CAP_BPF and CAP_NET_ADMIN." : "";
    throw new EnvironmentError(`${e.message}${hint}`);
  }
  if (opts.json) {
    const { diagnostic, sources } = rejectionDiagnostic(report);
    process.stdout.write(`${JSON.stringify({ ok: false, rejection: report, diagnostics: toJson([diagnostic], sources) }, null, 2)}\n`);
  } else {
    process.stderr.write(formatRejection(report, { color: colorWanted(opts.noColor) }));
  }
  return 1;
}

function testRunHint(e: BpfError, live: boolean): string {
  if (e.code === "ENODEV") return "; no device with that --ingress-ifindex in this network namespace";
  if (e.code === "EINVAL" && live) return "; live frames need an XDP program type, a frame within one page, and a registered receive queue on the device";
  if (e.code === "EINVAL") return "; the kernel refused the packet or the context (a frame larger than a page for a program without frags?)";
  return "";
}

function resultJson(index: number, p: Packet, meta: Uint8Array, r: TestRunResult, live: boolean): RunResultJson {
  if (live) {
    return {
      index,
      source: p.source,
      action: null,
      retval: null,
      durationNs: r.durationNs,
      input: toHex(p.data),
      output: null,
      changed: null,
      decoded: null,
      ...(meta.length > 0 ? { meta: { input: toHex(meta), output: null } } : {}),
      live: true,
    };
  }
  // The kernel copies back from data_meta; ctx_out says where the packet starts (adjust_meta may have moved it).
  const outMeta = r.data.subarray(0, Math.min(r.dataMeta ?? meta.length, r.data.length));
  const out = r.data.subarray(outMeta.length);
  return {
    index,
    source: p.source,
    action: r.action,
    retval: r.retval,
    durationNs: r.durationNs,
    input: toHex(p.data),
    output: toHex(out),
    changed: !sameBytes(out, p.data) || !sameBytes(outMeta, meta),
    decoded: decodePacket(out),
    ...(meta.length > 0 || outMeta.length > 0 ? { meta: { input: toHex(meta), output: toHex(outMeta) } } : {}),
  };
}

function formatResult(r: RunResultJson, repeat: number): string {
  const timing = `${r.durationNs} ns${repeat > 1 ? ` (mean of ${repeat} runs)` : ""}`;
  const head = `packet ${r.index} (${r.source}, ${r.input.length / 2} bytes)`;
  if (r.live) return `${head}: sent as a live frame, ${timing}\n  (live frames: the verdict and the output packet are not returned)`;
  const verdict = /^[A-Z]+$/.test(r.action!) ? `XDP_${r.action}` : r.action;
  const lines = [`${head}: ${verdict}, ${timing}`];
  const output = Buffer.from(r.output!, "hex");
  const input = Buffer.from(r.input, "hex");
  let change = "unchanged";
  if (r.changed) {
    const differ = output.length === input.length ? output.reduce((n, b, i) => n + (b !== input[i] ? 1 : 0), 0) : undefined;
    change = differ !== undefined ? `CHANGED, ${differ} byte${differ === 1 ? "" : "s"} differ from the input` : `CHANGED, ${input.length} -> ${output.length} bytes`;
  }
  lines.push(`output, ${output.length} bytes, ${change}:`);
  if (r.meta) lines.push(`metadata: ${r.meta.output || "none"}${r.meta.output !== r.meta.input ? ` (was ${r.meta.input || "none"})` : ""}`);
  lines.push(hexDump(output));
  for (const layer of r.decoded!) lines.push(`  ${layer.summary}`);
  return lines.join("\n");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
