/** `tsxdp build`: a .ts file to one BPF object, plus optional IR and assembly beside it. */
import fs from "node:fs";
import path from "node:path";
import { compile } from "../driver";
import { InputError } from "../frontend/program";
import type { OptLevel } from "../lower/generate";
import { cpuFlag, parseFlags, singleInput, UsageError } from "./args";
import { type Command, reportCompile } from "./command";

const help = `Usage: tsxdp build <file.ts> [options]

Compiles the XDP programs in <file.ts> into one BPF ELF object, loadable by
libbpf, bpftool, ip link and xdp-loader.

Options:
  -o <file>        output object (default: <file>.o in the current directory)
  -O0 … -O3        optimisation level (default -O2)
  --mcpu <vN>      BPF ISA version, v1 to v4 (default v3; v4 needs LLVM 18)
  --emit-llvm      also write the optimised LLVM IR beside the object (.ll)
  --emit-asm       also write the BPF assembly beside the object (.s)
  --emit-ir        also write tsxdp's own IR beside the object (.ir)
  --json           print the result and diagnostics as JSON on stdout
  --no-color       plain diagnostics (also: NO_COLOR=1)`;

export const buildCommand: Command = {
  name: "build",
  usage: "build <file.ts> [-o out.o] [-O0|-O1|-O2|-O3] [--mcpu v1|v2|v3|v4]\n            [--emit-llvm] [--emit-asm] [--emit-ir] [--json] [--no-color]",
  help,
  run(argv) {
    // -O0..-O3 are clang's spelling; they are read before the generic flags.
    let optLevel: OptLevel = 2;
    const rest: string[] = [];
    for (const a of argv) {
      if (/^-O[0-3]$/.test(a)) optLevel = Number(a.slice(2)) as OptLevel;
      else if (/^-O/.test(a)) throw new UsageError(`unknown optimisation level '${a}' (use -O0 to -O3)`);
      else rest.push(a);
    }
    const { flags, positionals, help: wantsHelp } = parseFlags(
      "build",
      rest,
      { output: "string", mcpu: "string", "emit-llvm": "boolean", "emit-asm": "boolean", "emit-ir": "boolean", json: "boolean", "no-color": "boolean" },
      { "-o": "output" },
    );
    if (wantsHelp) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    const input = singleInput("build", positionals);
    const out = (flags.output as string | undefined) ?? `${path.basename(input).replace(/\.[cm]?tsx?$/, "")}.o`;
    const json = flags.json === true;
    const result = compile({
      file: input,
      optLevel,
      cpu: cpuFlag(flags.mcpu),
      emitLlvm: flags["emit-llvm"] === true,
      emitAsm: flags["emit-asm"] === true,
      emitIr: flags["emit-ir"] === true,
    });
    const written: string[] = [];
    if (result.ok && result.object) {
      const stem = out.replace(/\.o$/, "");
      try {
        fs.writeFileSync(out, result.object);
        written.push(out);
        for (const [ext, text] of [
          ["ll", result.llvmIr],
          ["s", result.assembly],
          ["ir", result.ir],
        ] as const) {
          if (text === undefined) continue;
          fs.writeFileSync(`${stem}.${ext}`, text);
          written.push(`${stem}.${ext}`);
        }
      } catch (e) {
        throw new InputError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    reportCompile(result, { json, noColor: flags["no-color"] === true }, { outputs: written });
    if (!json && result.ok) process.stdout.write(`${out}: ${result.programs.map((p) => `${p.name} (${p.section})`).join(", ")}\n`);
    return result.ok ? 0 : 1;
  },
};
