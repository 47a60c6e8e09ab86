/**
 * Reads classic libpcap capture files (not pcapng): the 24-byte global
 * header, then records of a 16-byte header and the captured bytes. Both byte
 * orders and both timestamp resolutions (microseconds 0xa1b2c3d4,
 * nanoseconds 0xa1b23c4d) are recognised by the magic number, as libpcap's
 * pcap_check_header() does.
 *
 * Invariant: a file is either read whole or refused with a PcapError naming
 * the offset; a record that runs past the end of the file is an error, not a
 * silently shortened frame.
 */

export class PcapError extends Error {}

export interface PcapRecord {
  /** The captured bytes (may be shorter than `originalLength` when the capture had a snap length). */
  readonly data: Uint8Array;
  readonly originalLength: number;
  readonly seconds: number;
  /** Fraction of the second, in microseconds or nanoseconds as `PcapFile.nanoseconds` says. */
  readonly fraction: number;
}

export interface PcapFile {
  readonly littleEndian: boolean;
  readonly nanoseconds: boolean;
  readonly version: string;
  readonly snapLength: number;
  /** LINKTYPE_* (1 is Ethernet). */
  readonly linkType: number;
  readonly records: readonly PcapRecord[];
}

export const LINKTYPE_ETHERNET = 1;
const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

export function readPcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < GLOBAL_HEADER) throw new PcapError(`not a pcap file: ${bytes.length} bytes is shorter than the 24-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const asLittle = view.getUint32(0, true);
  const asBig = view.getUint32(0, false);
  let littleEndian: boolean;
  let nanoseconds: boolean;
  if (asLittle === MAGIC_MICRO || asLittle === MAGIC_NANO) {
    littleEndian = true;
    nanoseconds = asLittle === MAGIC_NANO;
  } else if (asBig === MAGIC_MICRO || asBig === MAGIC_NANO) {
    littleEndian = false;
    nanoseconds = asBig === MAGIC_NANO;
  } else if (asLittle === PCAPNG_MAGIC) {
    throw new PcapError("this is a pcapng file; only classic pcap is read (convert it: editcap -F pcap in.pcapng out.pcap)");
  } else {
    throw new PcapError(`not a pcap file: unknown magic number 0x${asBig.toString(16).padStart(8, "0")}`);
  }
  const u16 = (o: number) => view.getUint16(o, littleEndian);
  const u32 = (o: number) => view.getUint32(o, littleEndian);
  // The upper bits of the link type field carry FCS information (draft-ietf-opsawg-pcap).
  const linkType = u32(20) & 0xffff;
  const records: PcapRecord[] = [];
  let o = GLOBAL_HEADER;
  while (o < bytes.length) {
    if (o + RECORD_HEADER > bytes.length) throw new PcapError(`record ${records.length + 1} at offset ${o}: header truncated`);
    const included = u32(o + 8);
    const start = o + RECORD_HEADER;
    if (start + included > bytes.length) throw new PcapError(`record ${records.length + 1} at offset ${o}: ${included} bytes announced, ${bytes.length - start} left in the file`);
    records.push({ data: bytes.slice(start, start + included), originalLength: u32(o + 12), seconds: u32(o), fraction: u32(o + 4) });
    o = start + included;
  }
  return { littleEndian, nanoseconds, version: `${u16(4)}.${u16(6)}`, snapLength: u32(16), linkType, records };
}
