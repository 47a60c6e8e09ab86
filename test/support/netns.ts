/**
 * Throw-away networks for the attach tests: a veth pair with one end (`a`)
 * in our own network namespace, where the test process attaches programs,
 * and the other (`b`) in a fresh namespace that sends and receives real
 * traffic (children under `ip netns exec`). Addresses come from 198.18.0.0/15
 * (RFC 2544 benchmarking), static neighbour entries keep ARP out of the
 * packet counts.
 *
 * Invariants: every name carries the creating process's pid, so
 * `cleanupLeftovers()` removes only what dead runs left behind (another
 * live run's devices are never touched); `Pair.remove()` is idempotent and
 * safe in afterAll/finally; nothing here touches a device it did not create.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const DEV_PREFIX = "tsxat";
export const NS_PREFIX = "tsxdp-attach-";
export const PIN_PREFIX = "/sys/fs/bpf/tsxdp-attach-";
export const trafficScript = path.resolve("test/support/traffic.mjs");

const pidTag = process.pid.toString(36);
let counter = 0;

export function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function inNs(ns: string, cmd: string, args: string[]): string {
  return execFileSync("ip", ["netns", "exec", ns, cmd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Removes devices, namespaces and pins of earlier runs that died (their pid is gone). */
export function cleanupLeftovers(): void {
  const devs = JSON.parse(ip("-j", "link", "show")) as { ifname: string }[];
  for (const d of devs) {
    const m = new RegExp(`^${DEV_PREFIX}([0-9a-z]+)x\\d+[ab]$`).exec(d.ifname);
    if (m && parseInt(m[1]!, 36) !== process.pid && !alive(parseInt(m[1]!, 36))) spawnSync("ip", ["link", "del", d.ifname]);
  }
  for (const line of ip("netns", "list").split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-\\d+$`).exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) spawnSync("ip", ["netns", "del", name]);
  }
  const dir = path.dirname(PIN_PREFIX);
  for (const e of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const m = new RegExp(`^${path.basename(PIN_PREFIX)}(\\d+)`).exec(e);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
}

/** A pin path unique to this run, removed by `removePins()`. */
export function pinPath(name: string): string {
  return `${PIN_PREFIX}${process.pid}-${name}`;
}

export function removePins(): void {
  const dir = path.dirname(PIN_PREFIX);
  for (const e of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (e.startsWith(`${path.basename(PIN_PREFIX)}${process.pid}-`)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
}

export interface Pair {
  /** our end, in this process's namespace */
  readonly a: string;
  /** the far end, inside `ns` */
  readonly b: string;
  readonly ns: string;
  readonly ipA: string;
  readonly ipB: string;
  readonly macA: string;
  readonly macB: string;
  /** rtnl_link_stats64 of a device (a here, b in the namespace) */
  stats(end: "a" | "b"): { rxPackets: number; txPackets: number; rxDropped: number };
  remove(): void;
}

/** A veth pair a (here) <-> b (in a new namespace), both up, addressed, neighbours static. */
export function createPair(opts: { mtuB?: number } = {}): Pair {
  const n = counter++;
  const a = `${DEV_PREFIX}${pidTag}x${n}a`;
  const b = `${DEV_PREFIX}${pidTag}x${n}b`;
  if (a.length > 15) throw new Error(`device name ${a} is too long`);
  const ns = `${NS_PREFIX}${process.pid}-${n}`;
  // A /30 per pair from 198.18.0.0/15, spread by pid so concurrent runs do not collide.
  const subnet = (process.pid * 16 + n) % 32768;
  const base = 198 * 2 ** 24 + 18 * 2 ** 16 + subnet * 4;
  const dotted = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
  const ipA = dotted(base + 1);
  const ipB = dotted(base + 2);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    spawnSync("ip", ["link", "del", a]);
    spawnSync("ip", ["netns", "del", ns]);
  };
  try {
    ip("netns", "add", ns);
    ip("link", "add", a, "type", "veth", "peer", "name", b, "netns", ns);
    if (opts.mtuB !== undefined) ip("-n", ns, "link", "set", b, "mtu", String(opts.mtuB));
    ip("addr", "add", `${ipA}/30`, "dev", a);
    ip("-n", ns, "addr", "add", `${ipB}/30`, "dev", b);
    ip("link", "set", a, "up");
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "set", b, "up");
    const macA = (JSON.parse(ip("-j", "link", "show", a)) as { address: string }[])[0]!.address;
    const macB = (JSON.parse(ip("-n", ns, "-j", "link", "show", b)) as { address: string }[])[0]!.address;
    ip("neigh", "replace", ipB, "lladdr", macB, "dev", a, "nud", "permanent");
    ip("-n", ns, "neigh", "replace", ipA, "lladdr", macA, "dev", b, "nud", "permanent");
    const stats = (end: "a" | "b") => {
      const out = end === "a" ? ip("-j", "-s", "link", "show", a) : ip("-n", ns, "-j", "-s", "link", "show", b);
      const s = (JSON.parse(out) as { stats64: { rx: { packets: number; dropped: number }; tx: { packets: number } } }[])[0]!.stats64;
      return { rxPackets: s.rx.packets, txPackets: s.tx.packets, rxDropped: s.rx.dropped };
    };
    return { a, b, ns, ipA, ipB, macA, macB, stats, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** A UDP receiver here (our namespace), ready when the promise resolves; `result()` waits for its report. */
export async function udpReceiver(
  bindIp: string,
  port: number,
  idleMs: number,
  maxMs: number,
): Promise<{ child: ChildProcess; result: () => Promise<{ total: number; unique: number; duplicates: number[]; seqs: number[] }> }> {
  const child = spawn(process.execPath, [trafficScript, "recv", bindIp, String(port), String(idleMs), String(maxMs)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: string) => {
      out += d;
      if (out.includes("ready\n")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`receiver exited early (${code})`)));
  });
  const done = new Promise<string>((resolve) => child.once("exit", () => resolve(out)));
  return {
    child,
    result: async () => {
      const text = await done;
      const line = text.split("\n").find((l) => l.startsWith("{"));
      if (!line) throw new Error(`receiver printed no result: ${text}`);
      return JSON.parse(line) as { total: number; unique: number; duplicates: number[]; seqs: number[] };
    },
  };
}

/** Sends `count` numbered datagrams from inside `ns` at one per `intervalUs`; resolves when all are sent. */
export function udpSend(ns: string, toIp: string, port: number, count: number, intervalUs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, trafficScript, "send", toIp, String(port), String(count), String(intervalUs)], { stdio: ["ignore", "inherit", "inherit"] });
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`sender exited with ${code}`))));
  });
}

/**
 * Raw frames out of `dev` in `ns` (AF_PACKET): `frame` `count` times, or each
 * of several frames `count` times, in order; returns the frames that arrived
 * on it meanwhile.
 */
export function rawExchange(ns: string, dev: string, frame: Uint8Array | readonly Uint8Array[], count: number, listenMs: number): string[] {
  const hex = (frame instanceof Uint8Array ? [frame] : frame).map((f) => Buffer.from(f).toString("hex")).join(",");
  const out = inNs(ns, process.execPath, [trafficScript, "raw", dev, hex, String(count), String(listenMs)]);
  return (JSON.parse(out.trim().split("\n").pop()!) as { received: string[] }).received;
}

export function macBytes(mac: string): number[] {
  return mac.split(":").map((x) => parseInt(x, 16));
}

export function ipBytes(addr: string): number[] {
  return addr.split(".").map(Number);
}
