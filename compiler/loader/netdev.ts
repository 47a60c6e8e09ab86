/**
 * What the attach side needs to know about a network device, read from the
 * kernel of the caller's network namespace (never from sysfs, which shows
 * the namespace that mounted it): name, ifindex, MTU, kind, veth peer, the
 * XDP programs attached per mode (rtnetlink RTM_GETLINK, as `ip link`
 * reads them), the driver's xdp-features (generic netlink family `netdev`,
 * Linux 6.3+) and the receive offloads that conflict with XDP (ethtool
 * ioctl: LRO and hardware GRO).
 *
 * Invariant: queries only, nothing here changes a device. A fact the kernel
 * cannot give (an old kernel, a peer in a namespace we cannot see) is
 * `undefined`, never guessed.
 */
import koffi from "koffi";
import { AF_INET, closeFd, ioctlPtr, NETLINK_GENERIC, NETLINK_ROUTE, SOCK_DGRAM, socket } from "./libc";
import {
  attrI32,
  attrString,
  attrU16,
  attrU32,
  attrU64,
  i32Attr,
  NetlinkError,
  netlinkRequest,
  NLM_F_DUMP,
  parseAttrs,
  stringAttr,
} from "./netlink";

// linux/rtnetlink.h, linux/if_link.h (checked against the headers in test/attach.test.ts)
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const IFLA = { IFNAME: 3, MTU: 4, LINK: 5, LINKINFO: 18, STATS64: 23, LINK_NETNSID: 37, XDP: 43, TARGET_NETNSID: 46, MAX_MTU: 51 } as const;
export const IFLA_INFO_KIND = 1;
export const IFLA_XDP_ = { ATTACHED: 2, PROG_ID: 4, DRV_PROG_ID: 5, SKB_PROG_ID: 6, HW_PROG_ID: 7 } as const;

/** enum netdev_xdp_act (linux/netdev.h, 6.3+; not in Debian 12's headers, so spelled out). */
export const XDP_FEATURE_BITS = {
  basic: 1,
  redirect: 2,
  "ndo-xmit": 4,
  "xsk-zerocopy": 8,
  "hw-offload": 16,
  "rx-sg": 32,
  "ndo-xmit-sg": 64,
} as const;
export type XdpFeatureName = keyof typeof XDP_FEATURE_BITS;

export type XdpMode = "native" | "generic" | "offload";

export interface DeviceInfo {
  ifindex: number;
  name: string;
  mtu: number;
  /** IFLA_MAX_MTU; veth lowers its peer's while an XDP program is attached */
  maxMtu: number | undefined;
  /** rtnl link kind ("veth", "bridge", …); undefined for physical devices */
  kind: string | undefined;
  /** IFLA_LINK: for veth the peer's ifindex, in the namespace `peerNetnsId` (or ours) */
  link: number | undefined;
  peerNetnsId: number | undefined;
  /** program ids per mode, 0 when none (IFLA_XDP_{DRV,SKB,HW}_PROG_ID) */
  xdp: Record<XdpMode, number>;
  /** counters from IFLA_STATS64 (struct rtnl_link_stats64) */
  stats: { rxPackets: bigint; txPackets: bigint; rxBytes: bigint; rxDropped: bigint; txDropped: bigint } | undefined;
}

const ifinfomsg = (ifindex = 0) => {
  const b = Buffer.alloc(16); // family, pad, type, index, flags, change
  b.writeInt32LE(ifindex, 4);
  return b;
};

function parseLink(payload: Buffer): DeviceInfo {
  const a = parseAttrs(payload, 16);
  const xdp = a.get(IFLA.XDP);
  const x = xdp ? parseAttrs(xdp) : new Map<number, Buffer>();
  const linkinfo = a.get(IFLA.LINKINFO);
  const ifindex = payload.readInt32LE(4);
  const link = attrU32(a.get(IFLA.LINK));
  const st = a.get(IFLA.STATS64);
  return {
    ifindex,
    name: attrString(a.get(IFLA.IFNAME)) ?? `if${ifindex}`,
    mtu: attrU32(a.get(IFLA.MTU)) ?? 0,
    maxMtu: attrU32(a.get(IFLA.MAX_MTU)),
    kind: linkinfo ? attrString(parseAttrs(linkinfo).get(IFLA_INFO_KIND)) : undefined,
    link: link !== undefined && link !== ifindex ? link : undefined,
    peerNetnsId: attrI32(a.get(IFLA.LINK_NETNSID)),
    xdp: {
      native: attrU32(x.get(IFLA_XDP_.DRV_PROG_ID)) ?? 0,
      generic: attrU32(x.get(IFLA_XDP_.SKB_PROG_ID)) ?? 0,
      offload: attrU32(x.get(IFLA_XDP_.HW_PROG_ID)) ?? 0,
    },
    stats:
      st && st.length >= 64
        ? { rxPackets: st.readBigUInt64LE(0), txPackets: st.readBigUInt64LE(8), rxBytes: st.readBigUInt64LE(16), rxDropped: st.readBigUInt64LE(48), txDropped: st.readBigUInt64LE(56) }
        : undefined,
  };
}

