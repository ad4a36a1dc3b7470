// The auditor's journey through the web workspace, in Debian's Chromium (SPEC §16,
// issue 18): on the seed replay (with a signing key and a checkpoint), log in as an
// auditor, find who amended an event in the trail (/audit, filtered by type), check it
// against GET /v1/export, download the filtered trail as XLSX, then verify the chain on
// /verify (progress, then the head and root equal `caseledger verify --json`), and see
// the latest checkpoint. axe-core on every page; a screenshot of each in $SCREENSHOTS.
//
//   CASELEDGER_BIN=target/release/caseledger SCREENSHOTS=target/screenshots node tests/browser/auditor.mjs

import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const BIN = process.env.CASELEDGER_BIN || "target/release/caseledger";
const SHOTS = process.env.SCREENSHOTS || "target/screenshots";
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const REPLAY = new URL("../../replay/mama-ryadom-2019-2020/events.jsonl", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

const dir = mkdtempSync(join(tmpdir(), "caseledger-auditor-"));
const ledger = join(dir, "ledger");
const env = { ...process.env };
delete env.CASELEDGER_DIR;
const run = (args, input) => execFileSync(BIN, ["--ledger", ledger, ...args], { input, env }).toString();
run(["init"]);
run(["append", REPLAY]);
run(["key", "init", "--origin", "ledger.mama-ryadom.example/2020"]);
run(["checkpoint"]);
run(["user", "add", "А-01", "--role", "auditor"], "пароль-аудитора-01\n");
const token = run(["token", "add", "аудитор-api", "--role", "auditor"]).trim();
// What the command line says of the chain (before serve holds the ledger).
const head = JSON.parse(run(["verify", "--json"]));

const server = spawn(BIN, ["--ledger", ledger, "serve", "--addr", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...env, CASELEDGER_LOG: "warn" },
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

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "ru-RU", acceptDownloads: true });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

let shot = 0;
async function look(name) {
  shot += 1;
  await page.screenshot({ path: join(SHOTS, `auditor-${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `axe on ${name}`);
}

// 1. Log in; the auditor's menu has the trail and the check, and no recording.
await page.goto(base + "/login");
await page.fill('[name="username"]', "А-01");
await page.fill('[name="password"]', "пароль-аудитора-01");
await page.click("button.primary");
await page.waitForURL(/\/cases$/);
assert.ok(await page.isVisible("nav >> text=Журнал записей"));
assert.ok(!(await page.isVisible("nav >> text=Новый сигнал")));

// 2. The trail, newest first; then only amendments: who amended what.
await page.click("nav >> text=Журнал записей");
await page.waitForURL(/\/audit/);
const firstSeq = Number(await page.textContent("table.audit tbody tr:first-child td:first-child"));
assert.equal(firstSeq, head.seq, "the newest event first");
await look("audit");
await page.selectOption('[name="type"]', "event_amended");
await Promise.all([page.waitForURL(/type=event_amended/), page.click("form.filters button[type=submit]")]);
const rows = await page.$$eval("table.audit tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.innerText)));
assert.ok(rows.length >= 1, "an amendment is listed");
const [seq, , actor, what] = rows[0];
assert.match(what, /Исправление записи № \d+/);
// The same answer as the export: that event's actor.
const exported = await (await fetch(base + "/v1/export", { headers: { Authorization: `Bearer ${token}` } })).text();
const event = exported.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.seq === Number(seq));
assert.equal(event.type, "event_amended");
assert.equal(actor, event.actor, "the trail names who amended it");
await look("audit-amendments");

// 3. The filtered trail as XLSX.
const [download] = await Promise.all([page.waitForEvent("download"), page.click("text=Скачать XLSX")]);
const xlsx = readFileSync(await download.path());
assert.equal(xlsx.subarray(0, 2).toString(), "PK", "an XLSX (zip) file");
assert.ok(xlsx.length > 3000);

// 4. The chain checked, with progress, then the result; the latest checkpoint.
await page.click("nav >> text=Проверка");
await page.waitForURL(/\/verify$/);
assert.match(await page.textContent("main"), /Последняя подписанная контрольная точка/);
await page.click("text=Проверить цепочку");
await page.waitForSelector("#verify-status p.ok", { timeout: 60000 });
const status = await page.textContent("#verify-status");
assert.ok(status.includes(head.head), "the page names the head that verify --json gives");
assert.ok(status.includes(head.root), "…and the tree's root");
await look("verify");

assert.deepEqual(errors, [], "no script errors or refused resources");
await browser.close();
server.kill("SIGTERM");
console.log(`auditor journey: amendment № ${seq} by ${actor} found; chain of ${head.seq} events verified in the browser`);
