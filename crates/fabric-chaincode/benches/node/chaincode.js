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
        default:
            return shim.error(`unknown function ${fcn}`);
        }
    }
}

shim.start(new KV());