/** Every device of this network namespace. */
export function listDevices(): DeviceInfo[] {
  return netlinkRequest(NETLINK_ROUTE, RTM_GETLINK, NLM_F_DUMP, ifinfomsg(), "listing network devices")
    .filter((m) => m.type === RTM_NEWLINK)
    .map((m) => parseLink(m.payload));
}

const ENODEV = 19;

/** One device by name or ifindex; undefined when there is no such device here. */
export function findDevice(device: string | number, netnsId?: number): DeviceInfo | undefined {
  const byIndex = typeof device === "number";
  if (!byIndex && (device.length === 0 || device.length > 15 || /[\s/:]/.test(device))) return undefined;
  let payload = ifinfomsg(byIndex ? device : 0);
  if (!byIndex) payload = Buffer.concat([payload, stringAttr(IFLA.IFNAME, device)]);
  if (netnsId !== undefined) payload = Buffer.concat([payload, i32Attr(IFLA.TARGET_NETNSID, netnsId)]);
  try {
    const replies = netlinkRequest(NETLINK_ROUTE, RTM_GETLINK, 0, payload, `looking up device ${String(device)}`);
    const m = replies.find((r) => r.type === RTM_NEWLINK);
    return m ? parseLink(m.payload) : undefined;
  } catch (e) {
    if (e instanceof NetlinkError && (e.errno === ENODEV || e.errno === 22)) return undefined;
    throw e;
  }
}

