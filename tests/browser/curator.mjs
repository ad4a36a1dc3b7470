// The curator's journey through the web workspace, in Debian's Chromium (SPEC §16,
// issue 15): log in, receive a signal, open a case with two children, score the entry
// ЕФО, issue aid, admit to and leave the crisis centre, close the case, record the
// follow-up, correct a mistaken event, meet a refusal for a rule broken on purpose,
// print the case; then check through GET /v1/export that exactly those events were
// stored, with the user as actor. axe-core runs on every page (no serious or
// critical violation); a screenshot of each page goes to $SCREENSHOTS.
//
//   CASELEDGER_BIN=target/release/caseledger SCREENSHOTS=target/screenshots node tests/browser/curator.mjs

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { ledger, serve, browse, looker, SHOTS, sweep } from "./harness.mjs";

const { run, ...L } = ledger("browser");
run(["init"]);
run(["user", "add", "К-07", "--role", "recorder"], "пароль-куратора-07\n");
const auditorToken = run(["token", "add", "аудитор-1", "--role", "auditor"]).trim();

const { base, server } = await serve(L);
const { browser, page, errors: consoleErrors } = await browse({ expect4xx: true });
const look = looker(page, "curator");
const checked = look.checked;

async function submit() {
  await Promise.all([page.waitForLoadState("load"), page.click("#event-form button.primary[type=submit]")]);
  await page.waitForLoadState("load");
}

async function fill(name, value) {
  await page.fill(`[name="${name}"]`, value);
}

async function choose(name, value) {
  await page.selectOption(`[name="${name}"]`, value);
}

async function recorded() {
  const notice = await page.textContent(".notice[role=status]");
  assert.match(notice, /Записано: событие № \d+/, "the page says the event was recorded");
}

// 1. Log in (a wrong password first).
await page.goto(base + "/");
assert.match(page.url(), /\/login\?next=/);
await look("login");
await fill("username", "К-07");
await fill("password", "не-тот-пароль");
await page.click("button.primary");
assert.match(await page.textContent("[role=alert]"), /Неверное имя пользователя или пароль/);
await fill("password", "пароль-куратора-07");
await page.click("button.primary");
await page.waitForURL(/\/cases$/);
await look("cases-empty");

// 2. A signal received.
await page.click("text=Новый сигнал");
await look("form-signal");
await fill("occurred_on", "12.01.2026");
await fill("signal", "С-2026-001");
await fill("family", "Ф-0101");
await choose("channel", "phone");
await submit();
assert.match(page.url(), /\/signals\?saved=1/);
await recorded();
await look("signals");

// 3. Open a case from it, with two children (the list grows).
await page.click("tr:has-text('С-2026-001') >> text=Открыть случай");
assert.equal(await page.inputValue('[name="signal"]'), "С-2026-001");
assert.equal(await page.inputValue('[name="family"]'), "Ф-0101");
await fill("occurred_on", "15.01.2026");
await fill("case", "1/2026_МР");
await fill("contract", "Д-1/2026");
await fill("program", "МР");
await fill("curator", "К-07");
await fill("children.0.code", "Р-0101-1");
await fill("children.0.born", "2019");
await page.click("button[name=more]");
await page.waitForSelector('[name="children.1.code"]');
assert.equal(await page.inputValue('[name="children.0.code"]'), "Р-0101-1", "values kept when a row is added");
await fill("children.1.code", "Р-0101-2");
await fill("children.1.born", "2021-03");
await look("form-case-opened");
await submit();
assert.match(page.url(), /\/cases\/1%2F2026_%D0%9C%D0%A0\?saved=2/);
await recorded();
await look("case-opened");

// 4. The same form resolved the signal (SPEC §21: one form opens a case from a signal):
// no second form to fill, the signal is off the open list.
assert.equal(await page.locator("text=Отметить: открыт случай").count(), 0, "the signal is already resolved");
await page.goto(base + "/signals");
assert.equal(await page.locator("tr:has-text('С-2026-001')").count(), 0, "off the open signals");
await page.goto(base + "/cases/" + encodeURIComponent("1/2026_МР"));

// 5. The entry ЕФО: eight domains and each child's level.
await page.click("text=Оценка ЕФО: входная");
await fill("occurred_on", "20.01.2026");
const domains = { housing_income: "4", health_safety: "3", self_care: "2", education: "2", identity: "1", emotional: "3", family_relations: "3", behaviour: "2" };
for (const [d, n] of Object.entries(domains)) await fill(`domains.${d}`, n);
assert.equal(await page.inputValue('[name="children.0.code"]'), "Р-0101-1", "the case's children are listed");
await choose("children.0.level", "crisis");
await choose("children.1.level", "unsatisfactory");
await look("form-efo");
await submit();
await recorded();

// 6. Aid, typed as people type money.
await page.click(".next >> text=Помощь");
await fill("occurred_on", "25.01.2026");
await choose("kind", "food");
await fill("quantity", "2");
await fill("value", "1 500,50");
await submit();
await recorded();

