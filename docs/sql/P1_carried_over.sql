-- P1_carried_over: Количество семей, случаи которых перенесены на следующий период
-- families whose case is still open at the end of the period / families with a case active in it.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM cases
   WHERE active_in_period = TRUE AND carried_over = TRUE) AS numerator,
  (SELECT COUNT(DISTINCT family) FROM cases WHERE active_in_period = TRUE) AS denominator;
