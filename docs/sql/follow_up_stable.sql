-- follow_up_stable: Устойчивость результата: семьи со стабильной ситуацией через 6 месяцев после закрытия
-- families closed in the period found stable at the latest monitoring / those monitored.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND follow_up_stable = TRUE) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND follow_up_done = TRUE) AS denominator;
