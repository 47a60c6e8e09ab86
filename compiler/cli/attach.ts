/**
 * `tsxdp attach`: an object (or a .ts file, compiled first) onto a device.
 *
 * With a BPF link and no --pin the program lives exactly as long as this
 * process (that is what a link is), so the command says so and stays in the
 * foreground until Ctrl-C/SIGTERM, then detaches; with --netlink or --pin
 * it returns once the program is attached. `run` returns 0 at once in the
 * foreground case while the interval and signal handlers keep the process
 * alive: the Command interface is synchronous, and exiting on a signal is
 * itself handled (detach, then exit code 0).
 */
import fs from "node:fs";
import path from "node:path";
import { compile } from "../driver";
import { InputError } from "../frontend/program";
import { AttachError, attachXdp, BpfError, describeAttachedProgram, deviceBoundKfuncs, findDevice, loadObject, offloadRefusal, RodataError } from "../loader/index";
import type { Attachment, LoadedObject, LoadedProgram, XdpMode } from "../loader/index";
import { parseFlags, singleInput, UsageError } from "./args";
import { type Command, reportCompile } from "./command";
import { takeSetFlags } from "./set-flags";
import { reportLoaderError } from "./xdp-errors";

const help = `Usage: tsxdp attach <obj.o|file.ts> --dev <ifname> [options]

Attaches an XDP program to a network device. A .ts file is compiled first.

By default the program is attached through a BPF link in native (driver)
mode, and only if the device runs no XDP program yet. A link lives as long
as the process holding it: without --pin, tsxdp stays in the foreground and
detaches on Ctrl-C. With --netlink or --pin it returns and the program stays.

Options:
  --dev <ifname>    the device (required)
  --prog <name>     the program (or section) to attach, when the object has several
  --mode <m>        native (default), generic (SKB mode, any device), offload (the NIC runs it)
  --netlink         attach through netlink: the device keeps the program until detached
  --pin <path>      pin the link (or, with --netlink, the program) in bpffs, e.g.
                    /sys/fs/bpf/myprog; bpffs is mounted at /sys/fs/bpf if it is not.
                    A directory (an existing one, or a path ending in /) pins the
                    link at <dir>/link (--netlink: the program at <dir>/prog) and
                    every map of the object at <dir>/<map name>, for
                    \`tsxdp map … --pinned-dir <dir>\`; \`tsxdp detach --pin <dir>\` undoes it
  --replace         atomically swap the program attached now for this one (link
                    update, or netlink REPLACE with the old program as expected)
  --force           remove whatever is attached first (not atomic; use --replace to swap)
  --set NAME=VALUE  set a .rodata variable before load (C \`const volatile\` globals,
                    config<T>() in TypeScript); repeatable. VALUE as for \`tsxdp map set\`:
                    a decimal or 0x integer (host order for __be16/__be32, which also
                    take a dotted quad), true/false, an enumerator, hex:<bytes>
  --json            print the result as JSON on stdout

Exit codes: 0 attached, 1 the object or program is at fault, 2 the command
line or the machine (unknown device, busy device, privileges, bpffs).`;

const MODES: readonly XdpMode[] = ["native", "generic", "offload"];

export function parseMode(value: string | boolean | undefined): XdpMode | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !(MODES as readonly string[]).includes(value)) throw new UsageError(`unknown --mode '${String(value)}' (use native, generic or offload)`);
  return value as XdpMode;
}

