// Client discovery as Element does it: matrix-js-sdk's AutoDiscovery.findClientConfig() for
// each server name, through the lab DNS, with TLS verified against the CA in
// NODE_EXTRA_CA_CERTS (Node adds it to its trusted roots at start).
//
//   NODE_EXTRA_CA_CERTS=ca.crt node discover.mjs --dns 10.89.0.2:53 \
//       example.test=https://matrix.example.test other.test=PROMPT
//
// Each argument is SERVER_NAME=EXPECTED: a base URL (m.homeserver state SUCCESS with that
// base_url, trailing slashes aside) or a state name of AutoDiscovery (PROMPT for a server name
// without a client document). The SDK is given the server name as it is: a name with a port
// (delta.test:8443) makes it fetch https://delta.test:8443/.well-known/matrix/client.
// Prints one JSON object, {server_name: {expected, config, ok}}; exits 1 when any result
// differs from what was expected, 2 on a usage error.

import { AutoDiscovery } from "matrix-js-sdk";
import { Agent, fetch as undiciFetch } from "undici";

import { fail, labResolver, parseArguments } from "./lab.mjs";

// The SDK logs through console.*: to stderr, so that stdout holds only the JSON result.
console.log = console.info = console.debug = console.warn = console.error;

const { options, positional } = parseArguments(process.argv.slice(2), ["dns"]);
if (positional.length === 0) {
  fail("give at least one SERVER_NAME=EXPECTED (a base URL, or a state such as PROMPT)");
}
if (!process.env.NODE_EXTRA_CA_CERTS) {
  fail("set NODE_EXTRA_CA_CERTS to the lab CA certificate: TLS is verified against it");
}
const { lookup } = labResolver(options.dns);

// undici is the fetch of Node itself; its Agent connects to the addresses the lab DNS gives,
// while TLS and the Host header keep the URL's name.
const agent = new Agent({ connect: { lookup } });
AutoDiscovery.setFetchFn((resource, init) => undiciFetch(resource, { ...init, dispatcher: agent }));

const results = {};
let allOk = true;
for (const argument of positional) {
  const separator = argument.indexOf("=");
  if (separator <= 0) {
    fail(`${JSON.stringify(argument)} is not SERVER_NAME=EXPECTED`);
  }
  const serverName = argument.slice(0, separator);
  const expected = argument.slice(separator + 1);
  const config = await AutoDiscovery.findClientConfig(serverName);
  const homeserver = config["m.homeserver"];
  const ok = /^https?:\/\//.test(expected)
    ? homeserver.state === AutoDiscovery.SUCCESS
      && (homeserver.base_url || "").replace(/\/+$/, "") === expected.replace(/\/+$/, "")
    : homeserver.state === expected;
  allOk = allOk && ok;
  results[serverName] = { expected, ok, config };
}
await agent.close();
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.exit(allOk ? 0 : 1);
