// A grpc-js Echo client (h2c) calling TARGET (host:port). Prints one JSON line with the outcome:
// {"code":0,"details":...,"replies":N,"ms":N}. A deadline in ms of 0 means none.
// Usage: node client.js TARGET say MESSAGE DELAY_MS DEADLINE_MS
//        node client.js TARGET stream MESSAGE COUNT INTERVAL_MS DEADLINE_MS
//        node client.js TARGET cancel MESSAGE DELAY_MS CANCEL_AFTER_MS
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const proto = grpc.loadPackageDefinition(loader.loadSync(__dirname + '/echo.proto', { keepCase: true })).trellis.conformance;

const [target, kind, message, a, b, c] = process.argv.slice(2);
const client = new proto.Echo(target, grpc.credentials.createInsecure());
const started = Date.now();
const options = (ms) => (Number(ms) > 0 ? { deadline: new Date(Date.now() + Number(ms)) } : {});
let replies = 0;

function done(error) {
  console.log(JSON.stringify({ code: error ? error.code : 0, details: error ? error.details : '', replies,
    ms: Date.now() - started }));
  client.close();
}

if (kind === 'say') {
  client.Say({ message, delay_ms: Number(a) }, options(b), (error) => { if (!error) replies++; done(error); });
} else if (kind === 'stream') {
  const call = client.Stream({ message, count: Number(a), interval_ms: Number(b) }, options(c));
  call.on('data', () => replies++);
  call.on('error', done);
  call.on('end', () => done(null));
} else if (kind === 'cancel') {
  const call = client.Say({ message, delay_ms: Number(a) }, (error) => done(error));
  setTimeout(() => call.cancel(), Number(b));
}
