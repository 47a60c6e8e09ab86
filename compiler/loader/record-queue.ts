/**
 * What the ring buffer and perf buffer readers share: records gathered by
 * libbpf's callbacks during consume()/poll(), handed out when the call
 * returns, and an error thrown while gathering rethrown there instead of
 * into C.
 */
import { BpfError } from "./loader";

export class RecordQueue<R> {
  private pending: R[] = [];
  private failure: unknown;
  private open = true;

  /** `what`: "ring buffer 'events'"; `mapFd`: the map's fd, negative once its object is closed. */
  constructor(
    private readonly what: string,
    private readonly mapFd: () => number,
  ) {}

  /** In a callback: never throws. */
  collect(make: () => R): void {
    try {
      this.pending.push(make());
    } catch (e) {
      this.failure ??= e;
    }
  }

  consume(call: () => number): R[] {
    this.live("consume()");
    return this.drain("consume()", call());
  }

  poll(timeoutMs: number, call: (timeoutMs: number) => number): R[] {
    this.live("poll()");
    if (!Number.isInteger(timeoutMs) || timeoutMs < -1) throw new RangeError(`poll(): the timeout is a whole number of milliseconds, or -1 to wait forever (got ${timeoutMs})`);
    return this.drain("poll()", call(timeoutMs));
  }

  /** Runs `free` once. */
  close(free: () => void): void {
    if (!this.open) return;
    this.open = false;
    free();
  }

  private live(operation: string): void {
    if (!this.open) throw new Error(`${operation}: the reader of ${this.what} is closed`);
    if (this.mapFd() < 0) throw new Error(`${operation}: ${this.what} belongs to a closed object`);
  }

  private drain(operation: string, rc: number): R[] {
    const out = this.pending;
    this.pending = [];
    if (this.failure !== undefined) {
      const e = this.failure;
      this.failure = undefined;
      throw e;
    }
    // EINTR: a signal interrupted the wait; what arrived is still returned.
    if (rc < 0 && rc !== -4) throw new BpfError(`${operation} of ${this.what}`, -rc);
    return out;
  }
}
