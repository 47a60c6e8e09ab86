/**
 * Finds this package's own files (runtime-types) at run time, both from the
 * sources (compiler/frontend/…) and from the bundle (dist/…), by walking up
 * to the directory that holds them.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "runtime-types", "index.d.ts")) && fs.existsSync(path.join(dir, "package.json"))) {
      cached = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("tsxdp: cannot find its runtime-types directory; the installation is incomplete");
    dir = parent;
  }
}

export function runtimeTypesDir(): string {
  return path.join(packageRoot(), "runtime-types");
}
