/**
 * `tsxdp status`: which XDP program runs on which device of this network
 * namespace, in which mode, attached by a link (its id, pins, holding
 * processes) or by netlink, plus each device's xdp-features as the driver
 * reports them (generic netlink family `netdev`, Linux 6.3+; `ip` and
 * `ethtool` from Debian 12 do not show them). Read-only.
 */
import { xdpStatus } from "../loader/index";
import type { DeviceStatus } from "../loader/index";
import { parseFlags, UsageError } from "./args";
import type { Command } from "./command";
import { reportLoaderError } from "./xdp-errors";

const help = `Usage: tsxdp status [--dev <ifname>] [--all] [--json]

Shows the devices that run XDP programs: program id, name and tag, mode
(native, generic, offload), how it is attached (BPF link id with its bpffs
pins or the processes holding it, or netlink), and the device's XDP
features (native XDP, redirect target, frags, offload, zero-copy AF_XDP).

Options:
  --dev <ifname>   only this device (shown also when it runs no program)
  --all            every device of the namespace, also those without programs
  --json           the same as JSON on stdout`;

function featureLine(d: DeviceStatus): string {
  const f = d.features;
  if (!f) return "xdp-features: unknown (the kernel has no netdev genetlink family; Linux 6.3+ reports them)";
  const yes = (b: boolean) => (b ? "yes" : "no");
  return `xdp-features: ${f.names.join(" ") || "none"} (native ${yes(f.native)}, redirect target ${yes(f.redirectTarget)}, frags ${yes(f.frags)}, offload ${yes(f.offload)})`;
}

export function formatStatus(devices: readonly DeviceStatus[]): string {
  const lines: string[] = [];
  for (const d of devices) {
    lines.push(`${d.name} (ifindex ${d.ifindex}${d.kind ? `, ${d.kind}` : ""}, mtu ${d.mtu})`);
    lines.push(`  ${featureLine(d)}`);
    if (d.programs.length === 0) lines.push("  no XDP program");
    for (const p of d.programs) {
      const how =
        p.method === "link"
          ? `BPF link ${p.linkId}${p.pinned.length ? `, pinned at ${p.pinned.join(", ")}` : ""}${p.holders.length ? `, held by ${p.holders.map((h) => `pid ${h.pid} (${h.command.slice(0, 60)})`).join(", ")}` : ""}`
          : `netlink${p.pinned.length ? `, program pinned at ${p.pinned.join(", ")}` : ""}`;
      lines.push(`  ${p.mode.padEnd(7)} program ${p.progId} '${p.name}' tag ${p.tag}  ${how}`);
    }
  }
  return lines.join("\n");
}

export const statusCommand: Command = {
  name: "status",
  usage: "status [--dev <ifname>] [--all] [--json]",
  help,
  run(argv) {
    const { flags, positionals, help: wantsHelp } = parseFlags("status", argv, { dev: "string", all: "boolean", json: "boolean" });
    if (wantsHelp) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`'status' takes no file (got '${positionals[0]}')`);
    const dev = typeof flags.dev === "string" ? flags.dev : undefined;
    const json = flags.json === true;
    let devices: DeviceStatus[];
    try {
      devices = xdpStatus({ ...(dev !== undefined ? { device: /^\d+$/.test(dev) ? Number(dev) : dev } : {}), all: flags.all === true });
    } catch (e) {
      const code = reportLoaderError(e, json);
      if (code !== undefined) return code;
      throw e;
    }
    if (json) process.stdout.write(JSON.stringify({ ok: true, devices }, null, 2) + "\n");
    else process.stdout.write(devices.length ? `${formatStatus(devices)}\n` : "no XDP program is attached to any device in this network namespace\n");
    return 0;
  },
};