// 7. The crisis centre: admitted, then left.
await page.click("text=Заселение в КЦ");
await fill("occurred_on", "01.02.2026");
await fill("until", "28.02.2026");
await submit();
await recorded();
await page.click("text=Выход из КЦ");
await fill("occurred_on", "20.02.2026");
await submit();
await recorded();

// 8. Exit ЕФО and closing.
await page.click("text=Оценка ЕФО: итоговая");
await fill("occurred_on", "25.05.2026");
await fill("weak_total", "9");
await choose("children.0.level", "satisfactory");
await choose("children.1.level", "satisfactory");
await submit();
await recorded();
await page.click("text=Закрыть случай");
await fill("occurred_on", "01.06.2026");
await choose("outcome", "stabilized");
await choose("children.0.in_family", "true");
await choose("children.1.in_family", "true");
await look("form-case-closed");
await submit();
await recorded();

// 9. The follow-up six months later.
await page.click("text=Мониторинг после закрытия");
await fill("occurred_on", "20.11.2026");
await fill("months", "6");
await choose("stable", "true");
await choose("children.0.in_family", "true");
await choose("children.1.in_family", "true");
await submit();
await recorded();

// 10. A mistake corrected: the aid was 3 sets, not 2.
await page.click("tr:has-text('Выдана помощь') >> text=Исправить");
await look("form-amend");
assert.equal(await page.inputValue('[name="data.quantity"]'), "2");
await fill("reason", "ошибка в количестве: выдано 3 набора");
await fill("data.quantity", "3");
await submit();
await recorded();
const timeline = await page.textContent("table.timeline");
assert.match(timeline, /исправлено записью № \d+/);
assert.match(timeline, /Причина: ошибка в количестве/);

// 11. A rule broken on purpose: a crisis-centre admission after the closing day.
await page.goto(base + "/events/new?type=shelter_admitted&case=" + encodeURIComponent("1/2026_МР"));
await fill("occurred_on", "10.06.2026");
await fill("until", "30.06.2026");
await Promise.all([page.waitForLoadState("load"), page.click("#event-form button.primary[type=submit]")]);
const alert = await page.textContent("#f-occurred_on-error");
assert.match(alert, /закрыт/, "the rule's Russian words beside the field");
assert.equal(await page.getAttribute("#f-occurred_on-error", "role"), "alert");
assert.equal(await page.inputValue('[name="until"]'), "30.06.2026", "values kept");
assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "f-occurred_on",
  "the keyboard is at the field to fix");
await look("refusal");

// 12. The case card, and its print view (A4).
await page.goto(base + "/cases/" + encodeURIComponent("1/2026_МР"));
await look("case-card", { phone: true });
// On a phone the record buttons are one tap from the top of the card (SPEC §21).
await page.setViewportSize({ width: 390, height: 844 });
assert.ok(await page.isVisible("text=Записать событие ↓"), "the jump to the record buttons on a phone");
const jumpTop = await page.evaluate(() => document.querySelector("p.phoneonly").getBoundingClientRect().top);
assert.ok(jumpTop < 844, `the jump is on the first screen (${jumpTop} px)`);
await page.click("text=Записать событие ↓");
const nextTop = await page.evaluate(() => document.getElementById("next-h").getBoundingClientRect().top);
assert.ok(nextTop >= 0 && nextTop < 844, `the record buttons are on screen after the tap (${nextTop} px)`);
await page.setViewportSize({ width: 1366, height: 768 });
assert.ok(!(await page.isVisible("text=Записать событие ↓")), "not on a laptop");
await page.click("text=Версия для печати");
await page.emulateMedia({ media: "print" });
await look("case-print");
await page.pdf({ path: join(SHOTS, "curator-case.pdf"), format: "A4", printBackground: false });
await page.emulateMedia({ media: "screen" });

await page.goto(base + "/cases");
await look("cases-list");
// Every page a curator can reach, error pages included, on a 390 px phone.
const swept = await sweep(page, base, "curator", { errors: consoleErrors });
console.log(`curator: ${swept.length} pages fit 390 px: ${swept.join(", ")}`);
assert.equal(consoleErrors.length, 0, `browser console errors: ${consoleErrors.join("; ")}`);

// 13. Exactly those events, stored with the user as actor.
const exported = await (await fetch(base + "/v1/export", { headers: { Authorization: `Bearer ${auditorToken}` } })).text();
const events = exported.trim().split("\n").map((l) => JSON.parse(l));
assert.deepEqual(events.map((e) => e.type), [
  "signal_received", "case_opened", "signal_resolved", "efo_scored", "aid_issued", "shelter_admitted", "shelter_left",
  "efo_scored", "case_closed", "follow_up_done", "event_amended",
]);
assert.ok(events.every((e) => e.actor === "К-07"), "every event's actor is the user");
assert.deepEqual(events[1].data.children, [{ code: "Р-0101-1", born: "2019" }, { code: "Р-0101-2", born: "2021-03" }]);
assert.equal(events[4].data.value, "1500.50");
assert.equal(events[3].data.domains.housing_income, 4);
assert.equal(events[10].data.data.quantity, 3);
assert.equal(events[10].data.target, events[4].id);