/** The veth peer, also when it lives in another namespace (IFLA_TARGET_NETNSID, 4.20+). */
export function vethPeer(dev: DeviceInfo): DeviceInfo | undefined {
  if (dev.kind !== "veth" || dev.link === undefined) return undefined;
  try {
    return findDevice(dev.link, dev.peerNetnsId);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// xdp-features through generic netlink

const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const NETDEV_CMD_DEV_GET = 1;
const NETDEV_A_DEV_IFINDEX = 1;
const NETDEV_A_DEV_XDP_FEATURES = 3;
const NETDEV_A_DEV_XDP_ZC_MAX_SEGS = 4;

const genlmsghdr = (cmd: number) => Buffer.from([cmd, 1, 0, 0]);

let netdevFamily: number | null | undefined;

/** The `netdev` family id, or null on kernels without it (before 6.3). */
function netdevFamilyId(): number | null {
  if (netdevFamily !== undefined) return netdevFamily;
  try {
    const r = netlinkRequest(NETLINK_GENERIC, GENL_ID_CTRL, 0, Buffer.concat([genlmsghdr(CTRL_CMD_GETFAMILY), stringAttr(CTRL_ATTR_FAMILY_NAME, "netdev")]), "resolving the netdev genetlink family");
    const id = r.length > 0 ? attrU16(parseAttrs(r[0]!.payload, 4).get(CTRL_ATTR_FAMILY_ID)) : undefined;
    netdevFamily = id ?? null;
  } catch (e) {
    if (!(e instanceof NetlinkError)) throw e;
    netdevFamily = null;
  }
  return netdevFamily;
}

export interface XdpFeatures {
  /** the raw NETDEV_A_DEV_XDP_FEATURES bits */
  bits: number;
  names: XdpFeatureName[];
  /** what the bits mean for attaching: native XDP, redirect target (ndo_xdp_xmit), frags (rx-sg), offload */
  native: boolean;
  redirectTarget: boolean;
  frags: boolean;
  offload: boolean;
  zeroCopyMaxSegments: number | undefined;
}

export function decodeXdpFeatures(bits: number, zc?: number): XdpFeatures {
  const names = (Object.keys(XDP_FEATURE_BITS) as XdpFeatureName[]).filter((n) => (bits & XDP_FEATURE_BITS[n]) !== 0);
  return {
    bits,
    names,
    native: (bits & XDP_FEATURE_BITS.basic) !== 0,
    redirectTarget: (bits & XDP_FEATURE_BITS["ndo-xmit"]) !== 0,
    frags: (bits & XDP_FEATURE_BITS["rx-sg"]) !== 0,
    offload: (bits & XDP_FEATURE_BITS["hw-offload"]) !== 0,
    zeroCopyMaxSegments: zc,
  };
}

/**
 * xdp-features of every device in this namespace, by ifindex; undefined when
 * the kernel has no `netdev` family (then nothing is known, not "nothing supported").
 */
export function xdpFeatures(): Map<number, XdpFeatures> | undefined {
  const family = netdevFamilyId();
  if (family === null) return undefined;
  const out = new Map<number, XdpFeatures>();
  for (const m of netlinkRequest(NETLINK_GENERIC, family, NLM_F_DUMP, genlmsghdr(NETDEV_CMD_DEV_GET), "reading xdp-features")) {
    const a = parseAttrs(m.payload, 4);
    const ifindex = attrU32(a.get(NETDEV_A_DEV_IFINDEX));
    const bits = attrU64(a.get(NETDEV_A_DEV_XDP_FEATURES));
    if (ifindex === undefined || bits === undefined) continue;
    out.set(ifindex, decodeXdpFeatures(Number(bits), attrU32(a.get(NETDEV_A_DEV_XDP_ZC_MAX_SEGS))));
  }
  return out;
}

export function xdpFeaturesOf(ifindex: number): XdpFeatures | undefined {
  return xdpFeatures()?.get(ifindex);
}

// ---------------------------------------------------------------------------
// Receive offloads (linux/ethtool.h, linux/sockios.h)

const SIOCETHTOOL = 0x8946;
const ETHTOOL_GSTRINGS = 0x1b;
const ETHTOOL_GSSET_INFO = 0x37;
const ETHTOOL_GFEATURES = 0x3a;
const ETH_SS_FEATURES = 4;
const ETH_GSTRING_LEN = 32;

export interface ReceiveOffloads {
  /** large-receive-offload */
  lro: boolean;
  /** rx-gro-hw: GRO done by the NIC */
  groHw: boolean;
  /** rx-gro: software GRO (harmless for XDP; veth turns it on itself) */
  gro: boolean;
}

/**
 * The active LRO/GRO features, by their ethtool names (ETHTOOL_GFEATURES);
 * undefined if the device answers no ethtool queries.
 */
export function receiveOffloads(name: string): ReceiveOffloads | undefined {
  const s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s.rc < 0) return undefined;
  const fd = s.rc;
  // ifr_data points at the ethtool command; the kernel reads and writes it
  // through that pointer, so it lives in native memory we own.
  const natives: bigint[] = [];
  const native = (size: number): [bigint, Buffer] => {
    const ptr = koffi.alloc("uint8_t", size) as bigint;
    natives.push(ptr);
    const buf = Buffer.from(koffi.view(ptr, size));
    buf.fill(0);
    return [ptr, buf];
  };
  const ethtool = (ptr: bigint) => {
    const r = Buffer.alloc(40); // struct ifreq: name[16] + union (ifr_data at 16)
    r.write(name, 0, 15, "utf8");
    r.writeBigUInt64LE(ptr, 16);
    return ioctlPtr(fd, SIOCETHTOOL, r).rc === 0;
  };
  try {
    const [ssetPtr, sset] = native(16 + 4);
    sset.writeUInt32LE(ETHTOOL_GSSET_INFO, 0);
    sset.writeBigUInt64LE(1n << BigInt(ETH_SS_FEATURES), 8);
    if (!ethtool(ssetPtr) || (sset.readBigUInt64LE(8) & (1n << BigInt(ETH_SS_FEATURES))) === 0n) return undefined;
    const count = sset.readUInt32LE(16);
    const [stringsPtr, strings] = native(12 + count * ETH_GSTRING_LEN);
    strings.writeUInt32LE(ETHTOOL_GSTRINGS, 0);
    strings.writeUInt32LE(ETH_SS_FEATURES, 4);
    strings.writeUInt32LE(count, 8);
    if (!ethtool(stringsPtr)) return undefined;
    const blocks = Math.ceil(count / 32);
    const [featuresPtr, features] = native(8 + blocks * 16);
    features.writeUInt32LE(ETHTOOL_GFEATURES, 0);
    features.writeUInt32LE(blocks, 4);
    if (!ethtool(featuresPtr)) return undefined;
    const active = (featureName: string) => {
      for (let i = 0; i < count; i++) {
        const off = 12 + i * ETH_GSTRING_LEN;
        const nul = strings.indexOf(0, off);
        const end = nul < 0 || nul > off + ETH_GSTRING_LEN ? off + ETH_GSTRING_LEN : nul;
        if (strings.toString("utf8", off, end) !== featureName) continue;
        // struct ethtool_get_features_block { available, requested, active, never_changed }
        const word = features.readUInt32LE(8 + Math.floor(i / 32) * 16 + 8);
        return (word & (1 << (i % 32))) !== 0;
      }
      return false;
    };
    return { lro: active("large-receive-offload"), groHw: active("rx-gro-hw"), gro: active("rx-gro") };
  } finally {
    closeFd(fd);
    for (const p of natives) koffi.free(p);
  }
}
