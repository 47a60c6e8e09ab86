/**
 * Reading a BPF_MAP_TYPE_RINGBUF from userspace, over libbpf's ring_buffer
 * API (ring_buffer__new with a sample callback registered through koffi,
 * ring_buffer__consume and ring_buffer__poll).
 *
 * Records are decoded through BTF where their type is known: objects built
 * by tsxdp carry each ring's record type as the VAR `<map>__record` (section
 * `.tsxdp.types`); any object can name a BTF type instead (`{ type: "event" }`).
 * The BTF is the one the kernel holds for the object's programs.
 *
 * Invariants: the callback only runs inside consume()/poll() (libbpf calls
 * it synchronously), copies the record before returning (the ring's memory
 * is reused as soon as it returns), and never throws into C; close()
 * unregisters it and frees the ring_buffer, and is idempotent.
 */
import koffi from "koffi";
import { BTF_KIND, type BtfTypes, type Decoded } from "../object/btf-types";
import { libbpf, libbpfLibrary, type Ptr } from "./libbpf";
import { BpfError, type LoadedObject } from "./loader";
import { loadKernelBtf } from "./pinned-map";
import { RecordQueue } from "./record-queue";

const BPF_MAP_TYPE_RINGBUF = 27;

export interface RingRecord {
  /** the record as the program wrote it */
  readonly bytes: Uint8Array;
  /** decoded through BTF (as `tsxdp map dump` decodes values) when the record type is known */
  readonly value?: Decoded;
}

export interface RingBufferOptions {
  /** A BTF type of the object to decode records with, by name; default: the ring's `<map>__record` type. */
  readonly type?: string;
}

export interface RingBufferReader {
  /** The BTF name of the record type the records are decoded with, if any. */
  readonly recordType: string | undefined;
  /** Every record available now, in order, without waiting (ring_buffer__consume). */
  consume(): RingRecord[];
  /** Waits up to `timeoutMs` for records (ring_buffer__poll; this blocks the thread), then returns them. */
  poll(timeoutMs: number): RingRecord[];
  close(): void;
}

interface Bindings {
  ring_buffer__new(fd: number, cb: Ptr, ctx: null, opts: null): Ptr | null;
  ring_buffer__consume(rb: Ptr): number;
  ring_buffer__poll(rb: Ptr, timeoutMs: number): number;
  ring_buffer__free(rb: Ptr): void;
  sampleFn: ReturnType<typeof koffi.proto>;
}

let bound: Bindings | undefined;

function bindings(): Bindings {
  if (bound) return bound;
  libbpf();
  const lib = libbpfLibrary();
  const rb = koffi.pointer(koffi.opaque());
  const sampleFn = koffi.proto("int", ["void *", "void *", "size_t"]);
  bound = {
    ring_buffer__new: lib.func("ring_buffer__new", rb, ["int", koffi.pointer(sampleFn), "void *", "void *"]),
    ring_buffer__consume: lib.func("ring_buffer__consume", "int", [rb]),
    ring_buffer__poll: lib.func("ring_buffer__poll", "int", [rb, "int"]),
    ring_buffer__free: lib.func("ring_buffer__free", "void", [rb]),
    sampleFn,
  };
  return bound;
}

/** Opens the ring buffer `mapName` of a loaded object for reading. */
export function openRingBuffer(obj: LoadedObject, mapName: string, options: RingBufferOptions = {}): RingBufferReader {
  const map = obj.map(mapName);
  const info = map.info();
  if (info.type !== BPF_MAP_TYPE_RINGBUF) throw new BpfError(`reading map '${mapName}'`, 22, `'${mapName}' is a ${info.typeName} map, not a ring buffer`);
  const decoder = recordDecoder(obj, mapName, options.type);
  const b = bindings();
  const queue = new RecordQueue<RingRecord>(`ring buffer '${mapName}'`, () => map.fd);
  const callback = koffi.register((_ctx: Ptr | null, data: Ptr | null, size: number | bigint): number => {
    queue.collect(() => {
      const bytes = data === null ? new Uint8Array(0) : new Uint8Array(koffi.view(data, Number(size)).slice(0));
      return decoder ? { bytes, value: decoder.decode(bytes) } : { bytes };
    });
    return 0;
  }, koffi.pointer(b.sampleFn));
  const rb = b.ring_buffer__new(map.fd, callback, null, null);
  if (rb === null) {
    koffi.unregister(callback);
    const errno = libbpf().errno() || 22;
    throw new BpfError(`ring_buffer__new(map '${mapName}')`, errno);
  }
  return {
    recordType: decoder?.name,
    consume: () => queue.consume(() => b.ring_buffer__consume(rb)),
    poll: (timeoutMs: number) => queue.poll(timeoutMs, (ms) => b.ring_buffer__poll(rb, ms)),
    close: () =>
      queue.close(() => {
        b.ring_buffer__free(rb);
        koffi.unregister(callback);
      }),
  };
}

/** The record type through the BTF the kernel holds for the object's programs, or undefined when unknown (perfbuf.ts too). */
export function recordDecoder(obj: LoadedObject, mapName: string, typeName: string | undefined): { name: string; size: number; decode(bytes: Uint8Array): Decoded } | undefined {
  const btfId = obj.programs.map((p) => p.info().btfId).find((id) => id > 0);
  if (btfId === undefined) {
    if (typeName !== undefined) throw new Error(`cannot decode records as '${typeName}': the object was loaded without BTF`);
    return undefined;
  }
  const btf = loadKernelBtf(btfId);
  const id = typeName !== undefined ? namedType(btf, typeName) : recordVariableType(btf, `${mapName}__record`);
  if (id === undefined) {
    if (typeName !== undefined) throw new Error(`the object's BTF has no type named '${typeName}'`);
    return undefined;
  }
  return { name: btf.typeName(id), size: btf.sizeOf(id) ?? 0, decode: (bytes) => btf.format(id, bytes) };
}

function recordVariableType(btf: BtfTypes, name: string): number | undefined {
  return btf.types.find((t) => t.kind === BTF_KIND.VAR && t.name === name)?.type;
}

function namedType(btf: BtfTypes, name: string): number | undefined {
  const kinds: number[] = [BTF_KIND.STRUCT, BTF_KIND.UNION, BTF_KIND.TYPEDEF, BTF_KIND.INT, BTF_KIND.ENUM];
  return btf.types.find((t) => kinds.includes(t.kind) && t.name === name)?.id;
}
