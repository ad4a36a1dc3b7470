-- efo_dynamics: Динамика ЕФО: число слабых сторон снизилось минимум на 1 (вход → выход)
-- families whose case closed in the period with weak sides down by at least 1 from entry to exit / closed cases with both assessments.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND efo_delta >= 1) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE closed_in_period = TRUE AND efo_entry IS NOT NULL AND efo_exit IS NOT NULL) AS denominator;