/** The object's bytes: read, or compiled from TypeScript (diagnostics printed; undefined when it does not compile). */
function objectBytes(input: string, json: boolean): Uint8Array | undefined {
  if (/\.[cm]?tsx?$/.test(input)) {
    const result = compile({ file: input });
    if (!result.ok || !result.object) {
      reportCompile(result, { json, noColor: false });
      return undefined;
    }
    return result.object;
  }
  try {
    return fs.readFileSync(input);
  } catch (e) {
    throw new InputError(`cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function chooseProgram(obj: LoadedObject, wanted: string | undefined, input: string): LoadedProgram {
  const list = obj.programs.map((p) => `${p.name} (${p.section})`).join(", ") || "none";
  if (wanted !== undefined) {
    const p = obj.programs.find((x) => x.name === wanted) ?? obj.programs.filter((x) => x.section === wanted)[0];
    if (!p) throw new NoProgram(`${input} has no program or section '${wanted}' (programs: ${list})`, 2);
    return p;
  }
  const attachable = obj.programs.filter((p) => /^xdp(\.frags)?$/.test(p.section));
  if (attachable.length === 1) return attachable[0]!;
  if (attachable.length === 0) throw new NoProgram(`${input} has no XDP program to attach to a device (programs: ${list}); a device takes a program in section xdp or xdp.frags`, 1);
  throw new NoProgram(`${input} has several programs (${list}): choose one with --prog`, 2);
}

/** The object lacks the program asked for (2: the command line names it) or has none to attach (1). */
class NoProgram extends Error {
  constructor(message: string, readonly exitCode: 1 | 2) {
    super(message);
  }
}

export const attachCommand: Command = {
  name: "attach",
  usage: "attach <obj.o|file.ts> --dev <ifname> [--prog name] [--mode native|generic|offload]\n            [--set NAME=VALUE]... [--netlink] [--pin <path>] [--force | --replace] [--json]",
  help,
  run(argv) {
    const { rest, rodata } = takeSetFlags(argv);
    const { flags, positionals, help: wantsHelp } = parseFlags("attach", rest, {
      dev: "string",
      prog: "string",
      mode: "string",
      netlink: "boolean",
      pin: "string",
      force: "boolean",
      replace: "boolean",
      json: "boolean",
    });
    if (wantsHelp) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    const input = singleInput("attach", positionals);
    const dev = flags.dev;
    if (typeof dev !== "string") throw new UsageError("'attach' needs --dev <ifname>");
    const mode = parseMode(flags.mode) ?? "native";
    if (flags.force && flags.replace) throw new UsageError("--force and --replace exclude each other: --replace swaps atomically, --force removes first");
    const json = flags.json === true;
    // A directory holds the link (or program) and the maps; a plain path, the link alone.
    const pinDir = typeof flags.pin === "string" && (flags.pin.endsWith("/") || isDirectory(flags.pin)) ? path.resolve(flags.pin) : undefined;
    const pin = pinDir !== undefined ? path.join(pinDir, flags.netlink ? "prog" : "link") : typeof flags.pin === "string" ? path.resolve(flags.pin) : undefined;

    let obj: LoadedObject | undefined;
    let attachment: Attachment | undefined;
    try {
      // The device first: a typo should not cost a compile and a load.
      const device = findDevice(/^\d+$/.test(dev) ? Number(dev) : dev);
      if (!device) return unknownDevice(dev, json);
      // Loading for offload already involves the device; refuse first if it cannot.
      if (mode === "offload") {
        const refusal = offloadRefusal(device.ifindex);
        if (refusal) throw refusal;
      }
      const bytes = objectBytes(input, json);
      if (!bytes) return 1;
      // A program reading the device's RX metadata (bpf_xdp_metadata_rx_*) loads bound to it.
      const bound = mode !== "offload" && deviceBoundKfuncs(bytes).length > 0;
      obj = loadObject(bytes, { name: path.basename(input).replace(/\..*$/, "").replace(/[^A-Za-z0-9_]/g, "_").slice(0, 15) || "tsxdp", ...(mode === "offload" ? { offloadIfindex: device.ifindex } : {}), ...(bound ? { deviceBoundIfindex: device.ifindex } : {}), ...(rodata !== undefined ? { rodata } : {}) });
      const program = chooseProgram(obj, typeof flags.prog === "string" ? flags.prog : undefined, input);
      attachment = attachXdp(program, {
        device: device.ifindex,
        mode,
        ...(flags.netlink ? { method: "netlink" as const } : {}),
        ...(pin !== undefined ? { pin } : {}),
        replace: flags.replace === true,
        force: flags.force === true,
      });
      if (pinDir !== undefined) pinMaps(obj, pinDir, attachment);
    } catch (e) {
      obj?.close();
      if (e instanceof RodataError) {
        const message = `--set: ${e.message}`;
        if (json) process.stdout.write(JSON.stringify({ ok: false, error: { kind: "usage", message } }, null, 2) + "\n");
        process.stderr.write(`tsxdp: ${message}\n`);
        return 2;
      }
      if (e instanceof NoProgram) {
        if (json) process.stdout.write(JSON.stringify({ ok: false, error: { kind: "program", message: e.message } }, null, 2) + "\n");
        process.stderr.write(`tsxdp: ${e.message}\n`);
        return e.exitCode;
      }
      const code = reportLoaderError(e, json);
      if (code !== undefined) return code;
      throw e;
    }

    const a = attachment;
    // Signal handlers first: a Ctrl-C right after the "attached" line must detach, not kill.
    if (a.heldByProcess) foreground(a, obj, json);
    const how = a.method === "link" ? `BPF link ${a.linkId ?? "?"}` : "netlink";
    const line = `attached '${a.program.name}' (program ${a.program.id}) to ${a.device.name} in ${a.mode} mode by ${how}${a.pinned ? `, pinned at ${a.pinned}` : ""}`;
    const mapPins = pinDir !== undefined ? obj.maps.map((m) => path.join(pinDir, m.name)) : [];
    const replaced = a.replaced.map(describeAttachedProgram);
    if (json) {
      process.stdout.write(
        JSON.stringify(
          { ok: true, device: a.device.name, ifindex: a.device.ifindex, mode: a.mode, method: a.method, program: a.program, linkId: a.linkId ?? null, pinned: a.pinned ?? null, pinnedMaps: mapPins, replaced: a.replaced, foreground: a.heldByProcess },
          null,
          2,
        ) + "\n",
      );
    } else {
      process.stdout.write(`${line}\n`);
      if (mapPins.length > 0) process.stdout.write(`  maps pinned at ${mapPins.join(", ")}\n`);
      for (const r of replaced) process.stdout.write(`  replaced ${r}\n`);
    }
    if (a.heldByProcess) {
      process.stderr.write(
        `note: attached by a BPF link, the program stays only while this process runs; press Ctrl-C to detach.\n` +
          `      To keep it after exit use --pin <bpffs path> or --netlink.\n`,
      );
      return 0;
    }
    a.close();
    obj.close();
    return 0;
  },
};

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Pins every map of `obj` in `dir` (beside the link). On a failure the pins
 * made so far are removed and the program detached: an attach without the
 * pins asked for would leave maps nobody can reach.
 */
function pinMaps(obj: LoadedObject, dir: string, attachment: Attachment): void {
  const done: string[] = [];
  try {
    for (const m of obj.maps) {
      const p = path.join(dir, m.name);
      m.pin(p);
      done.push(p);
    }
  } catch (e) {
    for (const p of done) fs.rmSync(p, { force: true });
    try {
      attachment.detach();
    } catch {
      attachment.close();
    }
    if (e instanceof BpfError) throw new AttachError(`${e.message}; nothing is left attached`, e.errno === 1 ? "privilege" : "environment", e.errno);
    throw e;
  }
}

function unknownDevice(dev: string, json: boolean): number {
  const message = `no network device '${dev}' in this network namespace (see: ip link)`;
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: { kind: "device", message } }, null, 2) + "\n");
  process.stderr.write(`tsxdp: ${message}\n`);
  return 2;
}

/** Keeps the link (and so the program) until a signal, with a status line on a terminal. */
function foreground(a: Attachment, obj: LoadedObject, json: boolean): void {
  const tty = process.stderr.isTTY === true && !json;
  const started = Date.now();
  let done = false;
  const finish = (why: string, code: number) => {
    if (done) return;
    done = true;
    clearInterval(timer);
    try {
      a.detach();
    } catch {
      a.close();
    }
    obj.close();
    if (tty) process.stderr.write("\n");
    process.stderr.write(`${why}\n`);
    process.exitCode = code;
  };
  const timer = setInterval(() => {
    const now = findDevice(a.device.ifindex);
    if (!now || now.name !== a.device.name) return finish(`${a.device.name} disappeared; the program went with it`, 2);
    if (now.xdp[a.mode] !== a.program.id) return finish(`'${a.program.name}' is no longer attached to ${a.device.name} (detached or replaced by someone else)`, 2);
    if (tty) {
      const s = Math.floor((Date.now() - started) / 1000);
      const t = `${String(Math.floor(s / 3600)).padStart(2, "0")}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
      process.stderr.write(`\r${a.device.name}: '${a.program.name}' attached for ${t}, ${now.stats?.rxPackets ?? "?"} packets received (Ctrl-C detaches)  `);
    }
  }, 1000);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => finish(`detached '${a.program.name}' from ${a.device.name}`, 0));
  }
}
