-- urgent_help: Количество семей, получивших срочные социальные услуги
-- families whose signal was resolved in the period with urgent help.
-- Over the fact rows of `caseledger facts PERIOD --out DIR` (see README.md).
SELECT
  (SELECT COUNT(DISTINCT family) FROM signals
   WHERE resolved_in_period = TRUE AND resolution = 'urgent_help') AS numerator,
  CAST(NULL AS BIGINT) AS denominator;
