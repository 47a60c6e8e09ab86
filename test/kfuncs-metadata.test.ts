/**
 * Device-bound RX metadata on veth, with real traffic: test/kfuncs/metadata.ts
 * loaded bound to our end of a veth pair (loadObject's deviceBoundIfindex,
 * BPF_F_XDP_DEV_BOUND_ONLY) and attached there natively; the far end, in a
 * namespace, sends UDP to two ports, and a tc program (clang-14's) on its
 * egress pushes VLAN 10 on the first as an offloaded tag (bpf_skb_vlan_push
 * keeps it in the skb, as a NIC would hand it over). veth's implementations
 * give the skb's hash (an L4 one) for both and the tag for the first only
 * (-ENODATA for the other). Unbound, the kernel refuses the program.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, formatDiagnostics } from "../compiler/index";
import { attachXdp, deviceBoundKfuncs, type LoadedObject, LoadError, loadObject } from "../compiler/loader/index";
import { clang, compileC } from "./support/clang";
import { inCI, kernelUnavailable } from "./support/kernel";
import { cleanupLeftovers, createPair, ip, type Pair, udpSend } from "./support/netns";

const ENODATA = 61;
const unavailable = kernelUnavailable() ?? (clang === undefined ? "clang-14 is not installed (apt-get install clang-14)" : undefined);

const vlanPush = `
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
SEC("tc")
int push(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + 14;
	struct udphdr *udp = data + 34;
	if ((void *)(udp + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP || udp->dest != bpf_htons(7777))
		return TC_ACT_OK;
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 10);
	return TC_ACT_OK;
}
char LICENSE[] SEC("license") = "GPL";
`;

describe.skipIf(unavailable !== undefined && !inCI)(`RX metadata kfuncs of a device-bound program on veth${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let pair: Pair;
  let object: Uint8Array;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxdp-metadata-"));

  beforeAll(() => {
    if (unavailable) throw new Error(`metadata tests cannot run in CI: ${unavailable}`);
    cleanupLeftovers();
    const r = compile({ file: "test/kfuncs/metadata.ts" });
    if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics, r.sources));
    object = r.object!;
    pair = createPair();
    fs.writeFileSync(path.join(dir, "push.o"), compileC(vlanPush));
    ip("netns", "exec", pair.ns, "tc", "qdisc", "add", "dev", pair.b, "clsact");
    ip("netns", "exec", pair.ns, "tc", "filter", "add", "dev", pair.b, "egress", "bpf", "da", "obj", path.join(dir, "push.o"), "sec", "tc");
  });

  afterAll(() => {
    pair?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Loads bound to our end, attaches there, sends 5 datagrams to each port, returns the 16 slots. */
  async function run(): Promise<bigint[][]> {
    const ifindex = Number(fs.readFileSync(`/sys/class/net/${pair.a}/ifindex`, "utf8"));
    const obj: LoadedObject = loadObject(object, { deviceBoundIfindex: ifindex });
    try {
      const attachment = attachXdp(obj.program("meta"), { device: pair.a });
      try {
        await udpSend(pair.ns, pair.ipA, 7777, 5, 1000);
        await udpSend(pair.ns, pair.ipA, 7778, 5, 1000);
      } finally {
        attachment.detach();
      }
      const slot = (k: number) => {
        const v = obj.map("seen").lookup(new Uint8Array(new Uint32Array([k]).buffer))!;
        return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
      };
      return [0, 1].map((g) => Array.from({ length: 8 }, (_, i) => slot(g * 8 + i)));
    } finally {
      obj.close();
    }
  }
  const errno = (v: bigint) => Number(BigInt.asIntN(32, v));

  it("the object says it must be bound, and unbound the kernel refuses it", () => {
    expect(deviceBoundKfuncs(object)).toEqual(["bpf_xdp_metadata_rx_hash", "bpf_xdp_metadata_rx_timestamp", "bpf_xdp_metadata_rx_vlan_tag"]);
    let error: unknown;
    try {
      loadObject(object).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).verifierLog).toContain("metadata kfuncs require device-bound program");
  });

  it("bound: the skb's L4 hash for both ports, the VLAN tag (0x8100, id 10) for the tagged one only", async () => {
    const [tagged, untagged] = await run();
    for (const g of [tagged!, untagged!]) {
      expect(g[0]).toBe(5n);
      expect(errno(g[1]!)).toBe(0);
      expect(g[2]).not.toBe(0n);
      // XDP_RSS_L4 (bit 3): veth reports an L4 hash when the skb's is one.
      expect(Number(g[3]) & 8).toBe(8);
    }
    expect(errno(tagged![4]!)).toBe(0);
    expect(tagged![5]).toBe(0x8100n);
    expect(Number(tagged![6]) & 0xfff).toBe(10);
    expect(errno(untagged![4]!)).toBe(-ENODATA);
    // Two flows (other ports), two hashes.
    expect(untagged![2]).not.toBe(tagged![2]);
  });
});
