// What every browser journey shares: `caseledger` on a fresh ledger, `serve` on a free
// port, Debian's Chromium through the pinned playwright-core, and `look` — a full-page
// screenshot plus axe-core (no serious or critical violation) of the page as it is.

import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
export const BIN = process.env.CASELEDGER_BIN || "target/release/caseledger";
export const SHOTS = process.env.SCREENSHOTS || "target/screenshots";
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
mkdirSync(SHOTS, { recursive: true });

/// A fresh ledger directory and `run(args, stdin)` of caseledger on it.
export function ledger(prefix) {
  const dir = join(mkdtempSync(join(tmpdir(), `caseledger-${prefix}-`)), "ledger");
  const env = { ...process.env };
  delete env.CASELEDGER_DIR;
  const run = (args, input) => execFileSync(BIN, ["--ledger", dir, ...args], { input, env }).toString();
  return { dir, env, run };
}

/// `serve` on 127.0.0.1 (killed when the process exits); resolves to its base URL.
export async function serve({ dir, env }) {
  const server = spawn(BIN, ["--ledger", dir, "serve", "--addr", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, CASELEDGER_LOG: "error" },
  });
  server.stderr.on("data", (d) => process.stderr.write(d));
  process.on("exit", () => server.kill("SIGKILL"));
  const base = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (\S+)/);
      if (m) resolve(`http://${m[1]}`);
    });
    server.on("exit", (c) => reject(new Error(`serve exited ${c}`)));
  });
  return { base, server };
}

/// Chromium on a 13-inch laptop's screen; script errors and refused resources are
/// collected in `errors` (a CSP violation says "Refused to …"). With `expect4xx`, a
/// page answered 401 or 422 on purpose is not counted as one.
export async function browse({ expect4xx = false, ...options } = {}) {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync", "--lang=ru-RU"],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "ru-RU", ...options });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const on4xx = (text) => text.startsWith("Failed to load resource: the server responded with a status of 4");
  page.on("console", (m) => m.type() === "error" && !(expect4xx && on4xx(m.text())) && errors.push(m.text()));
  return { browser, page, errors };
}

/// `look(name)`: a screenshot `PREFIX-NN-name.png` and axe-core on the page; every
/// page's violations of any impact are kept in `look.checked`.
export function looker(page, prefix) {
  let shot = 0;
  const checked = [];
  const look = async function look(name, { phone = false } = {}) {
    shot += 1;
    await page.screenshot({ path: join(SHOTS, `${prefix}-${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
    // Every page on a 390 px phone (SPEC §21): nothing wider than the screen; with
    // `phone`, its screenshot too. Then back.
    const size = page.viewportSize();
    await page.setViewportSize({ width: 390, height: 844 });
    const [width, wide] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      // What sticks out (the innermost elements), to say where to look.
      [...document.querySelectorAll("main *, header *")]
        .filter((e) => e.getBoundingClientRect().right > 391 && ![...e.children].some((c) => c.getBoundingClientRect().right > 391))
        .slice(0, 4)
        .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className ? "." + String(e.className).replace(/ /g, ".") : ""} (${Math.round(e.getBoundingClientRect().right)} px)`),
    ]);
    if (phone) {
      await page.screenshot({ path: join(SHOTS, `${prefix}-${String(shot).padStart(2, "0")}-${name}-390.png`), fullPage: true });
    }
    await page.setViewportSize(size);
    assert.ok(width <= 390, `${name} is ${width} px wide on a 390 px phone: ${wide.join(", ")}`);
    // Evaluated through the DevTools protocol: the page's CSP refuses an injected script.
    await page.evaluate(AXE);
    const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    checked.push({ page: name, url: page.url(), violations: result.violations.map((v) => `${v.impact}: ${v.id}`) });
    assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `axe on ${name}`);
  };
  look.checked = checked;
  return look;
}

/// Logs in through the form and waits for the case list.
export async function login(page, base, user, password) {
  await page.goto(base + "/login");
  await page.fill('[name="username"]', user);
  await page.fill('[name="password"]', password);
  await page.click("button.primary");
  await page.waitForURL(/\/cases$/);
}

/// Every page a role can reach on a 390 px phone (SPEC §21): from `start`, follows
/// every link of the site (one page per path and query *shape*, so a list of 200 cases
/// costs one card), plus the error pages anyone can land on; each must fit 390 px
/// without sideways scrolling. Downloads and logout are not followed. Returns the
/// pages measured; a page that sticks out gets a screenshot `PREFIX-wide-N.png`.
export async function sweep(page, base, prefix, { start = "/cases", limit = 120, errors = [] } = {}) {
  const before = errors.length;
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const shape = (u) => {
    const url = new URL(u);
    const path = decodeURIComponent(url.pathname).replace(/\/[^/]*\d[^/]*/g, "/N");
    // Each event type's form is a page of its own.
    return path + "?" + [...url.searchParams.keys()].sort().join("&") + "#" + (url.searchParams.get("type") || "");
  };
  const errorPages = ["/cases/%D0%BD%D0%B5%D1%82-%D1%82%D0%B0%D0%BA%D0%BE%D0%B3%D0%BE", "/no-such-page", "/admin/users", "/events/new", "/events/new?type=no_such", "/explain/no_such?year=2021", "/signals?status=??"];
  const queue = [start, ...errorPages].map((p) => new URL(p, base).href);
  const seen = new Set();
  const measured = [];
  const wide = [];
  while (queue.length && measured.length < limit) {
    const url = queue.shift();
    const key = shape(url);
    if (seen.has(key)) continue;
    seen.add(key);
    // A link that downloads a file (a template, a table) is not a page.
    const response = await page.goto(url).catch((e) => (/Download is starting/.test(String(e)) ? null : Promise.reject(e)));
    const type = response?.headers()["content-type"] || "";
    if (!type.startsWith("text/html")) continue;
    const [width, links] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      [...document.querySelectorAll("a[href]")].map((a) => a.href),
    ]);
    measured.push(`${response.status()} ${decodeURIComponent(new URL(url).pathname + new URL(url).search)}`);
    if (width > 390) {
      wide.push(`${url} (${width} px)`);
      await page.screenshot({ path: join(SHOTS, `${prefix}-wide-${wide.length}.png`), fullPage: true });
    }
    for (const l of links) {
      const u = new URL(l);
      if (u.origin !== new URL(base).origin) continue;
      if (/logout|\/export|\.(csv|xlsx|zip|json|parquet|pdf)$|download|format=/.test(u.pathname + u.search)) continue;
      u.hash = "";
      queue.push(u.href);
    }
  }
  await page.setViewportSize(size);
  // The error pages answer 4xx on purpose; the browser logs that, nothing else.
  const logged = errors.splice(before);
  errors.push(...logged.filter((e) => !e.startsWith("Failed to load resource: the server responded with a status of 4")));
  assert.deepEqual(wide, [], `${prefix}: pages wider than a 390 px phone`);
  assert.ok(measured.length >= 8, `${prefix}: only ${measured.length} pages reached: ${measured.join(", ")}`);
  return measured;
}
