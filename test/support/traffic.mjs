// Traffic for the attach tests, run as a child (often under `ip netns exec`):
//   send <ip> <port> <count> <intervalUs> [size]  numbered UDP datagrams at a steady rate
//   recv <ip> <port> <idleMs> <maxMs>             counts numbered datagrams; prints JSON on exit
//   raw <ifname> <hexframe> <count> <listenMs>     sends raw Ethernet frames through AF_PACKET and
//                                                  prints (JSON) the frames that arrive meanwhile;
//                                                  <hexframe> may list several, comma-separated:
//                                                  each is sent <count> times, in order
// Plain JavaScript on purpose: Node 20 runs it without a TypeScript step.
import dgram from "node:dgram";
import { createRequire } from "node:module";

const [mode, ...args] = process.argv.slice(2);

function send(ip, port, count, intervalUs, size = 64) {
  const sock = dgram.createSocket("udp4");
  const started = process.hrtime.bigint();
  let i = 0;
  let inFlight = 0;
  const step = () => {
    // A steady rate from a monotonic clock: catch up after a late timer
    // rather than drift, but never burst more than 32 at once.
    const due = Number((process.hrtime.bigint() - started) / 1000n) / intervalUs;
    let burst = 0;
    while (i < count && i <= due && burst++ < 32) {
      const buf = Buffer.alloc(Math.max(8, size));
      buf.writeUInt32BE(i, 0);
      buf.writeUInt32BE(0x7473_7864, 4); // "tsxd": marks our datagrams
      inFlight++;
      sock.send(buf, port, ip, () => {
        inFlight--;
        if (i >= count && inFlight === 0) sock.close();
      });
      i++;
    }
    if (i < count) setTimeout(step, Math.max(0, Math.floor(intervalUs / 1000)));
  };
  step();
}

function recv(ip, port, idleMs, maxMs) {
  const sock = dgram.createSocket({ type: "udp4", recvBufferSize: 1 << 20 });
  const seen = new Map();
  let last = Date.now();
  let total = 0;
  sock.on("message", (msg) => {
    if (msg.length < 8 || msg.readUInt32BE(4) !== 0x7473_7864) return;
    const n = msg.readUInt32BE(0);
    seen.set(n, (seen.get(n) ?? 0) + 1);
    total++;
    last = Date.now();
  });
  const started = Date.now();
  const finish = () => {
    const duplicates = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
    process.stdout.write(JSON.stringify({ total, unique: seen.size, duplicates, seqs: [...seen.keys()].sort((a, b) => a - b) }) + "\n");
    sock.close();
  };
  sock.bind(port, ip, () => {
    process.stdout.write("ready\n");
    const timer = setInterval(() => {
      const now = Date.now();
      if ((total > 0 && now - last > idleMs) || now - started > maxMs) {
        clearInterval(timer);
        finish();
      }
    }, 20);
  });
  process.on("SIGTERM", finish);
}

function raw(ifname, hex, count, listenMs) {
  const koffi = createRequire(import.meta.url)("koffi");
  const libc = koffi.load("libc.so.6");
  const socket = libc.func("socket", "int", ["int", "int", "int"]);
  const bind = libc.func("bind", "int", ["int", "void *", "uint32_t"]);
  const sendfn = libc.func("send", "intptr_t", ["int", "void *", "size_t", "int"]);
  const recvfrom = libc.func("recvfrom", "intptr_t", ["int", "void *", "size_t", "int", "void *", "void *"]);
  const ifIndex = libc.func("if_nametoindex", "uint32_t", ["const char *"]);
  const close = libc.func("close", "int", ["int"]);
  const AF_PACKET = 17, SOCK_RAW = 3, ETH_P_ALL = 0x0003, MSG_DONTWAIT = 0x40, PACKET_OUTGOING = 4;
  const fd = socket(AF_PACKET, SOCK_RAW, ((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8));
  if (fd < 0) throw new Error(`AF_PACKET socket: errno ${koffi.errno()}`);
  const index = ifIndex(ifname);
  const sll = Buffer.alloc(20); // struct sockaddr_ll
  sll.writeUInt16LE(AF_PACKET, 0);
  sll.writeUInt16BE(ETH_P_ALL, 2);
  sll.writeInt32LE(index, 4);
  if (bind(fd, sll, sll.length) < 0) throw new Error(`bind ${ifname}: errno ${koffi.errno()}`);
  for (const one of hex.split(",")) {
    const frame = Buffer.from(one, "hex");
    for (let i = 0; i < count; i++) if (Number(sendfn(fd, frame, frame.length, 0)) < 0) throw new Error(`send: errno ${koffi.errno()}`);
  }
  const received = [];
  const buf = Buffer.alloc(4096);
  const from = Buffer.alloc(20);
  const fromLen = Buffer.alloc(4);
  const end = Date.now() + listenMs;
  const poll = () => {
    for (;;) {
      fromLen.writeUInt32LE(20, 0);
      const n = Number(recvfrom(fd, buf, buf.length, MSG_DONTWAIT, from, fromLen));
      if (n < 0) break;
      if (from.readUInt8(10) !== PACKET_OUTGOING) received.push(buf.subarray(0, n).toString("hex"));
    }
    if (Date.now() < end) return setTimeout(poll, 10);
    close(fd);
    process.stdout.write(JSON.stringify({ sent: count, received }) + "\n");
  };
  poll();
}

if (mode === "send") send(args[0], Number(args[1]), Number(args[2]), Number(args[3]), args[4] ? Number(args[4]) : undefined);
else if (mode === "recv") recv(args[0], Number(args[1]), Number(args[2]), Number(args[3]));
else if (mode === "raw") raw(args[0], args[1], Number(args[2]), Number(args[3]));
else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
