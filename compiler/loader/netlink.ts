/**
 * A minimal synchronous netlink client: build one request, read every reply
 * until the kernel's ACK or DONE, return the messages' payloads. Enough for
 * rtnetlink link queries and generic netlink (the `netdev` family's
 * xdp-features), which ip(8) from Debian 12 does not show.
 *
 * Invariants: one socket per request, always closed (even on a parse
 * error); a request never blocks forever (receive timeout); a kernel error
 * comes back as a NetlinkError carrying the errno and the extended-ack text.
 * Layouts follow linux/netlink.h, linux/genetlink.h, linux/rtnetlink.h.
 */
import { closeFd, receive, sendToKernel, setNetlinkOptions, setReceiveTimeout, socket, AF_NETLINK, SOCK_RAW } from "./libc";

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = ~(0x8000 | 0x4000) & 0xffff;
const NLMSG_HDRLEN = 16;

export class NetlinkError extends Error {
  constructor(readonly errno: number, readonly extack: string | undefined, what: string) {
    super(`${what}: errno ${errno}${extack ? ` (${extack})` : ""}`);
    this.name = "NetlinkError";
  }
}

const align4 = (n: number) => (n + 3) & ~3;

/** One netlink attribute (type, payload), nested attributes built by the caller. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}
export const u32Attr = (type: number, v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return attr(type, b);
};
export const i32Attr = (type: number, v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return attr(type, b);
};
export const stringAttr = (type: number, s: string) => attr(type, Buffer.from(`${s}\0`, "utf8"));

/** Attributes of a payload region, by type (the last one wins on duplicates). */
export function parseAttrs(buf: Buffer, start = 0, end = buf.length): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let o = start;
  while (o + 4 <= end) {
    const len = buf.readUInt16LE(o);
    if (len < 4 || o + len > end) break;
    out.set(buf.readUInt16LE(o + 2) & NLA_TYPE_MASK, buf.subarray(o + 4, o + len));
    o += align4(len);
  }
  return out;
}

export const attrU8 = (a: Buffer | undefined) => (a && a.length >= 1 ? a.readUInt8(0) : undefined);
export const attrU16 = (a: Buffer | undefined) => (a && a.length >= 2 ? a.readUInt16LE(0) : undefined);
export const attrU32 = (a: Buffer | undefined) => (a && a.length >= 4 ? a.readUInt32LE(0) : undefined);
export const attrI32 = (a: Buffer | undefined) => (a && a.length >= 4 ? a.readInt32LE(0) : undefined);
export const attrU64 = (a: Buffer | undefined) => (a && a.length >= 8 ? a.readBigUInt64LE(0) : undefined);
export const attrString = (a: Buffer | undefined) => {
  if (!a) return undefined;
  const nul = a.indexOf(0);
  return a.toString("utf8", 0, nul < 0 ? a.length : nul);
};

export interface NetlinkMessage {
  type: number;
  /** the bytes after the nlmsghdr */
  payload: Buffer;
}

let sequence = 1;

/**
 * Sends `type` with `flags` | REQUEST | ACK and `payload` on a new socket of
 * `protocol`; returns every data message of the answer (a dump's parts, or
 * the single reply). Throws NetlinkError when the kernel refuses.
 */
export function netlinkRequest(protocol: number, type: number, flags: number, payload: Buffer, what: string): NetlinkMessage[] {
  const s = socket(AF_NETLINK, SOCK_RAW, protocol);
  if (s.rc < 0) throw new NetlinkError(s.errno, undefined, `${what}: netlink socket`);
  const fd = s.rc;
  try {
    setReceiveTimeout(fd, 5);
    setNetlinkOptions(fd);
    const seq = sequence++;
    const msg = Buffer.alloc(NLMSG_HDRLEN + payload.length);
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(type, 4);
    msg.writeUInt16LE(flags | NLM_F_REQUEST | NLM_F_ACK, 6);
    msg.writeUInt32LE(seq, 8);
    payload.copy(msg, NLMSG_HDRLEN);
    const sent = sendToKernel(fd, msg);
    if (sent.rc < 0) throw new NetlinkError(sent.errno, undefined, `${what}: send`);

    const out: NetlinkMessage[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const r = receive(fd, buf);
      if (r.rc < 0) throw new NetlinkError(r.errno, undefined, `${what}: receive`);
      let o = 0;
      while (o + NLMSG_HDRLEN <= r.rc) {
        const len = buf.readUInt32LE(o);
        const mtype = buf.readUInt16LE(o + 4);
        const mflags = buf.readUInt16LE(o + 6);
        const mseq = buf.readUInt32LE(o + 8);
        if (len < NLMSG_HDRLEN || o + len > r.rc) break;
        if (mseq === seq) {
          if (mtype === NLMSG_DONE) return out;
          if (mtype === NLMSG_ERROR) {
            const error = -buf.readInt32LE(o + NLMSG_HDRLEN);
            if (error === 0) return out;
            let extack: string | undefined;
            if (mflags & NLM_F_ACK_TLVS) {
              // nlmsgerr = error + the original header (without payload when capped)
              const origLen = buf.readUInt32LE(o + NLMSG_HDRLEN + 4);
              const capped = (mflags & 0x100) !== 0;
              const tlvStart = o + NLMSG_HDRLEN + 4 + (capped ? NLMSG_HDRLEN : align4(origLen));
              extack = attrString(parseAttrs(buf, tlvStart, o + len).get(NLMSGERR_ATTR_MSG));
            }
            throw new NetlinkError(error, extack, what);
          }
          out.push({ type: mtype, payload: Buffer.from(buf.subarray(o + NLMSG_HDRLEN, o + len)) });
        }
        o += align4(len);
      }
    }
  } finally {
    closeFd(fd);
  }
}
