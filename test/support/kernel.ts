/**
 * Kernel tests need root (BPF_PROG_LOAD, bpffs). On a laptop without it they
 * skip with the reason; under CI=true a missing privilege is a failure, so a
 * green CI always means the kernel really ran them.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";

export const isRoot = process.getuid?.() === 0;
export const inCI = process.env.CI === "true";

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelUnavailable(): string | undefined {
  if (!isRoot) return "kernel tests need root (BPF_PROG_LOAD)";
  return undefined;
}

/**
 * For `describe.skipIf(skipKernel)`: true only when kernel tests cannot run
 * and we are not in CI. In CI the tests run and fail loudly instead.
 */
export const skipKernel = kernelUnavailable() !== undefined && !inCI;
export const skipReason = kernelUnavailable() ?? "";

/** bpffs at /sys/fs/bpf, mounted if it is not. */
export function ensureBpffs(): string {
  const mounts = fs.readFileSync("/proc/mounts", "utf8");
  if (!mounts.split("\n").some((l) => l.split(" ")[1] === "/sys/fs/bpf" && l.split(" ")[2] === "bpf")) {
    execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  }
  return "/sys/fs/bpf";
}

/** Path of a tool, or undefined. Under CI=true a missing tool fails the caller's test instead. */
export function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":").concat(["/usr/sbin", "/sbin"])) {
    const p = `${dir}/${tool}`;
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}
