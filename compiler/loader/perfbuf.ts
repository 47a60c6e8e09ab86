/**
 * Reading a BPF_MAP_TYPE_PERF_EVENT_ARRAY from userspace, over libbpf's
 * perf_buffer API (perf_buffer__new opens a perf event per CPU and puts its
 * fd in the map; sample and lost callbacks registered through koffi;
 * perf_buffer__consume and perf_buffer__poll).
 *
 * Records are decoded through BTF as ringbuf.ts does: tsxdp objects carry
 * the record type as the VAR `<map>__record`, any object can name a type.
 * The kernel pads a raw sample so that it and its u32 size end 8-aligned:
 * with a known record type the bytes are cut back to its size.
 *
 * Invariants: the callbacks only run inside consume()/poll(), copy the
 * record before returning and never throw into C; close() frees the
 * perf_buffer (closing its events), unregisters them, and is idempotent.
 */
import koffi from "koffi";
import { libbpf, libbpfLibrary, type Ptr } from "./libbpf";
import { BpfError, type LoadedObject } from "./loader";
import { RecordQueue } from "./record-queue";
import { recordDecoder } from "./ringbuf";
import type { Decoded } from "../object/btf-types";

const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;

export interface PerfRecord {
  /** the CPU whose buffer held the record */
  readonly cpu: number;
  /** the record as the program wrote it (with the kernel's padding when the type is unknown) */
  readonly bytes: Uint8Array;
  /** decoded through BTF when the record type is known */
  readonly value?: Decoded;
}

export interface PerfBufferOptions {
  /** A BTF type of the object to decode records with, by name; default: the map's `<map>__record` type. */
  readonly type?: string;
  /** Pages of each CPU's buffer, a power of 2 (default 8). */
  readonly pages?: number;
}

export interface PerfBufferReader {
  /** The BTF name of the record type the records are decoded with, if any. */
  readonly recordType: string | undefined;
  /** Records the kernel dropped because a buffer was full, since the reader was opened. */
  readonly lost: number;
  /** Every record available now, buffer by buffer, without waiting (perf_buffer__consume). */
  consume(): PerfRecord[];
  /** Waits up to `timeoutMs` for records (perf_buffer__poll; this blocks the thread), then returns them. */
  poll(timeoutMs: number): PerfRecord[];
  close(): void;
}

interface Bindings {
  perf_buffer__new(fd: number, pages: number, sample: Ptr, lost: Ptr, ctx: null, opts: null): Ptr | null;
  perf_buffer__consume(pb: Ptr): number;
  perf_buffer__poll(pb: Ptr, timeoutMs: number): number;
  perf_buffer__free(pb: Ptr): void;
  sampleFn: ReturnType<typeof koffi.proto>;
  lostFn: ReturnType<typeof koffi.proto>;
}

let bound: Bindings | undefined;

function bindings(): Bindings {
  if (bound) return bound;
  libbpf();
  const lib = libbpfLibrary();
  const pb = koffi.pointer(koffi.opaque());
  const sampleFn = koffi.proto("void", ["void *", "int", "void *", "uint32_t"]);
  const lostFn = koffi.proto("void", ["void *", "int", "uint64_t"]);
  bound = {
    perf_buffer__new: lib.func("perf_buffer__new", pb, ["int", "size_t", koffi.pointer(sampleFn), koffi.pointer(lostFn), "void *", "void *"]),
    perf_buffer__consume: lib.func("perf_buffer__consume", "int", [pb]),
    perf_buffer__poll: lib.func("perf_buffer__poll", "int", [pb, "int"]),
    perf_buffer__free: lib.func("perf_buffer__free", "void", [pb]),
    sampleFn,
    lostFn,
  };
  return bound;
}

/** Opens the perf event array `mapName` of a loaded object for reading: from now on the program's output to it arrives here. */
export function openPerfBuffer(obj: LoadedObject, mapName: string, options: PerfBufferOptions = {}): PerfBufferReader {
  const map = obj.map(mapName);
  const info = map.info();
  if (info.type !== BPF_MAP_TYPE_PERF_EVENT_ARRAY) throw new BpfError(`reading map '${mapName}'`, 22, `'${mapName}' is a ${info.typeName} map, not a perf event array`);
  const pages = options.pages ?? 8;
  if (!Number.isInteger(pages) || pages < 1 || pages & (pages - 1)) throw new RangeError(`pages: a power of 2 (got ${pages})`);
  const decoder = recordDecoder(obj, mapName, options.type);
  const b = bindings();
  const queue = new RecordQueue<PerfRecord>(`perf buffer '${mapName}'`, () => map.fd);
  let lost = 0;
  const sample = koffi.register((_ctx: Ptr | null, cpu: number, data: Ptr | null, size: number): void => {
    queue.collect(() => {
      const all = data === null ? new Uint8Array(0) : new Uint8Array(koffi.view(data, size).slice(0));
      if (!decoder) return { cpu, bytes: all };
      const bytes = all.length >= decoder.size ? all.slice(0, decoder.size) : all;
      return { cpu, bytes, value: decoder.decode(bytes) };
    });
  }, koffi.pointer(b.sampleFn));
  const lostCallback = koffi.register((_ctx: Ptr | null, _cpu: number, count: number | bigint): void => {
    lost += Number(count);
  }, koffi.pointer(b.lostFn));
  const pb = b.perf_buffer__new(map.fd, pages, sample, lostCallback, null, null);
  if (pb === null) {
    koffi.unregister(sample);
    koffi.unregister(lostCallback);
    const errno = libbpf().errno() || 22;
    throw new BpfError(`perf_buffer__new(map '${mapName}')`, errno);
  }
  return {
    recordType: decoder?.name,
    get lost() {
      return lost;
    },
    consume: () => queue.consume(() => b.perf_buffer__consume(pb)),
    poll: (timeoutMs: number) => queue.poll(timeoutMs, (ms) => b.perf_buffer__poll(pb, ms)),
    close: () =>
      queue.close(() => {
        b.perf_buffer__free(pb);
        koffi.unregister(sample);
        koffi.unregister(lostCallback);
      }),
  };
}
