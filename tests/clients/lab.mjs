// Shared by the client tests: names are resolved through the lab's DNS server (never the
// controller's resolver, which does not know the lab's zone), and command lines are read the
// same way by every script.

import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";

/** Exit with a message naming the problem (no stack trace for a usage error). */
export function fail(message) {
  process.stderr.write(`${process.argv[1].split("/").pop()}: ${message}\n`);
  process.exit(2);
}

/**
 * Reads --name value options and positional arguments.
 * Returns { options: {name: value}, positional: [..] }; an unknown option is an error.
 */
export function parseArguments(argv, known) {
  const options = {};
  const positional = [];
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    if (!argument.startsWith("--")) {
      positional.push(argument);
      continue;
    }
    const name = argument.slice(2);
    if (!known.includes(name)) {
      fail(`unknown option --${name} (known: ${known.map((option) => `--${option}`).join(", ")})`);
    }
    if (index + 1 >= argv.length) {
      fail(`--${name} needs a value`);
    }
    options[name] = argv[index + 1];
    index += 1;
  }
  return { options, positional };
}

/**
 * A resolver asking only the DNS server `server` ("address" or "address:port").
 * resolve(name) returns every address, IPv6 first, or throws an Error naming the name.
 */
export function labResolver(server) {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::([0-9]{1,5}))?$/.exec(server || "");
  const address = match && (match[1] || match[2]);
  if (!address || !isIP(address)) {
    fail(`--dns must be the lab DNS server as address or address:port, got ${JSON.stringify(server)}`);
  }
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([match[3] ? `${match[1] ? `[${address}]` : address}:${match[3]}` : address]);

  async function resolve(name) {
    if (isIP(name)) {
      return [{ address: name, family: isIP(name) }];
    }
    const answers = await Promise.allSettled([resolver.resolve6(name), resolver.resolve4(name)]);
    const found = [];
    answers.forEach((answer, index) => {
      if (answer.status === "fulfilled") {
        for (const item of answer.value) {
          found.push({ address: item, family: index === 0 ? 6 : 4 });
        }
      }
    });
    if (found.length === 0) {
      const reasons = answers.map((answer) => answer.reason && answer.reason.code).filter(Boolean);
      const error = new Error(`${name} has no address in the lab DNS (${reasons.join(", ") || "no records"})`);
      error.code = "ENOTFOUND";
      throw error;
    }
    return found;
  }

  // The lookup function of net.connect(): callback(err, address, family), or with
  // options.all (Node's happy eyeballs) callback(err, [{address, family}]).
  function lookup(hostname, options, callback) {
    resolve(hostname).then(
      (found) => {
        const wanted = options && options.family ? found.filter((item) => item.family === options.family) : found;
        if (options && options.all) {
          callback(null, wanted);
        } else if (wanted.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no IPv${options.family} address`), { code: "ENOTFOUND" }));
        } else {
          callback(null, wanted[0].address, wanted[0].family);
        }
      },
      (error) => callback(error),
    );
  }

  return { resolve, lookup };
}
