/**
 * bpffs for pins: a pin path must be on a bpf filesystem; /sys/fs/bpf is
 * mounted when it is not (what bpftool's mount_bpffs_for_pin does), any
 * other place is refused rather than mounted over.
 *
 * Invariant: checked before anything is attached, so a bad pin path never
 * leaves a program attached without the pin that was asked for.
 */
import fs from "node:fs";
import path from "node:path";
import { filesystemType, mountFs } from "./libc";
import { errnoName } from "./libbpf";

const BPF_FS_MAGIC = 0xcafe4a11n;
export const DEFAULT_BPFFS = "/sys/fs/bpf";

export class BpffsError extends Error {
  constructor(message: string, readonly errno?: number) {
    super(message);
    this.name = "BpffsError";
  }
}

const onBpffs = (p: string) => filesystemType(p).type === BPF_FS_MAGIC;

/**
 * Makes `pinPath`'s directory exist on bpffs, mounting bpffs at /sys/fs/bpf
 * if the path is below it and it is not mounted. Refuses an existing pin.
 */
export function preparePinPath(pinPath: string): string {
  const abs = path.resolve(pinPath);
  const underDefault = abs === DEFAULT_BPFFS || abs.startsWith(`${DEFAULT_BPFFS}/`);
  if (underDefault && !onBpffs(DEFAULT_BPFFS)) {
    if (!fs.existsSync(DEFAULT_BPFFS)) throw new BpffsError(`cannot pin at ${abs}: ${DEFAULT_BPFFS} does not exist (is sysfs mounted?)`);
    const m = mountFs("bpf", DEFAULT_BPFFS, "bpf");
    if (m.rc < 0) {
      throw new BpffsError(
        `cannot pin at ${abs}: bpffs is not mounted at ${DEFAULT_BPFFS} and mounting it failed (${errnoName(m.errno) ?? m.errno}); ` +
          `mount it as root with: mount -t bpf bpf ${DEFAULT_BPFFS}`,
        m.errno,
      );
    }
  }
  const dir = path.dirname(abs);
  // The nearest existing ancestor decides the filesystem of directories we would create.
  let probe = dir;
  while (!fs.existsSync(probe) && probe !== path.dirname(probe)) probe = path.dirname(probe);
  if (!onBpffs(probe)) {
    throw new BpffsError(`cannot pin at ${abs}: ${probe} is not on a bpf filesystem; pins live on bpffs, e.g. under ${DEFAULT_BPFFS}`);
  }
  if (fs.existsSync(abs)) throw new BpffsError(`cannot pin at ${abs}: something is already pinned there (remove it, or choose another path)`, 17);
  fs.mkdirSync(dir, { recursive: true });
  return abs;
}
