/**
 * Before the tests: builds dist/ once, so CLI and package tests exercise the
 * bundle users get, never a stale one; and asks every compilation of the
 * run (in-process and in spawned CLIs) to keep its object.
 * After the tests: loads every kept object into the kernel. A program that
 * compiled but that the verifier rejects fails the run: our promise is that
 * what compiles, the kernel accepts.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export default function setup(): () => Promise<void> {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-objects-"));
  process.env.TSXDP_KEEP_OBJECTS = dir;
  return async () => {
    try {
      await loadEveryObject(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

async function loadEveryObject(dir: string): Promise<void> {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".o"));
  if (process.getuid?.() !== 0) {
    if (process.env.CI === "true") throw new Error("compiles => verifies: loading the compiled objects needs root, and CI has it");
    console.log(`compiles => verifies: ${files.length} objects kept, not loaded (needs root)`);
    return;
  }
  const { loadObject, LoadError, deviceBoundKfuncs } = await import("../../compiler/loader/index");
  const { kfuncs } = await import("../../compiler/dialect/kfuncs");
  const rejected: string[] = [];
  // Objects calling a kfunc only some kernels are built with (crash_kexec: CONFIG_KEXEC_CORE), absent from this one's BTF.
  const unloadable: string[] = [];
  // Objects that read RX metadata load only bound to a device: a veth made for them.
  const veth = `tsxb${process.pid}`;
  let boundTo: number | undefined;
  try {
    for (const f of files) {
      try {
        const file = path.join(dir, f);
        const bound = deviceBoundKfuncs(new Uint8Array(fs.readFileSync(file))).length > 0;
        if (bound && boundTo === undefined) {
          execFileSync("ip", ["link", "add", veth, "type", "veth", "peer", "name", `${veth}p`]);
          boundTo = Number(fs.readFileSync(`/sys/class/net/${veth}/ifindex`, "utf8"));
        }
        loadObject(file, bound ? { deviceBoundIfindex: boundTo } : {}).close();
      } catch (e) {
        if (e instanceof LoadError && e.missingKfuncs.length > 0 && e.missingKfuncs.every((k) => kfuncs.get(k)?.requires !== undefined)) {
          unloadable.push(`${f} (${e.missingKfuncs.map((k) => `${k}: built without ${kfuncs.get(k)!.requires}`).join(", ")})`);
          continue;
        }
        const log = e instanceof LoadError ? e.verifierLog.split("\n").slice(-8).join("\n") : String(e);
        rejected.push(`${f}: ${e instanceof Error ? e.message : String(e)}\n${log}`);
      }
    }
  } finally {
    if (boundTo !== undefined) execFileSync("ip", ["link", "del", veth]);
  }
  console.log(`compiles => verifies: ${files.length - rejected.length - unloadable.length} of ${files.length} compiled objects loaded in the kernel`);
  if (unloadable.length > 0) console.log(`compiles => verifies: not loaded, calling a kfunc this kernel's BTF lacks: ${unloadable.join("; ")}`);
  // A subset of the tests may compile nothing; the whole suite (as CI runs it) always compiles.
  if (files.length === 0 && process.env.CI === "true") throw new Error("compiles => verifies: no compiled object was kept; the check did not run");
  if (rejected.length > 0) throw new Error(`compiles => verifies: the kernel rejected ${rejected.length} object(s) that compiled:\n${rejected.join("\n\n")}`);
}
