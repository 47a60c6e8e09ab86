/** The package version, read from the installed package.json. */
import fs from "node:fs";
import path from "node:path";
import { packageRoot } from "../frontend/package-root";

export const version: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
})();
