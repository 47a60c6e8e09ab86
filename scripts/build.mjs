// Bundles the compiler and the CLI into dist/ for the published package.
// typescript and koffi stay external: they are dependencies, installed beside us.
import { build } from "esbuild";
import { chmodSync, rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
// Importing typescript (9 MB of CommonJS) as ESM makes Node scan it for
// export names: 250 ms more per cold start than require(). So it, and koffi,
// are required.
const requireCommonJs = {
  name: "require-commonjs",
  setup(b) {
    b.onResolve({ filter: /^(typescript|koffi)$/ }, (args) =>
      args.namespace === "require-commonjs" ? { path: args.path, external: true } : { path: args.path, namespace: "require-commonjs" },
    );
    b.onLoad({ filter: /.*/, namespace: "require-commonjs" }, (args) => ({ contents: `export default require(${JSON.stringify(args.path)});`, loader: "js" }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["typescript", "koffi"],
  sourcemap: true,
  logLevel: "warning",
  plugins: [requireCommonJs],
  // Bundled ESM has no `require` of its own; the CommonJS dependencies are loaded through this one.
  banner: { js: 'import { createRequire as __tsxdpCreateRequire } from "node:module"; const require = __tsxdpCreateRequire(import.meta.url);' },
};
await build({ ...common, entryPoints: { cli: "compiler/cli/bin.ts" }, outdir: "dist", banner: { js: "#!/usr/bin/env node\n" + common.banner.js } });
// `npx tsxdp` in a checkout runs the file itself (npm sets the mode only for installed packages).
chmodSync("dist/cli.js", 0o755);
await build({ ...common, entryPoints: { compiler: "compiler/index.ts", loader: "compiler/loader/index.ts" }, outdir: "dist" });

// Declarations for `tsxdp/compiler` users: emitted by TypeScript itself.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });

// Our sources import without extensions (bundler resolution); users on
// node16/nodenext resolution need explicit ones in the published declarations.
import { readdirSync, readFileSync, writeFileSync, existsSync, statSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
function* declarations(dir) {
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) yield* declarations(p);
    else if (p.endsWith(".d.ts")) yield p;
  }
}
for (const file of declarations("dist/types")) {
  const text = readFileSync(file, "utf8").replace(/(from\s+|import\()(["'])(\.\.?\/[^"']*)\2/g, (whole, lead, quote, spec) => {
    const target = resolve(dirname(file), spec);
    if (existsSync(`${target}.d.ts`)) return `${lead}${quote}${spec}.js${quote}`;
    if (existsSync(join(target, "index.d.ts"))) return `${lead}${quote}${spec}/index.js${quote}`;
    return whole;
  });
  writeFileSync(file, text);
}
