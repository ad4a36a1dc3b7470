-- P3.2: Количество семей, в которых улучшено благополучие ребенка
-- families whose weak sides fell by at least 1 from entry to the latest assessment / families with both.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE active_in_period = TRUE AND efo_delta_latest >= 1) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE active_in_period = TRUE AND efo_entry IS NOT NULL AND efo_latest IS NOT NULL) AS denominator;
