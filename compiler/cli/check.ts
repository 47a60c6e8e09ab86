/** `tsxdp check`: diagnostics only, no code generation, so no LLVM needed. */
import { compile } from "../driver";
import { cpuFlag, parseFlags, singleInput } from "./args";
import { type Command, reportCompile } from "./command";

const help = `Usage: tsxdp check <file.ts> [--json] [--no-color] [--mcpu vN]

Type-checks <file.ts> and proves its packet accesses, without generating
code: fast, for editors and pre-commit hooks. Exit code 1 when there are
errors.`;

export const checkCommand: Command = {
  name: "check",
  usage: "check <file.ts> [--json] [--no-color]",
  help,
  run(argv) {
    const { flags, positionals, help: wantsHelp } = parseFlags("check", argv, { json: "boolean", "no-color": "boolean", mcpu: "string" });
    if (wantsHelp) {
      process.stdout.write(`${help}\n`);
      return 0;
    }
    const result = compile({ file: singleInput("check", positionals), checkOnly: true, cpu: cpuFlag(flags.mcpu) });
    reportCompile(result, { json: flags.json === true, noColor: flags["no-color"] === true });
    return result.ok ? 0 : 1;
  },
};
