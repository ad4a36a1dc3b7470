// The methodist's journey through the web workspace, in Debian's Chromium (SPEC §16,
// issue 18): on the seed replay, log in as an analyst, read the 2020 figures as known
// 31.01.2021 and as known now — each equal to `indicators --json` for the same cut —
// drill into P1 (who was counted, who was not and why in words), open a counted case
// as known at that cut, and download the trail-free tables page's XLSX. axe-core on
// every page; a screenshot of each in $SCREENSHOTS.
//
//   CASELEDGER_BIN=target/release/caseledger SCREENSHOTS=target/screenshots node tests/browser/methodist.mjs

import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ledger, serve, browse, looker, login, SHOTS, sweep } from "./harness.mjs";

const REPLAY = new URL("../../replay/mama-ryadom-2019-2020/events.jsonl", import.meta.url).pathname;

const { run, ...L } = ledger("methodist");
run(["init"]);
run(["append", REPLAY]);
run(["user", "add", "М-01", "--role", "analyst"], "пароль-методиста-01\n");
run(["key", "init", "--origin", "ledger.mama-ryadom.example/2020"]);
// What the command line says, before serve holds the ledger.
const then = JSON.parse(run(["indicators", "--year", "2020", "--known-at", "2021-01-31", "--json"]));
const now = JSON.parse(run(["indicators", "--year", "2020", "--json"]));
const p1explain = JSON.parse(run(["explain", "P1", "--year", "2020", "--known-at", "2021-01-31", "--excluded", "--json"]));

const { base, server } = await serve(L);

const { browser, page, errors } = await browse({ acceptDownloads: true });
const look = looker(page, "methodist");


