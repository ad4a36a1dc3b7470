-- redirected: Количество семей, переадресованных в другие профильные организации
-- families whose signal was resolved in the period by redirecting them.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM signals
   WHERE resolved_in_period = TRUE AND resolution = 'redirected') AS numerator,
  CAST(NULL AS BIGINT) AS denominator;
