// The client well-known document as a web client reads it: a real headless Chromium loads a
// page of another origin (https://app.test, served here over TLS with a certificate of the lab
// CA) whose script fetch()es each URL twice: once plainly (a "simple" request, no preflight)
// and once with a header that is not CORS-safelisted (X-Requested-With), which makes the
// browser send an OPTIONS preflight first. Chromium itself enforces CORS: a missing or
// duplicated Access-Control-Allow-Origin, or a failed preflight, makes fetch() reject.
//
//   node browser.mjs --dns 10.89.0.2:53 --ca ca.crt --app-cert app.crt --app-key app.key \
//       https://example.test/.well-known/matrix/client=https://matrix.example.test
//
// Each argument is URL=EXPECTED: the expected m.homeserver.base_url (trailing slashes aside),
// read with and without a preflight, or a status code (404) that the plain fetch() must be
// able to read across origins.
// Names are mapped to the lab DNS server's answers with --host-resolver-rules; the lab CA is
// trusted through an NSS database made for this run (certutil); the browser profile is new
// and removed afterwards. Prints one JSON object {url: {expected, ok, plain, preflighted}};
// exits 1 when a result differs from what was expected, 2 on a usage error.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

import { fail, labResolver, parseArguments } from "./lab.mjs";

const APP_NAME = "app.test";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// Without the background-networking flags Chromium tries to reach outside hosts at start.
const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic",
];

// The page of the web client. readClientDocument() runs in the page, so the request's origin
// is https://app.test:<port>, not the well-known's.
const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>web client</title><script>
async function readClientDocument(url, preflight) {
  try {
    const response = await fetch(url, preflight ? { headers: { "X-Requested-With": "XMLHttpRequest" } } : {});
    const text = await response.text();
    let baseUrl = null;
    try { baseUrl = JSON.parse(text)["m.homeserver"].base_url; } catch (error) { baseUrl = null; }
    return { status: response.status, base_url: baseUrl, error: null };
  } catch (error) {
    return { status: null, base_url: null, error: String(error) };
  }
}
</script></head><body>web client</body></html>
`;

const { options, positional } = parseArguments(process.argv.slice(2), ["dns", "ca", "app-cert", "app-key"]);
for (const name of ["ca", "app-cert", "app-key"]) {
  if (!options[name]) {
    fail(`--${name} is required`);
  }
}
if (positional.length === 0) {
  fail("give at least one URL=EXPECTED (a base URL, or a status code such as 404)");
}
const checks = positional.map((argument) => {
  const match = /^(https:\/\/[^=]+)=(.+)$/.exec(argument);
  if (!match) {
    fail(`${JSON.stringify(argument)} is not https://URL=EXPECTED`);
  }
  return { url: match[1], expected: match[2] };
});
const { resolve } = labResolver(options.dns);

// Every name the browser will ask for, mapped to its lab address; app.test is this process.
const rules = [];
for (const host of new Set(checks.map((check) => new URL(check.url).hostname))) {
  let found;
  try {
    found = await resolve(host);
  } catch (error) {
    fail(error.message);
  }
  rules.push(`MAP ${host} ${found[0].family === 6 ? `[${found[0].address}]` : found[0].address}`);
}
rules.push(`MAP ${APP_NAME} 127.0.0.1`);

const work = mkdtempSync(join(tmpdir(), "hd-browser-"));
let server;
let context;
try {
  // The lab CA, trusted in an NSS database of this run's own HOME (Chromium reads
  // $HOME/.pki/nssdb on Linux): TLS is verified, not switched off.
  const nssdb = join(work, "home", ".pki", "nssdb");
  mkdirSync(nssdb, { recursive: true });
  execFileSync("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"], { stdio: "pipe" });
  execFileSync("certutil", ["-A", "-d", `sql:${nssdb}`, "-n", "homeserver-delegation-lab", "-t", "C,,", "-i", options.ca],
    { stdio: "pipe" });

  server = createServer({ cert: readFileSync(options["app-cert"]), key: readFileSync(options["app-key"]) }, (request, response) => {
    response.writeHead(request.url === "/" ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
    response.end(request.url === "/" ? PAGE : "");
  });
  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  const appOrigin = `https://${APP_NAME}:${server.address().port}`;

  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, `--host-resolver-rules=${rules.join(", ")}`],
    env: { ...process.env, HOME: join(work, "home") },
  });
  const page = context.pages()[0] || await context.newPage();
  // What went over the wire, as the DevTools protocol reports it: the OPTIONS preflights too.
  const devtools = await context.newCDPSession(page);
  const requests = [];
  devtools.on("Network.requestWillBeSent", (event) => {
    requests.push({ id: event.requestId, url: event.request.url, method: event.request.method, type: event.type });
  });
  const statuses = new Map();
  devtools.on("Network.responseReceived", (event) => statuses.set(event.requestId, event.response.status));
  await devtools.send("Network.enable");
  await page.goto(`${appOrigin}/`);

  const results = {};
  let allOk = true;
  for (const check of checks) {
    const plain = await page.evaluate(([url]) => readClientDocument(url, false), [check.url]);
    const before = requests.length;
    const preflighted = await page.evaluate(([url]) => readClientDocument(url, true), [check.url]);
    const preflight = requests.slice(before).find((request) => request.method === "OPTIONS" && request.url === check.url);
    preflighted.preflight = preflight ? { sent: true, status: statuses.get(preflight.id) ?? null } : { sent: false, status: null };
    const expectStatus = /^[0-9]{3}$/.test(check.expected);
    const good = (result) => (expectStatus
      ? result.status === Number(check.expected)
      : result.status === 200 && (result.base_url || "").replace(/\/+$/, "") === check.expected.replace(/\/+$/, ""));
    // A status (a 404 where no document is served) is only asked of the plain fetch: a web
    // client must be able to tell a missing document from a CORS failure.
    const ok = expectStatus ? good(plain) : good(plain) && good(preflighted) && preflighted.preflight.sent;
    allOk = allOk && ok;
    results[check.url] = { expected: check.expected, ok, plain, preflighted, origin: appOrigin };
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  process.exitCode = allOk ? 0 : 1;
} finally {
  if (context) {
    await context.close();
  }
  if (server) {
    server.close();
  }
  rmSync(work, { recursive: true, force: true });
}
