/**
 * The package as users get it: `npm pack`, then `npm i ./tsxdp-*.tgz` in a
 * fresh directory. There, `npx tsxdp build` must work, the dialect import
 * must resolve for the user's own TypeScript (editors use the same
 * resolution), and `tsxdp/compiler` must be importable with its types.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readElf } from "../compiler/object/elf";

const program = `import { xdp, XdpAction, htons, type be16 } from "tsxdp";

export const only_ipv4 = xdp((ctx) => {
  const { data, data_end } = ctx;
  if (data + 14 > data_end) return XdpAction.DROP;
  return data.load<be16>(12) === htons(0x0800) ? XdpAction.PASS : XdpAction.DROP;
});
`;

const headers = `import { xdp, XdpAction, htons, sizeof } from "tsxdp";
import { type EthHdr, type Ipv4Hdr, ETH_P_IP, IPPROTO_UDP } from "tsxdp/net";

export const udp_only = xdp((ctx) => {
  const eth = ctx.data.header<EthHdr>(0);
  if (!eth || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = ctx.data.header<Ipv4Hdr>(sizeof<EthHdr>());
  if (!ip) return XdpAction.DROP;
  return ip.protocol === IPPROTO_UDP ? XdpAction.PASS : XdpAction.DROP;
});
`;

const embed = `import { compile, formatDiagnostics } from "tsxdp/compiler";
import { readFileSync } from "node:fs";

const r = compile({ source: readFileSync("prog.ts", "utf8"), fileName: "prog.ts" });
if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
console.log(JSON.stringify({ bytes: r.object.length, programs: r.programs }));
`;

const embedTyped = `import { compile, type CompileResult } from "tsxdp/compiler";
const r: CompileResult = compile({ file: "prog.ts", optLevel: 2, cpu: "v3" });
export const ok: boolean = r.ok;
`;

describe("the packed package in a fresh project", () => {
  let work: string;
  let project: string;
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: project, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" } });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-pack-"));
    project = path.join(work, "user-project");
    fs.mkdirSync(project);
    const packed = execFileSync("npm", ["pack", "--pack-destination", work], { encoding: "utf8" }).trim().split("\n").pop()!;
    const tgz = path.join(work, packed);
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "user-project", private: true, type: "module" }));
    fs.writeFileSync(path.join(project, "prog.ts"), program);
    fs.writeFileSync(path.join(project, "headers.ts"), headers);
    fs.writeFileSync(path.join(project, "embed.mjs"), embed);
    fs.writeFileSync(path.join(project, "embed-typed.ts"), embedTyped);
    const install = run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tgz]);
    if (install.code !== 0) throw new Error(`npm install failed:\n${install.out}`);
  }, 300_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test("npx tsxdp build produces a BPF object", () => {
    const r = run("npx", ["--no-install", "tsxdp", "build", "prog.ts", "-o", "prog.o"]);
    expect(r.code, r.out).toBe(0);
    const elf = readElf(fs.readFileSync(path.join(project, "prog.o")));
    expect(elf.machine).toBe(247);
    expect(elf.section("xdp")).toBeDefined();
    expect(elf.section(".BTF.ext")).toBeDefined();
  });

  test("the network headers of tsxdp/net resolve for the compiler too", () => {
    const r = run("npx", ["--no-install", "tsxdp", "build", "headers.ts", "-o", "headers.o"]);
    expect(r.code, r.out).toBe(0);
    expect(readElf(fs.readFileSync(path.join(project, "headers.o"))).section("xdp")).toBeDefined();
  });

  test("npx tsxdp check reports a bad program with exit code 1", () => {
    fs.writeFileSync(path.join(project, "bad.ts"), program.replace("if (data + 14 > data_end) return XdpAction.DROP;", ""));
    const r = run("npx", ["--no-install", "tsxdp", "check", "bad.ts"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("TSX5001");
  });

  for (const resolution of ["nodenext", "bundler"] as const) {
    test(`the user's own TypeScript resolves the dialect and the compiler API (moduleResolution ${resolution})`, () => {
      const tsconfig = {
        compilerOptions: { strict: true, noEmit: true, target: "es2022", module: resolution === "nodenext" ? "nodenext" : "preserve", moduleResolution: resolution, skipLibCheck: false, types: [] },
        files: ["prog.ts", "headers.ts", "embed-typed.ts"],
      };
      fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(tsconfig));
      const r = run(process.execPath, [path.join(project, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"]);
      expect(r.out).toBe("");
      expect(r.code).toBe(0);
    });
  }

  test("a program that type-checks wrongly in the editor is caught the same way", () => {
    fs.writeFileSync(path.join(project, "typo.ts"), program.replace("data.load<be16>(12)", "data.lod<be16>(12)"));
    fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", types: [] }, files: ["typo.ts"] }));
    const r = run(process.execPath, [path.join(project, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("Property 'lod' does not exist");
  });

  test("tsxdp/compiler is importable from the user's code", () => {
    const r = run(process.execPath, ["embed.mjs"]);
    expect(r.code, r.out).toBe(0);
    const out = JSON.parse(r.out) as { bytes: number; programs: unknown };
    expect(out.bytes).toBeGreaterThan(0);
    expect(out.programs).toEqual([{ name: "only_ipv4", section: "xdp" }]);
  });
});
