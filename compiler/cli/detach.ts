/**
 * `tsxdp detach`: removes the XDP program of a device (whatever attached it:
 * a link is detached with LINK_DETACH and its pins removed, a netlink
 * program with a REPLACE that expects exactly the program seen, so a
 * program swapped in meanwhile is never removed by mistake), or the link or
 * program pinned at --pin.
 */
import fs from "node:fs";
import path from "node:path";
import { describeAttachedProgram, detachXdp } from "../loader/index";
import { pinnedMapsIn } from "../loader/pinned-map";
import type { DetachResult } from "../loader/index";
import { parseFlags, UsageError } from "./args";
import type { Command } from "./command";
import { parseMode } from "./attach";
import { reportLoaderError } from "./xdp-errors";

const help = `Usage: tsxdp detach --dev <ifname> [--mode native|generic|offload] [--json]
       tsxdp detach --pin <path> [--json]

Removes the XDP program from a device, however it was attached (BPF link or
netlink), and the bpffs pins of its link. With --pin, detaches the link (or
the netlink-attached program) pinned at <path> and removes the pin; a
directory from \`tsxdp attach --pin <dir>/\` loses its link (or program) and
its pinned maps, and goes if nothing else is left in it.
Detaching from a device that runs no program is not an error.

Options:
  --dev <ifname>   the device
  --mode <m>       only the program in this mode (default: all modes)
  --pin <path>     a pinned link or program
  --json           print the result as JSON on stdout`;

export const detachCommand: Command = {
  name: "detach",
  usage: "detach --dev <ifname> [--mode native|generic|offload] [--pin <path>] [--json]",
  help,
  run(argv) {
    const { flags, positionals, help: wantsHelp } = parseFlags("detach", argv, { dev: "string", mode: "string", pin: "string", json: "boolean" });
    if (wantsHelp) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`'detach' takes no file (got '${positionals[0]}'); use --dev or --pin`);
    const dev = typeof flags.dev === "string" ? flags.dev : undefined;
    const pin = typeof flags.pin === "string" ? path.resolve(flags.pin) : undefined;
    if (dev === undefined && pin === undefined) throw new UsageError("'detach' needs --dev <ifname> or --pin <path>");
    const mode = parseMode(flags.mode);
    const json = flags.json === true;
    // `attach --pin <dir>/` put the link (or program) and the maps there.
    const pinDir = pin !== undefined && isDirectory(pin) ? pin : undefined;
    const target = pinDir !== undefined ? ["link", "prog"].map((n) => path.join(pinDir, n)).find((p) => fs.existsSync(p)) : pin;
    if (pinDir !== undefined && target === undefined) throw new UsageError(`${pinDir} is a directory without a pinned link or program ('link' or 'prog' in it, as tsxdp attach --pin <dir>/ makes)`);
    let result: DetachResult;
    try {
      result = detachXdp({ ...(dev !== undefined ? { device: /^\d+$/.test(dev) ? Number(dev) : dev } : {}), ...(target !== undefined ? { pin: target } : {}), ...(mode ? { mode } : {}) });
      if (pinDir !== undefined) {
        for (const m of pinnedMapsIn(pinDir).filter((p) => path.dirname(p) === pinDir)) {
          fs.rmSync(m, { force: true });
          result.unpinned.push(m);
        }
        if (fs.readdirSync(pinDir).length === 0) fs.rmdirSync(pinDir);
      }
    } catch (e) {
      const code = reportLoaderError(e, json);
      if (code !== undefined) return code;
      throw e;
    }
    if (json) {
      process.stdout.write(JSON.stringify({ ok: true, ...result }, null, 2) + "\n");
      return 0;
    }
    const where = result.device ?? dev ?? "its device";
    if (result.detached.length === 0) process.stdout.write(target !== undefined ? `nothing attached through ${target}\n` : `no XDP program on ${where}${mode ? ` in ${mode} mode` : ""}\n`);
    for (const p of result.detached) process.stdout.write(`detached ${describeAttachedProgram(p)} from ${where}\n`);
    for (const u of result.unpinned) process.stdout.write(`removed pin ${u}\n`);
    for (const p of result.detached) {
      if (p.method === "netlink") for (const x of p.pinned.filter((x) => !result.unpinned.includes(x))) process.stdout.write(`note: program ${p.progId} stays loaded, pinned at ${x} (rm ${x} unloads it)\n`);
    }
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
