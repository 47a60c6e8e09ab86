/**
 * The `tsxdp` command: dispatches to one Command per subcommand. Exit codes
 * are a contract with scripts and editors: 0 success, 1 the program (or
 * data) has errors, 2 the command line or the machine is wrong (usage,
 * unreadable input, no libLLVM, no privileges). Nothing reaches the user as
 * a stack trace: internal errors are reported as bugs, with exit code 2.
 */
import { EnvironmentError } from "../diagnostics/diagnostic";
import { InputError } from "../frontend/program";
import { UsageError } from "./args";
import { attachCommand } from "./attach";
import { buildCommand } from "./build";
import { checkCommand } from "./check";
import type { Command } from "./command";
import { detachCommand } from "./detach";
import { mapCommand } from "./map";
import { runCommand } from "./run";
import { statusCommand } from "./status";
import { version } from "./version";

/** Every subcommand, in the order the overview lists them. */
export const commands: readonly Command[] = [buildCommand, checkCommand, runCommand, attachCommand, detachCommand, statusCommand, mapCommand];

function overview(): string {
  const lines = commands.flatMap((c) => c.usage.split("\n").map((l, i) => (i === 0 ? `  tsxdp ${l}` : `  ${l}`)));
  return `tsxdp ${version}: compile TypeScript XDP programs to BPF objects

Usage:
${lines.join("\n")}
  tsxdp <command> --help
  tsxdp --version

Exit codes: 0 success, 1 errors in the program, 2 usage or environment error.`;
}

export function main(argv: readonly string[]): number {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const topic = first === "help" ? commands.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write(`${topic ? topic.help : overview()}\n`);
    return 0;
  }
  if (first === "--version" || first === "-v") {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === first);
  try {
    if (!command) throw new UsageError(`unknown command '${first}'`);
    return command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tsxdp: ${e.message}\n\n${overview()}\n`);
      return 2;
    }
    if (e instanceof EnvironmentError || e instanceof InputError) {
      process.stderr.write(`tsxdp: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`tsxdp: internal error: ${e instanceof Error ? e.message : String(e)}\nThis is a bug in tsxdp; please report it with the command and the input file.\n`);
    return 2;
  }
}
