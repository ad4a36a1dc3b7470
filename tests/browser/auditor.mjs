// The auditor's journey through the web workspace, in Debian's Chromium (SPEC §16,
// issue 18): on the seed replay (with a signing key and a checkpoint), log in as an
// auditor, find who amended an event in the trail (/audit, filtered by type), check it
// against GET /v1/export, download the filtered trail as XLSX, then verify the chain on
// /verify (progress, then the head and root equal `caseledger verify --json`), and see
// the latest checkpoint. axe-core on every page; a screenshot of each in $SCREENSHOTS.
//
//   CASELEDGER_BIN=target/release/caseledger SCREENSHOTS=target/screenshots node tests/browser/auditor.mjs

import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { ledger, serve, browse, looker, login, sweep } from "./harness.mjs";

const REPLAY = new URL("../../replay/mama-ryadom-2019-2020/events.jsonl", import.meta.url).pathname;

const { run, ...L } = ledger("auditor");
run(["init"]);
run(["append", REPLAY]);
run(["key", "init", "--origin", "ledger.mama-ryadom.example/2020"]);
run(["checkpoint"]);
run(["user", "add", "А-01", "--role", "auditor"], "пароль-аудитора-01\n");
run(["user", "add", "А-99", "--role", "admin"], "пароль-администратора\n");
const token = run(["token", "add", "аудитор-api", "--role", "auditor"]).trim();
// What the command line says of the chain (before serve holds the ledger).
const head = JSON.parse(run(["verify", "--json"]));

const { base, server } = await serve(L);

const { browser, page, errors } = await browse({ acceptDownloads: true });
const look = looker(page, "auditor");


// 1. Log in; the auditor's menu has the trail and the check, and no recording.
await login(page, base, "А-01", "пароль-аудитора-01");
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

// 5. A mirror config.toml names that has never said how far it holds (SPEC §20): the
// auditor is told on every page, and /verify lists it; gone once the file no longer
// names it.
writeFileSync(join(L.dir, "config.toml"), 'mirrors = ["mirror-office"]\n');
await page.goto(base + "/cases");
assert.match(await page.textContent("div.alert"), /Зеркало mirror-office ни разу не сообщило, сколько хранит/);
await look("alert-mirror", { phone: true });
await page.goto(base + "/verify");
assert.match(await page.textContent("main"), /Зеркало mirror-office ни разу не сообщило/);
assert.equal(await page.locator("div.alert").count(), 0, "on /verify the section says it, not the banner");
await look("verify-alert", { phone: true });
rmSync(join(L.dir, "config.toml"));
await page.goto(base + "/cases");
assert.equal(await page.locator("div.alert").count(), 0);

// Every page an auditor can reach, error pages included, on a 390 px phone.
const auditorPages = await sweep(page, base, "auditor", { errors });
console.log(`auditor: ${auditorPages.length} pages fit 390 px: ${auditorPages.join(", ")}`);

// 6. The administrator (SPEC §21): people and the organisation in the browser.
await page.goto(base + "/cases");
await page.click("text=Выйти");
await login(page, base, "А-99", "пароль-администратора");
await page.click("nav >> text=Пользователи");
await page.waitForURL(/\/admin\/users$/);
await page.fill("#new-name", "К-11");
await page.selectOption("#new-role", "recorder");
await page.fill("#new-curator", "К-11");
await page.fill("#new-password", "пароль-куратора-11");
await page.click("form.stacked button.primary");
await page.waitForURL(/done=/);
assert.match(await page.textContent("main"), /Пользователь К-11 добавлен/);
await look("admin-users", { phone: true });
await page.setViewportSize({ width: 390, height: 844 });
const adminWidth = await page.evaluate(() => document.documentElement.scrollWidth);
assert.ok(adminWidth <= 390, `/admin/users fits a phone: ${adminWidth} px`);
await page.setViewportSize({ width: 1366, height: 768 });
await page.goto(base + "/admin/organisation");
await page.fill("#organisation", "АНО «Мама рядом»");
await page.click("form.stacked button.primary");
await page.waitForURL(/done=/);
await look("admin-organisation", { phone: true });
// Every page the administrator can reach, error pages included, on a 390 px phone.
const adminPages = await sweep(page, base, "admin", { errors });
console.log(`admin: ${adminPages.length} pages fit 390 px: ${adminPages.join(", ")}`);

assert.deepEqual(errors, [], "no script errors or refused resources");
await browser.close();
server.kill("SIGTERM");
console.log(`auditor journey: amendment № ${seq} by ${actor} found; chain of ${head.seq} events verified in the browser`);
