/** The kernel's clocks as a test reads them, to bound what the time helpers return. */
import koffi from "koffi";

/** clock_gettime(2) clock ids (include/uapi/linux/time.h). */
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
export const CLOCK_TAI = 11;

let clockGettime: ((clock: number, ts: Buffer) => number) | undefined;

/** clock_gettime(2) in nanoseconds. */
export function clockNs(clock: number): bigint {
  clockGettime ??= koffi.load("libc.so.6").func("clock_gettime", "int", ["int", "void *"]) as (clock: number, ts: Buffer) => number;
  const ts = Buffer.alloc(16); // struct timespec: tv_sec, tv_nsec (64-bit each)
  if (clockGettime(clock, ts) !== 0) throw new Error(`clock_gettime(${clock}): errno ${koffi.errno()}`);
  return ts.readBigInt64LE(0) * 1_000_000_000n + ts.readBigInt64LE(8);
}
