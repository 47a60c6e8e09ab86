/**
 * `tsxdp map` on the maps of programs in the kernel, as users run it
 * (dist/cli.js in a child process): examples/flow_counters.ts attached by
 * `tsxdp attach --pin <dir>/` to a veth whose peer sits in a namespace,
 * frames sent from the peer; then the same counts must come out through the
 * pins (--pinned-dir, which the attach filled), the device (--dev), the
 * program id (--prog-id) and the map id (--id), and a write through one is
 * seen through the others. `tsxdp detach --pin <dir>` takes it all away.
 * Also `map set --program` on a DEVMAP whose entries hold programs.
 *
 * Kernel tests skip without root and fail under CI=true (support/kernel.ts).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { findDevice, type LoadedObject, loadObject } from "../compiler/loader/index";
import { ensureBpffs, skipKernel } from "./support/kernel";
import { cleanupLeftovers, createPair, ipBytes, macBytes, type Pair, pinPath, rawExchange, removePins } from "./support/netns";
import * as P from "./support/packets";

const cli = path.resolve("dist/cli.js");

function tsxdp(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function inNs(ns: string, ...args: string[]) {
  const r = spawnSync("ip", ["netns", "exec", ns, process.execPath, cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface DumpJson {
  path: string | null;
  map: { name: string; id: number; type: string };
  entries: { key: unknown; value?: unknown; values?: unknown[]; sum?: number }[];
}

const byName = (maps: DumpJson[]) => Object.fromEntries(maps.map((m) => [m.map.name, m]));

describe.skipIf(skipKernel)("tsxdp map on a program attached to a veth: pins, device, program id, map id", () => {
  let p: Pair;
  let dir: string;
  let pinDir: string;
  let progId: number;
  const N = 6;

  beforeAll(() => {
    cleanupLeftovers();
    ensureBpffs();
    p = createPair();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-map-loaded-"));
    const r = compile({ file: path.resolve("examples/flow_counters.ts") });
    if (!r.ok || !r.object) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    fs.writeFileSync(path.join(dir, "flow_counters.o"), r.object);
    pinDir = pinPath("flows");
  });
  afterAll(() => {
    spawnSync("ip", ["link", "set", "dev", p.a, "xdp", "off"]);
    p?.remove();
    removePins();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("attach --pin <dir>/ pins the link and every map of the object there", () => {
    const r = tsxdp("attach", path.join(dir, "flow_counters.o"), "--dev", p.a, "--pin", `${pinDir}/`, "--json");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { pinned: string; pinnedMaps: string[]; program: { id: number } };
    progId = out.program.id;
    expect(out.pinned).toBe(`${pinDir}/link`);
    expect(out.pinnedMaps.sort()).toEqual(["byClass", "bySource", "total"].map((m) => `${pinDir}/${m}`));
    expect(fs.readdirSync(pinDir).sort()).toEqual(["byClass", "bySource", "link", "total"]);
    expect(findDevice(p.a)!.xdp.native).toBe(progId);
    // Frames from the peer: N IPv4 from its address.
    const frame = P.ethernet({ dst: macBytes(p.macA), src: macBytes(p.macB), proto: P.ETH_P_IP }, P.ipv4({ protocol: P.IPPROTO_UDP, src: ipBytes(p.ipB), dst: ipBytes(p.ipA) }, P.udp(40000, 9, new Uint8Array(8))));
    rawExchange(p.ns, p.b, frame, N, 100);
  });

  test("the same counts through --pinned-dir, --dev, --prog-id and --id", () => {
    const viaPins = JSON.parse(tsxdp("map", "dump", "--pinned-dir", pinDir, "--json").stdout) as { maps: DumpJson[] };
    const viaDev = tsxdp("map", "dump", "--dev", p.a, "--json");
    expect(viaDev.code, viaDev.stderr).toBe(0);
    const dev = JSON.parse(viaDev.stdout) as { programs: number[]; device: string; maps: DumpJson[] };
    expect(dev.programs).toEqual([progId]);
    const viaProg = JSON.parse(tsxdp("map", "dump", "--prog-id", String(progId), "--json").stdout) as { maps: DumpJson[] };
    const pins = byName(viaPins.maps);
    for (const maps of [dev.maps, viaProg.maps]) {
      const m = byName(maps);
      expect(Object.keys(m).sort()).toEqual(["byClass", "bySource", "total"]);
      // The very maps that are pinned (same ids), not copies; by id there is no path.
      for (const name of Object.keys(m)) {
        expect(m[name]!.map.id).toBe(pins[name]!.map.id);
        expect(m[name]!.path).toBeNull();
      }
      expect(m.bySource!.entries).toEqual(pins.bySource!.entries);
    }
    const source = pins.bySource!.entries.find((e) => (e.key as { host: number }).host === ipBytes(p.ipB).reduce((a, b) => a * 256 + b, 0));
    expect(source?.value).toBe(N);

    // One map by id, and a named map of the device's program.
    const id = pins.bySource!.map.id;
    const one = tsxdp("map", "get", "--id", String(id), p.ipB, "--json");
    expect(one.code, one.stderr).toBe(0);
    expect((JSON.parse(one.stdout) as { value: number }).value).toBe(N);
    const named = tsxdp("map", "get", "--dev", p.a, "bySource", p.ipB);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toMatch(new RegExp(`\\(\\d+\\)\\s+${N}\\n$`));
    const text = tsxdp("map", "dump", "--prog-id", String(progId));
    expect(text.stdout.split("\n")[0]).toBe(`maps of program ${progId}:`);
    expect(text.stdout).toMatch(new RegExp(`^map id ${id}: hash 'bySource' \\(id ${id}\\)`, "m"));
  });

  test("a write by id is what the pin and the device show", () => {
    const id = (JSON.parse(tsxdp("map", "dump", "--pinned-dir", pinDir, "--json").stdout) as { maps: DumpJson[] }).maps.find((m) => m.map.name === "bySource")!.map.id;
    const set = tsxdp("map", "set", "--id", String(id), "10.9.8.7", "77");
    expect(set.code, set.stderr).toBe(0);
    const viaPin = JSON.parse(tsxdp("map", "get", `${pinDir}/bySource`, "10.9.8.7", "--json").stdout) as { value: number };
    expect(viaPin.value).toBe(77);
    const del = tsxdp("map", "delete", "--dev", p.a, "bySource", "10.9.8.7");
    expect(del.code, del.stderr).toBe(0);
    expect(tsxdp("map", "get", `${pinDir}/bySource`, "10.9.8.7").code).toBe(1);
  });

  test("bad selections: exit 2 with the reason", () => {
    const noDev = tsxdp("map", "dump", "--dev", "tsxnodev0");
    expect(noDev.code).toBe(2);
    expect(noDev.stderr).toMatch(/no network device 'tsxnodev0'/);
    const noMap = tsxdp("map", "get", "--dev", p.a, "nosuch", "1", "--json");
    expect(noMap.code).toBe(2);
    expect(JSON.parse(noMap.stdout).error.message).toMatch(/has no map named 'nosuch' \(its maps: .*'bySource'/);
    const noId = tsxdp("map", "dump", "--id", "4294967295");
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/no such map/);
    const noProg = tsxdp("map", "dump", "--prog-id", "4294967295");
    expect(noProg.code).toBe(2);
    expect(noProg.stderr).toMatch(/no such program/);
    const both = tsxdp("map", "dump", "--dev", p.a, "--id", "3");
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--dev and --id exclude each other/);
    expect(tsxdp("map", "get", "--id", "3").code).toBe(2); // the key is missing
    expect(tsxdp("map", "dump", "--dev", p.b).stderr).toMatch(/no network device/); // b is in its namespace
  });

  test("--dev inside a namespace: the program on the peer", () => {
    const attach = inNs(p.ns, "attach", path.join(dir, "flow_counters.o"), "--dev", p.b, "--netlink");
    expect(attach.code, attach.stderr).toBe(0);
    try {
      const r = inNs(p.ns, "map", "dump", "--dev", p.b, "--json");
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { programs: number[]; maps: DumpJson[] };
      expect(out.programs).toHaveLength(1);
      expect(out.programs[0]).not.toBe(progId);
      expect(Object.keys(byName(out.maps)).sort()).toEqual(["byClass", "bySource", "total"]);
      expect(tsxdp("map", "dump", "--dev", p.a, "--json").stdout).not.toContain(`${out.programs[0]}`);
    } finally {
      inNs(p.ns, "detach", "--dev", p.b);
    }
  });

  test("detach --pin <dir> detaches, removes the link and map pins and the directory", () => {
    const r = tsxdp("detach", "--pin", pinDir, "--json");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { detached: { progId: number }[]; unpinned: string[] };
    expect(out.detached.map((d) => d.progId)).toEqual([progId]);
    expect(out.unpinned.sort()).toEqual(["byClass", "bySource", "link", "total"].map((m) => `${pinDir}/${m}`));
    expect(fs.existsSync(pinDir)).toBe(false);
    expect(findDevice(p.a)!.xdp.native).toBe(0);
    expect(tsxdp("map", "dump", "--dev", p.a).stderr).toMatch(/runs no XDP program/);
  });

  test("attach --pin <dir> where a map's name is taken: refused, nothing stays attached, the other pin kept", () => {
    const busy = pinPath("busy");
    fs.mkdirSync(busy, { recursive: true });
    const r = compile({ source: `import { xdp, XdpAction } from "tsxdp";\nexport const squatter = xdp(() => XdpAction.PASS);\n`, fileName: "squatter.ts" });
    const squatter = loadObject(r.object!);
    try {
      squatter.program("squatter").pin(`${busy}/total`);
      const refused = tsxdp("attach", path.join(dir, "flow_counters.o"), "--dev", p.a, "--pin", busy, "--json");
      expect(refused.code).toBe(2);
      expect(JSON.parse(refused.stdout).error.message).toMatch(/pinning map 'total'.*nothing is left attached/);
      expect(findDevice(p.a)!.xdp.native).toBe(0);
      expect(fs.readdirSync(busy)).toEqual(["total"]);
    } finally {
      squatter.close();
    }
  });

  test("with --netlink the directory holds the program as 'prog'; detach --pin <dir> takes it off the device", () => {
    const nl = pinPath("netlink");
    const r = tsxdp("attach", path.join(dir, "flow_counters.o"), "--dev", p.a, "--netlink", "--pin", `${nl}/`);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(nl).sort()).toEqual(["byClass", "bySource", "prog", "total"]);
    const id = findDevice(p.a)!.xdp.native;
    expect(id).not.toBe(0);
    expect(JSON.parse(tsxdp("map", "dump", "--dev", p.a, "--json").stdout).programs).toEqual([id]);
    const d = tsxdp("detach", "--pin", nl);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain(`removed pin ${nl}/bySource`);
    expect(findDevice(p.a)!.xdp.native).toBe(0);
    expect(fs.existsSync(nl)).toBe(false);
  });
});

const devmapSource = `import { xdp, XdpAction, DevMap } from "tsxdp";
const ports = new DevMap({ maxEntries: 4, programs: true });
const plain = new DevMap({ maxEntries: 4 });
export const forward = xdp((ctx) => (ctx.rx_queue_index === 1 ? plain.redirect(0, XdpAction.PASS) : ports.redirect(0, XdpAction.PASS)));
export const egress = xdp.devmap(() => XdpAction.PASS);
`;

describe.skipIf(skipKernel)("tsxdp map set --program on a DEVMAP whose entries hold programs", () => {
  let pinDir: string;
  let obj: LoadedObject;
  beforeAll(() => {
    ensureBpffs();
    pinDir = pinPath("devmap-cli");
    fs.mkdirSync(pinDir, { recursive: true });
    const r = compile({ source: devmapSource, fileName: "devmap_cli.ts" });
    if (!r.ok || !r.object) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    obj = loadObject(r.object);
    obj.map("ports").pin(`${pinDir}/ports`);
    obj.map("plain").pin(`${pinDir}/plain`);
    obj.program("egress").pin(`${pinDir}/egress`);
    obj.program("forward").pin(`${pinDir}/forward`);
  });
  afterAll(() => {
    obj?.close();
    removePins();
  });

  test("by pinned path and by id; the entry shows { ifindex, prog_id }", () => {
    const egressId = obj.program("egress").info().id;
    const set = tsxdp("map", "set", `${pinDir}/ports`, "0", "1", "--program", `${pinDir}/egress`, "--json");
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ ok: true, key: 0, value: { ifindex: 1, prog_id: egressId } });
    expect(obj.map("ports").lookupEntry(0)).toEqual({ ifindex: 1, programId: egressId });
    const byId = tsxdp("map", "set", `${pinDir}/ports`, "2", "1", "--program", String(egressId));
    expect(byId.code, byId.stderr).toBe(0);
    const dump = tsxdp("map", "dump", `${pinDir}/ports`);
    expect(dump.stdout).toContain(`  0  { ifindex: 1, prog_id: ${egressId} }`);
    expect(dump.stdout).toContain(`  2  { ifindex: 1, prog_id: ${egressId} }`);
    // Without --program the entry has none.
    expect(tsxdp("map", "set", `${pinDir}/ports`, "3", "1").code).toBe(0);
    expect(obj.map("ports").lookupEntry(3)).toEqual({ ifindex: 1, programId: 0 });
  });

  test("refusals: a program not loaded for BPF_XDP_DEVMAP (exit 1), a map without programs, a map as program (exit 2)", () => {
    const wrong = tsxdp("map", "set", `${pinDir}/ports`, "1", "1", "--program", `${pinDir}/forward`);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/kernel refused program .*forward for a devmap entry.*BPF_XDP_DEVMAP/);
    expect(obj.map("ports").lookupEntry(1)).toBeUndefined();
    const noRoom = tsxdp("map", "set", `${pinDir}/plain`, "0", "1", "--program", `${pinDir}/egress`);
    expect(noRoom.code).toBe(2);
    expect(noRoom.stderr).toMatch(/holds no programs \(value_size 4\)/);
    const notProg = tsxdp("map", "set", `${pinDir}/ports`, "1", "1", "--program", `${pinDir}/plain`);
    expect(notProg.code).toBe(2);
    expect(notProg.stderr).toMatch(/is a map, not a program/);
    expect(tsxdp("map", "get", `${pinDir}/ports`, "0", "--program", "1").code).toBe(2);
  });
});
