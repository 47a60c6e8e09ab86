/**
 * How the attach/detach/status commands report loader failures: one line
 * (or a few, for a diagnosis) without a stack, and the CLI contract's exit
 * code: 1 when the object or program is at fault, 2 when the machine is
 * (device, privileges, bpffs, a busy device, no libbpf).
 */
import { AttachError, LoadError, LibbpfNotFoundError } from "../loader/index";

const EPERM = 1;
const EACCES = 13;

export const PRIVILEGES = "needs root, or CAP_BPF and CAP_NET_ADMIN (CAP_SYS_ADMIN to mount bpffs)";

/** The exit code for a known loader error after printing it, or undefined for anything else. */
export function reportLoaderError(e: unknown, json: boolean): number | undefined {
  let message: string;
  let code: number;
  let kind: string;
  if (e instanceof AttachError) {
    message = e.message;
    code = e.kind === "program" ? 1 : 2;
    kind = e.kind;
  } else if (e instanceof LoadError) {
    const denied = e.errno === EPERM || e.errno === EACCES;
    message = denied ? `${e.message}\n  loading BPF programs ${PRIVILEGES}` : e.message;
    code = denied ? 2 : 1;
    kind = denied ? "privilege" : "program";
  } else if (e instanceof LibbpfNotFoundError) {
    message = e.message;
    code = 2;
    kind = "environment";
  } else {
    return undefined;
  }
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: { kind, message } }, null, 2) + "\n");
  process.stderr.write(`tsxdp: ${message}\n`);
  return code;
}
