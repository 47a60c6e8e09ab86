/**
 * Builds dist/ once before the tests, so CLI and package tests exercise the
 * bundle users get, never a stale one.
 */
import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
}
