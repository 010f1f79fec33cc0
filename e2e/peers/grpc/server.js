// A grpc-js Echo server on 127.0.0.1:PORT (h2c). Prints one JSON line per finished call to stdout:
// {"call":"Say","message":...,"cancelled":bool,"ms":N,"authority":...}. Usage: node server.js PORT
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const proto = grpc.loadPackageDefinition(loader.loadSync(__dirname + '/echo.proto', { keepCase: true })).trellis.conformance;

function report(call, name, started, extra) {
  console.log(JSON.stringify(Object.assign({
    call: name, message: call.request.message, cancelled: call.cancelled, ms: Date.now() - started,
    authority: typeof call.getHost === 'function' ? call.getHost() : '' }, extra || {})));
}

const server = new grpc.Server();
server.addService(proto.Echo.service, {
  Say(call, callback) {
    const started = Date.now();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      report(call, 'Say', started);
      if (!call.cancelled) callback(null, { message: call.request.message, index: 0 });
    };
    call.on('cancelled', finish);
    setTimeout(finish, call.request.delay_ms || 0);
  },
  Stream(call) {
    const started = Date.now();
    let sent = 0;
    const timer = setInterval(() => {
      if (call.cancelled) {
        clearInterval(timer);
        report(call, 'Stream', started, { sent });
        return;
      }
      call.write({ message: call.request.message, index: sent++ });
      if (sent >= call.request.count) {
        clearInterval(timer);
        call.end();
        report(call, 'Stream', started, { sent });
      }
    }, call.request.interval_ms || 0);
  },
});
server.bindAsync('127.0.0.1:' + process.argv[2], grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) { console.error(error); process.exit(1); }
  console.log(JSON.stringify({ ready: Number(process.argv[2]) }));
});
