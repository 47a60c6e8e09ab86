// The dynptr helpers. copy (xdp.frags): the UDP destination port names an
// offset; the u32 there is read through bpf_dynptr_read (across the linear
// part's end and in fragments too), its complement written after it with
// bpf_dynptr_write, and a report written after the UDP header the same way.
// mem: a dynptr over a map value (the kernel takes no other memory), and
// one over a field of it, written and read back through bpf_dynptr_write,
// bpf_dynptr_data and bpf_dynptr_read, in range and past the end.
// record: a ring buffer record of 4 + 4 * n bytes, n from the packet,
// reserved as a dynptr, written word by word, submitted (or discarded when
// the packet asks for it, or when the reservation failed).
import { xdp, XdpAction, zeroed, ntohs, u32, i32, ArrayMap, RingBuf, bpf_dynptr_from_xdp, bpf_dynptr_from_mem, bpf_dynptr_read, bpf_dynptr_write, bpf_dynptr_data, bpf_ringbuf_reserve_dynptr, bpf_ringbuf_submit_dynptr, bpf_ringbuf_discard_dynptr, type BpfDynptr, type FixedArray, type u8, type u64 } from "tsxdp";
import { type EthHdr, type UdpHdr, ETH_P_IP } from "tsxdp/net";
import { htons } from "tsxdp";

interface Word {
  value: u32;
}

interface Report {
  read: i32;
  word: u32;
  written: i32;
  data: u32;
}

export const copy = xdp.frags((ctx) => {
  const dp = zeroed<BpfDynptr>();
  if (bpf_dynptr_from_xdp(ctx, 0, dp) !== 0) return XdpAction.ABORTED;
  const eth = zeroed<EthHdr>();
  if (bpf_dynptr_read(eth, dp, 0, 0) !== 0) return XdpAction.DROP;
  if (eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const udp = zeroed<UdpHdr>();
  if (bpf_dynptr_read(udp, dp, 34, 0) !== 0) return XdpAction.DROP;
  const at = u32(ntohs(udp.dest));
  const word = zeroed<Word>();
  const read = bpf_dynptr_read(word, dp, at, 0);
  const mark: Word = { value: word.value ^ 0xffffffff };
  const written = bpf_dynptr_write(dp, at + 4, mark, 0);
  // The kernel gives no memory of a dynptr over the packet.
  const direct = bpf_dynptr_data<Word>(dp, 0);
  const report: Report = { read: i32(read), word: word.value, written: i32(written), data: direct ? 1 : 0 };
  if (bpf_dynptr_write(dp, 42, report, 0) !== 0) return XdpAction.DROP;
  return XdpAction.TX;
});

interface Scratch {
  count: u64;
  words: FixedArray<u32, 4>;
}

const scratch = new ArrayMap<Scratch>({ maxEntries: 1 });

export const mem = xdp((ctx) => {
  const data = ctx.data;
  if (data + 62 > ctx.data_end) return XdpAction.DROP;
  const w: Word = { value: data.load<u32>(42) };
  const v = scratch.lookup(0);
  if (!v) return XdpAction.ABORTED;
  const dp = zeroed<BpfDynptr>();
  if (bpf_dynptr_from_mem(v.value, 0, dp) !== 0) return XdpAction.ABORTED;
  const wrote = bpf_dynptr_write(dp, 4, w, 0);
  const seen = bpf_dynptr_data<Word>(dp, 4);
  if (!seen) return XdpAction.ABORTED;
  seen.value += 1;
  const back = zeroed<Word>();
  const tail = bpf_dynptr_read(back, dp, 20, 0);
  const past = bpf_dynptr_read(back, dp, 22, 0);
  // A dynptr over a field: the 16 bytes of words, at offset 8 of the value.
  const fp = zeroed<BpfDynptr>();
  if (bpf_dynptr_from_mem(v.value.words, 0, fp) !== 0) return XdpAction.ABORTED;
  bpf_dynptr_write(fp, 12, w, 0);
  const beyond = bpf_dynptr_write(fp, 14, w, 0);
  const got = zeroed<Word>();
  bpf_dynptr_read(got, dp, 4, 0);
  data.store<u32>(42, got.value);
  data.store<i32>(46, i32(wrote));
  data.store<i32>(50, i32(tail));
  data.store<i32>(54, i32(past));
  data.store<i32>(58, i32(beyond));
  return XdpAction.TX;
});

const records = new RingBuf<Word>({ maxEntries: 4096 * 4 });

export const record = xdp((ctx) => {
  const data = ctx.data;
  if (data + 44 > ctx.data_end) return XdpAction.DROP;
  const n = u32(data.load<u8>(42));
  const discard = data.load<u8>(43);
  const dp = zeroed<BpfDynptr>();
  if (bpf_ringbuf_reserve_dynptr(records, 4 + n * 4, 0, dp) !== 0) {
    bpf_ringbuf_discard_dynptr(dp, 0);
    return XdpAction.ABORTED;
  }
  const head: Word = { value: n };
  bpf_dynptr_write(dp, 0, head, 0);
  for (let i = 0; i < 8; i++) {
    if (i < n) {
      const w: Word = { value: u32(0x01010101 * (i + 1)) ^ n };
      bpf_dynptr_write(dp, 4 + i * 4, w, 0);
    }
  }
  const first = bpf_dynptr_data<Word>(dp, 0);
  if (first) first.value |= 0x100;
  if (discard !== 0) {
    bpf_ringbuf_discard_dynptr(dp, 0);
    return XdpAction.DROP;
  }
  bpf_ringbuf_submit_dynptr(dp, 0);
  return XdpAction.PASS;
});