// 14. A table kept in Excel brought in at /import: a preview that refuses a date that
// is not one (nothing written), the file fixed, previewed again, confirmed.
const journal = (day) =>
  "\ufeffЖурнал договоров 2025\n\n№;№ дела;шифр семьи;отдел;дата заключения;дата закрытия;итог\n" +
  "1;5/2025_МР;Ф-0501;МР;14.01.2025;30.06.2025;ТЖС стабилизирована\n" +
  `2;6/2025_МР;Ф-0502;МР;${day};;\n`;
const upload = async (day) => {
  await page.setInputFiles("#upload", { name: "журнал.csv", mimeType: "text/csv", buffer: Buffer.from(journal(day)) });
  await page.click("#import-upload button[type=submit]");
  await page.waitForSelector("#import-result .verdict");
};
await page.goto(base + "/import");
await page.selectOption("#name", "contracts");
await look("import");
await upload("31.02.2025");
assert.match(await page.textContent("#import-result"), /Лист «журнал», строка 5, столбец «дата заключения»: «31\.02\.2025» — не дата/);
assert.equal(await page.locator("#import-result form").count(), 0, "no confirmation for a refused table");
await look("import-refused");
await upload("28.02.2025");
assert.match(await page.textContent("#import-result"), /будет добавлено 3 события \(№ 12–14\); ничего не записано/);
await look("import-preview");
await Promise.all([page.waitForURL("**/import/confirm"), page.click("#import-result button[type=submit]")]);
assert.match(await page.textContent("main"), /Таблица загружена[\s\S]*добавлено 3 события \(№ 12–14\)/);
await look("import-done");
const after = (await (await fetch(base + "/v1/export", { headers: { Authorization: `Bearer ${auditorToken}` } })).text())
  .trim().split("\n").map((l) => JSON.parse(l));
assert.deepEqual(after.slice(11).map((e) => [e.type, e.data.case, e.occurred_on, e.actor]), [
  ["case_opened", "5/2025_МР", "2025-01-14", "К-07"],
  ["case_closed", "5/2025_МР", "2025-06-30", "К-07"],
  ["case_opened", "6/2025_МР", "2025-02-28", "К-07"],
]);

// 15. The journal again with a family code corrected: refused until the curator ticks
// «исправить записанное по таблице»; then the correction is previewed with the old and
// new value, and written.
const corrected = journal("28.02.2025").replace(";Ф-0502;", ";Ф-0522;");
const uploadText = async (text) => {
  await page.setInputFiles("#upload", { name: "журнал.csv", mimeType: "text/csv", buffer: Buffer.from(text) });
  await page.click("#import-upload button[type=submit]");
  await page.waitForSelector("#import-result .verdict");
};
await page.goto(base + "/import");
await page.selectOption("#name", "contracts");
await uploadText(corrected);
assert.match(await page.textContent("#import-result"), /в реестре у дела 6\/2025_МР шифр семьи «Ф-0502», в таблице — «Ф-0522»; импорт не меняет записанное молча/);
await page.check("#amend");
await uploadText(corrected);
assert.match(await page.textContent("#import-result"), /Исправление записи[\s\S]*шифр семьи: «Ф-0502» → «Ф-0522»/);
await look("import-amend", { phone: true });
await Promise.all([page.waitForURL("**/import/confirm"), page.click("#import-result button[type=submit]")]);
assert.match(await page.textContent("main"), /добавлено 1 событие \(№ 15\)/);
const amended = (await (await fetch(base + "/v1/export", { headers: { Authorization: `Bearer ${auditorToken}` } })).text())
  .trim().split("\n").map((l) => JSON.parse(l));
assert.equal(amended[14].type, "event_amended");
assert.equal(amended[14].data.target, after[13].id);
assert.equal(amended[14].data.data.family, "Ф-0522");
assert.equal(amended[14].data.reason, "исправлено по таблице журнал.csv, строка 5");

// 16. My cases and what is due (SPEC §21): the login tied to curator code К-07 (users.json
// is read again when it changes), /cases opens on К-07's open cases; /due lists the
// untriaged and idle work soonest first, each with its button — at 1280 px and 390 px.
run(["user", "curator", "К-07", "К-07"]);
await page.goto(base + "/cases");
assert.match(await page.textContent("main"), /Ваши открытые случаи \(куратор К-07\)/);
await look("cases-mine", { phone: true });
await page.click("nav >> text=Что сделать");
await page.waitForURL(/\/due$/);
assert.match(await page.textContent("main"), /Что сделать/);
await look("due", { phone: true });
await page.setViewportSize({ width: 390, height: 844 });
const dueWidth = await page.evaluate(() => document.documentElement.scrollWidth);
assert.ok(dueWidth <= 390, `/due fits a phone: ${dueWidth} px`);
await page.setViewportSize({ width: 1366, height: 768 });
assert.equal(consoleErrors.length, 0, `browser console errors: ${consoleErrors.join("; ")}`);

writeFileSync(join(SHOTS, "curator-axe.json"), JSON.stringify(checked, null, 2));
await browser.close();
server.kill("SIGTERM");
console.log(`curator journey: ${events.length} events stored as К-07; ${checked.length} pages checked by axe-core; screenshots in ${SHOTS}`);
