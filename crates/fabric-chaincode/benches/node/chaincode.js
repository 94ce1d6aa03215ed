// The benchmark's get/put workload on the official Node chaincode shim (fabric-shim), the
// same functions as examples/kv_chaincode.rs. Launched by benches/throughput.rs in normal mode:
//   CORE_CHAINCODE_ID_NAME=kv:1 CORE_PEER_TLS_ENABLED=false node chaincode.js --peer.address 127.0.0.1:PORT
'use strict';
const shim = require('fabric-shim');

class KV {
    async Init() {
        return shim.success();
    }

    async Invoke(stub) {
        const { fcn, params } = stub.getFunctionAndParameters();
        const name = fcn.includes(':') ? fcn.slice(fcn.lastIndexOf(':') + 1) : fcn;
        const [key, value] = params;
        switch (name) {
        case 'Put':
        case 'put':
            await stub.putState(key, Buffer.from(value));
            return shim.success();
        case 'Get':
        case 'get': {
            const v = await stub.getState(key);
            if (!v || v.length === 0) {
                return shim.error(`${key} does not exist`);
            }
            return shim.success(v);
        }
        case 'Update':
        case 'update': {
            const old = await stub.getState(key);
            await stub.putState(key, Buffer.from(value));
            return shim.success(Buffer.from(String(old ? old.length : 0)));
        }
        case 'Range': {
            // One GET_STATE_BY_RANGE over [key, value), its values as a JSON list: the ledger
            // traffic of the registry's list queries (devpeer's hot_path benchmark).
            const iter = await stub.getStateByRange(key, value);
            const values = [];
            for (let r = await iter.next(); !r.done; r = await iter.next()) {
                values.push(r.value.value.toString('utf8'));
            }
            await iter.close();
            return shim.success(Buffer.from(JSON.stringify(values)));
        }
        default:
            return shim.error(`unknown function ${fcn}`);
        }
    }
}

// Chaincode-as-a-service when started with the variables our runtime reads (devpeer's
// hot_path benchmark): CHAINCODE_SERVER_ADDRESS, CHAINCODE_PKG_ID, and TLS from
// CHAINCODE_TLS_KEY / CHAINCODE_TLS_CERT / CHAINCODE_CLIENT_CA_CERT (PEM files).
if (process.env.CHAINCODE_SERVER_ADDRESS) {
    const fs = require('fs');
    const env = process.env;
    const opts = { ccid: env.CHAINCODE_PKG_ID, address: env.CHAINCODE_SERVER_ADDRESS };
    if (env.CHAINCODE_TLS_KEY) {
        opts.tlsProps = {
            key: fs.readFileSync(env.CHAINCODE_TLS_KEY),
            cert: fs.readFileSync(env.CHAINCODE_TLS_CERT),
            clientCACerts: env.CHAINCODE_CLIENT_CA_CERT ? fs.readFileSync(env.CHAINCODE_CLIENT_CA_CERT) : undefined,
        };
    }
    shim.server(new KV(), opts).start();
} else {
    shim.start(new KV());
}
