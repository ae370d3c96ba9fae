// A safety net, not part of the program: test/e2e/jsclient_test.go preloads it
// (`node --import guard.mjs main.mjs ...`) so that the SDK can only ever connect to this machine.
// Every outgoing TCP connection in Node starts in net.Socket.prototype.connect (http, https,
// the proxy agents, fetch); this wrapper lets through connections to 127.0.0.1, ::1 and
// localhost (mint, its agent and its proxy) and Unix sockets, and ends the process, before the
// connection is even attempted, for anything else — in particular the real IMDS address
// 169.254.169.254, which the SDK must reach only through HTTP_PROXY (mint's proxy). It changes
// nothing else: the SDK's own code, options and HTTP stack are untouched.
import net from "node:net";

const loopback = new Set(["127.0.0.1", "::1", "localhost"]);

// target returns the host:port a connect call names, or null for a Unix socket.
function target(args) {
  // net.connect / http's agents pass one normalized [options, callback] array.
  const a = Array.isArray(args[0]) ? args[0] : args;
  const first = a[0];
  if (first !== null && typeof first === "object") {
    return first.path ? null : { host: first.host ?? "localhost", port: first.port };
  }
  if (typeof first === "string" && !/^\d+$/.test(first)) {
    return null;
  }
  return { host: typeof a[1] === "string" ? a[1] : "localhost", port: first };
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const t = target(args);
  if (t !== null && !loopback.has(String(t.host).replace(/^\[|\]$/g, ""))) {
    process.stderr.write(`mint-e2e-guard: refused a connection to ${t.host}:${t.port}: the test lets the program reach only 127.0.0.1\n`);
    process.exit(3);
  }
  return connect.apply(this, args);
};