// The figures table, read from the page: title → [numerator, denominator, ratio] as text.
async function figures() {
  return page.$$eval("table.figures tbody tr", (trs) =>
    trs.map((tr) => ({ id: tr.dataset.id, title: tr.cells[0].innerText, cells: [...tr.cells].slice(1).map((c) => c.innerText) })));
}
// What the page should show for a figure of `indicators --json`.
const shown = (n) => (n === undefined ? "—" : String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f"));
function same(pageRows, json) {
  assert.equal(pageRows.length, json.indicators.length);
  for (const f of json.indicators) {
    const row = pageRows.find((r) => r.id === f.id);
    assert.ok(row, `figure ${f.id} on the page`);
    // People read titles, never ids (SPEC §21).
    assert.ok(!row.title.includes(f.id) || f.title.includes(f.id), `${f.id}: no id under the title`);
    if (typeof f.numerator === "number") assert.equal(row.cells[0], shown(f.numerator), `${f.id} numerator`);
    if (typeof f.denominator === "number") assert.equal(row.cells[1], shown(f.denominator), `${f.id} denominator`);
    // A share in per cent with a decimal comma; a cost (its title in ₽) in roubles, or
    // «расходов нет» when no expense was recorded.
    const noExpenses = f.title.includes("₽") && f.numerator === "0.00";
    if (noExpenses) assert.equal(row.cells[0], "расходов нет", `${f.id}: no expenses`);
    const ratio = f.ratio === undefined || f.ratio === null || noExpenses ? "—"
      : f.title.includes("₽") ? Number(f.ratio).toFixed(2).replace(".", ",").replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f") + "\u00a0₽"
      : (Number(f.ratio) * 100).toFixed(1).replace(".", ",") + "\u00a0%";
    assert.equal(row.cells[2], ratio, `${f.id} ratio`);
  }
}

await login(page, base, "М-01", "пароль-методиста-01");

// 1. 2020 as known 31.01.2021, then as known now.
await page.click("nav >> text=Показатели");
await page.fill('[name="year"]', "2020");
await page.fill('[name="known_at"]', "31.01.2021");
await Promise.all([page.waitForURL(/known_at=31.01.2021/), page.click("form.filters button[type=submit]")]);
same(await figures(), then);
assert.match(await page.textContent("p.lead"), /Период 01\.01\.2020–31\.12\.2020, как было известно на 31\.01\.2021/);
await look("indicators-then");
await page.fill('[name="known_at"]', "");
await Promise.all([page.waitForURL(/\/indicators\?year=2020/), page.click("form.filters button[type=submit]")]);
same(await figures(), now);
// The period's charts arrive after the figures: ЕФО dynamics and ratios by quarter.
await page.waitForSelector("div.charts figure.chart svg");
assert.deepEqual(
  await page.$$eval("div.charts figcaption", (cs) => cs.map((c) => c.innerText.split(":")[0].split(",")[0])),
  ["Динамика ЕФО", "Доли по кварталам"]);
await look("indicators-now");

// 1a. What changed after 31.01.2021: the figures that differ between the two
// `indicators --json` answers are the rows marked, each with its earlier value.
const differs = now.indicators.filter((f) => {
  const t = then.indicators.find((x) => x.id === f.id);
  return t.numerator !== f.numerator || t.denominator !== f.denominator || t.ratio !== f.ratio;
});
assert.ok(differs.length > 0, "the replay records events after 31.01.2021 that move 2020's figures");
await page.fill('[name="since"]', "31.01.2021");
await Promise.all([page.waitForURL(/since=31.01.2021/), page.click("form.filters button[type=submit]")]);
same(await figures(), now);
const marked = await page.$$eval("table.figures tbody tr.changed", (trs) => trs.map((tr) => tr.dataset.id));
assert.deepEqual(marked.sort(), differs.map((f) => f.id).sort());
const p1row = await page.textContent("table.figures tbody tr.changed[data-id='P1']");
assert.match(p1row, /изменилось: было 16 из 29 \(55,2\u00a0%\)/);
assert.match(await page.textContent("p.changes"), new RegExp(`После 31\\.01\\.2021 изменил(ся|ись) ${differs.length} показател`));
await look("indicators-changed");
// Printed: no navigation or form, the table and the charts on A4.
await page.emulateMedia({ media: "print" });
assert.equal(await page.isVisible("form.filters"), false, "the form is not printed");
await look("indicators-print");
await page.pdf({ path: join(SHOTS, "methodist-indicators.pdf"), format: "A4", printBackground: false });
await page.emulateMedia({ media: "screen" });

// 2. Drill into P1 as known 31.01.2021: counted and not counted, why in words.
await page.goto(base + "/indicators?year=2020&known_at=31.01.2021");
await Promise.all([page.waitForURL(/\/explain\/P1\?/), page.click("table.figures a[href^='/explain/P1?']")]);
const counted = await page.$$eval("table.explain:first-of-type tbody > tr", (trs) => trs.length);
assert.equal(counted, p1explain.numerator.subjects.length, "the counted families of explain --json");
const text = await page.textContent("main");
assert.match(text, /не засчитана: случай не закрыт в периоде|не засчитана: итог случая — «договор расторгнут/);
assert.ok(!text.includes("numerator.from["), "no predicate paths on the page");
await look("explain-P1");

// 3. A counted family's case, as known at that cut.
await Promise.all([page.waitForURL(/\/cases\/.*known_at=/), page.click("table.explain a[href^='/cases/']")]);
assert.match(await page.textContent("main"), /Состояние на 31\.12\.2020, как было известно на 31\.01\.2021\./);
await look("case-as-known");

// 4. The 2020 report as known 31.01.2021 downloaded, then uploaded back and verified.
await page.click("nav >> text=Отчёты");
await page.waitForURL(/\/reports$/);
await look("reports");
await page.fill('[name="year"]', "2020");
await page.fill('[name="known_at"]', "31.01.2021");
await page.selectOption('[name="format"]', "json");
const [report] = await Promise.all([page.waitForEvent("download"), page.click("form.filters button.primary")]);
const reportFile = await report.path();
const made = JSON.parse(readFileSync(reportFile, "utf8"));
const p1 = made.figures.find((f) => f.id === "P1");
assert.deepEqual([p1.numerator, p1.denominator], [16, 29], "seed 001: 16 of 29");
await page.setInputFiles("#upload", reportFile);
await page.click("#verify-upload button[type=submit]");
await page.waitForSelector("#verify-result .verdict");
assert.match(await page.textContent("#verify-result"), /Отчёт верен/);
// As known now, P1 reads 18 of 29: the page lists what moved it.
assert.match(await page.textContent("#verify-result"), /стабилизирована: в отчёте 16 из 29 \(0,5517\), сейчас 18 из 29 \(0,6207\) — из-за событий № 753/);
await look("report-verified");

// 4b. The report published (SPEC §19): its bundle downloaded under a Russian name, then
// uploaded back and verified with no ledger — «Отчёт опубликован …».
await page.click("nav >> text=Отчёты");
await page.waitForURL(/\/reports$/);
const publish = page.locator('form[action="/reports/publish"]');
await publish.locator('[name="year"]').fill("2020");
await publish.locator('[name="known_at"]').fill("31.01.2021");
await look("reports-publish", { phone: true });
const [bundle] = await Promise.all([page.waitForEvent("download"), publish.locator("button.primary").click()]);
assert.equal(bundle.suggestedFilename(), "пакет-отчёта-2020-01-01-2020-12-31.zip");
const bundleFile = await bundle.path();
assert.equal(readFileSync(bundleFile).subarray(0, 2).toString(), "PK", "a zip");
await page.setInputFiles("#upload", bundleFile);
await page.click("#verify-upload button[type=submit]");
await page.waitForSelector("#verify-result .verdict");
const verdict = await page.textContent("#verify-result");
assert.match(verdict, /Пакет верен/);
assert.match(verdict, /Отчёт опубликован \d\d\.\d\d\.\d{4} \d\d:\d\d \(событие № 765\)/);
await look("bundle-verified", { phone: true });

// 5. A table as XLSX.
await page.click("nav >> text=Таблицы");
await page.selectOption('[name="name"]', "contracts");
await page.fill('[name="year"]', "2020");
const [table] = await Promise.all([page.waitForEvent("download"), page.click("form.filters button.primary")]);
const xlsx = readFileSync(await table.path());
assert.equal(xlsx.subarray(0, 2).toString(), "PK", "an XLSX (zip) file");
assert.match(table.suggestedFilename(), /^contracts-2020-01-01-2020-12-31\.xlsx$/);
await look("tables");

// What is due across all curators (SPEC §21): on the replay, the stabilised closings of
// 2019–2020 whose monitoring was never recorded, most overdue first, each with its case.
await page.click("nav >> text=Что сделать");
await page.waitForURL(/\/due$/);
const dueItems = await page.locator("li.due-item").count();
assert.ok(dueItems > 5, `the replay's overdue monitoring is listed (${dueItems})`);
assert.match(await page.textContent("li.due-item >> nth=0"), /мониторинг просрочен/);
await look("due", { phone: true });
await page.setViewportSize({ width: 390, height: 844 });
const dueWidth = await page.evaluate(() => document.documentElement.scrollWidth);
assert.ok(dueWidth <= 390, `/due fits a phone: ${dueWidth} px`);
await page.setViewportSize({ width: 1366, height: 768 });

// Every page a methodist can reach, error pages included, on a 390 px phone.
const swept = await sweep(page, base, "methodist", { errors: errors });
console.log(`methodist: ${swept.length} pages fit 390 px: ${swept.join(", ")}`);
assert.deepEqual(errors, [], "no script errors or refused resources");
await browser.close();
server.kill("SIGTERM");
console.log(`methodist journey: ${then.indicators.length} figures equal indicators --json (then and now); P1 counts ${counted}`);
